package wiretest_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	w "github.com/gowsgi/gowsgi/wsgi/wiretest"
)

// The REQUEST payload's size with every string empty and no environ.
const requestMin = 4 + 32 + 3*8 + 3*4 + 8 + 5*4 + 4

func sampleRequest() *w.Request {
	r := &w.Request{
		ScriptMtime:      1700000000123456,
		RequestStart:     1700000001000000,
		QueueStart:       1700000001000050,
		Flags:            w.ReqScriptReloading | w.ReqHeadOnly,
		Restarts:         2,
		Ticket:           17,
		TicketSeq:        0x0000123400000009,
		Script:           "script-marker",
		ProcessGroup:     "pgroup-marker",
		ApplicationGroup: "agroup-marker",
		CallableObject:   "callable-marker",
		HandlerScript:    "handler-marker",
		EnvKeys:          []string{"REQUEST_METHOD", "PATH_INFO", "HTTP_X_EMPTY", "key-marker"},
		EnvVals:          []string{"GET", "/a b/ü", "", "val-marker"},
	}
	for i := range r.Secret {
		r.Secret[i] = byte(i*7 + 1)
	}
	return r
}

func sampleHeaders() *w.Headers {
	return &w.Headers{
		Status:     200,
		StatusLine: "status-marker",
		Names:      []string{"Content-Type", "X-Empty", "name-marker"},
		Values:     []string{"text/plain; charset=utf-8", "", "value-marker"},
	}
}

// frameOf checks one encoded frame's header and returns its payload.
func frameOf(t *testing.T, frame []byte, wantType int) []byte {
	t.Helper()
	require.GreaterOrEqual(t, len(frame), w.HeaderSize)
	typ, n, rc := w.ParseHeader(frame)
	require.Equal(t, 0, rc)
	require.Equal(t, wantType, typ)
	require.Equal(t, len(frame)-w.HeaderSize, int(n))
	require.Equal(t, uint32(n), binary.BigEndian.Uint32(frame))
	return frame[w.HeaderSize:]
}

func encode(t *testing.T, put func(*w.Buf) bool) []byte {
	t.Helper()
	f, ok := w.Encode(put)
	require.True(t, ok, "encoder refused")
	return f
}

