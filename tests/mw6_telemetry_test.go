package tests

// WSGITelemetryService: mod_wsgi 6's datagrams (the subset gowsgi sends,
// README "mod_wsgi 6's directives") to a SOCK_DGRAM listener of the test's
// own, decoded here from 6.0.5's wire format (wsgi_telemetry.h): a 24-byte
// little-endian header, then TLV fields.

import (
	"encoding/binary"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	teleKindRequest  = 2
	teleKindSlow     = 4
	teleKindStarted  = 5
	teleKindStopping = 6
	teleKindStopped  = 7
	teleKindGCSnap   = 8
	teleKindGCEvent  = 9
)

type teleDatagram struct {
	Kind   int
	Pid    int
	Seq    uint32
	Stamp  float64
	U64    map[int]uint64
	F64    map[int]float64
	Bytes  map[int]string
	I32s   map[int][]int32   // i32 arrays (histograms, per-thread counts)
	F64s   map[int][]float64 // f64 arrays (per-thread seconds)
	Errors string
}

// decodeTelemetry reads one datagram as 6's ingester would.
func decodeTelemetry(b []byte) teleDatagram {
	d := teleDatagram{U64: map[int]uint64{}, F64: map[int]float64{}, Bytes: map[int]string{},
		I32s: map[int][]int32{}, F64s: map[int][]float64{}}
	if len(b) < 24 || string(b[:4]) != "WSGI" || b[4] != 1 {
		d.Errors = "bad header"
		return d
	}
	d.Kind = int(b[5])
	d.Pid = int(binary.LittleEndian.Uint32(b[8:]))
	d.Seq = binary.LittleEndian.Uint32(b[12:])
	d.Stamp = math.Float64frombits(binary.LittleEndian.Uint64(b[16:]))
	p := b[24:]
	for len(p) > 0 {
		if len(p) < 3 {
			d.Errors = "truncated field"
			return d
		}
		id, typ := int(binary.LittleEndian.Uint16(p)), p[2]
		p = p[3:]
		switch typ {
		case 1, 3: // u64, i64
			if len(p) < 8 {
				d.Errors = "truncated u64"
				return d
			}
			d.U64[id] = binary.LittleEndian.Uint64(p)
			p = p[8:]
		case 2:
			if len(p) < 8 {
				d.Errors = "truncated f64"
				return d
			}
			d.F64[id] = math.Float64frombits(binary.LittleEndian.Uint64(p))
			p = p[8:]
		case 4, 5, 6:
			if len(p) < 2 {
				d.Errors = "truncated length"
				return d
			}
			n := int(binary.LittleEndian.Uint16(p))
			size := map[byte]int{4: 1, 5: 4, 6: 8}[typ] * n
			if len(p) < 2+size {
				d.Errors = "truncated value"
				return d
			}
			v := p[2 : 2+size]
			switch typ {
			case 4:
				d.Bytes[id] = string(v)
			case 5:
				a := make([]int32, n)
				for i := range a {
					a[i] = int32(binary.LittleEndian.Uint32(v[4*i:]))
				}
				d.I32s[id] = a
			case 6:
				a := make([]float64, n)
				for i := range a {
					a[i] = math.Float64frombits(binary.LittleEndian.Uint64(v[8*i:]))
				}
				d.F64s[id] = a
			}
			p = p[2+size:]
		default:
			d.Errors = "unknown type"
			return d
		}
	}
	return d
}

// teleBucket is mod_wsgi 6's histogram bucket of a duration (wsgi_telemetry.h:
// 16 octaves from 1 ms, each in 4 linear steps, one overflow bucket; a
// value on a boundary goes up), worked out here in floating point.
func teleBucket(seconds float64) int {
	ms := seconds * 1000
	switch {
	case ms < 1:
		return 0
	case ms >= 65536:
		return 64
	}
	octave := int(math.Floor(math.Log2(ms)))
	step := int((ms/math.Pow(2, float64(octave)) - 1) * 4)
	return octave*4 + min(step, 3)
}

