/* wsframe.c -- RFC 6455 handshake key, server frames and the client-frame
 * reader (see wsframe.h).
 *
 * Owns the byte layout of the protocol so that stream.c deals in messages
 * only, and so that the part fed by the network can be unit-tested
 * (tests/test_wsframe.c) and fuzzed (tests/fuzz/fuzz_wsframe.c) without a
 * socket.  The reader keeps the bytes received in one buffer and unmasks
 * each frame in place; a fragmented message is copied into a second one. */
#include "wsframe.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define WSFRAME_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSFRAME_KEY_LEN 24

static int wsframe_is_base64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

int wsframe_accept_key(const char *client_key, char out[WSFRAME_ACCEPT_LEN])
{
    char text[WSFRAME_KEY_LEN + sizeof(WSFRAME_GUID)];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (client_key == NULL || strlen(client_key) != WSFRAME_KEY_LEN ||
        strcmp(client_key + 22, "==") != 0)
        return -1;
    for (size_t i = 0; i < 22; i++)
        if (!wsframe_is_base64(client_key[i]))
            return -1;
    memcpy(text, client_key, WSFRAME_KEY_LEN);
    memcpy(text + WSFRAME_KEY_LEN, WSFRAME_GUID, sizeof(WSFRAME_GUID));
    if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    return 0;
}

size_t wsframe_header(uint8_t out[WSFRAME_HEADER_MAX], wsframe_opcode_t opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (unsigned)opcode);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t wsframe_close_payload(uint8_t out[WSFRAME_CONTROL_MAX], int code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;
    if (n > WSFRAME_CONTROL_MAX - 2)
        n = WSFRAME_CONTROL_MAX - 2;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (n)
        memcpy(out + 2, reason, n);
    return n + 2;
}

int wsframe_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i - 1 < n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

void wsframe_reader_init(wsframe_reader_t *r, size_t max_message)
{
    memset(r, 0, sizeof(*r));
    r->max_message = max_message;
}

void wsframe_reader_free(wsframe_reader_t *r)
{
    free(r->in);
    free(r->msg);
    memset(r, 0, sizeof(*r));
}

/* Makes room for need more bytes in *buf.  Returns 0 or -1. */
static int wsframe_reserve(uint8_t **buf, size_t *cap, size_t len, size_t need)
{
    if (*cap - len >= need)
        return 0;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap - len < need)
        ncap *= 2;
    uint8_t *nb = realloc(*buf, ncap);
    if (nb == NULL)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

int wsframe_reader_feed(wsframe_reader_t *r, const void *data, size_t len)
{
    if (r->in_off > 0) {
        memmove(r->in, r->in + r->in_off, r->in_len - r->in_off);
        r->in_len -= r->in_off;
        r->in_off = 0;
    }
    if (len == 0)
        return 0;
    if (wsframe_reserve(&r->in, &r->in_cap, r->in_len, len) != 0)
        return -1;
    memcpy(r->in + r->in_len, data, len);
    r->in_len += len;
    return 0;
}

static int wsframe_fail(wsframe_reader_t *r, int code)
{
    r->failed = code;
    return code;
}

