package main

// The correctness gate: before any timing, every variant must answer every
// workload correctly (status, body or its hash, headers). A variant that
// fails a workload is reported as failed for it and not timed. The gate also
// probes the daemon variants: their requests must really run in a daemon
// process, not in the Apache child that accepted the connection.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Response is one answer, read completely.
type Response struct {
	Status        int
	Header        http.Header
	ContentLength int64 // -1 when absent (chunked)
	Body          []byte
	Elapsed       time.Duration
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var gateClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4},
}

func doRequest(base string, w Workload) (*Response, error) {
	var body io.Reader
	if w.Body != nil {
		body = bytes.NewReader(w.Body)
	}
	req, err := http.NewRequest(w.Method, base+w.Path, body)
	if err != nil {
		return nil, err
	}
	for _, h := range w.ReqHeaders {
		req.Header.Set(h[0], h[1])
	}
	start := time.Now()
	resp, err := gateClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %v", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, ContentLength: resp.ContentLength, Body: b, Elapsed: time.Since(start)}, nil
}

// checkWorkload sends n requests of w and validates each.
func checkWorkload(s *Server, w Workload, n int) error {
	for i := 0; i < n; i++ {
		r, err := doRequest(s.BaseURL(), w)
		if err == nil {
			err = w.Check(r, s.Conf.Variant)
		}
		if err != nil {
			return fmt.Errorf("%s %s (request %d of %d): %v", w.Method, w.Path, i+1, n, err)
		}
	}
	return nil
}

// errorLogLines returns the error log lines other than Apache's routine
// start/stop notices.
func errorLogLines(s *Server, n int) string {
	var keep []string
	for _, line := range strings.Split(s.ErrorLogText(), "\n") {
		// Apache's routine start and stop notices.
		if line == "" || strings.Contains(line, "[core:notice]") || strings.Contains(line, "[mpm_") && strings.Contains(line, ":notice]") {
			continue
		}
		keep = append(keep, line)
	}
	out := tail(strings.Join(keep, "\n"), n)
	if s.uwsgi != nil {
		out += "\nuwsgi log:\n" + tail(s.uwsgi.logText(), n)
	}
	return out
}

// probeDaemon checks where requests run: the pid the app reports must not
// hold Apache's listening socket (Apache's children do; a daemon process
// does not). It returns a note explaining why the variant is not a daemon.
func probeDaemon(s *Server) (string, error) {
	inode, err := listenerInode(s.Conf.Port)
	if err != nil {
		return "", err
	}
	pids := map[int]bool{}
	for i := 0; i < 8; i++ {
		r, err := doRequest(s.BaseURL(), Workload{Method: "GET", Path: "/pid"})
		if err != nil {
			return "", err
		}
		if r.Status != 200 {
			return "", fmt.Errorf("GET /pid: status %d", r.Status)
		}
		f := strings.Fields(string(r.Body))
		if len(f) == 0 {
			return "", fmt.Errorf("GET /pid: body %q", r.Body)
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			return "", fmt.Errorf("GET /pid: body %q", r.Body)
		}
		pids[pid] = true
	}
	inTree := s.treePids()
	for pid := range pids {
		if !inTree[pid] {
			return "", fmt.Errorf("the app answered from pid %d, which is not in the server's process tree", pid)
		}
		if holdsSocket(pid, inode) {
			return fmt.Sprintf("requests for the daemon process group ran in pid %d, an Apache child that holds the listening socket: "+
				"WSGIDaemonProcess is accepted but requests run embedded, so a daemon row would be mislabelled", pid), nil
		}
	}
	return "", nil
}

// listenerInode finds the inode of the socket listening on 127.0.0.1:port.
func listenerInode(port int) (string, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(fl) >= 10 && fl[1] == want && fl[3] == "0A" {
			return fl[9], nil
		}
	}
	return "", fmt.Errorf("no listening socket for port %d in /proc/net/tcp", port)
}

func holdsSocket(pid int, inode string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}
