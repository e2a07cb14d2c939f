package main

// The workloads: one request shape each, all served by app/bench.wsgi (and,
// where a static equivalent exists, by Apache's static-file floor). The byte
// patterns here mirror the ones in app/bench.wsgi.

import (
	"bytes"
	"fmt"
)

// Workload is one request shape run against every variant.
type Workload struct {
	Name        string // short id, used on the command line and in the report
	Title       string // what the report calls it
	Method      string
	Path        string
	Connections int // wrk -c
	// ReqHeaders are sent with every request (besides Host and, for
	// uploads, Content-Length).
	ReqHeaders [][2]string
	Body       []byte // request body (uploads)
	// Floor: Apache can serve this workload as a static file.
	Floor bool
	// Check validates one response in the correctness gate.
	Check func(r *Response, v Variant) error
}

const (
	helloBody    = "Hello, World!"
	blockSize    = 64 << 10
	streamBlocks = 16
	uploadSize   = 1 << 20
	numReqHdrs   = 30
	numRespHdrs  = 20
)

// block is bytes(range(256)) * 256, as in the app.
func block() []byte {
	b := make([]byte, blockSize)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func streamBody() []byte { return bytes.Repeat(block(), streamBlocks) }

// uploadBody is a fixed, not too regular 1 MiB body.
func uploadBody() []byte {
	b := make([]byte, uploadSize)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func respHeaderName(i int) string  { return fmt.Sprintf("X-Bench-%02d", i) }
func respHeaderValue(i int) string { return fmt.Sprintf("response-header-value-%02d", i) }

func benchRequestHeaders() [][2]string {
	var h [][2]string
	for i := 1; i <= numReqHdrs; i++ {
		h = append(h, [2]string{fmt.Sprintf("X-Bench-%02d", i), fmt.Sprintf("request-header-value-%02d-abcdefghijklmnop", i)})
	}
	return h
}

func workloads() []Workload {
	upload := uploadBody()
	return []Workload{
		{
			Name: "hello", Title: "hello (13 B)", Method: "GET", Path: "/hello", Connections: 16, Floor: true,
			Check: func(r *Response, v Variant) error { return expectBody(r, []byte(helloBody)) },
		},
		{
			Name: "64k", Title: "64 KiB, Content-Length", Method: "GET", Path: "/64k", Connections: 16, Floor: true,
			Check: func(r *Response, v Variant) error {
				if r.ContentLength != blockSize {
					return fmt.Errorf("Content-Length %d, want %d", r.ContentLength, blockSize)
				}
				return expectBody(r, block())
			},
		},
		{
			Name: "stream", Title: "1 MiB streamed, no Content-Length", Method: "GET", Path: "/stream", Connections: 16, Floor: true,
			Check: func(r *Response, v Variant) error {
				// The floor is a static file and so has a Content-Length; the
				// WSGI variants must stream it chunked.
				if !v.Static && r.ContentLength >= 0 {
					return fmt.Errorf("has Content-Length %d: the app sets none, the response should be chunked", r.ContentLength)
				}
				return expectBody(r, streamBody())
			},
		},
		{
			Name: "upload", Title: "1 MiB upload, read and hashed", Method: "POST", Path: "/upload", Connections: 16, Body: upload,
			ReqHeaders: [][2]string{{"Content-Type", "application/octet-stream"}},
			Check: func(r *Response, v Variant) error {
				return expectBody(r, []byte(fmt.Sprintf("%s %d", sha256hex(upload), len(upload))))
			},
		},
		{
			Name: "headers", Title: "30 request / 20 response headers", Method: "GET", Path: "/headers", Connections: 16, Floor: true,
			ReqHeaders: benchRequestHeaders(),
			Check: func(r *Response, v Variant) error {
				for i := 1; i <= numRespHdrs; i++ {
					if got := r.Header.Get(respHeaderName(i)); got != respHeaderValue(i) {
						return fmt.Errorf("response header %s = %q, want %q", respHeaderName(i), got, respHeaderValue(i))
					}
				}
				return expectBody(r, []byte(fmt.Sprint(numReqHdrs)))
			},
		},
		{
			Name: "sleep", Title: "20 ms sleep, 64 connections", Method: "GET", Path: "/sleep", Connections: 64,
			Check: func(r *Response, v Variant) error {
				if r.Elapsed.Milliseconds() < 20 {
					return fmt.Errorf("answered in %v, the app sleeps 20 ms", r.Elapsed)
				}
				return expectBody(r, []byte(helloBody))
			},
		},
	}
}

func expectBody(r *Response, want []byte) error {
	if r.Status != 200 {
		return fmt.Errorf("status %d, want 200 (body starts %q)", r.Status, trunc(r.Body, 200))
	}
	if !bytes.Equal(r.Body, want) {
		if len(r.Body) != len(want) {
			return fmt.Errorf("body is %d bytes, want %d (starts %q)", len(r.Body), len(want), trunc(r.Body, 80))
		}
		for i := range want {
			if r.Body[i] != want[i] {
				return fmt.Errorf("body differs from the expected one at byte %d", i)
			}
		}
	}
	return nil
}

func trunc(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
