/* test_wsframe.c -- unit tests of tools/alpaca-sim/wsframe.c, the websocket
 * bytes of the simulator's trade_updates stream.
 *
 * What is checked: the accept key of RFC 6455's own example and the keys
 * refused; the server's header at each length boundary (125, 126, 65535,
 * 65536); close payloads; the UTF-8 check on the classic bad sequences;
 * the reader on client frames made here (masked with a fixed key): a frame
 * fed a byte at a time, several frames in one read, a fragmented message
 * with a ping between its fragments, each breach with its close code, the
 * size limit before the payload has come, close frames' codes and reasons,
 * and that a failed reader stays failed. */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "wsframe.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A client frame: first byte b0 (FIN, RSV, opcode), masked unless
 * unmasked, into out.  Returns its length. */
static size_t frame_raw(uint8_t *out, uint8_t b0, const void *payload, size_t len, int unmasked)
{
    size_t h = 0;
    out[h++] = b0;
    uint8_t m = unmasked ? 0 : 0x80;
    if (len < 126) {
        out[h++] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        out[h++] = m | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = m | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (!unmasked) {
        memcpy(out + h, MASK, 4);
        h += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[h + i] = ((const uint8_t *)payload)[i] ^ (unmasked ? 0 : MASK[i & 3]);
    return h + len;
}

/* A final, masked frame of opcode. */
static size_t frame(uint8_t *out, wsframe_opcode_t op, int fin, const char *text)
{
    return frame_raw(out, (uint8_t)((fin ? 0x80 : 0) | op), text, strlen(text), 0);
}

/* Feeds bytes and returns what the next call says. */
static int feed_next(wsframe_reader_t *r, const uint8_t *b, size_t n, wsframe_event_t *ev)
{
    if (wsframe_reader_feed(r, b, n) != 0)
        return -1;
    return wsframe_reader_next(r, ev);
}

/* The close code a single frame brings (max message 1000). */
static int breach_of(const uint8_t *b, size_t n)
{
    wsframe_reader_t r;
    wsframe_event_t ev;
    wsframe_reader_init(&r, 1000);
    int rc = feed_next(&r, b, n, &ev);
    wsframe_reader_free(&r);
    return rc;
}

static void test_accept_key(void)
{
    char out[WSFRAME_ACCEPT_LEN];
    EXPECT_INT(wsframe_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    EXPECT_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_INT(wsframe_accept_key(NULL, out), -1);
    EXPECT_INT(wsframe_accept_key("short", out), -1);
    EXPECT_INT(wsframe_accept_key("dGhlIHNhbXBsZSBub25jZQ=x", out), -1);
    EXPECT_INT(wsframe_accept_key("dGhlIHNhbXBsZSBub25j*Q==", out), -1);
    EXPECT_INT(wsframe_accept_key("dGhlIHNhbXBsZSBub25jZQ===", out), -1);
}

static void test_header_lengths(void)
{
    uint8_t h[WSFRAME_HEADER_MAX];
    EXPECT_INT(wsframe_header(h, WSFRAME_BINARY, 0), 2);
    EXPECT_INT(h[0], 0x82);
    EXPECT_INT(h[1], 0);
    EXPECT_INT(wsframe_header(h, WSFRAME_TEXT, 125), 2);
    EXPECT_INT(h[0], 0x81);
    EXPECT_INT(h[1], 125);
    EXPECT_INT(wsframe_header(h, WSFRAME_TEXT, 126), 4);
    EXPECT(h[1] == 126 && h[2] == 0 && h[3] == 126);
    EXPECT_INT(wsframe_header(h, WSFRAME_TEXT, 65535), 4);
    EXPECT(h[2] == 0xFF && h[3] == 0xFF);
    EXPECT_INT(wsframe_header(h, WSFRAME_PONG, 65536), 10);
    EXPECT(h[0] == 0x8A && h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);
}

static void test_close_payload(void)
{
    uint8_t p[WSFRAME_CONTROL_MAX];
    char reason[300];
    EXPECT_INT(wsframe_close_payload(p, 1009, "too big"), 9);
    EXPECT(p[0] == 0x03 && p[1] == 0xF1 && memcmp(p + 2, "too big", 7) == 0);
    EXPECT_INT(wsframe_close_payload(p, 1000, NULL), 2);
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    EXPECT_INT(wsframe_close_payload(p, 1001, reason), WSFRAME_CONTROL_MAX);
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"plain ascii", 1},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e", 1}, /* é € G clef */
        {"\xf4\x8f\xbf\xbf", 1},                         /* U+10FFFF */
        {"\xc0\x80", 0},                                 /* overlong NUL */
        {"\xe0\x80\xaf", 0},                             /* overlong '/' */
        {"\xed\xa0\x80", 0},                             /* a surrogate */
        {"\xf4\x90\x80\x80", 0},                         /* past U+10FFFF */
        {"\xe2\x82", 0},                                 /* cut short */
        {"\x80", 0},                                     /* a lone continuation */
        {"\xff", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        EXPECT_MSG(wsframe_utf8_valid((const uint8_t *)cases[i].s, strlen(cases[i].s)) ==
                       cases[i].ok,
                   "utf8 case %zu", i);
}

static void test_byte_at_a_time(void)
{
    uint8_t b[64];
    wsframe_reader_t r;
    wsframe_event_t ev;
    size_t n = frame(b, WSFRAME_TEXT, 1, "{\"action\":\"listen\"}");
    wsframe_reader_init(&r, 1000);
    for (size_t i = 0; i + 1 < n; i++)
        EXPECT_INT(feed_next(&r, b + i, 1, &ev), 0);
    EXPECT_INT(feed_next(&r, b + n - 1, 1, &ev), 1);
    EXPECT_INT(ev.opcode, WSFRAME_TEXT);
    EXPECT(ev.len == 19 && memcmp(ev.data, "{\"action\":\"listen\"}", 19) == 0);
    EXPECT_INT(wsframe_reader_next(&r, &ev), 0);
    wsframe_reader_free(&r);
}

/* 1 if the reader's next event is op carrying data[0..len). */
static int next_is(wsframe_reader_t *r, wsframe_opcode_t op, const char *data, size_t len)
{
    wsframe_event_t ev;
    return wsframe_reader_next(r, &ev) == 1 && ev.opcode == op && ev.len == len &&
           (len == 0 || memcmp(ev.data, data, len) == 0);
}

static void test_frames_in_one_read(void)
{
    uint8_t b[256];
    size_t n = 0;
    wsframe_reader_t r;
    wsframe_event_t ev;
    n += frame(b + n, WSFRAME_PING, 1, "one");
    n += frame(b + n, WSFRAME_BINARY, 1, "");
    n += frame_raw(b + n, 0x80 | WSFRAME_BINARY, "\xff\xfe", 2, 0); /* binary: any bytes */
    n += frame(b + n, WSFRAME_PONG, 1, "two");
    wsframe_reader_init(&r, 1000);
    EXPECT_INT(wsframe_reader_feed(&r, b, n), 0);
    EXPECT(next_is(&r, WSFRAME_PING, "one", 3));
    EXPECT(next_is(&r, WSFRAME_BINARY, "", 0));
    EXPECT(next_is(&r, WSFRAME_BINARY, "\xff\xfe", 2));
    EXPECT(next_is(&r, WSFRAME_PONG, "two", 3));
    EXPECT_INT(wsframe_reader_next(&r, &ev), 0);
    wsframe_reader_free(&r);
}

static void test_fragments(void)
{
    uint8_t b[256];
    size_t n = 0;
    wsframe_reader_t r;
    wsframe_event_t ev;
    n += frame(b + n, WSFRAME_TEXT, 0, "ab");
    n += frame(b + n, WSFRAME_PING, 1, "p");
    n += frame(b + n, WSFRAME_CONTINUATION, 0, "cd");
    n += frame(b + n, WSFRAME_CONTINUATION, 1, "e");
    n += frame(b + n, WSFRAME_TEXT, 1, "next");
    wsframe_reader_init(&r, 1000);
    EXPECT_INT(wsframe_reader_feed(&r, b, n), 0);
    EXPECT(next_is(&r, WSFRAME_PING, "p", 1));
    EXPECT(next_is(&r, WSFRAME_TEXT, "abcde", 5));
    EXPECT(next_is(&r, WSFRAME_TEXT, "next", 4));
    wsframe_reader_free(&r);
    /* UTF-8 is judged on the whole message: a character cut between two
     * fragments is fine. */
    n = frame_raw(b, WSFRAME_TEXT, "\xc3", 1, 0);
    n += frame_raw(b + n, 0x80 | WSFRAME_CONTINUATION, "\xa9", 1, 0);
    wsframe_reader_init(&r, 1000);
    EXPECT_INT(feed_next(&r, b, n, &ev), 1);
    EXPECT(ev.len == 2 && ev.data[0] == 0xc3);
    wsframe_reader_free(&r);
}

static void test_breaches(void)
{
    uint8_t b[256];
    size_t n;
    n = frame_raw(b, 0x80 | WSFRAME_TEXT, "x", 1, 1);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* unmasked */
    n = frame_raw(b, 0x80 | 0x40 | WSFRAME_TEXT, "x", 1, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* RSV1 */
    n = frame_raw(b, 0x80 | 0x3, "x", 1, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* opcode 3 */
    n = frame_raw(b, 0x80 | 0xB, "x", 1, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* opcode 0xB */
    n = frame(b, WSFRAME_PING, 0, "x");
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* fragmented control */
    memset(b + 100, 'p', 126);
    n = frame_raw(b, 0x80 | WSFRAME_PING, b + 100, 126, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* control over 125 */
    n = frame(b, WSFRAME_CONTINUATION, 1, "x");
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* nothing to continue */
    n = frame(b, WSFRAME_TEXT, 0, "a");
    n += frame(b + n, WSFRAME_BINARY, 1, "b");
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* a new message inside one */
    n = frame_raw(b, 0x80 | WSFRAME_TEXT, "\xc0\x80", 2, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_NOT_UTF8);
    uint8_t big64[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    EXPECT_INT(breach_of(big64, sizeof(big64)), WSFRAME_CLOSE_PROTOCOL); /* top bit */
}

static void test_too_big(void)
{
    uint8_t b[256];
    wsframe_reader_t r;
    wsframe_event_t ev;
    /* Refused on the header alone: 101 bytes announced, none sent. */
    uint8_t head[] = {0x81, 0x80 | 101, 1, 2, 3, 4};
    wsframe_reader_init(&r, 100);
    EXPECT_INT(feed_next(&r, head, sizeof(head), &ev), WSFRAME_CLOSE_TOO_BIG);
    EXPECT_INT(wsframe_reader_next(&r, &ev), WSFRAME_CLOSE_TOO_BIG); /* stays failed */
    wsframe_reader_free(&r);
    /* Exactly the limit passes; fragments are counted together. */
    char text[101];
    memset(text, 'a', 100);
    text[100] = '\0';
    size_t n = frame(b, WSFRAME_TEXT, 1, text);
    wsframe_reader_init(&r, 100);
    EXPECT_INT(feed_next(&r, b, n, &ev), 1);
    EXPECT_INT(ev.len, 100);
    wsframe_reader_free(&r);
    text[60] = '\0';
    n = frame(b, WSFRAME_TEXT, 0, text);
    n += frame(b + n, WSFRAME_CONTINUATION, 1, text);
    wsframe_reader_init(&r, 100);
    EXPECT_INT(feed_next(&r, b, n, &ev), WSFRAME_CLOSE_TOO_BIG);
    wsframe_reader_free(&r);
}

static void test_close_frames(void)
{
    uint8_t b[64];
    wsframe_reader_t r;
    wsframe_event_t ev;
    size_t n = frame_raw(b, 0x80 | WSFRAME_CLOSE, "\x03\xe8" "bye", 5, 0);
    wsframe_reader_init(&r, 100);
    EXPECT_INT(feed_next(&r, b, n, &ev), 1);
    EXPECT(ev.opcode == WSFRAME_CLOSE && ev.close_code == 1000 && ev.len == 3 &&
           memcmp(ev.data, "bye", 3) == 0);
    wsframe_reader_free(&r);
    n = frame_raw(b, 0x80 | WSFRAME_CLOSE, "", 0, 0);
    wsframe_reader_init(&r, 100);
    EXPECT_INT(feed_next(&r, b, n, &ev), 1);
    EXPECT(ev.opcode == WSFRAME_CLOSE && ev.close_code == 0);
    wsframe_reader_free(&r);
    n = frame_raw(b, 0x80 | WSFRAME_CLOSE, "\x0b\xb8", 2, 0); /* 3000: registered */
    EXPECT_INT(breach_of(b, n), 1);
    n = frame_raw(b, 0x80 | WSFRAME_CLOSE, "\x03", 1, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* one byte */
    n = frame_raw(b, 0x80 | WSFRAME_CLOSE, "\x03\xed", 2, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* 1005 is never sent */
    n = frame_raw(b, 0x80 | WSFRAME_CLOSE, "\x03\xe7", 2, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_PROTOCOL); /* 999 */
    n = frame_raw(b, 0x80 | WSFRAME_CLOSE, "\x03\xe8\xff", 3, 0);
    EXPECT_INT(breach_of(b, n), WSFRAME_CLOSE_NOT_UTF8);
}

static const unit_test_t TESTS[] = {
    {"accept_key", test_accept_key},
    {"header_lengths", test_header_lengths},
    {"close_payload", test_close_payload},
    {"utf8", test_utf8},
    {"byte_at_a_time", test_byte_at_a_time},
    {"frames_in_one_read", test_frames_in_one_read},
    {"fragments", test_fragments},
    {"breaches", test_breaches},
    {"too_big", test_too_big},
    {"close_frames", test_close_frames},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
