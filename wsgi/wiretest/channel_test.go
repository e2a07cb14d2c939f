package wiretest_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	w "github.com/gowsgi/gowsgi/wsgi/wiretest"
)

func openChannel(t *testing.T) (send, recv *sock) {
	s, r, rc := w.ChannelOpen()
	require.Equal(t, 0, rc)
	return track(t, s), track(t, r)
}

func cloexec(t *testing.T, fd int) bool {
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	require.Zero(t, errno)
	return flags&syscall.FD_CLOEXEC != 0
}

func sockType(t *testing.T, fd int) int {
	typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	require.NoError(t, err)
	return typ
}

func isRefused(rc int) bool {
	return rc == -int(syscall.ECONNREFUSED) || rc == -int(syscall.EPIPE)
}

func TestChannelOpen(t *testing.T) {
	send, recv := openChannel(t)
	for _, s := range []*sock{send, recv} {
		assert.True(t, cloexec(t, s.fd))
		assert.Equal(t, syscall.SOCK_SEQPACKET, sockType(t, s.fd))
	}
	// One way only.
	assert.Equal(t, syscall.EPIPE, syscall.Sendto(recv.fd, []byte{1}, syscall.MSG_NOSIGNAL, nil))
}

// checkConnection: each end is close-on-exec, the peer is this process,
// and frames cross both ways.
func checkConnection(t *testing.T, child, daemon int) {
	t.Helper()
	assert.True(t, cloexec(t, child))
	assert.True(t, cloexec(t, daemon))
	assert.Equal(t, syscall.SOCK_STREAM, sockType(t, daemon))
	pid, uid, rc := w.ChannelPeer(daemon)
	require.Equal(t, 0, rc)
	assert.Equal(t, os.Getpid(), pid)
	assert.Equal(t, os.Getuid(), uid)

	buf := w.NewBuf()
	defer buf.Free()
	require.Equal(t, 0, w.Send(child, encode(t, func(b *w.Buf) bool { return b.PutRequest(sampleRequest(), w.Opts{}) }), 1000))
	typ, rc := buf.Recv(daemon, 1000)
	require.Equal(t, []int{0, w.FrameRequest}, []int{rc, typ})
	require.Equal(t, 0, w.Send(daemon, encode(t, func(b *w.Buf) bool { return b.PutAccept(uint32(os.Getpid()), 0) }), 1000))
	typ, rc = buf.Recv(child, 1000)
	require.Equal(t, []int{0, w.FrameAccept}, []int{rc, typ})
}

func TestChannelConnectAccept(t *testing.T) {
	send, recv := openChannel(t)

	// Queued first, then taken.
	child := ChannelConnect(t, send.fd, 1000)
	daemon := track(t, w.ChannelAccept(recv.fd, 1000))
	checkConnection(t, child.fd, daemon.fd)
	daemon.Close()
	buf := w.NewBuf()
	defer buf.Free()
	_, rc := buf.Recv(child.fd, 1000)
	assert.Equal(t, 1, rc, "the daemon's close is the end of the stream")

	// A daemon thread already waiting.
	got := make(chan int, 1)
	spawn(t, func(<-chan struct{}) { got <- w.ChannelAccept(recv.fd, 5000) })
	time.Sleep(20 * time.Millisecond)
	child2 := ChannelConnect(t, send.fd, 1000)
	daemon2 := track(t, <-got)
	require.GreaterOrEqual(t, daemon2.fd, 0)
	checkConnection(t, child2.fd, daemon2.fd)
}

// ChannelConnect connects and fails the test unless it did.
func ChannelConnect(t *testing.T, send, timeout int) *sock {
	t.Helper()
	fd := w.ChannelConnect(send, timeout)
	require.GreaterOrEqual(t, fd, 0, "connect: %d", fd)
	return track(t, fd)
}

// TestChannelHelperChild is the child process of TestChannelAcrossFork.
func TestChannelHelperChild(t *testing.T) {
	fdEnv := os.Getenv("GOWSGI_WIRETEST_CHANNEL_FD")
	if fdEnv == "" {
		t.Skip("only as TestChannelAcrossFork's child")
	}
	send, err := strconv.Atoi(fdEnv)
	require.NoError(t, err)
	c := w.ChannelConnect(send, 5000)
	require.GreaterOrEqual(t, c, 0)
	require.Equal(t, 0, w.Send(c, encode(t, func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, nil) }), 5000))
	buf := w.NewBuf()
	defer buf.Free()
	typ, rc := buf.Recv(c, 5000)
	require.Equal(t, []int{0, w.FrameEnd}, []int{rc, typ})
}

