package wiretest_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	w "github.com/gowsgi/gowsgi/wsgi/wiretest"
)

func TestTicketLifecycle(t *testing.T) {
	tk := w.NewTickets(3)
	defer tk.Free()
	const seq1, seq2 = 1234<<32 | 1, 1234<<32 | 2

	a := tk.Claim(0, seq1)
	require.Equal(t, 0, a)
	assert.Equal(t, w.TicketPending, tk.State(a, seq1))
	assert.Equal(t, -1, tk.State(a, seq2), "another seq does not read this ticket")

	// The daemon begins it; the child can no longer take it back.
	assert.False(t, tk.Begin(a, seq2, 77), "a late daemon with another seq begins nothing")
	assert.Equal(t, 0, tk.Taker(a), "nor names itself on the ticket")
	assert.True(t, tk.Begin(a, seq1, 42))
	assert.Equal(t, 42, tk.Taker(a))
	assert.Equal(t, w.TicketBegun, tk.State(a, seq1))
	assert.False(t, tk.Cancel(a, seq1), "begun: the child cannot cancel")
	assert.False(t, tk.Begin(a, seq1, 42), "begun once only")

	// Cancelled first: the daemon must drop it.
	tk.Arm(a, seq2)
	assert.Equal(t, 0, tk.Taker(a), "a new attempt has no taker")
	assert.True(t, tk.Cancel(a, seq2))
	assert.Equal(t, w.TicketCancelled, tk.State(a, seq2))
	assert.True(t, tk.Cancel(a, seq2), "cancelling twice is still cancelled")
	assert.False(t, tk.Begin(a, seq2, 42), "a cancelled attempt never begins")

	// A new attempt on the same ticket: the old one's daemon cannot begin it.
	const seq3 = 1234<<32 | 3
	tk.Arm(a, seq3)
	assert.False(t, tk.Begin(a, seq2, 42))
	assert.True(t, tk.Begin(a, seq3, 43))

	// The table fills, and a freed ticket is claimed again.
	assert.Equal(t, 1, tk.Claim(0, 5<<32|1), "the next free one")
	assert.Equal(t, 2, tk.Claim(2, 5<<32|2), "from the hint on")
	assert.Equal(t, -1, tk.Claim(0, 5<<32|3), "none left: the request goes without one")
	tk.Release(a)
	assert.Equal(t, w.TicketFree, tk.State(a, 0))
	assert.False(t, tk.Begin(a, seq3, 43), "a freed ticket begins nothing")
	assert.Equal(t, a, tk.Claim(1, 6<<32|1), "wraps around to the freed one")
}

// The child cancelling and the daemon beginning race on the same attempt:
// exactly one of them wins, every time.
func TestTicketRace(t *testing.T) {
	const n = 20000
	tk := w.NewTickets(1)
	defer tk.Free()
	require.Equal(t, 0, tk.Claim(0, 1))
	begun, cancelled := 0, 0
	for i := uint64(2); i < n+2; i++ {
		tk.Arm(0, i)
		var b, c bool
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); runtime.Gosched(); b = tk.Begin(0, i, 9) }()
		go func() { defer wg.Done(); runtime.Gosched(); c = tk.Cancel(0, i) }()
		wg.Wait()
		require.True(t, b != c, "attempt %d: begun=%v cancelled=%v", i, b, c)
		if b {
			begun++
		} else {
			cancelled++
		}
	}
	t.Logf("%d begun, %d cancelled", begun, cancelled)
}