// nilEmpty makes an expected value comparable with a decoded one, whose empty
// lists are nil.
func nilEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestRequestRoundTrip(t *testing.T) {
	big := strings.Repeat("x", w.MaxPayload-requestMin)
	many := &w.Request{}
	for i := 0; i < w.MaxFields; i++ {
		many.EnvKeys = append(many.EnvKeys, fmt.Sprintf("K%d", i))
		many.EnvVals = append(many.EnvVals, fmt.Sprintf("v%d", i))
	}
	extremes := &w.Request{ScriptMtime: -1, RequestStart: -1 << 63, QueueStart: 1<<63 - 1, Flags: 0xffffffff, Restarts: 0xffffffff,
		Ticket: 0xffffffff, TicketSeq: 1<<64 - 1}
	for i := range extremes.Secret {
		extremes.Secret[i] = 0xff
	}
	cases := []struct {
		name string
		r    *w.Request
		o    w.Opts
	}{
		{"typical", sampleRequest(), w.Opts{}},
		{"empty", &w.Request{}, w.Opts{}},
		{"null strings", &w.Request{EnvKeys: []string{""}, EnvVals: []string{""}}, w.Opts{NullEmpty: true}},
		{"extremes", extremes, w.Opts{}},
		{"max fields", many, w.Opts{}},
		{"max payload", &w.Request{Script: big}, w.Opts{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame := encode(t, func(b *w.Buf) bool { return b.PutRequest(c.r, c.o) })
			payload := frameOf(t, frame, w.FrameRequest)
			assert.Equal(t, uint32(w.Version), binary.BigEndian.Uint32(payload))
			got, err := w.DecodeRequest(payload)
			require.NoError(t, err)
			want := *c.r
			want.EnvKeys, want.EnvVals = nilEmpty(want.EnvKeys), nilEmpty(want.EnvVals)
			assert.Equal(t, &want, got)
			// Canonical: what was decoded encodes to the same bytes.
			again := encode(t, func(b *w.Buf) bool { return b.PutRequest(got, w.Opts{}) })
			assert.Equal(t, frame, again)
		})
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	many := &w.Headers{Status: 200, StatusLine: "200 OK"}
	for i := 0; i < w.MaxFields; i++ {
		many.Names = append(many.Names, fmt.Sprintf("X-%d", i))
		many.Values = append(many.Values, "v")
	}
	cases := []struct {
		name string
		h    *w.Headers
		o    w.Opts
	}{
		{"typical", sampleHeaders(), w.Opts{}},
		{"lowest status, no headers", &w.Headers{Status: 100, StatusLine: "100 Continue"}, w.Opts{}},
		{"highest status, empty line", &w.Headers{Status: 999}, w.Opts{}},
		{"null strings", &w.Headers{Status: 204, Names: []string{"X-A"}, Values: []string{""}}, w.Opts{NullEmpty: true}},
		{"max fields", many, w.Opts{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame := encode(t, func(b *w.Buf) bool { return b.PutHeaders(c.h, c.o) })
			got, err := w.DecodeHeaders(frameOf(t, frame, w.FrameHeaders))
			require.NoError(t, err)
			want := *c.h
			want.Names, want.Values = nilEmpty(want.Names), nilEmpty(want.Values)
			assert.Equal(t, &want, got)
			again := encode(t, func(b *w.Buf) bool { return b.PutHeaders(got, w.Opts{}) })
			assert.Equal(t, frame, again)
		})
	}
}

func TestFixedRoundTrip(t *testing.T) {
	for _, v := range []uint32{1, 8192, uint32(w.MaxChunk)} {
		p := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutU32(w.FrameRead, v) }), w.FrameRead)
		got, ok := w.GetU32(p)
		assert.True(t, ok)
		assert.Equal(t, v, got)
	}
	for _, c := range [][2]uint32{{1, 0}, {4242, 17}, {1<<31 - 1, 0xffffffff}} {
		p := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutAccept(c[0], c[1]) }), w.FrameAccept)
		pid, served, ok := w.GetAccept(p)
		assert.True(t, ok)
		assert.Equal(t, c, [2]uint32{pid, served})
	}
	for _, status := range []int{100, 500, 999} {
		for cause := w.CauseApp; cause <= w.CauseInterrupted; cause++ {
			for _, msg := range []string{"", "script failed: ü"} {
				p := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutError(status, cause, msg) }), w.FrameError)
				st, ca, m, off, ok := w.GetError(p)
				require.True(t, ok)
				assert.Equal(t, []any{status, cause, msg, 3}, []any{st, ca, string(m), off})
			}
		}
	}
	for level := 0; level <= 15; level++ {
		for _, msg := range [][]byte{nil, []byte("a line"), []byte("nul\x00inside")} {
			p := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutLog(level, msg) }), w.FrameLog)
			lv, m, off, ok := w.GetLog(p)
			require.True(t, ok)
			assert.Equal(t, []any{level, string(msg), 1}, []any{lv, string(m), off})
		}
	}
	chunk := bytes.Repeat([]byte{0xab}, w.MaxChunk)
	for _, flags := range []int{0, w.DataFlush} {
		for _, data := range [][]byte{nil, []byte("hello\x00"), chunk} {
			p := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutData(flags, data) }), w.FrameData)
			fl, d, off, ok := w.GetData(p)
			require.True(t, ok)
			assert.Equal(t, flags, fl)
			assert.Equal(t, len(data), len(d))
			assert.True(t, bytes.Equal(data, d))
			assert.Equal(t, 1, off)
		}
	}
	for _, o := range []int{w.EndComplete, w.EndIncomplete, w.EndKeep} {
		p := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutEnd(o) }), w.FrameEnd)
		got, ok := w.GetEnd(p)
		assert.True(t, ok)
		assert.Equal(t, o, got)
	}
	for _, c := range []struct {
		typ     int
		payload []byte
	}{
		{w.FrameBody, []byte{0}},
		{w.FrameBody, chunk},
		{w.FrameBodyEnd, nil},
		{w.FrameBodyError, nil},
		{w.FrameBodyError, []byte("client went away")},
		{w.FrameGoodbye, nil},
	} {
		p := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutFrame(c.typ, c.payload) }), c.typ)
		assert.True(t, bytes.Equal(c.payload, p))
	}
}