func TestChannelAcrossFork(t *testing.T) {
	send, recv := openChannel(t)
	dup, err := syscall.Dup(send.fd)
	require.NoError(t, err)
	f := os.NewFile(uintptr(dup), "channel")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChannelHelperChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GOWSGI_WIRETEST_CHANNEL_FD=3")
	cmd.ExtraFiles = []*os.File{f}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Start()
	f.Close()
	require.NoError(t, err)
	daemon := track(t, w.ChannelAccept(recv.fd, 10000))
	require.GreaterOrEqual(t, daemon.fd, 0)
	pid, uid, rc := w.ChannelPeer(daemon.fd)
	require.Equal(t, 0, rc)
	assert.Equal(t, cmd.Process.Pid, pid, "the peer is the process that connected")
	assert.Equal(t, os.Getuid(), uid)
	buf := w.NewBuf()
	defer buf.Free()
	typ, rc := buf.Recv(daemon.fd, 5000)
	require.Equal(t, []int{0, w.FrameBodyEnd}, []int{rc, typ})
	require.Equal(t, 0, w.Send(daemon.fd, encode(t, func(b *w.Buf) bool { return b.PutEnd(w.EndComplete) }), 5000))
	require.NoError(t, cmd.Wait(), out.String())
}

func TestChannelAcceptTimeout(t *testing.T) {
	_, recv := openChannel(t)
	start := time.Now()
	assert.Equal(t, -int(syscall.EAGAIN), w.ChannelAccept(recv.fd, 30))
	assert.GreaterOrEqual(t, time.Since(start), 29*time.Millisecond)
	assert.Equal(t, -int(syscall.EAGAIN), w.ChannelAccept(recv.fd, 0))
}

func TestChannelAcceptSignal(t *testing.T) {
	_, recv := openChannel(t)
	var rc int
	start := time.Now()
	<-interrupted(t, func() { rc = w.ChannelAccept(recv.fd, 5000) })
	assert.Equal(t, -int(syscall.EAGAIN), rc)
	assert.Less(t, time.Since(start), 2*time.Second, "a signal ends the wait")
}

func TestChannelNoDaemon(t *testing.T) {
	send, recv := openChannel(t)
	recv.Close()
	for _, timeout := range []int{0, 100, -1} {
		rc := w.ChannelConnect(send.fd, timeout)
		assert.True(t, isRefused(rc), "timeout %d: %d", timeout, rc)
	}
}

func TestChannelDaemonGoneWithQueue(t *testing.T) {
	send, recv := openChannel(t)
	child := ChannelConnect(t, send.fd, 1000)
	recv.Close()
	buf := w.NewBuf()
	defer buf.Free()
	_, rc := buf.Recv(child.fd, 2000)
	assert.Equal(t, 1, rc, "a connection no daemon took ends")
	rc = w.ChannelConnect(send.fd, 100)
	assert.True(t, isRefused(rc), "%d", rc)
	rc = w.ChannelConnect(send.fd, 100)
	assert.True(t, isRefused(rc), "%d", rc)
}

func TestChannelConnectTimeout(t *testing.T) {
	send, recv := openChannel(t)
	// A small queue fills fast.
	require.NoError(t, syscall.SetsockoptInt(send.fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 1))
	var kept []*sock
	full := false
	for i := 0; i < 10000 && !full; i++ {
		fd := w.ChannelConnect(send.fd, 0)
		if fd == -int(etimedout) {
			full = true
			break
		}
		require.GreaterOrEqual(t, fd, 0)
		kept = append(kept, track(t, fd))
	}
	require.True(t, full, "the queue never filled")
	require.NotEmpty(t, kept)
	t.Logf("%d connections queued", len(kept))

	start := time.Now()
	assert.Equal(t, -int(etimedout), w.ChannelConnect(send.fd, 100))
	assert.GreaterOrEqual(t, time.Since(start), 99*time.Millisecond)

	// A daemon draining the queue lets a waiting child in.
	spawn(t, func(<-chan struct{}) {
		time.Sleep(50 * time.Millisecond)
		for {
			fd := w.ChannelAccept(recv.fd, 0)
			if fd < 0 {
				return
			}
			syscall.Close(fd)
		}
	})
	start = time.Now()
	c := ChannelConnect(t, send.fd, 5000)
	assert.Less(t, time.Since(start), 4*time.Second)
	assert.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
	c.Close()
}