func sumI32(a []int32) (s int) {
	for _, v := range a {
		s += int(v)
	}
	return
}

type teleListener struct {
	mu  sync.Mutex
	got []teleDatagram
}

func (l *teleListener) snapshot() []teleDatagram {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]teleDatagram(nil), l.got...)
}

// waitFor polls until ok holds for what arrived, or timeout.
func (l *teleListener) waitFor(timeout time.Duration, ok func([]teleDatagram) bool) []teleDatagram {
	deadline := time.Now().Add(timeout)
	for {
		got := l.snapshot()
		if ok(got) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMW6_Telemetry(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	forEachMPM(t, testTelemetry)
}

func testTelemetry(t *testing.T, mpm string) {
	var conn *net.UnixConn
	l := &teleListener{}
	a := StartApache(t, ServerSpec{MPM: mpm, Setup: func(root string) error {
		path := filepath.Join(root, "run", "tele.sock")
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			return err
		}
		conn = c
		// the daemon processes and Apache's children (www-data) send to it
		return os.Chmod(path, 0o666)
	}, Snippet: `
WSGITelemetryService unix:@ROOT@/run/tele.sock interval=0.5
WSGITelemetryOptions +CaptureUserAgent
WSGISlowRequests 1
WSGIDaemonProcess tg processes=1 threads=2
WSGIScriptAlias /emb @APPS@/mw6.wsgi
WSGIScriptAlias /dmn @APPS@/mw6.wsgi process-group=tg application-group=%{GLOBAL}
WSGIScriptAlias /gc @APPS@/mw6.wsgi process-group=tg application-group=second
`})
	require.NotNil(t, conn)
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			d := decodeTelemetry(buf[:n])
			l.mu.Lock()
			l.got = append(l.got, d)
			l.mu.Unlock()
		}
	}()

	emb := mw6Get(t, a.URL("/emb"))
	dmn := mw6Get(t, a.URL("/dmn?op=metrics"))
	assert.Nil(t, dmn.Metrics, "request_metrics() is None under WSGITelemetryService (mod_wsgi 6)")
	mw6Get(t, a.URL("/dmn"))
	assert.Equal(t, 404, Get(t, a.URL("/dmn?op=status&code=404")).Status)
	r, err := doReq(longClient, "GET", a.URL("/dmn/extra?op=sleep&s=2"), nil, map[string]string{"User-Agent": "mw6-agent"})
	require.NoError(t, err)
	require.Equal(t, 200, r.Status)
	// A second interpreter in the daemon process: 150 cycles (a list that
	// holds itself: one object each), a full collection.
	gcr := Get(t, a.URL("/gc?op=gc&n=150"))
	require.Equal(t, 200, gcr.Status)

	// The daemon's REQUEST samples add up to its 5 requests: 4 x 2xx, 1 x 4xx.
	sums := func(got []teleDatagram, pid int) (count, s2, s4 uint64) {
		for _, d := range got {
			if d.Kind == teleKindRequest && d.Pid == pid {
				count += d.U64[20]
				s2 += d.U64[121]
				s4 += d.U64[123]
			}
		}
		return
	}
	l.waitFor(10*time.Second, func(got []teleDatagram) bool { c, _, _ := sums(got, dmn.Pid); return c >= 5 })
	time.Sleep(1200 * time.Millisecond) // two more intervals: nothing is counted twice
	got := l.snapshot()
	for _, d := range got {
		require.Empty(t, d.Errors, "datagram of kind %d from pid %d", d.Kind, d.Pid)
	}
	// The counts below hold only if nothing was dropped (the samplers wait
	// 500 ms for a full queue first): a gap in a process's seq says so.
	lost := func(pid int) string {
		var s []uint32
		for _, d := range got {
			if d.Pid == pid {
				s = append(s, d.Seq)
			}
		}
		slices.Sort(s)
		if len(s) > 0 && int(s[len(s)-1]-s[0])+1 != len(s) {
			return "; datagrams were lost (seq gap): the listener fell behind"
		}
		return ""
	}
	count, s2, s4 := sums(got, dmn.Pid)
	assert.Equal(t, []uint64{5, 4, 1}, []uint64{count, s2, s4}, "daemon request_count, status_2xx, status_4xx"+lost(dmn.Pid))
	ec, e2, _ := sums(got, emb.Pid)
	assert.Equal(t, []uint64{1, 1}, []uint64{ec, e2}, "the embedded child's one request"+lost(emb.Pid))

	var started, sample, active, completed *teleDatagram
	for i := range got {
		d := &got[i]
		switch {
		case d.Kind == teleKindStarted && d.Pid == dmn.Pid:
			started = d
		case d.Kind == teleKindRequest && d.Pid == dmn.Pid:
			sample = d
		case d.Kind == teleKindSlow && d.Pid == dmn.Pid && d.U64[200] == 0:
			active = d
		case d.Kind == teleKindSlow && d.Pid == dmn.Pid && d.U64[200] == 1:
			completed = d
		}
	}
	require.NotNil(t, started, "PROCESS_STARTED from the daemon process")
	assert.Equal(t, "tg", started.Bytes[6], "process_group")
	assert.Equal(t, "4.9.4", started.Bytes[1], "mod_wsgi_version: mod_wsgi.version as apps see it")
	assert.Contains(t, started.Bytes[3], "Apache/2.4.")
	assert.Equal(t, uint64(a.Pid()), started.U64[7], "process_parent_pid")
	assert.Equal(t, 0.005, started.F64[13], "switch_interval: Python's default")
	require.NotNil(t, sample)
	assert.Equal(t, 0.5, sample.F64[11], "telemetry_interval")
	assert.Equal(t, 1.0, sample.F64[12], "slow_requests_threshold")
	assert.Greater(t, sample.U64[41], uint64(1<<20), "memory_max_rss in bytes")
	require.NotNil(t, active, "a SLOW_REQUEST record while the request ran")
	assert.Equal(t, "GET", active.Bytes[210])
	assert.Equal(t, "/dmn", active.Bytes[213], "script_name")
	assert.Equal(t, "/extra", active.Bytes[214], "path_info")
	assert.Equal(t, uint64(0), active.U64[240], "no status yet")
	assert.GreaterOrEqual(t, active.F64[202], 1.0)
	require.NotNil(t, completed, "a SLOW_REQUEST record when it ended")
	assert.Equal(t, uint64(200), completed.U64[240])
	assert.GreaterOrEqual(t, completed.F64[202], 2.0)
	assert.Equal(t, "mw6-agent", completed.Bytes[217], "+CaptureUserAgent")
	// What a completed record adds: the request's identity, phases and I/O.
	assert.Equal(t, "http", completed.Bytes[211], "scheme")
	assert.NotEmpty(t, completed.Bytes[212], "hostname")
	assert.Equal(t, "HTTP/1.1", completed.Bytes[215], "protocol")
	assert.Equal(t, "127.0.0.1", completed.Bytes[216], "peer_ip")
	assert.GreaterOrEqual(t, completed.F64[223], 2.0, "application_time")
	for _, id := range []int{220, 221, 222} {
		assert.Contains(t, completed.F64, id, "server, queue, daemon time")
	}
	assert.NotContains(t, completed.U64, 205, "server_pid: not known in a daemon process")
	assert.Positive(t, completed.U64[232], "output_bytes")
	assert.Positive(t, completed.U64[233], "output_writes")
	assert.NotContains(t, active.Bytes, 216, "a running request's record has what it had")

	// The REQUEST sample's timings, histograms and per-thread arrays
	// (6.0.5's fields 22-114): over the daemon's samples the histograms
	// count its 4 requests once each, the 2 s request is the interval's
	// max and sits in the bucket 6 puts it in.
	assert.Equal(t, "4.9.4", sample.Bytes[1], "the build identity rides on every sample, as 6")
	assert.Equal(t, 0.005, sample.F64[13], "switch_interval")
	var hist = map[int]int{}
	var slowest *teleDatagram
	var completedByThread int
	for i := range got {
		d := &got[i]
		if d.Kind != teleKindRequest || d.Pid != dmn.Pid {
			continue
		}
		for _, id := range []int{90, 91, 92, 93, 94, 96, 97} {
			require.Len(t, d.I32s[id], 65, "histogram %d of a daemon sample", id)
			hist[id] += sumI32(d.I32s[id])
		}
		assert.NotContains(t, d.I32s, 95, "gil_wait is not measured: not sent")
		assert.Equal(t, uint64(2), d.U64[50], "request_threads_maximum: threads=2")
		require.Len(t, d.I32s[110], 2, "request_threads_completed, one per thread")
		require.Len(t, d.F64s[111], 2, "request_threads_busy_time")
		require.Len(t, d.F64s[113], 2, "request_threads_current_elapsed")
		require.Len(t, d.F64s[114], 2, "request_threads_max_duration")
		completedByThread += sumI32(d.I32s[110])
		assert.Greater(t, d.U64[40], uint64(1<<20), "memory_rss in bytes")
		assert.GreaterOrEqual(t, d.F64[32], 0.0, "cpu_utilization")
		var st uint64
		for c := 120; c <= 124; c++ {
			st += d.U64[c]
		}
		assert.Equal(t, d.U64[20], st, "status classes partition request_count")
		if _, ok := d.F64[84]; ok {
			assert.Positive(t, d.U64[20], "min/max only with a request")
			if slowest == nil || d.F64[84] > slowest.F64[84] {
				slowest = d
			}
		}
	}
	for id, n := range hist {
		assert.Equal(t, 5, n, "histogram %d counts each of the daemon's requests once", id)
	}
	assert.Equal(t, 5, completedByThread, "request_threads_completed adds up to the requests")
	require.NotNil(t, slowest, "a daemon sample with request_time_max")
	assert.GreaterOrEqual(t, slowest.F64[84], 2.0, "request_time_max: the 2 s request")
	assert.GreaterOrEqual(t, slowest.F64[83], 2.0, "application_time_max")
	assert.LessOrEqual(t, slowest.F64[74], slowest.F64[84], "request_time_min <= max")
	assert.Positive(t, slowest.I32s[94][teleBucket(slowest.F64[84])], "the max's bucket, by 6's layout, holds it")
	assert.Positive(t, slowest.F64[22], "capacity_utilization while a thread slept")
	assert.GreaterOrEqual(t, slowest.F64s[114][0]+slowest.F64s[114][1], 1.9, "request_threads_max_duration")
	assert.InDelta(t, slowest.F64[64], slowest.F64[60]+slowest.F64[61]+slowest.F64[62]+slowest.F64[63], 1e-6,
		"mean request_time is server + queue + daemon + application")
	var outBytes uint64
	for _, d := range got {
		if d.Kind == teleKindRequest && d.Pid == dmn.Pid {
			outBytes += d.U64[102]
		}
		if d.Kind == teleKindRequest && d.Pid == emb.Pid {
			assert.NotContains(t, d.I32s, 91, "no queue_time histogram in an embedded process")
			assert.NotContains(t, d.F64, 62, "no daemon_time in an embedded process")
		}
	}
	assert.Positive(t, outBytes, "output_bytes_total")

	// GC_SNAPSHOT per interpreter per interval (named: the process has two)
	// and a GC_EVENT for the app's full collection, as 6.0.5 sends them.
	var gcEvent, gcSnap *teleDatagram
	got = l.waitFor(10*time.Second, func(got []teleDatagram) bool {
		var ev, snap bool
		for _, d := range got {
			if d.Pid == dmn.Pid && d.Bytes[8] == "second" {
				ev = ev || (d.Kind == teleKindGCEvent && d.U64[322] == 2 && d.U64[323] >= 150)
				snap = snap || (d.Kind == teleKindGCSnap && d.U64[308] >= 1)
			}
		}
		return ev && snap
	})
	var mainSnaps int
	for i := range got {
		d := &got[i]
		if d.Pid != dmn.Pid {
			continue
		}
		switch {
		case d.Kind == teleKindGCEvent && d.Bytes[8] == "second" && d.U64[322] == 2 && d.U64[323] >= 150:
			gcEvent = d
		case d.Kind == teleKindGCSnap && d.Bytes[8] == "second" && d.U64[308] >= 1:
			gcSnap = d
		case d.Kind == teleKindGCSnap && d.Bytes[8] == "":
			mainSnaps++
		}
	}
	require.NotNil(t, gcEvent, "GC_EVENT: generation 2, the 150 cycles collected")
	assert.Equal(t, uint64(0), gcEvent.U64[324], "uncollectable")
	assert.GreaterOrEqual(t, gcEvent.F64[321], 0.0, "pause duration")
	assert.Less(t, gcEvent.F64[321], 10.0, "pause duration in seconds")
	assert.InDelta(t, gcEvent.Stamp, gcEvent.F64[320], 5, "start_stamp: seconds since the epoch")
	require.NotNil(t, gcSnap, "GC_SNAPSHOT of the interpreter, its collections2 counting the app's")
	assert.Positive(t, gcSnap.U64[303], "threshold0")
	assert.Equal(t, uint64(1), gcSnap.U64[315], "gc is enabled")
	assert.GreaterOrEqual(t, gcSnap.U64[311], uint64(150), "collected2, cumulative")
	assert.Contains(t, gcSnap.U64, 317, "dropped_events")
	assert.Positive(t, mainSnaps, "GC_SNAPSHOT of the main interpreter too")

	// PROCESS_STOPPING when Apache stops.
	require.NoError(t, a.Stop())
	got = l.waitFor(10*time.Second, func(got []teleDatagram) bool {
		for _, d := range got {
			if d.Kind == teleKindStopping && d.Pid == dmn.Pid {
				return true
			}
		}
		return false
	})
	var stopping *teleDatagram
	for i := range got {
		if got[i].Kind == teleKindStopping && got[i].Pid == dmn.Pid {
			stopping = &got[i]
		}
	}
	kinds := map[int]int{}
	for _, d := range got {
		kinds[d.Kind]++
	}
	t.Logf("datagrams by kind: %v (reason %q)", kinds, func() string {
		if stopping != nil {
			return stopping.Bytes[130]
		}
		return ""
	}())
	require.NotNil(t, stopping, "PROCESS_STOPPING from the daemon process")
	assert.Equal(t, "tg", stopping.Bytes[6])
	assert.NotEmpty(t, stopping.Bytes[130], "shutdown_reason")

	// PROCESS_STOPPED last: the process's summary, after its last sample.
	got = l.waitFor(10*time.Second, func(got []teleDatagram) bool {
		for _, d := range got {
			if d.Kind == teleKindStopped && d.Pid == dmn.Pid {
				return true
			}
		}
		return false
	})
	var stopped *teleDatagram
	var lastSample uint32
	for i := range got {
		d := &got[i]
		switch {
		case d.Kind == teleKindStopped && d.Pid == dmn.Pid:
			stopped = d
		case d.Kind == teleKindRequest && d.Pid == dmn.Pid:
			lastSample = max(lastSample, d.Seq)
		}
	}
	require.NotNil(t, stopped, "PROCESS_STOPPED from the daemon process")
	assert.Greater(t, stopped.Seq, lastSample, "no sample after PROCESS_STOPPED")
	assert.Greater(t, stopped.Seq, stopping.Seq)
	assert.Equal(t, "tg", stopped.Bytes[6])
	assert.Equal(t, stopping.Bytes[130], stopped.Bytes[130], "shutdown_reason")
	assert.Equal(t, uint64(5), stopped.U64[132], "lifetime_request_count")
	assert.Equal(t, uint64(0), stopped.U64[134], "active_requests_at_exit")
	assert.Equal(t, uint64(1), stopped.U64[135], "graceful_drain")
	assert.Greater(t, stopped.F64[131], 0.5, "process_uptime")
	count, _, _ = sums(got, dmn.Pid)
	assert.Equal(t, uint64(5), count, "the last samples count nothing twice")
}