// Every encoder refuses what the reader would refuse, and leaves the
// buffer as it was.
func TestEncoderRejects(t *testing.T) {
	tooMany := &w.Request{}
	for i := 0; i <= w.MaxFields; i++ {
		tooMany.EnvKeys = append(tooMany.EnvKeys, "k")
		tooMany.EnvVals = append(tooMany.EnvVals, "v")
	}
	tooManyHeaders := &w.Headers{Status: 200, Names: tooMany.EnvKeys, Values: tooMany.EnvVals}
	overRequest := &w.Request{Script: strings.Repeat("x", w.MaxPayload-requestMin+1)}
	oneEnv := &w.Request{EnvKeys: []string{"k"}, EnvVals: []string{"v"}}
	oneHeader := &w.Headers{Status: 200, Names: []string{"k"}, Values: []string{"v"}}
	overChunk := make([]byte, w.MaxChunk+1)
	cases := map[string]func(*w.Buf) bool{
		"frame type 0":             func(b *w.Buf) bool { return b.PutFrame(0, []byte{1}) },
		"frame type 5":             func(b *w.Buf) bool { return b.PutFrame(5, []byte{1}) },
		"frame type 15":            func(b *w.Buf) bool { return b.PutFrame(15, nil) },
		"frame type 24":            func(b *w.Buf) bool { return b.PutFrame(24, []byte{1}) },
		"GOODBYE with bytes":       func(b *w.Buf) bool { return b.PutFrame(w.FrameGoodbye, []byte{1}) },
		"frame type 256+BODY":      func(b *w.Buf) bool { return b.PutFrame(256+w.FrameBody, []byte{1}) },
		"frame type -1":            func(b *w.Buf) bool { return b.PutFrame(-1, []byte{1}) },
		"empty BODY":               func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, nil) },
		"BODY over a chunk":        func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, overChunk) },
		"BODY_END with bytes":      func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, []byte{0}) },
		"READ of 3 bytes":          func(b *w.Buf) bool { return b.PutFrame(w.FrameRead, []byte{0, 0, 1}) },
		"END of 2 bytes":           func(b *w.Buf) bool { return b.PutFrame(w.FrameEnd, []byte{0, 0}) },
		"NULL payload":             func(b *w.Buf) bool { return b.PutFrameNull(w.FrameBodyError, 3) },
		"payload over max":         func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyError, make([]byte, w.MaxPayload+1)) },
		"REQUEST too many fields":  func(b *w.Buf) bool { return b.PutRequest(tooMany, w.Opts{}) },
		"REQUEST over max":         func(b *w.Buf) bool { return b.PutRequest(overRequest, w.Opts{}) },
		"REQUEST NULL arrays":      func(b *w.Buf) bool { return b.PutRequest(oneEnv, w.Opts{NullArrays: true}) },
		"REQUEST count over max":   func(b *w.Buf) bool { return b.PutRequest(oneEnv, w.Opts{NullArrays: true, Count: 1 << 31}) },
		"HEADERS status 99":        func(b *w.Buf) bool { return b.PutHeaders(&w.Headers{Status: 99}, w.Opts{}) },
		"HEADERS status 1000":      func(b *w.Buf) bool { return b.PutHeaders(&w.Headers{Status: 1000}, w.Opts{}) },
		"HEADERS status -200":      func(b *w.Buf) bool { return b.PutHeaders(&w.Headers{Status: -200}, w.Opts{}) },
		"HEADERS too many fields":  func(b *w.Buf) bool { return b.PutHeaders(tooManyHeaders, w.Opts{}) },
		"HEADERS NULL arrays":      func(b *w.Buf) bool { return b.PutHeaders(oneHeader, w.Opts{NullArrays: true}) },
		"READ 0":                   func(b *w.Buf) bool { return b.PutU32(w.FrameRead, 0) },
		"READ over a chunk":        func(b *w.Buf) bool { return b.PutU32(w.FrameRead, uint32(w.MaxChunk)+1) },
		"u32 as END":               func(b *w.Buf) bool { return b.PutU32(w.FrameEnd, 1) },
		"ACCEPT pid 0":             func(b *w.Buf) bool { return b.PutAccept(0, 1) },
		"ACCEPT pid over int":      func(b *w.Buf) bool { return b.PutAccept(1<<31, 1) },
		"ERROR status 99":          func(b *w.Buf) bool { return b.PutError(99, w.CauseApp, "x") },
		"ERROR status 1000":        func(b *w.Buf) bool { return b.PutError(1000, w.CauseApp, "x") },
		"ERROR cause 0":            func(b *w.Buf) bool { return b.PutError(500, 0, "x") },
		"ERROR cause 8":            func(b *w.Buf) bool { return b.PutError(500, w.CauseInterrupted+1, "x") },
		"ERROR message over max":   func(b *w.Buf) bool { return b.PutError(500, w.CauseApp, strings.Repeat("m", w.MaxPayload-2)) },
		"LOG level -1":             func(b *w.Buf) bool { return b.PutLog(-1, []byte("x")) },
		"LOG level 16":             func(b *w.Buf) bool { return b.PutLog(16, []byte("x")) },
		"LOG NULL text":            func(b *w.Buf) bool { return b.PutLogNull(3, 1) },
		"LOG text over max":        func(b *w.Buf) bool { return b.PutLog(3, make([]byte, w.MaxPayload)) },
		"DATA flags 2":             func(b *w.Buf) bool { return b.PutData(2, []byte("x")) },
		"DATA flags -1":            func(b *w.Buf) bool { return b.PutData(-1, []byte("x")) },
		"DATA over a chunk":        func(b *w.Buf) bool { return b.PutData(0, overChunk) },
		"DATA NULL bytes":          func(b *w.Buf) bool { return b.PutDataNull(0, 1) },
		"END outcome 3":            func(b *w.Buf) bool { return b.PutEnd(3) },
		"END outcome -1":           func(b *w.Buf) bool { return b.PutEnd(-1) },
		"REQUEST count, no arrays": func(b *w.Buf) bool { return b.PutRequest(&w.Request{}, w.Opts{NullArrays: true, Count: 1}) },
	}
	for name, put := range cases {
		t.Run(name, func(t *testing.T) {
			b := w.NewBuf()
			defer b.Free()
			require.True(t, b.PutEnd(w.EndComplete))
			before := b.Bytes()
			assert.False(t, put(b))
			assert.Equal(t, before, b.Bytes())
		})
	}
}

