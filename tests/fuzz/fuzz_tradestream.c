/* fuzz_tradestream.c -- libFuzzer target for the pure half of the
 * trade_updates stream client (worker/tradestream_parse.c).
 *
 * Owns the hostile-input checks of what the worker reads from Alpaca's
 * websocket: every message (tradestream_parse) and the stream's URL
 * (tradestream_url_parse, tradestream_url_derive).  Why: the stream's
 * messages decide which orders the follower looks at, and whatever answers
 * on ALPACA_STREAM_URL is outside the worker's control, so the reader must
 * never crash and must keep its promises, asserted here (abort):
 *
 *   - the kind is -1 or one of tradestream_msg_t; -1 names what is wrong
 *     and leaves the event zeroed (nothing to free); every kind other than
 *     a trade_update leaves it zeroed too;
 *   - a trade_update has its event name and every text field
 *     NUL-terminated, and its order is complete: an id, filled_qty ("0" at
 *     least) and its raw JSON, which parses again to the same order (what
 *     the ledger stores and re-reads); clearing it frees it;
 *   - a URL that parses has a host, a port from 1 to 65535 and a path
 *     starting with '/'; a derived URL is ws:// or wss://, ends in /stream
 *     and fits its buffer.
 *
 * Input: the message's bytes, whole (the client hands over complete
 * messages, up to 1 MiB); the same bytes up to the first NUL are also
 * tried as a URL.  The seed corpus (tests/fuzz/corpus/fuzz_tradestream/)
 * holds the protocol's messages as Alpaca documents them.  No state between
 * runs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_order.h"
#include "tradestream.h"

static void fuzz_check_update(const tradestream_event_t *ev) {
    FUZZ_TERMINATED(ev->event);
    FUZZ_TERMINATED(ev->timestamp);
    FUZZ_TERMINATED(ev->execution_id);
    FUZZ_TERMINATED(ev->price);
    FUZZ_TERMINATED(ev->qty);
    FUZZ_TERMINATED(ev->position_qty);
    FUZZ_ASSERT(ev->event[0] != '\0');
    FUZZ_ASSERT(ev->received_mono_us == 0 && ev->epoch == 0);
    fuzz_check_order_fields(&ev->order);
    FUZZ_ASSERT(ev->order.id[0] != '\0');
    fuzz_check_raw_round_trip(&ev->order);
}

static void fuzz_message(const char *msg, size_t len) {
    tradestream_event_t ev;
    const char *bad = NULL;
    int kind = tradestream_parse(msg, len, &ev, &bad);
    FUZZ_ASSERT(kind >= -1 && kind <= TRADESTREAM_MSG_TRADE_UPDATE);
    if (kind == -1) FUZZ_ASSERT(bad != NULL && bad[0] != '\0');
    if (kind != TRADESTREAM_MSG_TRADE_UPDATE) {
        FUZZ_ASSERT(fuzz_all_zero(&ev, sizeof(ev)));
        return;
    }
    fuzz_check_update(&ev);
    tradestream_event_clear(&ev);
    FUZZ_ASSERT(ev.order.raw == NULL);
}

static void fuzz_url(const char *text) {
    tradestream_url_t u;
    const char *bad = NULL;
    if (tradestream_url_parse(text, &u, &bad) == 0) {
        FUZZ_TERMINATED(u.host);
        FUZZ_TERMINATED(u.path);
        FUZZ_ASSERT(u.host[0] != '\0' && u.path[0] == '/');
        FUZZ_ASSERT(u.port >= 1 && u.port <= 65535);
        FUZZ_ASSERT(u.tls == 0 || u.tls == 1);
    } else {
        FUZZ_ASSERT(bad != NULL);
    }
    char out[256];
    if (tradestream_url_derive(text, out, sizeof(out), &bad) == 0) {
        FUZZ_TERMINATED(out);
        size_t n = strlen(out);
        FUZZ_ASSERT(!strncmp(out, "ws://", 5) || !strncmp(out, "wss://", 6));
        FUZZ_ASSERT(n >= 7 && !strcmp(out + n - 7, "/stream"));
    } else {
        FUZZ_ASSERT(bad != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The message in an allocation of its own size: reading past len (a
     * message is not NUL-terminated) is caught. */
    char *msg = malloc(size ? size : 1);
    FUZZ_ASSERT(msg != NULL);
    memcpy(msg, data, size);
    fuzz_message(msg, size);
    free(msg);
    if (size < 1024) {
        char url[1024];
        memcpy(url, data, size);
        url[size] = '\0';
        fuzz_url(url);
    }
    return 0;
}