func sendRights(t *testing.T, send int, payload []byte, fds ...int) {
	t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	require.NoError(t, syscall.Sendmsg(send, payload, oob, nil, 0))
}

// pipeClosed: no write end of the pipe is left open.
func pipeClosed(t *testing.T, r int) bool {
	require.NoError(t, syscall.SetNonblock(r, true))
	n, err := syscall.Read(r, make([]byte, 1))
	return n == 0 && err == nil
}

func TestChannelAcceptDrops(t *testing.T) {
	send, recv := openChannel(t)

	sendRights(t, send.fd, []byte{0})
	assert.Equal(t, -int(syscall.EAGAIN), w.ChannelAccept(recv.fd, 1000), "no descriptor")
	sendRights(t, send.fd, nil)
	assert.Equal(t, -int(syscall.EAGAIN), w.ChannelAccept(recv.fd, 1000), "an empty message is not the end")

	var p [2]int
	require.NoError(t, syscall.Pipe2(p[:], syscall.O_CLOEXEC))
	pr, pw := track(t, p[0]), track(t, p[1])
	sendRights(t, send.fd, []byte{0}, pw.fd)
	pw.Close()
	assert.Equal(t, -int(syscall.EAGAIN), w.ChannelAccept(recv.fd, 1000), "not a stream socket")
	assert.True(t, pipeClosed(t, pr.fd))

	dg, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	sendRights(t, send.fd, []byte{0}, dg)
	syscall.Close(dg)
	assert.Equal(t, -int(syscall.EAGAIN), w.ChannelAccept(recv.fd, 1000), "a datagram socket")

	// Still serving.
	child := ChannelConnect(t, send.fd, 1000)
	daemon := track(t, w.ChannelAccept(recv.fd, 1000))
	checkConnection(t, child.fd, daemon.fd)
}

func TestChannelAcceptExtraFds(t *testing.T) {
	send, recv := openChannel(t)
	child, far := streamPair(t)
	var p [2]int
	require.NoError(t, syscall.Pipe2(p[:], syscall.O_CLOEXEC))
	pr, pw := track(t, p[0]), track(t, p[1])
	sendRights(t, send.fd, []byte{0}, far.fd, pw.fd, pw.fd)
	far.Close()
	pw.Close()
	daemon := track(t, w.ChannelAccept(recv.fd, 1000))
	require.GreaterOrEqual(t, daemon.fd, 0)
	assert.True(t, pipeClosed(t, pr.fd), "the extra descriptors are closed")
	checkConnection(t, child.fd, daemon.fd)
}

func TestChannelEndOfGeneration(t *testing.T) {
	send, recv := openChannel(t)
	child := ChannelConnect(t, send.fd, 1000)
	send.Close()
	// A connection still queued is served first.
	daemon := track(t, w.ChannelAccept(recv.fd, 1000))
	checkConnection(t, child.fd, daemon.fd)
	start := time.Now()
	assert.Equal(t, -int(syscall.EPIPE), w.ChannelAccept(recv.fd, 5000))
	assert.Equal(t, -int(syscall.EPIPE), w.ChannelAccept(recv.fd, -1))
	assert.Less(t, time.Since(start), time.Second)
}

func TestChannelPeerErrors(t *testing.T) {
	_, _, rc := w.ChannelPeer(-1)
	assert.Equal(t, -int(syscall.EBADF), rc)
	var p [2]int
	require.NoError(t, syscall.Pipe2(p[:], syscall.O_CLOEXEC))
	track(t, p[0])
	track(t, p[1])
	_, _, rc = w.ChannelPeer(p[0])
	assert.Equal(t, -int(syscall.ENOTSOCK), rc)
	assert.Equal(t, -int(syscall.EBADF), w.ChannelConnect(-1, 100))
	assert.Equal(t, -int(syscall.EBADF), w.ChannelAccept(-1, 100))
}
