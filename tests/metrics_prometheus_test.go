package tests

// A real Prometheus (Debian's, installed by make deps) scrapes
// SetHandler gowsgi-metrics every second; PromQL then gives back, per
// group, exactly the requests the test sent, and request rates in the
// ratio it sent them. The Prometheus runs on 127.0.0.1 with its own config
// and data directory under the test's temp dir, and is stopped after.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type promServer struct {
	cmd  *exec.Cmd
	port int
	dir  string
}

func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "prometheus (Debian's; make deps installs it)")
	dir := t.TempDir()
	port, err := freePort()
	require.NoError(t, err)
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gowsgi
    metrics_path: /metrics
    static_configs:
      - targets: ['%s']
`, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	p := &promServer{cmd: cmd, port: port, dir: dir}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := doReq(httpClient, "GET", fmt.Sprintf("http://127.0.0.1:%d/-/ready", port), nil, nil)
		if err == nil && r.Status == 200 {
			return p
		}
		require.True(t, time.Now().Before(deadline), "prometheus not ready: %v\n%s", err, p.log())
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *promServer) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "prometheus.log"))
	return tail(string(b), 3000)
}

// query runs an instant PromQL query: the value of each series by its group label.
func (p *promServer) query(t *testing.T, q string) map[string]float64 {
	t.Helper()
	r := Get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=%s", p.port, url.QueryEscape(q)))
	require.Equal(t, 200, r.Status, "%s: %v", q, r)
	var ans struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &ans), r.Body)
	require.Equal(t, "success", ans.Status, r.Body)
	out := map[string]float64{}
	for _, s := range ans.Data.Result {
		v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		require.NoError(t, err, r.Body)
		out[s.Metric["group"]] = v
	}
	return out
}

// waitQuery polls q until ok holds for its answer.
func (p *promServer) waitQuery(t *testing.T, q string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := p.query(t, q)
		if ok(v) {
			return v
		}
		require.True(t, time.Now().Before(deadline), "%s: %v\n%s", q, v, p.log())
		time.Sleep(500 * time.Millisecond)
	}
}

func TestMetrics_Prometheus(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startMetricsServer(t, mpm, metricsSnippet)
		for _, p := range []string{"/emb", "/da", "/db"} {
			waitUp(t, a, p)
		}
		prom := startPrometheus(t, a.Addr())
		// Two samples of every group before the traffic: the window's
		// minimum is the count before it.
		const ok2xx = `gowsgi_requests_total{code_class="2xx"}`
		prom.waitQuery(t, "count_over_time("+ok2xx+"[10m])", func(v map[string]float64) bool {
			return v[""] >= 2 && v["gwmxa"] >= 2 && v["gwmxb"] >= 2
		})
		before := prom.query(t, ok2xx)

		sent := map[string]int{"": 5, "gwmxa": 12, "gwmxb": 4}
		paths := map[string]string{"": "/emb", "gwmxa": "/da", "gwmxb": "/db"}
		for g, n := range sent {
			for i := 0; i < n; i++ {
				require.Equal(t, 200, Get(t, a.URL(paths[g])).Status)
			}
		}
		prom.waitQuery(t, ok2xx, func(v map[string]float64) bool {
			for g, n := range sent {
				if v[g] != before[g]+float64(n) {
					return false
				}
			}
			return true
		})
		got := prom.query(t, "max_over_time("+ok2xx+"[10m]) - min_over_time("+ok2xx+"[10m])")
		for g, n := range sent {
			assert.Equal(t, float64(n), got[g], "requests of group %q, from PromQL", g)
		}
		rates := prom.query(t, `sum by (group) (rate(gowsgi_requests_total{code_class="2xx"}[10m]))`)
		for g := range sent {
			assert.Positive(t, rates[g], "rate of group %q", g)
		}
		// rate() extrapolates each series to the window's edges by its own
		// first value (measured: 12% apart for counts 12 and 4): the ratio
		// of what was sent, within a third; the exact counts are above.
		assert.InEpsilon(t, 12.0/4.0, rates["gwmxa"]/rates["gwmxb"], 0.33, "%v", rates)
		assert.InEpsilon(t, 5.0/4.0, rates[""]/rates["gwmxb"], 0.33, "%v", rates)
		assert.Greater(t, rates["gwmxa"], rates[""], "%v", rates)
		up := prom.query(t, `up{job="gowsgi"}`)
		assert.Equal(t, 1.0, up[""], "the target is up (its scrapes parse)")
	})
}
