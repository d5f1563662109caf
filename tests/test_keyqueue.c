/* test_keyqueue.c -- unit tests of worker/keyqueue.c, a lane's fair queue.
 *
 * Items are "K<n>" strings: key K, n-th item of that key.  What is checked:
 * each key's items come out in order; keys take turns (round-robin), users'
 * before bots'; a batch has at most one item per key and at most max
 * items; a key goes back into its ring only after the batch; the edges
 * (empty queue, max 0, a key with an empty name, many keys). */
#include <stdio.h>
#include <string.h>

#include "keyqueue.h"
#include "unit.h"

#define MAX_ITEMS 4096

/* The items' storage: "K<n>" texts, made once per test. */
static char names[MAX_ITEMS][16];
static int n_names;

/* Queues count items of key (class cls), named key1, key2, ... */
static int push_n(keyqueue_t *q, keyqueue_class_t cls, const char *key, int count) {
    for (int i = 1; i <= count; i++) {
        if (n_names == MAX_ITEMS) return -1;
        char *item = names[n_names++];
        snprintf(item, sizeof(names[0]), "%s%d", key, i);
        if (keyqueue_push(q, cls, key, strlen(key), item) < 0) return -1;
    }
    return 0;
}

/* Takes a batch of up to max and writes it as "A1 B1 C1" into out. */
static int take_text(keyqueue_t *q, int max, char *out, size_t len) {
    void *items[MAX_ITEMS];
    int n = keyqueue_take(q, items, max);
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", (char *)items[i]);
    return n;
}

/* Everything taken one item at a time, as "A1 A2 B1 ...". */
static void drain_singly(keyqueue_t *q, char *out, size_t len) {
    char one[32];
    out[0] = '\0';
    while (take_text(q, 1, one, sizeof(one)) == 1)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "", one);
}

static keyqueue_t *fresh(void) {
    n_names = 0;
    return keyqueue_new();
}

static void test_key_order(void) {
    keyqueue_t *q = fresh();
    char got[256];
    if (!q || push_n(q, KEYQUEUE_BOTS, "A", 5) < 0) UNIT_ABORT("setup");
    EXPECT_INT(keyqueue_items(q), 5);
    EXPECT_INT(keyqueue_keys(q), 1);
    drain_singly(q, got, sizeof(got));
    EXPECT_STR(got, "A1 A2 A3 A4 A5");
    keyqueue_free(q);
}

static void test_round_robin(void) {
    keyqueue_t *q = fresh();
    char got[256];
    /* A floods first; B and C come later with little: they still get every
     * other turn instead of waiting behind A's ten. */
    if (!q || push_n(q, KEYQUEUE_BOTS, "A", 10) < 0 || push_n(q, KEYQUEUE_BOTS, "B", 2) < 0 ||
        push_n(q, KEYQUEUE_BOTS, "C", 2) < 0)
        UNIT_ABORT("setup");
    drain_singly(q, got, sizeof(got));
    EXPECT_STR(got, "A1 B1 C1 A2 B2 C2 A3 A4 A5 A6 A7 A8 A9 A10");
    keyqueue_free(q);
}

static void test_users_first(void) {
    keyqueue_t *q = fresh();
    char got[256];
    /* Bots' keys first in time; the user's key still goes first, and stays
     * first while it has work. */
    if (!q || push_n(q, KEYQUEUE_BOTS, "X", 2) < 0 || push_n(q, KEYQUEUE_BOTS, "Y", 1) < 0 ||
        push_n(q, KEYQUEUE_USERS, "U", 2) < 0)
        UNIT_ABORT("setup");
    drain_singly(q, got, sizeof(got));
    EXPECT_STR(got, "U1 U2 X1 Y1 X2");
    /* The same key bytes in the two classes are two keys. */
    if (push_n(q, KEYQUEUE_BOTS, "k", 1) < 0 || push_n(q, KEYQUEUE_USERS, "k", 1) < 0)
        UNIT_ABORT("setup");
    EXPECT_INT(keyqueue_keys(q), 2);
    void *items[4];
    EXPECT_INT(keyqueue_take(q, items, 4), 2);
    keyqueue_free(q);
}

static void test_batch_limits(void) {
    keyqueue_t *q = fresh();
    char got[256];
    if (!q || push_n(q, KEYQUEUE_BOTS, "A", 3) < 0 || push_n(q, KEYQUEUE_BOTS, "B", 3) < 0 ||
        push_n(q, KEYQUEUE_BOTS, "C", 3) < 0 || push_n(q, KEYQUEUE_BOTS, "D", 3) < 0)
        UNIT_ABORT("setup");
    /* At most max items, of different keys. */
    EXPECT_INT(take_text(q, 3, got, sizeof(got)), 3);
    EXPECT_STR(got, "A1 B1 C1");
    /* More room than keys: one item per key, never a second of one. */
    EXPECT_INT(take_text(q, 10, got, sizeof(got)), 4);
    EXPECT_STR(got, "D1 A2 B2 C2");
    EXPECT_INT(take_text(q, 4, got, sizeof(got)), 4);  /* exactly as many as keys */
    EXPECT_STR(got, "D2 A3 B3 C3");
    EXPECT_INT(take_text(q, 4, got, sizeof(got)), 1);
    EXPECT_STR(got, "D3");
    EXPECT_INT(keyqueue_items(q), 0);
    keyqueue_free(q);
}

