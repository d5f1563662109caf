/* tradestream.h -- Alpaca's trade_updates websocket stream, held open.
 *
 * One tradestream_t holds one connection to ALPACA_STREAM_URL in a thread
 * of its own (libwebsockets): it authenticates, asks for trade_updates,
 * pings every ALPACA_STREAM_PING_MS, takes a connection that stays silent
 * for one interval after a ping as dead, and reconnects with exponential
 * backoff and full jitter, for as long as it runs.  The events that move
 * an order (tradestream_event_moves) go into a bounded queue that another
 * thread reads with tradestream_next(), in the order they arrived; the
 * others (new, accepted, pending_cancel, ... and names never heard of) are
 * counted and let go, so that a follower is not woken for them.
 *
 * Alpaca replays nothing: events sent while no connection listened, or
 * dropped because the queue was full, or unreadable, are lost.  The epoch
 * says when that may have happened: it moves at every new listening session
 * (the first included), every queue overflow and every unreadable
 * trade_update.  A consumer that sees the epoch move (in an event or in
 * tradestream_status()) reconciles over REST; since a session's epoch moves
 * once it listens, a REST read made after seeing it misses nothing.
 *
 * The half without I/O (tradestream_parse, tradestream_url_*,
 * tradestream_backoff_ms) is pure, for tests and the fuzz target. */
#ifndef TRADESTREAM_H
#define TRADESTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "alpaca_parse.h"
#include "config.h"

/* The largest message accepted; a longer one breaks the connection. */
#define TRADESTREAM_MAX_MESSAGE (1024 * 1024)
/* Events held for the consumer; beyond it new ones are dropped. */
#define TRADESTREAM_QUEUE_MAX 10000

typedef struct tradestream tradestream_t;

typedef struct tradestream_event {
    char event[32];            /* as sent: new, partial_fill, fill, canceled, ... */
    char timestamp[48];        /* as sent, "" if absent */
    char execution_id[64];     /* "" if absent */
    char price[48], qty[48];   /* this execution's (fill, partial_fill); "" if absent */
    char position_qty[48];     /* "" if absent */
    alpaca_order_t order;      /* data.order; order.raw is its JSON (malloc'd) */
    int64_t received_mono_us;  /* when its message's last byte arrived (CLOCK_MONOTONIC) */
    uint64_t epoch;            /* the epoch when it was queued */
} tradestream_event_t;

typedef struct tradestream_status {
    int listening;             /* authenticated and listening right now */
    uint64_t epoch;            /* moves each time events may have been missed (above) */
    uint64_t events;           /* trade_updates queued */
    uint64_t dropped;          /* trade_updates dropped: queue full, or unreadable */
    uint64_t reconnects;       /* connection attempts after the first */
    char last_error[256];      /* why the last connection failed or ended; never a secret */
} tradestream_status_t;

/* Starts the stream's thread, which connects at once (the caller starts it
 * only when cfg->alpaca_stream is on).  NULL, with why in
 * err, when it cannot even start (ALPACA_STREAM_URL unusable, no CA
 * certificates for wss://, no memory, no thread).  Sets libwebsockets'
 * process-wide logging (errors and warnings into log.h's lines).  One
 * stream per process, and no other libwebsockets TLS context while it runs:
 * libwebsockets 4.1.6 keeps OpenSSL ex_data indexes in process-wide
 * variables that each TLS context's creation replaces (tests/
 * test_tradestream.c's TLS server shows the leak that follows). */
tradestream_t *tradestream_start(const config_t *cfg, char *err, size_t errlen);

/* Takes the oldest queued event into *ev (free with tradestream_event_clear),
 * waiting up to wait_ms for one.  1: an event; 0: none within wait_ms, or
 * interrupted; -1: the stream is being stopped (tradestream_stop() running
 * in another thread: return, and do not call again). */
int tradestream_next(tradestream_t *s, tradestream_event_t *ev, int64_t wait_ms);

/* Makes the current tradestream_next() return 0 at once, or the next one
 * if none is waiting. */
void tradestream_interrupt(tradestream_t *s);

void tradestream_status(tradestream_t *s, tradestream_status_t *out);

/* Frees what an event holds (its order's raw JSON). */
void tradestream_event_clear(tradestream_event_t *ev);

/* Closes the connection, joins the thread and frees everything, queued
 * events included.  A tradestream_next() waiting in another thread returns
 * -1 first.  NULL: nothing. */
void tradestream_stop(tradestream_t *s);

/* ---- pure -------------------------------------------------------------- */

typedef enum {
    TRADESTREAM_MSG_OTHER = 0,        /* well-formed, of no interest */
    TRADESTREAM_MSG_AUTHORIZED,       /* authorization, status authorized */
    TRADESTREAM_MSG_UNAUTHORIZED,     /* authorization, status unauthorized */
    TRADESTREAM_MSG_LISTENING,        /* listening, trade_updates among its streams */
    TRADESTREAM_MSG_TRADE_UPDATE      /* *ev filled */
} tradestream_msg_t;

/* 1 when a trade_update's event moves an order as the ledger records it:
 * partial_fill, fill, canceled, expired, rejected, replaced; 0 for the
 * others, which say nothing the ledger records. */
int tradestream_event_moves(const char *event);

/* The event name of a trade_updates message, read without parsing the
 * rest (the message is not checked beyond its outline): 1 with the name
 * in event, or 0 when msg is not plainly one (then tradestream_parse
 * says what it is). */
int tradestream_peek_event(const char *msg, size_t len, char *event, size_t event_len);

/* Classifies one message (len bytes, not necessarily NUL-terminated).
 * Returns its kind, with *ev filled for a trade_update (free it with
 * tradestream_event_clear; received_mono_us and epoch left 0) and zeroed
 * otherwise; or -1 with *bad naming what is wrong (a static string) when it
 * is not JSON, or is an authorization, listening or trade_update message
 * that cannot be read (no order, a field too long, ...), *ev zeroed.  Any
 * event name is passed on. */
int tradestream_parse(const char *msg, size_t len, tradestream_event_t *ev, const char **bad);

/* The stream's URL split for connecting. */
typedef struct tradestream_url {
    int tls;                   /* wss:// */
    char host[256];
    int port;                  /* as given, or 443 / 80 */
    char path[256];            /* "/" when none */
} tradestream_url_t;

/* Splits ws://host[:port][/path] or wss://...; 0, or -1 with *bad. */
int tradestream_url_parse(const char *url, tradestream_url_t *out, const char **bad);

/* The stream URL of a trading API URL: http -> ws, https -> wss, same host
 * and port, path /stream.  0, or -1 with *bad. */
int tradestream_url_derive(const char *base_url, char *out, size_t outlen, const char **bad);

/* The reconnection delay before retry number `attempt` (0: the first after
 * a failure): full jitter, r spread over [0, min(max_ms, base_ms * 2^attempt)]. */
int64_t tradestream_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempt, uint64_t r);

#endif
