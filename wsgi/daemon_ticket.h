/*
 * daemon_ticket.h: whether a daemon has begun a request (ARCHITECTURE.md
 * section 7, "a request the app has not begun is never lost"). Compiled into
 * both sides, like daemon_wire.h; no Apache or Python headers.
 *
 * Each group has a table of tickets in the memory its parent shares with
 * the group's daemons and Apache's children. A child forwarding a request
 * claims a free ticket (FREE -> seq|PENDING) and names it in the REQUEST;
 * the daemon that takes the request writes its pid and turns the ticket
 * BEGUN immediately before the app runs, with a compare-and-swap that fails
 * if the child has cancelled it (PENDING -> CANCELLED) or reused it for
 * another attempt (another seq). So exactly one of the two wins: a request
 * the child cancelled never runs, and one it could not cancel had begun.
 * The child, and only the child, frees its ticket when the request ends.
 *
 * The state and the attempt's seq share one 64-bit word (seq << 2 | state):
 * seq is unique per attempt (the child's pid << 32 | a per-process count),
 * so a daemon that is late with its CAS never begins a newer attempt.
 * Nothing is a syscall: the warm path pays a few atomics.
 */
#ifndef GOWSGI_DAEMON_TICKET_H
#define GOWSGI_DAEMON_TICKET_H

#include <stdint.h>

enum {
    GOWSGI_TICKET_FREE = 0,
    GOWSGI_TICKET_PENDING = 1,     /* sent; no app has begun it */
    GOWSGI_TICKET_BEGUN = 2,       /* a daemon runs it: it may only fail now */
    GOWSGI_TICKET_CANCELLED = 3    /* the child sent it elsewhere: never run it */
};

typedef struct gowsgi_ticket {
    uint64_t word;                 /* seq << 2 | state; 0: free */
    int32_t taker_pid;             /* the daemon that took it (set just before BEGUN) */
    int32_t unused;
} gowsgi_ticket;

#define GOWSGI_TICKET_WORD(seq, state) (((uint64_t)(seq) << 2) | (uint64_t)(state))
/* The pid of the child whose attempt a word is (seq's high 32 bits). */
#define GOWSGI_TICKET_PID(word) ((uint32_t)((uint64_t)(word) >> 34))

static inline int gowsgi_ticket_state(const gowsgi_ticket *t, uint64_t seq)
{
    uint64_t w = __atomic_load_n(&t->word, __ATOMIC_ACQUIRE);
    return (w >> 2) == seq ? (int)(w & 3) : -1;
}

/* Daemon: the request with this seq is about to run. 1: go on; 0: the child
 * cancelled it or moved on (drop it without running anything). */
static inline int gowsgi_ticket_begin(gowsgi_ticket *t, uint64_t seq, int pid)
{
    uint64_t pending = GOWSGI_TICKET_WORD(seq, GOWSGI_TICKET_PENDING);
    /* Checked first so that a late daemon does not write its pid on a
     * ticket another request now holds (if it still did, the child would
     * only send its request again, never lose it). */
    if (__atomic_load_n(&t->word, __ATOMIC_ACQUIRE) != pending)
        return 0;
    __atomic_store_n(&t->taker_pid, pid, __ATOMIC_RELEASE);
    return __atomic_compare_exchange_n(&t->word, &pending, GOWSGI_TICKET_WORD(seq, GOWSGI_TICKET_BEGUN), 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Child: takes the attempt back. 1: cancelled (no daemon will run it);
 * 0: it had begun. */
static inline int gowsgi_ticket_cancel(gowsgi_ticket *t, uint64_t seq)
{
    uint64_t pending = GOWSGI_TICKET_WORD(seq, GOWSGI_TICKET_PENDING);
    return __atomic_compare_exchange_n(&t->word, &pending, GOWSGI_TICKET_WORD(seq, GOWSGI_TICKET_CANCELLED), 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
           pending != GOWSGI_TICKET_WORD(seq, GOWSGI_TICKET_BEGUN);
}

/* Child: a ticket it holds, armed for a new attempt (after a cancel, a
 * GOODBYE or a replay: the old attempt cannot begin any more). */
static inline void gowsgi_ticket_arm(gowsgi_ticket *t, uint64_t seq)
{
    __atomic_store_n(&t->taker_pid, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->word, GOWSGI_TICKET_WORD(seq, GOWSGI_TICKET_PENDING), __ATOMIC_RELEASE);
}

/* Child: a free ticket of the n in table, armed for seq, from *hint on (a
 * thread mostly gets its last one back); its index, or -1 when all are
 * taken (the request then goes without one, as before tickets). */
static inline int gowsgi_ticket_claim(gowsgi_ticket *table, unsigned n, unsigned *hint, uint64_t seq)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned idx = (*hint + i) % n;
        uint64_t free_word = 0;
        if (__atomic_load_n(&table[idx].word, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&table[idx].word, &free_word,
                                        GOWSGI_TICKET_WORD(seq, GOWSGI_TICKET_PENDING), 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            __atomic_store_n(&table[idx].taker_pid, 0, __ATOMIC_RELEASE);
            *hint = idx;
            return (int)idx;
        }
    }
    return -1;
}

static inline void gowsgi_ticket_free(gowsgi_ticket *t)
{
    __atomic_store_n(&t->word, 0, __ATOMIC_RELEASE);
}

/* Apache's parent, when a child has exited (even by SIGKILL mid-request):
 * the tickets it held are free again; how many. The parent runs this once
 * it has reaped the child, before the pid can be reused, so no word with
 * that pid is anyone's any more (pid_max is at most 2^22: seq << 2 keeps
 * all of it). A CAS per word: one that changed meanwhile is left alone. */
static inline unsigned gowsgi_ticket_reclaim(gowsgi_ticket *table, unsigned n, int pid)
{
    unsigned reclaimed = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = __atomic_load_n(&table[i].word, __ATOMIC_ACQUIRE);
        if (w != 0 && GOWSGI_TICKET_PID(w) == (uint32_t)pid &&
            __atomic_compare_exchange_n(&table[i].word, &w, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            reclaimed++;
    }
    return reclaimed;
}

#endif