// truncations: no proper prefix of a valid payload decodes.
func TestDecodeTruncated(t *testing.T) {
	req := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutRequest(sampleRequest(), w.Opts{}) }), w.FrameRequest)
	hdr := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutHeaders(sampleHeaders(), w.Opts{}) }), w.FrameHeaders)
	for i := 0; i < len(req); i++ {
		_, err := w.DecodeRequest(req[:i])
		assert.Error(t, err, "REQUEST cut at %d", i)
	}
	for i := 0; i < len(hdr); i++ {
		_, err := w.DecodeHeaders(hdr[:i])
		assert.Error(t, err, "HEADERS cut at %d", i)
	}
	fixed := map[string]struct {
		payload []byte
		get     func([]byte) bool
	}{
		"READ":   {[]byte{0, 0, 1, 0}, func(p []byte) bool { _, ok := w.GetU32(p); return ok }},
		"ACCEPT": {[]byte{0, 0, 0, 9, 0, 0, 0, 1}, func(p []byte) bool { _, _, ok := w.GetAccept(p); return ok }},
		"ERROR":  {[]byte{1, 0xf4, 1}, func(p []byte) bool { _, _, _, _, ok := w.GetError(p); return ok }},
		"LOG":    {[]byte{3}, func(p []byte) bool { _, _, _, ok := w.GetLog(p); return ok }},
		"DATA":   {[]byte{1}, func(p []byte) bool { _, _, _, ok := w.GetData(p); return ok }},
		"END":    {[]byte{1}, func(p []byte) bool { _, ok := w.GetEnd(p); return ok }},
	}
	for name, f := range fixed {
		assert.True(t, f.get(f.payload), name)
		for i := 0; i < len(f.payload); i++ {
			assert.False(t, f.get(f.payload[:i]), "%s cut at %d", name, i)
		}
	}
}

