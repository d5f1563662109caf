/* fuzz_wsframe.c -- libFuzzer target for the simulator's websocket reader
 * (tools/alpaca-sim/wsframe.c).
 *
 * Owns the hostile-input checks of what reads a stream client's bytes: the
 * frame reader, which unmasks frames in place, puts fragments together and
 * must refuse every breach of RFC 6455 with its close code rather than
 * read or write out of bounds, and the handshake's accept key.  Why: every
 * byte a websocket client sends reaches it, before any authentication.
 *
 * Input: the first byte is the size of the chunks the rest is fed in (1 to
 * 256: frames split anywhere, as TCP splits them); the rest is the
 * client's bytes.  The first 24 bytes also go to wsframe_accept_key.
 *
 * Asserted (abort): every event is a text, binary, close, ping or pong; a
 * control frame carries at most 125 bytes, a message at most the limit; a
 * text message and a close reason are UTF-8; a close code is 0 or one a
 * peer may send; once the reader names a breach it names the same one on
 * every later call; an accept key, when made, is 28 base64 characters
 * ending in '='. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "wsframe.h"

#define FUZZ_MAX_MESSAGE 4096

static void fuzz_check_event(const wsframe_event_t *ev)
{
    switch (ev->opcode) {
    case WSFRAME_TEXT:
        FUZZ_ASSERT(wsframe_utf8_valid(ev->data, ev->len));
        /* fall through */
    case WSFRAME_BINARY:
        FUZZ_ASSERT(ev->len <= FUZZ_MAX_MESSAGE);
        FUZZ_ASSERT(ev->close_code == 0);
        break;
    case WSFRAME_CLOSE:
        FUZZ_ASSERT(ev->len <= WSFRAME_CONTROL_MAX - 2);
        FUZZ_ASSERT(ev->close_code == 0 || (ev->close_code >= 1000 && ev->close_code < 5000));
        FUZZ_ASSERT(wsframe_utf8_valid(ev->data, ev->len));
        break;
    case WSFRAME_PING:
    case WSFRAME_PONG:
        FUZZ_ASSERT(ev->len <= WSFRAME_CONTROL_MAX);
        break;
    default:
        FUZZ_ASSERT(!"unexpected opcode");
    }
    /* Every byte of the event can be read. */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < ev->len; i++)
        sum += ev->data[i];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;

    char key[25], accept[WSFRAME_ACCEPT_LEN];
    size_t klen = size < 24 ? size : 24;
    memcpy(key, data, klen);
    key[klen] = '\0';
    if (wsframe_accept_key(key, accept) == 0) {
        FUZZ_ASSERT(strlen(accept) == 28 && accept[27] == '=');
    }

    wsframe_reader_t r;
    wsframe_event_t ev;
    int failed = 0;
    wsframe_reader_init(&r, FUZZ_MAX_MESSAGE);
    for (size_t off = 0; off < size && !failed; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        FUZZ_ASSERT(wsframe_reader_feed(&r, data + off, n) == 0);
        int rc;
        while ((rc = wsframe_reader_next(&r, &ev)) == 1)
            fuzz_check_event(&ev);
        if (rc != 0) {
            FUZZ_ASSERT(rc == WSFRAME_CLOSE_PROTOCOL || rc == WSFRAME_CLOSE_NOT_UTF8 ||
                        rc == WSFRAME_CLOSE_TOO_BIG);
            FUZZ_ASSERT(wsframe_reader_next(&r, &ev) == rc);
            failed = 1;
        }
    }
    wsframe_reader_free(&r);
    return 0;
}
