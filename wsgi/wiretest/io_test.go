package wiretest_test

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	w "github.com/gowsgi/gowsgi/wsgi/wiretest"
)

const (
	eproto    = syscall.EPROTO
	etimedout = syscall.ETIMEDOUT
)

// sock is a descriptor a test closes once, whichever path it takes.
type sock struct {
	fd   int
	open bool
}

func (s *sock) Close() {
	if s.open {
		syscall.Close(s.fd)
		s.open = false
	}
}

func track(t *testing.T, fd int) *sock {
	s := &sock{fd, true}
	t.Cleanup(s.Close)
	return s
}

func streamPair(t *testing.T) (a, b *sock) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	return track(t, fds[0]), track(t, fds[1])
}

// spawn runs f on a goroutine that the test waits for before it closes its
// descriptors (cleanups run last first: track them before spawning), so no
// goroutine outlives its test and touches a reused descriptor number. stop
// closes first, for loops that would go on.
func spawn(t *testing.T, f func(stop <-chan struct{})) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		f(stop)
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

type frame struct {
	typ     int
	payload []byte
}

// mixedStream is one frame of every type, as bytes and as frames.
func mixedStream(t *testing.T) ([]byte, []frame) {
	puts := []func(*w.Buf) bool{
		func(b *w.Buf) bool { return b.PutRequest(sampleRequest(), w.Opts{}) },
		func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, []byte("body bytes")) },
		func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, nil) },
		func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyError, []byte("client went away")) },
		func(b *w.Buf) bool { return b.PutAccept(4242, 7) },
		func(b *w.Buf) bool { return b.PutU32(w.FrameRead, 8192) },
		func(b *w.Buf) bool { return b.PutLog(4, []byte("a warning")) },
		func(b *w.Buf) bool { return b.PutError(503, w.CauseShutdown, "stopping") },
		func(b *w.Buf) bool { return b.PutHeaders(sampleHeaders(), w.Opts{}) },
		func(b *w.Buf) bool { return b.PutData(w.DataFlush, []byte("hello")) },
		func(b *w.Buf) bool { return b.PutData(0, nil) },
		func(b *w.Buf) bool { return b.PutEnd(w.EndIncomplete) },
	}
	var stream []byte
	var frames []frame
	for _, put := range puts {
		f := encode(t, put)
		stream = append(stream, f...)
		typ, _, rc := w.ParseHeader(f)
		require.Equal(t, 0, rc)
		frames = append(frames, frame{typ, f[w.HeaderSize:]})
	}
	return stream, frames
}

func recvAll(t *testing.T, fd int, want []frame) {
	t.Helper()
	b := w.NewBuf()
	defer b.Free()
	for i, f := range want {
		typ, rc := b.Recv(fd, 5000)
		require.Equal(t, 0, rc, "frame %d", i)
		assert.Equal(t, f.typ, typ, "frame %d", i)
		assert.True(t, bytes.Equal(f.payload, b.Bytes()), "frame %d", i)
	}
	_, rc := b.Recv(fd, 5000)
	assert.Equal(t, 1, rc, "a clean end after the last frame")
	assert.Equal(t, 0, b.Len())
}

func TestRecvFrames(t *testing.T) {
	stream, frames := mixedStream(t)
	a, b := streamPair(t)
	require.NoError(t, writeAll(a.fd, stream))
	a.Close()
	recvAll(t, b.fd, frames)
}

func TestRecvSplitWrites(t *testing.T) {
	stream, frames := mixedStream(t)
	a, b := streamPair(t)
	rng := rand.New(rand.NewSource(1))
	spawn(t, func(stop <-chan struct{}) {
		defer a.Close()
		for p := stream; len(p) > 0; {
			n := min(1+rng.Intn(7), len(p))
			if writeAll(a.fd, p[:n]) != nil {
				return
			}
			p = p[n:]
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	})
	recvAll(t, b.fd, frames)
}

func TestRecvEndOfStream(t *testing.T) {
	body := encode(t, func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, []byte("0123456789")) })
	cases := []struct {
		name  string
		bytes []byte
		rc    int
	}{
		{"before a frame", nil, 1},
		{"inside a header", body[:3], -int(eproto)},
		{"after a header", body[:w.HeaderSize], -int(eproto)},
		{"inside a payload", body[:w.HeaderSize+4], -int(eproto)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := streamPair(t)
			require.NoError(t, writeAll(a.fd, c.bytes))
			a.Close()
			buf := w.NewBuf()
			defer buf.Free()
			_, rc := buf.Recv(b.fd, 1000)
			assert.Equal(t, c.rc, rc)
			assert.Equal(t, 0, buf.Len())
		})
	}
	t.Run("empty frame then end", func(t *testing.T) {
		a, b := streamPair(t)
		require.NoError(t, writeAll(a.fd, encode(t, func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, nil) })))
		a.Close()
		recvAll(t, b.fd, []frame{{w.FrameBodyEnd, nil}})
	})
}

