package wiretest_test

// gowsgi_wire_read: the buffered reader both sides use on a connection.

import (
	"bytes"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	w "github.com/gowsgi/gowsgi/wsgi/wiretest"
)

func readAll(t *testing.T, fd int, frames []frame) {
	t.Helper()
	r := w.NewReader(fd)
	defer r.Free()
	for i, f := range frames {
		typ, payload, rc := r.Read(5000)
		require.Equal(t, 0, rc, "frame %d", i)
		assert.Equal(t, f.typ, typ, "frame %d", i)
		assert.True(t, bytes.Equal(f.payload, payload), "frame %d", i)
	}
	_, _, rc := r.Read(5000)
	assert.Equal(t, 1, rc, "a clean end after the last frame")
}

func TestReaderFramesInOneWrite(t *testing.T) {
	stream, frames := mixedStream(t)
	a, b := streamPair(t)
	require.NoError(t, writeAll(a.fd, stream))
	a.Close()
	readAll(t, b.fd, frames)
}

func TestReaderSplitWrites(t *testing.T) {
	stream, frames := mixedStream(t)
	a, b := streamPair(t)
	rng := rand.New(rand.NewSource(2))
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
	readAll(t, b.fd, frames)
}

func TestReaderEndInsideAFrame(t *testing.T) {
	body := encode(t, func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, []byte("0123456789")) })
	for _, cut := range []int{3, w.HeaderSize, w.HeaderSize + 4} {
		a, b := streamPair(t)
		require.NoError(t, writeAll(a.fd, body[:cut]))
		a.Close()
		r := w.NewReader(b.fd)
		_, _, rc := r.Read(1000)
		r.Free()
		assert.Equal(t, -int(eproto), rc, "cut at %d", cut)
	}
}

func TestReaderTimeoutAndBadHeader(t *testing.T) {
	a, b := streamPair(t)
	r := w.NewReader(b.fd)
	defer r.Free()
	start := time.Now()
	_, _, rc := r.Read(100)
	assert.Equal(t, -int(etimedout), rc)
	assert.Less(t, time.Since(start), 2*time.Second)
	require.NoError(t, writeAll(a.fd, []byte{0xff, 0xff, 0xff, 0xff, 99}))
	_, _, rc = r.Read(1000)
	assert.Equal(t, -int(eproto), rc, "an oversized or unknown frame is refused before anything is allocated")
}
