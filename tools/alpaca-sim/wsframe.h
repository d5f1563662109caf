/* wsframe.h -- the WebSocket protocol's bytes (RFC 6455): the handshake's
 * accept key, the server's frames, and a reader that turns a client's
 * bytes into whole messages and control frames.
 *
 * Pure: no socket, no thread, no clock; stream.c does the I/O.  What the
 * reader enforces, each breach ending the connection with the close code
 * returned (RFC 6455 section 7.4.1):
 *   1002  an unmasked client frame, reserved bits set, an unknown opcode, a
 *         control frame that is fragmented or carries more than 125 bytes,
 *         a continuation without a message begun, a new data frame inside
 *         a fragmented message, a 64-bit length with its top bit set, a
 *         close payload of one byte or with a code a peer may not send
 *   1007  a text message, or a close reason, that is not UTF-8
 *   1009  a message (all its fragments together) over the reader's limit
 * Fragmented messages are put together; control frames may come between
 * their fragments, as the RFC allows. */
#ifndef WSFRAME_H
#define WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#define WSFRAME_ACCEPT_LEN 29      /* 28 base64 characters and the NUL */
#define WSFRAME_HEADER_MAX 10      /* a server frame's header (no mask) */
#define WSFRAME_CONTROL_MAX 125    /* a control frame's payload */

typedef enum {
    WSFRAME_CONTINUATION = 0x0,
    WSFRAME_TEXT = 0x1,
    WSFRAME_BINARY = 0x2,
    WSFRAME_CLOSE = 0x8,
    WSFRAME_PING = 0x9,
    WSFRAME_PONG = 0xA
} wsframe_opcode_t;

/* Close codes this side sends. */
#define WSFRAME_CLOSE_NORMAL 1000
#define WSFRAME_CLOSE_GOING_AWAY 1001
#define WSFRAME_CLOSE_PROTOCOL 1002
#define WSFRAME_CLOSE_NOT_UTF8 1007
#define WSFRAME_CLOSE_POLICY 1008
#define WSFRAME_CLOSE_TOO_BIG 1009

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64 of the
 * SHA-1 of the key and the RFC's GUID.  Returns 0, or -1 if the key is not
 * 24 characters of base64 (16 bytes, as the RFC asks) or OpenSSL fails. */
int wsframe_accept_key(const char *client_key, char out[WSFRAME_ACCEPT_LEN]);

/* Writes the header of an unmasked, final frame of opcode carrying len
 * bytes into out.  Returns the header's length (2, 4 or 10). */
size_t wsframe_header(uint8_t out[WSFRAME_HEADER_MAX], wsframe_opcode_t opcode, uint64_t len);

/* The payload of a close frame: the code, big-endian, then the reason cut
 * to fit a control frame.  Returns its length. */
size_t wsframe_close_payload(uint8_t out[WSFRAME_CONTROL_MAX], int code, const char *reason);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF). */
int wsframe_utf8_valid(const uint8_t *s, size_t len);

/* What the reader hands out: a whole message (text or binary) or one
 * control frame.  data points into the reader, unmasked, and stays valid
 * until the next call. */
typedef struct wsframe_event {
    wsframe_opcode_t opcode;   /* TEXT, BINARY, CLOSE, PING or PONG */
    const uint8_t *data;
    size_t len;
    int close_code;            /* CLOSE: the code sent, or 0 for none */
} wsframe_event_t;

typedef struct wsframe_reader {
    size_t max_message;        /* the limit of a message, fragments together */
    uint8_t *in;               /* bytes received, not yet taken */
    size_t in_len, in_cap, in_off;
    uint8_t *msg;              /* the fragmented message being put together */
    size_t msg_len, msg_cap;
    wsframe_opcode_t msg_opcode;
    int in_message;
    int failed;                /* the close code of the breach, once found */
} wsframe_reader_t;

void wsframe_reader_init(wsframe_reader_t *r, size_t max_message);
void wsframe_reader_free(wsframe_reader_t *r);
/* Adds bytes received.  Returns 0, or -1 when out of memory. */
int wsframe_reader_feed(wsframe_reader_t *r, const void *data, size_t len);
/* Takes the next message or control frame.  Returns 1 with ev set, 0 when
 * more bytes are needed, or a close code (above) when the peer broke the
 * protocol (then every later call returns it too).  The buffered bytes
 * never exceed a frame's header and max_message by much: a frame whose
 * announced length passes the limit fails at once. */
int wsframe_reader_next(wsframe_reader_t *r, wsframe_event_t *ev);

#endif