func decodeErr(t *testing.T, req bool, p []byte) string {
	t.Helper()
	var err error
	if req {
		_, err = w.DecodeRequest(p)
	} else {
		_, err = w.DecodeHeaders(p)
	}
	require.Error(t, err)
	return err.Error()
}

func TestDecodeRejects(t *testing.T) {
	req := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutRequest(sampleRequest(), w.Opts{}) }), w.FrameRequest)
	hdr := frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutHeaders(sampleHeaders(), w.Opts{}) }), w.FrameHeaders)
	patched := func(p []byte, f func([]byte)) []byte {
		c := bytes.Clone(p)
		f(c)
		return c
	}
	for _, c := range []struct {
		req     bool
		payload []byte
	}{{true, req}, {false, hdr}} {
		assert.Contains(t, decodeErr(t, c.req, append(bytes.Clone(c.payload), 0)), "trailing")
		for _, marker := range []string{"script-marker", "pgroup-marker", "agroup-marker", "callable-marker",
			"handler-marker", "key-marker", "val-marker", "status-marker", "name-marker", "value-marker"} {
			at := bytes.Index(c.payload, []byte(marker))
			if at < 0 {
				continue
			}
			assert.Contains(t, decodeErr(t, c.req, patched(c.payload, func(p []byte) { p[at+3] = 0 })), "NUL", marker)
			// Each marker is a whole string, after its length.
			lenAt := at - 4
			require.Equal(t, uint32(len(marker)), binary.BigEndian.Uint32(c.payload[lenAt:]), marker)
			for _, n := range []uint32{0xffffffff, 1 << 31, uint32(len(c.payload))} {
				decodeErr(t, c.req, patched(c.payload, func(p []byte) { binary.BigEndian.PutUint32(p[lenAt:], n) }))
			}
			// One byte longer takes the next length's first byte, a NUL, or
			// runs past the end.
			decodeErr(t, c.req, patched(c.payload, func(p []byte) {
				binary.BigEndian.PutUint32(p[lenAt:], binary.BigEndian.Uint32(p[lenAt:])+1)
			}))
		}
	}
	assert.Contains(t, decodeErr(t, true, patched(req, func(p []byte) { binary.BigEndian.PutUint32(p, uint32(w.Version)+1) })), "version")
	for _, st := range []uint16{0, 99, 1000, 0xffff} {
		assert.Contains(t, decodeErr(t, false, patched(hdr, func(p []byte) { binary.BigEndian.PutUint16(p, st) })), "status")
	}
	for _, st := range []uint16{100, 999} {
		h, err := w.DecodeHeaders(patched(hdr, func(p []byte) { binary.BigEndian.PutUint16(p, st) }))
		require.NoError(t, err)
		assert.Equal(t, int(st), h.Status)
	}
	assert.Contains(t, decodeErr(t, true, make([]byte, w.MaxPayload+1)), "maximum")
	assert.Contains(t, decodeErr(t, false, make([]byte, w.MaxPayload+1)), "maximum")
	decodeErr(t, true, nil)
	decodeErr(t, false, nil)
}

// withCount gives an empty-environ REQUEST (or header-less HEADERS) payload
// a count of n followed by pairs empty strings.
func withCount(t *testing.T, req bool, n uint32, pairs int) []byte {
	var p []byte
	if req {
		p = frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutRequest(&w.Request{}, w.Opts{}) }), w.FrameRequest)
	} else {
		p = frameOf(t, encode(t, func(b *w.Buf) bool { return b.PutHeaders(&w.Headers{Status: 200}, w.Opts{}) }), w.FrameHeaders)
	}
	p = bytes.Clone(p)
	binary.BigEndian.PutUint32(p[len(p)-4:], n)
	return append(p, make([]byte, 8*pairs)...)
}