func TestRecvTimeout(t *testing.T) {
	body := encode(t, func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, []byte("0123456789")) })
	check := func(t *testing.T, fd, timeout int) {
		buf := w.NewBuf()
		defer buf.Free()
		start := time.Now()
		_, rc := buf.Recv(fd, timeout)
		el := time.Since(start)
		assert.Equal(t, -int(etimedout), rc)
		assert.GreaterOrEqual(t, el, time.Duration(timeout)*time.Millisecond-time.Millisecond)
		assert.Less(t, el, 2*time.Second)
	}
	t.Run("nothing", func(t *testing.T) {
		_, b := streamPair(t)
		check(t, b.fd, 50)
		check(t, b.fd, 0)
	})
	t.Run("header only", func(t *testing.T) {
		a, b := streamPair(t)
		require.NoError(t, writeAll(a.fd, body[:w.HeaderSize+2]))
		check(t, b.fd, 50)
	})
	t.Run("whole call", func(t *testing.T) {
		// A byte every 20 ms never lets the frame finish within 100 ms,
		// though no single wait is that long.
		a, b := streamPair(t)
		spawn(t, func(stop <-chan struct{}) {
			for _, c := range body {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if writeAll(a.fd, []byte{c}) != nil {
					return
				}
			}
		})
		check(t, b.fd, 100)
	})
	t.Run("ready with no time", func(t *testing.T) {
		a, b := streamPair(t)
		require.NoError(t, writeAll(a.fd, body))
		buf := w.NewBuf()
		defer buf.Free()
		typ, rc := buf.Recv(b.fd, 0)
		assert.Equal(t, []int{0, w.FrameBody}, []int{rc, typ})
	})
}

func TestRecvBadHeader(t *testing.T) {
	for _, h := range [][]byte{
		header(w.FrameRequest, uint32(w.MaxPayload)+1),
		header(w.FrameRequest, 0xffffffff),
		header(w.FrameBodyError, uint32(w.MaxPayload)+1),
		header(w.FrameBody, uint32(w.MaxChunk)+1),
		header(w.FrameData, uint32(w.MaxChunk)+2),
		header(w.FrameRead, 5),
		header(0, 1),
		header(99, 1),
	} {
		a, b := streamPair(t)
		// The payload is not there: the header alone must be refused.
		require.NoError(t, writeAll(a.fd, h))
		buf := w.NewBuf()
		_, rc := buf.Recv(b.fd, 1000)
		assert.Equal(t, -int(eproto), rc, "% x", h)
		assert.Equal(t, 0, buf.Cap(), "allocated for % x", h)
		buf.Free()
	}
}

func TestRecvBufferReuse(t *testing.T) {
	a, b := streamPair(t)
	big := encode(t, func(b *w.Buf) bool { return b.PutData(0, bytes.Repeat([]byte{7}, w.MaxChunk)) })
	end := encode(t, func(b *w.Buf) bool { return b.PutEnd(w.EndComplete) })
	spawn(t, func(<-chan struct{}) {
		if writeAll(a.fd, big) == nil {
			writeAll(a.fd, end)
		}
		a.Close()
	})
	buf := w.NewBuf()
	defer buf.Free()
	typ, rc := buf.Recv(b.fd, 5000)
	require.Equal(t, []int{0, w.FrameData}, []int{rc, typ})
	assert.Equal(t, w.MaxChunk+1, buf.Cap(), "exactly the announced payload")
	typ, rc = buf.Recv(b.fd, 5000)
	require.Equal(t, []int{0, w.FrameEnd}, []int{rc, typ})
	assert.Equal(t, []byte{byte(w.EndComplete)}, buf.Bytes())
	assert.Equal(t, w.MaxChunk+1, buf.Cap(), "kept for the next frame")
}

func TestSendRecvMaxPayload(t *testing.T) {
	a, b := streamPair(t)
	r := &w.Request{Script: string(bytes.Repeat([]byte{'s'}, w.MaxPayload-requestMin))}
	f := encode(t, func(b *w.Buf) bool { return b.PutRequest(r, w.Opts{}) })
	res := make(chan int, 1)
	spawn(t, func(<-chan struct{}) { res <- w.Send(a.fd, f, 10000) })
	buf := w.NewBuf()
	defer buf.Free()
	typ, rc := buf.Recv(b.fd, 10000)
	require.Equal(t, []int{0, w.FrameRequest}, []int{rc, typ})
	assert.Equal(t, 0, <-res)
	assert.Equal(t, w.MaxPayload, buf.Cap())
	got, err := w.DecodeRequest(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, r.Script, got.Script)
}

