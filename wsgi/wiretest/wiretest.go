// Package wiretest exposes the daemon-mode wire codec and channel
// (wsgi/daemon_wire.c, wsgi/daemon_wire_io.c, wsgi/daemon_channel.c) and the
// ticket table (wsgi/daemon_ticket.h, ticket.go) to Go tests, which cannot use
// cgo themselves. It compiles its own copy of that C, through symlinks in
// this directory (the build cache sees only files here, so a change to the C
// reruns the tests), and links neither the engine nor CPython. Every byte
// slice handed to C is copied into C memory of exactly its length first.
package wiretest

/*
#cgo CFLAGS: -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
#include <stdlib.h>
#include "daemon_wire.h"
#include "daemon_channel.h"

typedef struct { int rc, fds[2]; } channel_pair;

static channel_pair channel_open(void)
{
	channel_pair p = {0, {-1, -1}};
	p.rc = gowsgi_channel_open(p.fds);
	return p;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// The header's constants.
const (
	Version    = int(C.GOWSGI_WIRE_VERSION)
	HeaderSize = int(C.GOWSGI_WIRE_HEADER_SIZE)
	MaxPayload = int(C.GOWSGI_WIRE_MAX_PAYLOAD)
	MaxChunk   = int(C.GOWSGI_WIRE_MAX_CHUNK)
	MaxFields  = int(C.GOWSGI_WIRE_MAX_FIELDS)
	SecretSize = int(C.GOWSGI_WIRE_SECRET_SIZE)

	FrameRequest   = int(C.GOWSGI_FRAME_REQUEST)
	FrameBody      = int(C.GOWSGI_FRAME_BODY)
	FrameBodyEnd   = int(C.GOWSGI_FRAME_BODY_END)
	FrameBodyError = int(C.GOWSGI_FRAME_BODY_ERROR)
	FrameAccept    = int(C.GOWSGI_FRAME_ACCEPT)
	FrameRead      = int(C.GOWSGI_FRAME_READ)
	FrameLog       = int(C.GOWSGI_FRAME_LOG)
	FrameError     = int(C.GOWSGI_FRAME_ERROR)
	FrameHeaders   = int(C.GOWSGI_FRAME_HEADERS)
	FrameData      = int(C.GOWSGI_FRAME_DATA)
	FrameEnd       = int(C.GOWSGI_FRAME_END)
	FrameGoodbye   = int(C.GOWSGI_FRAME_GOODBYE)

	DataFlush     = int(C.GOWSGI_DATA_FLUSH)
	EndComplete   = int(C.GOWSGI_END_COMPLETE)
	EndIncomplete = int(C.GOWSGI_END_INCOMPLETE)
	EndKeep       = int(C.GOWSGI_END_COMPLETE_KEEP)

	CauseApp          = int(C.GOWSGI_CAUSE_APP)
	CauseSecret       = int(C.GOWSGI_CAUSE_SECRET)
	CauseQueueTimeout = int(C.GOWSGI_CAUSE_QUEUE_TIMEOUT)
	CauseShutdown     = int(C.GOWSGI_CAUSE_SHUTDOWN)
	CauseReload       = int(C.GOWSGI_CAUSE_RELOAD)
	CauseProtocol     = int(C.GOWSGI_CAUSE_PROTOCOL)
	CauseInterrupted  = int(C.GOWSGI_CAUSE_INTERRUPTED)

	ReqScriptReloading = uint32(C.GOWSGI_REQ_SCRIPT_RELOADING)
	ReqEnableSendfile  = uint32(C.GOWSGI_REQ_ENABLE_SENDFILE)
	ReqHeadOnly        = uint32(C.GOWSGI_REQ_HEAD_ONLY)
	ReqIgnoreActivity  = uint32(C.GOWSGI_REQ_IGNORE_ACTIVITY)
	ReqModwsgi6        = uint32(C.GOWSGI_REQ_MODWSGI6)
)

// Request mirrors gowsgi_wire_request; EnvKeys and EnvVals pair up.
type Request struct {
	Secret                                 [SecretSize]byte
	ScriptMtime, RequestStart, QueueStart  int64
	Flags, Restarts, Ticket                uint32
	TicketSeq                              uint64
	Script, ProcessGroup, ApplicationGroup string
	CallableObject, HandlerScript          string
	EnvKeys, EnvVals                       []string
}

// Headers mirrors gowsgi_wire_headers; Names and Values pair up.
type Headers struct {
	Status        int
	StatusLine    string
	Names, Values []string
}

// Opts bends how a Go value reaches an encoder, to test its edges.
type Opts struct {
	NullEmpty  bool   // "" goes as a NULL pointer
	NullArrays bool   // the pair arrays go as NULL, their count as is
	Count      uint32 // when not 0, the pair count passed instead of len(keys)
}

// Buf is a gowsgi_wire_buf in C memory. Free it.
type Buf struct{ b *C.gowsgi_wire_buf }

func NewBuf() *Buf {
	return &Buf{(*C.gowsgi_wire_buf)(C.calloc(1, C.sizeof_gowsgi_wire_buf))}
}

func (b *Buf) Free() {
	C.gowsgi_wire_buf_free(b.b)
	C.free(unsafe.Pointer(b.b))
	b.b = nil
}

func (b *Buf) Bytes() []byte { return C.GoBytes(unsafe.Pointer(b.b.p), C.int(b.b.len)) }
func (b *Buf) Len() int      { return int(b.b.len) }
func (b *Buf) Cap() int      { return int(b.b.cap) }

// cmem holds C allocations made for one call.
type cmem struct{ ptrs []unsafe.Pointer }

func (m *cmem) free() {
	for _, p := range m.ptrs {
		C.free(p)
	}
}

func (m *cmem) bytes(p []byte) *C.uchar {
	if len(p) == 0 {
		return nil
	}
	c := C.CBytes(p)
	m.ptrs = append(m.ptrs, c)
	return (*C.uchar)(c)
}

func (m *cmem) str(s string, o Opts) *C.char {
	if s == "" && o.NullEmpty {
		return nil
	}
	c := C.CString(s)
	m.ptrs = append(m.ptrs, unsafe.Pointer(c))
	return c
}

func (m *cmem) strs(v []string, o Opts) **C.char {
	if len(v) == 0 || o.NullArrays {
		return nil
	}
	a := C.malloc(C.size_t(len(v)) * C.size_t(unsafe.Sizeof((*C.char)(nil))))
	m.ptrs = append(m.ptrs, a)
	s := unsafe.Slice((**C.char)(a), len(v))
	for i, x := range v {
		s[i] = m.str(x, o)
	}
	return (**C.char)(a)
}

func count(n int, o Opts) C.uint32_t {
	if o.Count != 0 {
		return C.uint32_t(o.Count)
	}
	return C.uint32_t(n)
}

func ok(rc C.int) bool { return rc == 0 }

func (b *Buf) PutRequest(r *Request, o Opts) bool {
	var m cmem
	defer m.free()
	if len(r.EnvKeys) != len(r.EnvVals) {
		panic("wiretest: EnvKeys and EnvVals differ in length")
	}
	var c C.gowsgi_wire_request
	for i := range r.Secret {
		c.secret[i] = C.uchar(r.Secret[i])
	}
	c.script_mtime = C.int64_t(r.ScriptMtime)
	c.request_start = C.int64_t(r.RequestStart)
	c.queue_start = C.int64_t(r.QueueStart)
	c.flags = C.uint32_t(r.Flags)
	c.restarts = C.uint32_t(r.Restarts)
	c.ticket = C.uint32_t(r.Ticket)
	c.ticket_seq = C.uint64_t(r.TicketSeq)
	c.script = m.str(r.Script, o)
	c.process_group = m.str(r.ProcessGroup, o)
	c.application_group = m.str(r.ApplicationGroup, o)
	c.callable_object = m.str(r.CallableObject, o)
	c.handler_script = m.str(r.HandlerScript, o)
	c.nenv = count(len(r.EnvKeys), o)
	c.env_keys = m.strs(r.EnvKeys, o)
	c.env_vals = m.strs(r.EnvVals, o)
	return ok(C.gowsgi_wire_put_request(b.b, &c))
}

func (b *Buf) PutHeaders(h *Headers, o Opts) bool {
	var m cmem
	defer m.free()
	if len(h.Names) != len(h.Values) {
		panic("wiretest: Names and Values differ in length")
	}
	var c C.gowsgi_wire_headers
	c.status = C.int(h.Status)
	c.status_line = m.str(h.StatusLine, o)
	c.n = count(len(h.Names), o)
	c.names = m.strs(h.Names, o)
	c.values = m.strs(h.Values, o)
	return ok(C.gowsgi_wire_put_headers(b.b, &c))
}

// PutFrame passes payload; PutFrameNull passes NULL with a length of n.
func (b *Buf) PutFrame(t int, payload []byte) bool {
	var m cmem
	defer m.free()
	return ok(C.gowsgi_wire_put_frame(b.b, C.int(t), unsafe.Pointer(m.bytes(payload)), C.size_t(len(payload))))
}

func (b *Buf) PutFrameNull(t, n int) bool {
	return ok(C.gowsgi_wire_put_frame(b.b, C.int(t), nil, C.size_t(n)))
}

func (b *Buf) PutU32(t int, v uint32) bool {
	return ok(C.gowsgi_wire_put_u32(b.b, C.int(t), C.uint32_t(v)))
}

func (b *Buf) PutAccept(pid, served uint32) bool {
	return ok(C.gowsgi_wire_put_accept(b.b, C.uint32_t(pid), C.uint32_t(served)))
}

// PutError passes "" as NULL.
func (b *Buf) PutError(status, cause int, msg string) bool {
	var m cmem
	defer m.free()
	return ok(C.gowsgi_wire_put_error(b.b, C.int(status), C.int(cause), m.str(msg, Opts{NullEmpty: true})))
}

func (b *Buf) PutLog(level int, msg []byte) bool {
	var m cmem
	defer m.free()
	return ok(C.gowsgi_wire_put_log(b.b, C.int(level), (*C.char)(unsafe.Pointer(m.bytes(msg))), C.size_t(len(msg))))
}

func (b *Buf) PutLogNull(level, n int) bool {
	return ok(C.gowsgi_wire_put_log(b.b, C.int(level), nil, C.size_t(n)))
}

func (b *Buf) PutData(flags int, data []byte) bool {
	var m cmem
	defer m.free()
	return ok(C.gowsgi_wire_put_data(b.b, C.int(flags), unsafe.Pointer(m.bytes(data)), C.size_t(len(data))))
}

func (b *Buf) PutDataNull(flags, n int) bool {
	return ok(C.gowsgi_wire_put_data(b.b, C.int(flags), nil, C.size_t(n)))
}

func (b *Buf) PutEnd(outcome int) bool {
	return ok(C.gowsgi_wire_put_end(b.b, C.int(outcome)))
}

// Encode runs put on a fresh buffer and returns what it appended.
func Encode(put func(*Buf) bool) ([]byte, bool) {
	b := NewBuf()
	defer b.Free()
	if !put(b) {
		return nil, false
	}
	return b.Bytes(), true
}

func goStrings(p **C.char, n C.uint32_t) []string {
	if n == 0 {
		return nil
	}
	s := unsafe.Slice(p, int(n))
	out := make([]string, len(s))
	for i, c := range s {
		out[i] = C.GoString(c)
	}
	return out
}

const errLen = 256

// DecodeRequest decodes a REQUEST payload (NULL when p is empty).
func DecodeRequest(p []byte) (*Request, error) {
	var m cmem
	defer m.free()
	e := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(e))
	c := C.gowsgi_wire_get_request(m.bytes(p), C.size_t(len(p)), e, errLen)
	if c == nil {
		return nil, errors.New(C.GoString(e))
	}
	defer C.free(unsafe.Pointer(c))
	r := &Request{
		ScriptMtime:      int64(c.script_mtime),
		RequestStart:     int64(c.request_start),
		QueueStart:       int64(c.queue_start),
		Flags:            uint32(c.flags),
		Restarts:         uint32(c.restarts),
		Ticket:           uint32(c.ticket),
		TicketSeq:        uint64(c.ticket_seq),
		Script:           C.GoString(c.script),
		ProcessGroup:     C.GoString(c.process_group),
		ApplicationGroup: C.GoString(c.application_group),
		CallableObject:   C.GoString(c.callable_object),
		HandlerScript:    C.GoString(c.handler_script),
		EnvKeys:          goStrings(c.env_keys, c.nenv),
		EnvVals:          goStrings(c.env_vals, c.nenv),
	}
	for i := range r.Secret {
		r.Secret[i] = byte(c.secret[i])
	}
	if c.script == nil || c.handler_script == nil {
		return nil, errors.New("wiretest: a decoded string is NULL")
	}
	return r, nil
}

// DecodeHeaders decodes a HEADERS payload (NULL when p is empty).
func DecodeHeaders(p []byte) (*Headers, error) {
	var m cmem
	defer m.free()
	e := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(e))
	c := C.gowsgi_wire_get_headers(m.bytes(p), C.size_t(len(p)), e, errLen)
	if c == nil {
		return nil, errors.New(C.GoString(e))
	}
	defer C.free(unsafe.Pointer(c))
	if c.status_line == nil {
		return nil, errors.New("wiretest: a decoded string is NULL")
	}
	return &Headers{
		Status:     int(c.status),
		StatusLine: C.GoString(c.status_line),
		Names:      goStrings(c.names, c.n),
		Values:     goStrings(c.values, c.n),
	}, nil
}

// offsetIn copies n bytes at q, which must lie inside the C copy base of
// length size, and returns them with q's offset (-1 when outside).
func offsetIn(base *C.uchar, size int, q unsafe.Pointer, n C.size_t) ([]byte, int) {
	off := int(uintptr(q) - uintptr(unsafe.Pointer(base)))
	if base == nil || off < 0 || off+int(n) > size {
		return nil, -1
	}
	return C.GoBytes(q, C.int(n)), off
}

func GetU32(p []byte) (uint32, bool) {
	var m cmem
	defer m.free()
	var v C.uint32_t
	good := ok(C.gowsgi_wire_get_u32(m.bytes(p), C.size_t(len(p)), &v))
	return uint32(v), good
}

func GetAccept(p []byte) (pid, served uint32, good bool) {
	var m cmem
	defer m.free()
	var a, s C.uint32_t
	good = ok(C.gowsgi_wire_get_accept(m.bytes(p), C.size_t(len(p)), &a, &s))
	return uint32(a), uint32(s), good
}

// GetError returns the message and its offset in p.
func GetError(p []byte) (status, cause int, msg []byte, off int, good bool) {
	var m cmem
	defer m.free()
	var st, ca C.int
	var q *C.char
	var n C.size_t
	c := m.bytes(p)
	if !ok(C.gowsgi_wire_get_error(c, C.size_t(len(p)), &st, &ca, &q, &n)) {
		return 0, 0, nil, 0, false
	}
	msg, off = offsetIn(c, len(p), unsafe.Pointer(q), n)
	return int(st), int(ca), msg, off, true
}

func GetLog(p []byte) (level int, msg []byte, off int, good bool) {
	var m cmem
	defer m.free()
	var lv C.int
	var q *C.char
	var n C.size_t
	c := m.bytes(p)
	if !ok(C.gowsgi_wire_get_log(c, C.size_t(len(p)), &lv, &q, &n)) {
		return 0, nil, 0, false
	}
	msg, off = offsetIn(c, len(p), unsafe.Pointer(q), n)
	return int(lv), msg, off, true
}

func GetData(p []byte) (flags int, data []byte, off int, good bool) {
	var m cmem
	defer m.free()
	var fl C.int
	var q *C.uchar
	var n C.size_t
	c := m.bytes(p)
	if !ok(C.gowsgi_wire_get_data(c, C.size_t(len(p)), &fl, &q, &n)) {
		return 0, nil, 0, false
	}
	data, off = offsetIn(c, len(p), unsafe.Pointer(q), n)
	return int(fl), data, off, true
}

func GetEnd(p []byte) (int, bool) {
	var m cmem
	defer m.free()
	var o C.int
	good := ok(C.gowsgi_wire_get_end(m.bytes(p), C.size_t(len(p)), &o))
	return int(o), good
}

// ParseHeader parses the first HeaderSize bytes of h.
func ParseHeader(h []byte) (t int, n uint32, rc int) {
	if len(h) < HeaderSize {
		panic("wiretest: short header")
	}
	var m cmem
	defer m.free()
	var ct C.int
	var cn C.uint32_t
	rc = int(C.gowsgi_wire_parse_header(m.bytes(h[:HeaderSize]), &ct, &cn))
	return int(ct), uint32(cn), rc
}

// Send is gowsgi_wire_send: 0 or a negative errno.
func Send(fd int, p []byte, timeoutMs int) int {
	var m cmem
	defer m.free()
	return int(C.gowsgi_wire_send(C.int(fd), unsafe.Pointer(m.bytes(p)), C.size_t(len(p)), C.int(timeoutMs)))
}

// Recv is gowsgi_wire_recv into b: the frame's type and the return code.
func (b *Buf) Recv(fd, timeoutMs int) (t, rc int) {
	var ct C.int = -1
	rc = int(C.gowsgi_wire_recv(C.int(fd), &ct, b.b, C.int(timeoutMs)))
	return int(ct), rc
}

// Reader is a gowsgi_wire_reader in C memory. Free it.
type Reader struct{ r *C.gowsgi_wire_reader }

func NewReader(fd int) *Reader {
	r := (*C.gowsgi_wire_reader)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gowsgi_wire_reader{}))))
	r.fd = C.int(fd)
	return &Reader{r}
}

func (r *Reader) Free() {
	C.gowsgi_wire_reader_free(r.r)
	C.free(unsafe.Pointer(r.r))
}

// Read returns the next frame's type and a copy of its payload.
func (r *Reader) Read(timeoutMs int) (t int, payload []byte, rc int) {
	var ct C.int = -1
	var p *C.uchar
	var n C.size_t
	rc = int(C.gowsgi_wire_read(r.r, &ct, &p, &n, C.int(timeoutMs)))
	if rc == 0 {
		payload = C.GoBytes(unsafe.Pointer(p), C.int(n))
	}
	return int(ct), payload, rc
}

// ChannelOpen returns the send and receive ends, or a negative errno.
func ChannelOpen() (send, recv, rc int) {
	p := C.channel_open()
	return int(p.fds[0]), int(p.fds[1]), int(p.rc)
}

func ChannelConnect(sendFd, timeoutMs int) int {
	return int(C.gowsgi_channel_connect(C.int(sendFd), C.int(timeoutMs)))
}

func ChannelAccept(recvFd, timeoutMs int) int {
	return int(C.gowsgi_channel_accept(C.int(recvFd), C.int(timeoutMs)))
}

func ChannelPeer(fd int) (pid, uid, rc int) {
	var p C.pid_t
	var u C.uid_t
	rc = int(C.gowsgi_channel_peer(C.int(fd), &p, &u))
	return int(p), int(u), rc
}
