package tests

// mod_wsgi's Python API for APM agents (issue 8): subscribe_events with the
// request_started / response_started / request_finished / process_stopping
// events, subscribe_shutdown, atexit at process exit (WSGIDestroyInterpreter
// On), request_data(), active_requests, process_metrics(),
// request_metrics() and server_metrics(), in embedded and daemon mode.
// The app (apps/apm.wsgi, copied per server) logs every event it receives
// as a JSON line; the expected keys and value types are mod_wsgi 4.9.4's
// (mod_wsgi.c, wsgi_metrics.c), and TestDifferential_APM compares them
// with Debian's mod_wsgi on the same requests.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const apmSnippet = `
WSGIDaemonProcess apm processes=1 threads=4
WSGIScriptAlias /emb @ROOT@/scratch/apm.wsgi
WSGIScriptAlias /dmn @ROOT@/scratch/apm.wsgi process-group=apm
`

type apmEvent struct {
	Event    string            `json:"event"`
	Tok      string            `json:"tok"`
	Pid      int               `json:"pid"`
	Types    map[string]string `json:"types"`
	Reason   *string           `json:"reason"`
	DataKeys []string          `json:"data_keys"`
	InActive bool              `json:"in_active"`
}

// apmRun is what one server showed for one mode ("emb" or "dmn").
type apmRun struct {
	Metrics map[string]any        // the /metrics answer
	Hello   map[string]any        // a plain request's answer
	Wrapped map[string]any        // a request whose request_started callback wraps the app
	Boom    Resp                  // a request whose callback raises
	Events  map[string][]apmEvent // by token
	Exit    []apmEvent            // process_stopping, shutdown:..., atexit of the pid that served
	Log     string
}

// runAPM starts a server with module m, sends the same requests in each
// mode, stops it, and collects what the app logged.
func runAPM(t *testing.T, m Module, mpm string) map[string]*apmRun {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(appsDir(), "apm.wsgi"))
	require.NoError(t, err)
	a, err := startApache(ServerSpec{Module: m, MPM: mpm, Snippet: apmSnippet,
		Files: map[string]string{"scratch/apm.wsgi": string(src)}})
	require.NoError(t, err, "starting %s", m)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = a.Stop()
		}
		a.removeRoot()
	})
	out := map[string]*apmRun{}
	for _, mode := range []string{"emb", "dmn"} {
		r := &apmRun{}
		// One keep-alive connection: the requests of a mode reach one
		// process, whose exit is then checked.
		c := singleConnClient()
		get := func(path string, body string) map[string]any {
			resp, err := doReq(c, "POST", a.URL("/"+mode+path), strings.NewReader(body), nil)
			require.NoError(t, err)
			require.Equal(t, 200, resp.Status, "%s %s: %s\n%s", m, path, resp.Body, a.ErrorLogContent())
			return DecodeJSON(t, resp.Body)
		}
		r.Hello = get("/hello?tok="+mode+"-hello", "0123456789")
		r.Metrics = get("/metrics?tok="+mode+"-metrics", "")
		r.Wrapped = get("/hello?tok=wrap-"+mode, "")
		resp, err := doReq(c, "GET", a.URL("/"+mode+"/hello?tok=boom-"+mode), nil, nil)
		require.NoError(t, err)
		r.Boom = resp
		c.CloseIdleConnections()
		out[mode] = r
	}
	require.NoError(t, a.Stop())
	stopped = true
	log := a.ErrorLogContent()
	events := readAPMEvents(t, filepath.Join(a.Root, "scratch", "apm-events.log"))
	for mode, r := range out {
		r.Log = log
		r.Events = map[string][]apmEvent{}
		for _, e := range events {
			if e.Tok != "" {
				r.Events[e.Tok] = append(r.Events[e.Tok], e)
			}
		}
		pid := int(r.Hello["pid"].(float64))
		for _, e := range events {
			if e.Pid == pid && (e.Event == "process_stopping" || strings.HasPrefix(e.Event, "shutdown:") || e.Event == "atexit") {
				r.Exit = append(r.Exit, e)
			}
		}
		_ = mode
	}
	return out
}

func readAPMEvents(t *testing.T, path string) []apmEvent {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []apmEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e apmEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "line %q", sc.Text())
		out = append(out, e)
	}
	return out
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func anyTypes(v any) map[string]string {
	out := map[string]string{}
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// mod_wsgi 4.9.4's keys and value types (mod_wsgi.c Adapter_run and
// start_response; wsgi_metrics.c).
var (
	apmRequestStarted = map[string]string{"request_id": "str", "thread_id": "int", "daemon_connects": "int",
		"daemon_restarts": "int", "request_start": "float", "queue_start": "float", "daemon_start": "float",
		"application_object": "function", "request_environ": "dict", "application_start": "float",
		"request_data": "dict"}
	apmResponseStarted = map[string]string{"request_id": "str", "response_status": "str",
		"response_headers": "list", "exception_info": "NoneType", "request_data": "dict"}
	apmRequestFinished = map[string]string{"request_id": "str", "input_reads": "int", "input_length": "int",
		"input_time": "float", "output_length": "int", "output_writes": "int", "cpu_user_time": "float",
		"cpu_system_time": "float", "output_time": "float", "application_finish": "float",
		"application_time": "float", "request_data": "dict"}
	apmProcessMetrics = map[string]string{"pid": "int", "request_busy_time": "float", "request_count": "int",
		"memory_max_rss": "int", "memory_rss": "int", "cpu_user_time": "float", "cpu_system_time": "float",
		"restart_time": "float", "current_time": "float", "running_time": "int", "request_threads": "int",
		"active_requests": "int", "threads": "list"}
	apmRequestMetricsBase = map[string]string{"pid": "int", "start_time": "float", "stop_time": "float",
		"sample_period": "float", "cpu_user_time": "float", "cpu_system_time": "float",
		"memory_max_rss": "int", "memory_rss": "int", "request_threads_maximum": "int",
		"request_threads_started": "int", "capacity_utilization": "float", "request_count": "int",
		"request_throughput": "float", "server_time_buckets": "list", "queue_time_buckets": "list",
		"daemon_time_buckets": "list", "application_time_buckets": "list",
		"request_threads_buckets": "list", "request_threads_active": "int", "server_time": "float",
		"application_time": "float"}
	apmAttrs = map[string]string{"event_callbacks": "list", "shutdown_callbacks": "list",
		"active_requests": "dict", "maximum_processes": "int", "threads_per_process": "int",
		"subscribe_events": "builtin_function_or_method", "subscribe_shutdown": "builtin_function_or_method",
		"process_metrics": "builtin_function_or_method", "request_metrics": "builtin_function_or_method",
		"server_metrics": "builtin_function_or_method", "request_data": "builtin_function_or_method"}
)

// withCPUTimes: request_finished has cpu_user_time and cpu_system_time
// only when the thread had used user time when the request started
// (mod_wsgi's rule), which a new thread may not have.
func withCPUTimes(types map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range types {
		out[k] = v
	}
	if _, ok := out["application_finish"]; ok {
		out["cpu_user_time"], out["cpu_system_time"] = "float", "float"
	}
	return out
}

func apmRequestMetrics(mode string) map[string]string {
	m := map[string]string{}
	for k, v := range apmRequestMetricsBase {
		m[k] = v
	}
	if mode == "dmn" {
		m["queue_time"], m["daemon_time"] = "float", "float"
	} else {
		m["queue_time"], m["daemon_time"] = "NoneType", "NoneType"
	}
	return m
}

// apmExitExpected: where the process exit runs Python. gowsgi runs
// nothing when an Apache child exits (README, WSGIDestroyInterpreter).
func apmExitExpected(m Module, mpm, mode string) bool {
	return !(m == ModGowsgi && mode == "emb")
}

func TestAPM_EventsMetricsAndExit(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		m := targetModule()
		runs := runAPM(t, m, mpm)
		for _, mode := range []string{"emb", "dmn"} {
			r := runs[mode]
			t.Run(mode, func(t *testing.T) {
				// the events of one request, in order, with mod_wsgi's keys and types
				ev := r.Events[mode+"-hello"]
				var names []string
				for _, e := range ev {
					names = append(names, e.Event)
				}
				require.Equal(t, []string{"request_started", "response_started", "request_finished"}, names, "log:\n%s", r.Log)
				assert.Equal(t, apmRequestStarted, ev[0].Types)
				assert.Equal(t, apmResponseStarted, ev[1].Types)
				assert.Equal(t, apmRequestFinished, withCPUTimes(ev[2].Types))
				// request_data is one dict through the request, listed in active_requests
				assert.Equal(t, []string{"tok"}, ev[0].DataKeys)
				assert.Equal(t, []string{"app", "tok"}, ev[2].DataKeys)
				assert.Equal(t, []any{"app", "tok"}, r.Hello["request_data_keys"])
				for _, e := range ev {
					assert.True(t, e.InActive, "%s: request_data in mod_wsgi.active_requests", e.Event)
				}
				assert.EqualValues(t, 10, r.Hello["body"])

				// a dict returned by request_started replaces the application
				assert.Equal(t, "yes", r.Wrapped["wrapped"])
				assert.Equal(t, "no", r.Hello["wrapped"])
				// a callback that raises is logged and the request goes on
				assert.Equal(t, 200, r.Boom.Status)
				assert.Contains(t, r.Log, "Exception occurred within event callback.")
				assert.Contains(t, r.Log, "RuntimeError: callback failure must not break the request")

				// metrics
				assert.Equal(t, apmProcessMetrics, anyTypes(r.Metrics["process_metrics"]))
				assert.Equal(t, []any{map[string]any{"thread_id": "int", "request_count": "int"}}, r.Metrics["process_threads"])
				assert.Equal(t, map[string]string{}, anyTypes(r.Metrics["request_metrics_first"]), "the first call starts the sample")
				assert.Equal(t, apmRequestMetrics(mode), anyTypes(r.Metrics["request_metrics"]))
				if !(m == ModModWsgi && mode == "emb" && r.Metrics["server_metrics"] == "dict" && knownModWsgiDeviation(t,
					&Apache{Spec: ServerSpec{Module: m}}, "WSGIServerMetrics not written is -1 in mod_wsgi, taken as On by server_metrics() in Apache's children")) {
					assert.Equal(t, "NoneType", r.Metrics["server_metrics"], "WSGIServerMetrics Off")
				}
				assert.Equal(t, "dict", r.Metrics["request_data"])
				assert.Equal(t, apmAttrs, anyTypes(r.Metrics["attrs"]))
				assert.Equal(t, []any{1.0, 1.0}, r.Metrics["callbacks"])
				assert.GreaterOrEqual(t, r.Metrics["request_count"], 1.0, "the request before counts")
				assert.GreaterOrEqual(t, r.Metrics["active_requests"], 1.0, "this request runs")

				// process exit: process_stopping to both lists, then atexit
				var exit []string
				for _, e := range r.Exit {
					exit = append(exit, e.Event)
					if e.Event != "atexit" {
						assert.Equal(t, map[string]string{"shutdown_reason": "str"}, e.Types)
					}
				}
				if !apmExitExpected(m, mpm, mode) {
					assert.Empty(t, exit, "nothing runs Python when an Apache child exits")
					return
				}
				want := []string{"process_stopping", "shutdown:process_stopping", "atexit"}
				if m == ModModWsgi && len(exit) == 2 && knownModWsgiDeviation(t, &Apache{Spec: ServerSpec{Module: m}},
					"with Python 3.11 its Py_Finalize hangs at exit (#730) and no atexit handler of a sub-interpreter runs") {
					want = want[:2]
				}
				assert.Equal(t, want, exit, "log:\n%s", r.Log)
			})
		}
	})
}

// WSGIDestroyInterpreter Off: process_stopping still goes out, atexit
// handlers do not run (mod_wsgi's wsgi_python_child_cleanup).
func TestAPM_DestroyInterpreterOff(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		m := targetModule()
		src, err := os.ReadFile(filepath.Join(appsDir(), "apm.wsgi"))
		require.NoError(t, err)
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: "WSGIDestroyInterpreter Off\n" + apmSnippet,
			Files: map[string]string{"scratch/apm.wsgi": string(src)}})
		pids := map[string]int{}
		for _, mode := range []string{"emb", "dmn"} {
			d := DecodeJSON(t, Get(t, a.URL("/"+mode+"/hello?tok=x")).Body)
			pids[mode] = int(d["pid"].(float64))
		}
		require.NoError(t, a.Stop())
		if m == ModGowsgi {
			// the start-up warning says where it is not honoured: Apache's children
			assert.Contains(t, a.ErrorLogContent(), "WSGIDestroyInterpreter at ", "start-up warning on %s", mpm)
		}
		events := readAPMEvents(t, filepath.Join(a.Root, "scratch", "apm-events.log"))
		for mode, pid := range pids {
			var exit []string
			for _, e := range events {
				if e.Pid == pid && e.Tok == "" {
					exit = append(exit, e.Event)
				}
			}
			if !apmExitExpected(m, mpm, mode) {
				assert.Empty(t, exit, mode)
				continue
			}
			assert.Equal(t, []string{"process_stopping", "shutdown:process_stopping"}, exit, mode)
		}
	})
}

// The same requests to mod_wsgi and gowsgi: the event names in order, each
// event's keys and value types, the metrics' keys and types, what runs at
// process exit.
func TestDifferential_APM(t *testing.T) {
	differentialOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		var ref, cand map[string]*apmRun
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); ref = runAPM(t, ModModWsgi, mpm) }()
		cand = runAPM(t, ModGowsgi, mpm)
		wg.Wait()
		require.NotNil(t, ref)
		for _, mode := range []string{"emb", "dmn"} {
			rr, cr := ref[mode], cand[mode]
			for _, tok := range []string{mode + "-hello", "wrap-" + mode} {
				require.Equal(t, len(rr.Events[tok]), len(cr.Events[tok]), "%s %s events", mode, tok)
				for i := range rr.Events[tok] {
					re, ce := rr.Events[tok][i], cr.Events[tok][i]
					assert.Equal(t, re.Event, ce.Event, "%s %s event %d", mode, tok, i)
					assert.Equal(t, withCPUTimes(re.Types), withCPUTimes(ce.Types), "%s %s %s: keys and types", mode, tok, re.Event)
					assert.Equal(t, re.DataKeys, ce.DataKeys, "%s %s %s: request_data", mode, tok, re.Event)
				}
			}
			assert.Equal(t, rr.Wrapped["wrapped"], cr.Wrapped["wrapped"])
			assert.Equal(t, rr.Boom.Status, cr.Boom.Status)
			if mode == "emb" {
				t.Logf("KNOWN mod_wsgi 4.9.4 deviation, not compared: server_metrics() in Apache's children with WSGIServerMetrics not written is %v", rr.Metrics["server_metrics"])
			} else {
				assert.Equal(t, rr.Metrics["server_metrics"], cr.Metrics["server_metrics"], "%s: server_metrics", mode)
			}
			for _, k := range []string{"process_metrics", "process_threads", "request_metrics_first", "request_metrics",
				"request_data", "attrs", "callbacks"} {
				assert.Equal(t, rr.Metrics[k], cr.Metrics[k], "%s: %s", mode, k)
			}
			var re, ce []string
			for _, e := range rr.Exit {
				re = append(re, e.Event+" "+strings.Join(keysOf(e.Types), ","))
			}
			for _, e := range cr.Exit {
				ce = append(ce, e.Event+" "+strings.Join(keysOf(e.Types), ","))
			}
			if !apmExitExpected(ModGowsgi, mpm, mode) {
				t.Logf("%s, Apache's children: mod_wsgi runs %v at exit; gowsgi runs nothing there", mpm, re)
				continue
			}
			// mod_wsgi 5.0.2 (Debian 13, Python 3.13) sends process_stopping
			// twice when a daemon process exits: once is what is compared.
			if modWsgiIs5() && len(re) >= 4 && re[0] == re[2] && re[1] == re[3] &&
				strings.HasPrefix(re[0], "process_stopping") {
				t.Logf("KNOWN mod_wsgi %s deviation: %s: process_stopping sent twice at exit: %v", modWsgiVersion, mode, re)
				re = append(re[:2:2], re[4:]...)
			}
			// mod_wsgi's atexit handlers do not run (its shutdown hangs, #730)
			if len(ce) > 0 && strings.HasPrefix(ce[len(ce)-1], "atexit") && len(re) == len(ce)-1 {
				t.Logf("KNOWN mod_wsgi 4.9.4 deviation: no atexit handler ran at exit")
				ce = ce[:len(ce)-1]
			}
			assert.Equal(t, re, ce, "%s: at process exit", mode)
		}
	})
}