func TestIOBadFd(t *testing.T) {
	buf := w.NewBuf()
	defer buf.Free()
	_, rc := buf.Recv(-1, 100)
	assert.Equal(t, -int(syscall.EBADF), rc)
	assert.Equal(t, -int(syscall.EBADF), w.Send(-1, []byte{1}, 100))
	assert.Equal(t, 0, w.Send(-1, nil, 100), "nothing to send")
}

func readAllFd(fd int, slow bool) []byte {
	var out []byte
	p := make([]byte, 1000)
	for i := 0; ; i++ {
		n, err := syscall.Read(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if n <= 0 {
			return out
		}
		out = append(out, p[:n]...)
		if slow && i%500 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestSendLarge(t *testing.T) {
	data := make([]byte, 4<<20)
	rand.New(rand.NewSource(2)).Read(data)
	for _, nonblocking := range []bool{false, true} {
		a, b := streamPair(t)
		require.NoError(t, syscall.SetNonblock(a.fd, nonblocking))
		got := make(chan []byte, 1)
		spawn(t, func(<-chan struct{}) { got <- readAllFd(b.fd, true) })
		require.Equal(t, 0, w.Send(a.fd, data, 10000))
		a.Close()
		assert.True(t, bytes.Equal(data, <-got), "nonblocking %v", nonblocking)
	}
}

func TestSendPeerGone(t *testing.T) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGPIPE)
	defer signal.Stop(sig)
	a, b := streamPair(t)
	b.Close()
	assert.Equal(t, -int(syscall.EPIPE), w.Send(a.fd, []byte("anyone?"), 1000))
	select {
	case <-sig:
		t.Error("SIGPIPE raised")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSendTimeout(t *testing.T) {
	a, _ := streamPair(t)
	start := time.Now()
	assert.Equal(t, -int(etimedout), w.Send(a.fd, make([]byte, 8<<20), 100))
	el := time.Since(start)
	assert.GreaterOrEqual(t, el, 99*time.Millisecond)
	assert.Less(t, el, 3*time.Second)
}

// interrupted runs f on a locked thread and, until f returns, sends that
// thread SIGURG every 2 ms (the Go runtime handles it, so each one cuts
// short whatever system call the thread is in). It returns when f is done.
func interrupted(t *testing.T, f func()) <-chan struct{} {
	tid, fin := make(chan int, 1), make(chan struct{})
	spawn(t, func(<-chan struct{}) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- syscall.Gettid()
		f()
		close(fin)
	})
	id := <-tid
	spawn(t, func(stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			case <-fin:
				return
			case <-time.After(2 * time.Millisecond):
				syscall.Tgkill(os.Getpid(), id, syscall.SIGURG)
			}
		}
	})
	return fin
}

func TestIOSignals(t *testing.T) {
	t.Run("recv", func(t *testing.T) {
		a, b := streamPair(t)
		buf := w.NewBuf()
		defer buf.Free()
		f := encode(t, func(b *w.Buf) bool { return b.PutEnd(w.EndComplete) })
		var typ, rc int
		done := interrupted(t, func() { typ, rc = buf.Recv(b.fd, 5000) })
		time.Sleep(100 * time.Millisecond)
		require.NoError(t, writeAll(a.fd, f[:2]))
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, writeAll(a.fd, f[2:]))
		<-done
		assert.Equal(t, []int{0, w.FrameEnd}, []int{rc, typ})
	})
	t.Run("recv timeout", func(t *testing.T) {
		_, b := streamPair(t)
		buf := w.NewBuf()
		defer buf.Free()
		var rc int
		start := time.Now()
		<-interrupted(t, func() { _, rc = buf.Recv(b.fd, 150) })
		assert.Equal(t, -int(etimedout), rc)
		assert.GreaterOrEqual(t, time.Since(start), 149*time.Millisecond)
	})
	t.Run("send", func(t *testing.T) {
		a, b := streamPair(t)
		data := make([]byte, 2<<20)
		var rc int
		done := interrupted(t, func() { rc = w.Send(a.fd, data, 5000) })
		time.Sleep(100 * time.Millisecond)
		got := make(chan []byte, 1)
		spawn(t, func(<-chan struct{}) { got <- readAllFd(b.fd, false) })
		<-done
		a.Close()
		assert.Equal(t, 0, rc)
		assert.Equal(t, len(data), len(<-got))
	})
}

// The frame header is what the reader announces it will read: lengths in
// network order.
func TestHeaderByteOrder(t *testing.T) {
	f := encode(t, func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyError, make([]byte, 0x010203)) })
	assert.Equal(t, []byte{0, 1, 2, 3, byte(w.FrameBodyError)}, f[:w.HeaderSize])
	assert.Equal(t, uint32(0x010203), binary.BigEndian.Uint32(f))
}
