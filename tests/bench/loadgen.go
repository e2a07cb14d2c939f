package main

// Load generation with wrk (Debian's wrk 4.1): a closed loop of N keep-alive
// connections on one wrk thread, for a fixed duration. A generated Lua script
// sets the method, headers and body, and prints wrk's own summary (completed
// requests, errors by kind, latency percentiles from its HdrHistogram in
// microseconds) as one JSON line. wrk counts a response with status >= 400 as
// a "status" error and a socket error or a response that does not finish
// within --timeout as read/write/connect/timeout errors.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// LoadResult is one wrk run.
type LoadResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"`
	Timeout    int64   `json:"timeout"`
	P50US      float64 `json:"p50"`
	P90US      float64 `json:"p90"`
	P99US      float64 `json:"p99"`
	MeanUS     float64 `json:"mean"`
	MaxUS      float64 `json:"max"`
}

func (r LoadResult) Errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

func (r LoadResult) RPS() float64 {
	if r.DurationUS <= 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

func (r LoadResult) ErrorSummary() string {
	var parts []string
	for _, e := range []struct {
		n string
		v int64
	}{{"connect", r.Connect}, {"read", r.Read}, {"write", r.Write}, {"status>=400", r.Status}, {"timeout", r.Timeout}} {
		if e.v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", e.n, e.v))
		}
	}
	return strings.Join(parts, ", ")
}

const luaDone = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.1f,"p90":%.1f,"p99":%.1f,"mean":%.1f,"max":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
`

// writeScript writes the wrk Lua script (and the upload body) for w into dir.
func writeScript(w Workload, dir string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "wrk.method = %q\nwrk.path = %q\n", w.Method, w.Path)
	for _, h := range w.ReqHeaders {
		fmt.Fprintf(&b, "wrk.headers[%q] = %q\n", h[0], h[1])
	}
	if w.Body != nil {
		bodyPath := filepath.Join(dir, w.Name+".body")
		if err := os.WriteFile(bodyPath, w.Body, 0o644); err != nil {
			return "", err
		}
		// wrk.format adds Content-Length for a body.
		fmt.Fprintf(&b, "local f = assert(io.open(%q, \"rb\"))\nwrk.body = f:read(\"*a\")\nf:close()\n", bodyPath)
	}
	b.WriteString(luaDone)
	path := filepath.Join(dir, w.Name+".lua")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// runWrk runs wrk against url for d with the given script and connections.
func runWrk(ctx context.Context, url, script string, conns int, d time.Duration) (LoadResult, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	cmd := exec.CommandContext(ctx, "wrk", "-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs),
		"--timeout", "10s", "-s", script, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return LoadResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "BENCHJSON "); ok {
			var r LoadResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return LoadResult{}, fmt.Errorf("wrk summary %q: %v", rest, err)
			}
			return r, nil
		}
	}
	return LoadResult{}, fmt.Errorf("wrk printed no summary:\n%s", out)
}