/* A close code a peer may send (RFC 6455 7.4.1 and 7.4.2). */
static int wsframe_close_code_valid(int code)
{
    if (code >= 3000 && code <= 4999)
        return 1;
    return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

/* Checks a control frame's payload; returns 0 or a close code. */
static int wsframe_control(wsframe_opcode_t op, const uint8_t *p, size_t len,
                           wsframe_event_t *ev)
{
    ev->opcode = op;
    ev->data = p;
    ev->len = len;
    ev->close_code = 0;
    if (op != WSFRAME_CLOSE || len == 0)
        return 0;
    if (len == 1)
        return WSFRAME_CLOSE_PROTOCOL;
    ev->close_code = (p[0] << 8) | p[1];
    if (!wsframe_close_code_valid(ev->close_code))
        return WSFRAME_CLOSE_PROTOCOL;
    ev->data = p + 2;
    ev->len = len - 2;
    return wsframe_utf8_valid(ev->data, ev->len) ? 0 : WSFRAME_CLOSE_NOT_UTF8;
}

/* The frame at the start of the unread bytes: its header is checked;
 * *total gets the frame's whole length.  Returns 1 when the whole frame
 * is there, 0 when more bytes are needed, or a close code. */
static int wsframe_peek(wsframe_reader_t *r, size_t *hlen, uint64_t *plen, size_t *total)
{
    const uint8_t *p = r->in + r->in_off;
    size_t avail = r->in_len - r->in_off;
    if (avail < 2)
        return 0;
    unsigned op = p[0] & 0x0F;
    int fin = p[0] >> 7, control = (op & 0x08) != 0;
    if ((p[0] & 0x70) != 0 || (p[1] & 0x80) == 0)
        return WSFRAME_CLOSE_PROTOCOL; /* reserved bits, or not masked */
    if (op != WSFRAME_CONTINUATION && op != WSFRAME_TEXT && op != WSFRAME_BINARY &&
        op != WSFRAME_CLOSE && op != WSFRAME_PING && op != WSFRAME_PONG)
        return WSFRAME_CLOSE_PROTOCOL;
    uint64_t len = p[1] & 0x7F;
    size_t h = 2;
    if (control && (!fin || len > WSFRAME_CONTROL_MAX))
        return WSFRAME_CLOSE_PROTOCOL;
    if (op == WSFRAME_CONTINUATION && !r->in_message)
        return WSFRAME_CLOSE_PROTOCOL;
    if ((op == WSFRAME_TEXT || op == WSFRAME_BINARY) && r->in_message)
        return WSFRAME_CLOSE_PROTOCOL;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = ((uint64_t)p[2] << 8) | p[3];
        h = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        if (p[2] & 0x80)
            return WSFRAME_CLOSE_PROTOCOL;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p[2 + i];
        h = 10;
    }
    if (!control && len > r->max_message - (op == WSFRAME_CONTINUATION ? r->msg_len : 0))
        return WSFRAME_CLOSE_TOO_BIG;
    h += 4; /* the mask */
    *hlen = h;
    *plen = len;
    *total = h + (size_t)len;
    return avail >= *total ? 1 : 0;
}

int wsframe_reader_next(wsframe_reader_t *r, wsframe_event_t *ev)
{
    if (r->failed)
        return r->failed;
    for (;;) {
        size_t h, total;
        uint64_t len;
        int rc = wsframe_peek(r, &h, &len, &total);
        if (rc != 1)
            return rc == 0 ? 0 : wsframe_fail(r, rc);
        uint8_t *frame = r->in + r->in_off;
        uint8_t *payload = frame + h;
        const uint8_t *mask = payload - 4;
        for (size_t i = 0; i < (size_t)len; i++)
            payload[i] ^= mask[i & 3];
        r->in_off += total;
        wsframe_opcode_t op = (wsframe_opcode_t)(frame[0] & 0x0F);
        int fin = frame[0] >> 7;
        if (op & 0x08) {
            rc = wsframe_control(op, payload, (size_t)len, ev);
            return rc == 0 ? 1 : wsframe_fail(r, rc);
        }
        if (op != WSFRAME_CONTINUATION && fin) {
            if (op == WSFRAME_TEXT && !wsframe_utf8_valid(payload, (size_t)len))
                return wsframe_fail(r, WSFRAME_CLOSE_NOT_UTF8);
            *ev = (wsframe_event_t){op, payload, (size_t)len, 0};
            return 1;
        }
        if (op != WSFRAME_CONTINUATION) {
            r->in_message = 1;
            r->msg_opcode = op;
            r->msg_len = 0;
        }
        if (wsframe_reserve(&r->msg, &r->msg_cap, r->msg_len, (size_t)len + 1) != 0)
            return wsframe_fail(r, WSFRAME_CLOSE_TOO_BIG);
        if (len)
            memcpy(r->msg + r->msg_len, payload, (size_t)len);
        r->msg_len += (size_t)len;
        if (!fin)
            continue;
        r->in_message = 0;
        if (r->msg_opcode == WSFRAME_TEXT && !wsframe_utf8_valid(r->msg, r->msg_len))
            return wsframe_fail(r, WSFRAME_CLOSE_NOT_UTF8);
        *ev = (wsframe_event_t){r->msg_opcode, r->msg, r->msg_len, 0};
        return 1;
    }
}