func TestDecodeFieldCounts(t *testing.T) {
	for _, req := range []bool{true, false} {
		assert.Contains(t, decodeErr(t, req, withCount(t, req, uint32(w.MaxFields)+1, w.MaxFields+1)), "maximum")
		assert.Contains(t, decodeErr(t, req, withCount(t, req, 0xffffffff, 0)), "maximum")
		assert.Contains(t, decodeErr(t, req, withCount(t, req, 3, 2)), "past the payload")
		assert.Contains(t, decodeErr(t, req, withCount(t, req, 1, 2)), "trailing")
		p := withCount(t, req, uint32(w.MaxFields), w.MaxFields)
		if req {
			r, err := w.DecodeRequest(p)
			require.NoError(t, err)
			assert.Len(t, r.EnvKeys, w.MaxFields)
			assert.Equal(t, "", r.EnvVals[w.MaxFields-1])
		} else {
			h, err := w.DecodeHeaders(p)
			require.NoError(t, err)
			assert.Len(t, h.Names, w.MaxFields)
		}
	}
}

func TestDecodeFixedRejects(t *testing.T) {
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	for _, p := range [][]byte{nil, {0, 0, 1}, {0, 0, 0, 1, 0}, u32(0), u32(uint32(w.MaxChunk) + 1), u32(0xffffffff)} {
		_, ok := w.GetU32(p)
		assert.False(t, ok, "READ % x", p)
	}
	for _, p := range [][]byte{nil, make([]byte, 7), make([]byte, 9), append(u32(0), u32(1)...), append(u32(1<<31), u32(1)...)} {
		_, _, ok := w.GetAccept(p)
		assert.False(t, ok, "ACCEPT % x", p)
	}
	for _, p := range [][]byte{nil, {1, 0xf4}, {0, 99, 1}, {0x03, 0xe8, 1}, {1, 0xf4, 0}, {1, 0xf4, 8}, {1, 0xf4, 1, 'a', 0, 'b'}, {1, 0xf4, 1, 0}} {
		_, _, _, _, ok := w.GetError(p)
		assert.False(t, ok, "ERROR % x", p)
	}
	for _, p := range [][]byte{nil, {16}, {255, 'x'}} {
		_, _, _, ok := w.GetLog(p)
		assert.False(t, ok, "LOG % x", p)
	}
	for _, p := range [][]byte{nil, {2}, {0x80, 'x'}, {3}, append([]byte{0}, make([]byte, w.MaxChunk+1)...)} {
		_, _, _, ok := w.GetData(p)
		assert.False(t, ok, "DATA % x", p)
	}
	for _, p := range [][]byte{nil, {3}, {0xff}, {0, 0}} {
		_, ok := w.GetEnd(p)
		assert.False(t, ok, "END % x", p)
	}
}

func header(typ int, n uint32) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), byte(typ))
}

func TestParseHeader(t *testing.T) {
	type span struct{ lo, hi uint32 }
	max := uint32(w.MaxPayload)
	chunk := uint32(w.MaxChunk)
	valid := map[int]span{
		w.FrameRequest:   {requestMin, max},
		w.FrameBody:      {1, chunk},
		w.FrameBodyEnd:   {0, 0},
		w.FrameBodyError: {0, max},
		w.FrameAccept:    {8, 8},
		w.FrameRead:      {4, 4},
		w.FrameLog:       {1, max},
		w.FrameError:     {3, max},
		w.FrameHeaders:   {2 + 4 + 4, max},
		w.FrameData:      {1, chunk + 1},
		w.FrameEnd:       {1, 1},
		w.FrameGoodbye:   {0, 0},
	}
	for typ := 0; typ < 256; typ++ {
		s, known := valid[typ]
		for _, n := range []uint32{0, 1, 3, 4, 5, 8, 9, 91, 92, chunk, chunk + 1, chunk + 2, max, max + 1, 0xffffffff} {
			gotType, gotLen, rc := w.ParseHeader(header(typ, n))
			if known && n >= s.lo && n <= s.hi {
				assert.Equal(t, []int{0, typ, int(n)}, []int{rc, gotType, int(gotLen)}, "type %d len %d", typ, n)
			} else {
				assert.Equal(t, -int(eproto), rc, "type %d len %d", typ, n)
			}
		}
	}
}
