/*
 * logno.h: the id every error-log line gowsgi writes begins with, as
 * Apache's APLOGNO(nnnnn) and mod_wsgi 6's WSGI_APLOGNO(n): "GW" and four
 * digits, e.g. GOWSGI_LOGNO(0042) "gowsgi: ..." is "GW0042: gowsgi: ...".
 * A number names one message for good: a changed meaning takes a new
 * number, a removed message's number is retired, never reused. Each is
 * listed, with what it means and what to do, in docs/log-messages.md
 * (tests/logids_test.go holds the source and that page to each other).
 * Go writes the same prefix in its literals ("GW0042: ...").
 */
#ifndef GOWSGI_LOGNO_H
#define GOWSGI_LOGNO_H

/* A string literal, to be followed by the message's format literal. */
#define GOWSGI_LOGNO(n) "GW" #n ": "

#endif