static void test_key_returns_after_batch(void) {
    keyqueue_t *q = fresh();
    char got[256];
    /* One key alone: a batch takes one of its items, however much room. */
    if (!q || push_n(q, KEYQUEUE_USERS, "A", 3) < 0) UNIT_ABORT("setup");
    EXPECT_INT(take_text(q, 8, got, sizeof(got)), 1);
    EXPECT_STR(got, "A1");
    /* A (two left) and B (one): a batch takes one of each; B is gone, A is
     * back in the ring, and C, pushed after the batch, comes behind it. */
    if (push_n(q, KEYQUEUE_USERS, "B", 1) < 0) UNIT_ABORT("setup");
    EXPECT_INT(take_text(q, 8, got, sizeof(got)), 2);
    EXPECT_STR(got, "A2 B1");
    if (push_n(q, KEYQUEUE_USERS, "C", 1) < 0) UNIT_ABORT("setup");
    EXPECT_INT(take_text(q, 8, got, sizeof(got)), 2);
    EXPECT_STR(got, "A3 C1");
    EXPECT_INT(keyqueue_keys(q), 0);
    keyqueue_free(q);
}

static void test_empty_and_edges(void) {
    keyqueue_t *q = fresh();
    void *items[4];
    char got[64];
    if (!q) UNIT_ABORT("setup");
    EXPECT_INT(keyqueue_take(q, items, 4), 0);
    EXPECT_INT(keyqueue_items(q), 0);
    EXPECT_INT(keyqueue_keys(q), 0);
    /* max 0 takes nothing and loses nothing. */
    if (push_n(q, KEYQUEUE_BOTS, "A", 1) < 0) UNIT_ABORT("setup");
    EXPECT_INT(keyqueue_take(q, items, 0), 0);
    EXPECT_INT(keyqueue_items(q), 1);
    /* A key with an empty name is a key like any other. */
    if (push_n(q, KEYQUEUE_BOTS, "", 2) < 0) UNIT_ABORT("setup");
    EXPECT_INT(keyqueue_keys(q), 2);
    drain_singly(q, got, sizeof(got));
    EXPECT_STR(got, "A1 1 2");
    EXPECT_INT(keyqueue_keys(q), 0);
    EXPECT_INT(keyqueue_take(q, items, 4), 0);
    /* Freed with items still queued: the queue frees its own (ASan). */
    if (push_n(q, KEYQUEUE_USERS, "Z", 3) < 0) UNIT_ABORT("setup");
    keyqueue_free(q);
}

static void test_many_keys(void) {
    keyqueue_t *q = fresh();
    enum { KEYS = 1000 };
    if (!q) UNIT_ABORT("setup");
    /* 1000 keys, 2 items each: the key table grows past its 64 buckets. */
    for (int k = 0; k < KEYS; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d_", k);
        if (push_n(q, k % 2 ? KEYQUEUE_USERS : KEYQUEUE_BOTS, key, 2) < 0) UNIT_ABORT("setup");
    }
    EXPECT_INT(keyqueue_keys(q), KEYS);
    EXPECT_INT(keyqueue_items(q), 2 * KEYS);
    /* Batches of 64: distinct keys within a batch, each key's first item
     * before its second, every users' item before any bots'. */
    static int seen[KEYS];
    memset(seen, 0, sizeof(seen));
    int total = 0, bots_started = 0, ok = 1;
    void *items[64];
    for (int n; (n = keyqueue_take(q, items, 64)) > 0;) {
        char batch[KEYS] = {0};
        for (int i = 0; i < n; i++) {
            int k = 0, nth = 0;
            sscanf(items[i], "k%d_%d", &k, &nth);
            ok &= EXPECT_MSG(!batch[k], "key k%d_ twice in one batch", k);
            ok &= EXPECT_MSG(nth == seen[k] + 1, "k%d_%d after k%d_%d", k, nth, k, seen[k]);
            ok &= EXPECT_MSG(!(bots_started && k % 2), "user's k%d_ after a bot's", k);
            bots_started |= k % 2 == 0;
            batch[k] = 1;
            seen[k] = nth;
            total++;
        }
        if (!ok) break;
    }
    EXPECT_INT(total, 2 * KEYS);
    EXPECT_INT(keyqueue_keys(q), 0);
    keyqueue_free(q);
}

static const unit_test_t TESTS[] = {
    {"key_order", test_key_order},
    {"round_robin", test_round_robin},
    {"users_first", test_users_first},
    {"batch_limits", test_batch_limits},
    {"key_returns_after_batch", test_key_returns_after_batch},
    {"empty_and_edges", test_empty_and_edges},
    {"many_keys", test_many_keys},
    {NULL, NULL}};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
