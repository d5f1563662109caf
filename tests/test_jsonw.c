/* test_jsonw.c -- the JSON text writer (worker/jsonw.c): what it writes is
 * what jansson reads back, strings escaped as RFC 8259 says, UTF-8 checked
 * (a string that is not fails the whole text), members left out for NULL,
 * NUL bytes cut, nesting checked. */
#include <jansson.h>
#include <stdlib.h>

#include "jsonw.h"
#include "unit.h"

/* The string member k of the text, as jansson reads it (NULL: absent). */
static const char *read_back(json_t *root, const char *k) {
    return json_string_value(json_object_get(root, k));
}

static void test_round_trip(void) {
    jsonw_t w = {0};
    jsonw_open(&w, NULL, '{');
    jsonw_str(&w, "plain", "abc");
    jsonw_str(&w, "quotes", "a\"b\\c/d");
    jsonw_str(&w, "controls", "\n\r\t\b\f\x01\x1f end");
    jsonw_str(&w, "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    jsonw_str(&w, "absent", NULL);
    jsonw_int(&w, "big", -9007199254740993LL);
    jsonw_bool(&w, "yes", 1);
    jsonw_raw(&w, "raw", "{\"why\":\"retry\"}");
    jsonw_open(&w, "list", '[');
    jsonw_int(&w, NULL, 1);
    jsonw_open(&w, NULL, '{');
    jsonw_close(&w, '}');
    jsonw_close(&w, ']');
    jsonw_close(&w, '}');
    const char *text = jsonw_text(&w);
    EXPECT(text != NULL);
    json_error_t e;
    json_t *root = text ? json_loads(text, 0, &e) : NULL;
    EXPECT_MSG(root != NULL, "jansson reads it: %s", text ? e.text : "(no text)");
    if (root) {
        EXPECT_STR(read_back(root, "plain"), "abc");
        EXPECT_STR(read_back(root, "quotes"), "a\"b\\c/d");
        EXPECT_STR(read_back(root, "controls"), "\n\r\t\b\f\x01\x1f end");
        EXPECT_STR(read_back(root, "utf8"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        EXPECT(json_object_get(root, "absent") == NULL);
        EXPECT(json_integer_value(json_object_get(root, "big")) == -9007199254740993LL);
        EXPECT(json_is_true(json_object_get(root, "yes")));
        EXPECT_STR(read_back(json_object_get(root, "raw"), "why"), "retry");
        EXPECT_INT((int)json_array_size(json_object_get(root, "list")), 2);
        json_decref(root);
    }
    EXPECT_STR(text, "{\"plain\":\"abc\",\"quotes\":\"a\\\"b\\\\c/d\",\"controls\":"
                     "\"\\n\\r\\t\\b\\f\\u0001\\u001f end\",\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac "
                     "\xf0\x9f\x98\x80\",\"big\":-9007199254740993,\"yes\":true,"
                     "\"raw\":{\"why\":\"retry\"},\"list\":[1,{}]}");
    jsonw_free(&w);
}

/* Each of these is not UTF-8: the text fails, whatever else it holds. */
static void test_not_utf8(void) {
    static const char *const bad[] = {
        "\x80",             /* a continuation byte alone */
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* beyond U+10FFFF */
        "\xf5\x80\x80\x80", /* no such lead byte */
        "\xe2\x82",         /* cut short */
        "ok\xff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        jsonw_t w = {0};
        jsonw_open(&w, NULL, '[');
        jsonw_str(&w, NULL, "fine");
        jsonw_str(&w, NULL, bad[i]);
        jsonw_close(&w, ']');
        EXPECT_MSG(jsonw_text(&w) == NULL, "bad string %zu refused", i);
        EXPECT_INT(jsonw_utf8_ok(bad[i], strlen(bad[i])), 0);
        jsonw_free(&w);
    }
    /* For people's texts, a broken character becomes U+FFFD instead. */
    jsonw_t w = {0};
    jsonw_open(&w, NULL, '[');
    jsonw_str_lossy(&w, NULL, "cut \xe2\x82");
    jsonw_str_lossy(&w, NULL, "fine \xe2\x82\xac");
    jsonw_null(&w, NULL);
    jsonw_close(&w, ']');
    char *taken = jsonw_take(&w);
    EXPECT_STR(taken, "[\"cut \xef\xbf\xbd\xef\xbf\xbd\",\"fine \xe2\x82\xac\",null]");
    EXPECT(w.buf == NULL);
    free(taken);
    EXPECT_INT(jsonw_utf8_ok("\xf4\x8f\xbf\xbf", 4), 1);  /* U+10FFFF */
    EXPECT_INT(jsonw_utf8_ok("\xef\xbf\xbd", 3), 1);      /* U+FFFD */
}

/* A NUL within n ends the string; reset keeps the buffer and starts over;
 * a text with an object still open is no text. */
static void test_nul_reset_and_nesting(void) {
    jsonw_t w = {0};
    jsonw_open(&w, NULL, '[');
    jsonw_strn(&w, NULL, "ab\0cd", 5);
    jsonw_close(&w, ']');
    EXPECT_STR(jsonw_text(&w), "[\"ab\"]");
    char *buf = w.buf;
    jsonw_reset(&w);
    jsonw_open(&w, NULL, '{');
    EXPECT(jsonw_text(&w) == NULL);
    jsonw_close(&w, '}');
    EXPECT_STR(jsonw_text(&w), "{}");
    EXPECT(w.buf == buf);
    jsonw_close(&w, '}');
    EXPECT(jsonw_text(&w) == NULL);
    jsonw_reset(&w);
    for (int i = 0; i < JSONW_DEPTH + 1; i++) jsonw_open(&w, NULL, '[');
    EXPECT(jsonw_text(&w) == NULL);
    jsonw_free(&w);
}

/* Random valid UTF-8 strings read back equal, long ones included (the
 * buffer grows). */
static void test_random_strings(void) {
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        char s[9000];
        size_t n = 0, want = (size_t)(rand_r(&seed) % 8000);
        while (n < want) {
            unsigned r = (unsigned)rand_r(&seed) % 5;
            if (r == 0) s[n++] = (char)(rand_r(&seed) % 0x7f + 1);
            else if (r == 1) { s[n++] = (char)0xc3; s[n++] = (char)0xa9; }
            else if (r == 2) { s[n++] = '"'; }
            else if (r == 3) { s[n++] = '\\'; }
            else { s[n++] = (char)0xe2; s[n++] = (char)0x82; s[n++] = (char)0xac; }
        }
        s[n] = '\0';
        jsonw_t w = {0};
        jsonw_open(&w, NULL, '[');
        jsonw_str(&w, NULL, s);
        jsonw_close(&w, ']');
        json_t *a = jsonw_text(&w) ? json_loads(jsonw_text(&w), 0, NULL) : NULL;
        const char *back = json_string_value(json_array_get(a, 0));
        EXPECT_MSG(back && !strcmp(back, s), "round %d (%zu bytes) reads back equal", round, n);
        json_decref(a);
        jsonw_free(&w);
    }
}

static const unit_test_t TESTS[] = {
    {"round_trip", test_round_trip},
    {"not_utf8", test_not_utf8},
    {"nul_reset_and_nesting", test_nul_reset_and_nesting},
    {"random_strings", test_random_strings},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
