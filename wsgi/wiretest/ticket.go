package wiretest

/*
#cgo CFLAGS: -O2 -Wall -Wextra -Werror -Wno-unused-parameter
#include <stdlib.h>
#include "daemon_ticket.h"

static gowsgi_ticket *tickets_new(unsigned n) { return calloc(n, sizeof(gowsgi_ticket)); }
static int ticket_claim(gowsgi_ticket *t, unsigned n, unsigned hint, uint64_t seq) { return gowsgi_ticket_claim(t, n, &hint, seq); }
*/
import "C"

import "unsafe"

// Ticket states (daemon_ticket.h).
const (
	TicketFree      = int(C.GOWSGI_TICKET_FREE)
	TicketPending   = int(C.GOWSGI_TICKET_PENDING)
	TicketBegun     = int(C.GOWSGI_TICKET_BEGUN)
	TicketCancelled = int(C.GOWSGI_TICKET_CANCELLED)
)

// Tickets is a ticket table in C memory, as the group's shared memory
// holds one.
type Tickets struct {
	p *C.gowsgi_ticket
	n int
}

func NewTickets(n int) *Tickets { return &Tickets{C.tickets_new(C.uint(n)), n} }
func (t *Tickets) Free()        { C.free(unsafe.Pointer(t.p)) }

func (t *Tickets) at(i int) *C.gowsgi_ticket {
	return (*C.gowsgi_ticket)(unsafe.Add(unsafe.Pointer(t.p), uintptr(i)*unsafe.Sizeof(*t.p)))
}

// Claim is the child's claim of a free ticket from hint on: its index or -1.
func (t *Tickets) Claim(hint int, seq uint64) int {
	return int(C.ticket_claim(t.p, C.uint(t.n), C.uint(hint), C.uint64_t(seq)))
}
func (t *Tickets) Begin(i int, seq uint64, pid int) bool {
	return C.gowsgi_ticket_begin(t.at(i), C.uint64_t(seq), C.int(pid)) != 0
}
func (t *Tickets) Cancel(i int, seq uint64) bool {
	return C.gowsgi_ticket_cancel(t.at(i), C.uint64_t(seq)) != 0
}
func (t *Tickets) Arm(i int, seq uint64) { C.gowsgi_ticket_arm(t.at(i), C.uint64_t(seq)) }
func (t *Tickets) Release(i int)         { C.gowsgi_ticket_free(t.at(i)) }

// State is the ticket's state for seq, or -1 when it holds another seq.
func (t *Tickets) State(i int, seq uint64) int {
	return int(C.gowsgi_ticket_state(t.at(i), C.uint64_t(seq)))
}
func (t *Tickets) Taker(i int) int { return int(t.at(i).taker_pid) }
