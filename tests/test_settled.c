/* test_settled.c -- unit tests of worker/settled.c, the orders a replica
 * has just seen end.
 *
 * The rule under test: settled_has answers 1 only for an id that was
 * added (never for another one, however the slots collide), and a
 * bounded table may forget old ids but keeps the recent ones; it is safe
 * from several threads at once. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "settled.h"
#include "unit.h"

static void test_add_and_has(void) {
    settled_t *s = settled_new();
    if (!s) UNIT_ABORT("no memory");
    EXPECT_INT(settled_has(s, "cid-1"), 0);
    settled_add(s, "cid-1");
    EXPECT_INT(settled_has(s, "cid-1"), 1);
    EXPECT_INT(settled_has(s, "cid-2"), 0);
    EXPECT_INT(settled_has(s, "cid-"), 0);    /* a prefix is another id */
    EXPECT_INT(settled_has(s, "cid-10"), 0);
    EXPECT_INT(settled_has(s, ""), 0);
    /* Empty and over-long ids are never kept. */
    settled_add(s, "");
    EXPECT_INT(settled_has(s, ""), 0);
    char longid[80];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    settled_add(s, longid);
    EXPECT_INT(settled_has(s, longid), 0);
    settled_free(s);
    /* NULL: nothing kept, nothing found. */
    settled_add(NULL, "cid-1");
    EXPECT_INT(settled_has(NULL, "cid-1"), 0);
}

/* 100,000 ids through a table of far fewer slots: no id is ever reported
 * that was not added, and the most recent ones are still there. */
static void test_bounded_never_confused(void) {
    settled_t *s = settled_new();
    if (!s) UNIT_ABORT("no memory");
    char id[64];
    int kept_recent = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof(id), "ow-%08d", i);
        settled_add(s, id);
    }
    int false_hits = 0;
    for (int i = 100000; i < 200000; i++) {
        snprintf(id, sizeof(id), "ow-%08d", i);
        false_hits += settled_has(s, id);
    }
    EXPECT_INT(false_hits, 0);
    for (int i = 100000 - 100; i < 100000; i++) {
        snprintf(id, sizeof(id), "ow-%08d", i);
        kept_recent += settled_has(s, id);
    }
    /* The last 100 of 100,000: collisions among them are rare. */
    EXPECT_MSG(kept_recent >= 95, "only %d of the last 100 kept", kept_recent);
    settled_free(s);
}

typedef struct worker_arg {
    settled_t *s;
    int base;
    int wrong;
} worker_arg_t;

static void *adder(void *p) {
    worker_arg_t *a = p;
    char id[64], other[64];
    for (int i = 0; i < 50000; i++) {
        snprintf(id, sizeof(id), "t%d-%d", a->base, i);
        settled_add(a->s, id);
        snprintf(other, sizeof(other), "never-%d-%d", a->base, i);
        a->wrong += settled_has(a->s, other);
    }
    return NULL;
}

static void test_threads(void) {
    settled_t *s = settled_new();
    if (!s) UNIT_ABORT("no memory");
    pthread_t t[4];
    worker_arg_t a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (worker_arg_t){s, i, 0};
        pthread_create(&t[i], NULL, adder, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        EXPECT_INT(a[i].wrong, 0);
    }
    settled_free(s);
}

static const unit_test_t TESTS[] = {
    {"add_and_has", test_add_and_has},
    {"bounded_never_confused", test_bounded_never_confused},
    {"threads", test_threads},
    {NULL, NULL}};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
