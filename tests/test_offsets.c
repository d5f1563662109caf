/* test_offsets.c -- unit tests of worker/offsets.c, the offset tracker.
 *
 * The rule under test: the offset stored for a partition is one past the
 * longest prefix of its handed-out messages that are done, so nothing is
 * ever stored past a message without an outcome -- in order, out of order,
 * across the ring's wrap-around and its growth, and when a partition is
 * abandoned or revoked with messages in flight. */
#include <stdint.h>
#include <stdio.h>

#include "offsets.h"
#include "unit.h"

/* A table with one assigned partition (orders.intents.bot[0]). */
static offsets_t *table_with(offsets_part_t **p) {
    offsets_t *t = offsets_new();
    *p = t ? offsets_part(t, "orders.intents.bot", 0, 1) : NULL;
    if (*p) offsets_assign(*p);
    return t;
}

static void push_range(offsets_part_t *p, int64_t from, int64_t to) {
    for (int64_t o = from; o < to; o++) EXPECT_INT(offsets_push(p, o), 0);
}

static void test_in_order(void) {
    offsets_part_t *p;
    offsets_t *t = table_with(&p);
    if (!p) UNIT_ABORT("no table");
    EXPECT_INT(offsets_take_store(p), -1);
    push_range(p, 0, 5);
    EXPECT_INT(offsets_pending(p), 5);
    for (int64_t o = 0; o < 5; o++) {
        offsets_finish(p, o, 1);
        EXPECT_INT(offsets_take_store(p), o + 1);
        EXPECT_INT(offsets_take_store(p), -1);  /* each position once */
    }
    EXPECT_INT(offsets_pending(p), 0);
    offsets_free(t);
}

static void test_out_of_order(void) {
    offsets_part_t *p;
    offsets_t *t = table_with(&p);
    if (!p) UNIT_ABORT("no table");
    push_range(p, 10, 14);
    offsets_finish(p, 12, 1);
    EXPECT_INT(offsets_take_store(p), -1);  /* 10 and 11 are not done */
    offsets_finish(p, 11, 1);
    EXPECT_INT(offsets_take_store(p), -1);
    offsets_finish(p, 10, 1);
    EXPECT_INT(offsets_take_store(p), 13);  /* the gap closed: past 12 */
    offsets_finish(p, 13, 1);
    EXPECT_INT(offsets_take_store(p), 14);
    offsets_free(t);
}

static void test_wrap_around(void) {
    offsets_part_t *p;
    offsets_t *t = table_with(&p);
    if (!p) UNIT_ABORT("no table");
    /* The ring starts at 64 slots: 50 in and out moves its head to 50, and
     * the next 60 wrap past its end without growing it. */
    push_range(p, 0, 50);
    for (int64_t o = 0; o < 50; o++) offsets_finish(p, o, 1);
    EXPECT_INT(offsets_take_store(p), 50);
    push_range(p, 50, 110);
    for (int64_t o = 109; o > 50; o--) {
        offsets_finish(p, o, 1);
        if (!EXPECT_INT(offsets_take_store(p), -1)) break;  /* 50 is still out */
    }
    offsets_finish(p, 50, 1);
    EXPECT_INT(offsets_take_store(p), 110);
    EXPECT_INT(offsets_pending(p), 0);
    offsets_free(t);
}

static void test_growth(void) {
    offsets_part_t *p;
    offsets_t *t = table_with(&p);
    if (!p) UNIT_ABORT("no table");
    /* Head at 30, then 200 in flight: the ring grows (twice) while wrapped. */
    push_range(p, 0, 30);
    for (int64_t o = 0; o < 30; o++) offsets_finish(p, o, 1);
    EXPECT_INT(offsets_take_store(p), 30);
    push_range(p, 30, 230);
    EXPECT_INT(offsets_pending(p), 200);
    /* Finished in a scrambled order (7 is prime to 200): the stored
     * position is always one past the longest done prefix. */
    int done[200] = {0};
    int64_t prefix = 30;
    for (int i = 0; i < 200; i++) {
        int k = (i * 7) % 200;
        offsets_finish(p, 30 + k, 1);
        done[k] = 1;
        int64_t before = prefix;
        while (prefix < 230 && done[prefix - 30]) prefix++;
        int64_t want = prefix > before ? prefix : -1;
        if (!EXPECT_INT(offsets_take_store(p), want)) break;
    }
    EXPECT_INT(prefix, 230);
    EXPECT_INT(offsets_pending(p), 0);
    offsets_free(t);
}

static void test_revoke_in_flight(void) {
    offsets_part_t *p;
    offsets_t *t = table_with(&p);
    if (!p) UNIT_ABORT("no table");
    push_range(p, 100, 106);
    offsets_finish(p, 100, 1);
    offsets_finish(p, 101, 1);
    EXPECT_INT(offsets_take_store(p), 102);  /* the group commits 102 */
    /* Revoked with 102 and 104 unfinished: 103 and 105 finish, the drain
     * times out and the two are abandoned. */
    offsets_finish(p, 103, 1);
    offsets_finish(p, 105, 1);
    offsets_abandon(p);
    offsets_finish(p, 102, 0);
    offsets_finish(p, 104, 0);
    EXPECT_INT(offsets_pending(p), 0);
    EXPECT_INT(offsets_take_store(p), -1);  /* nothing after the gap */
    offsets_revoke(p);
    EXPECT_INT(offsets_assigned(t), 0);
    EXPECT_INT(offsets_take_store(p), -1);
    /* The next owner (this consumer again) starts at the committed 102 and
     * gets 102..105 redelivered: 103's old done mark is forgotten. */
    offsets_assign(p);
    EXPECT_INT(atomic_load(offsets_abandon_flag(p)), 0);
    push_range(p, 102, 106);
    offsets_finish(p, 102, 1);
    EXPECT_INT(offsets_take_store(p), 103);
    offsets_finish(p, 104, 1);
    offsets_finish(p, 105, 1);
    EXPECT_INT(offsets_take_store(p), -1);  /* 103 is out again */
    offsets_finish(p, 103, 1);
    EXPECT_INT(offsets_take_store(p), 106);
    offsets_free(t);
}

static void test_abandon(void) {
    offsets_t *t = offsets_new();
    if (!t) UNIT_ABORT("no table");
    offsets_part_t *a = offsets_part(t, "orders.intents.bot", 0, 1);
    offsets_part_t *b = offsets_part(t, "orders.intents.user", 0, 1);
    if (!a || !b) UNIT_ABORT("no partitions");
    offsets_assign(a);
    offsets_assign(b);
    EXPECT_INT(atomic_load(offsets_abandon_flag(a)), 0);
    offsets_abandon(a);
    EXPECT_INT(atomic_load(offsets_abandon_flag(a)), 1);
    EXPECT_INT(atomic_load(offsets_abandon_flag(b)), 0);
    offsets_abandon_all(t);  /* the worker stops and its drain timed out */
    EXPECT_INT(atomic_load(offsets_abandon_flag(b)), 1);
    /* A message that finished anyway has its outcome: it is done.  One that
     * gave up is not, and holds the position. */
    push_range(b, 0, 3);
    offsets_finish(b, 0, 1);
    offsets_finish(b, 1, 0);
    offsets_finish(b, 2, 1);
    EXPECT_INT(offsets_take_store(b), 1);
    EXPECT_INT(offsets_take_store(b), -1);
    EXPECT_INT(offsets_pending(b), 0);
    offsets_free(t);
}

static void test_table(void) {
    offsets_t *t = offsets_new();
    if (!t) UNIT_ABORT("no table");
    EXPECT(offsets_part(t, "orders.intents.bot", 3, 0) == NULL);
    offsets_part_t *a = offsets_part(t, "orders.intents.bot", 3, 1);
    offsets_part_t *b = offsets_part(t, "orders.intents.user", 3, 1);
    if (!a || !b) UNIT_ABORT("no partitions");
    EXPECT(a != b);
    EXPECT(offsets_part(t, "orders.intents.bot", 3, 0) == a);
    EXPECT_INT(offsets_count(t), 2);
    EXPECT_STR(offsets_topic(offsets_at(t, 1)), "orders.intents.user");
    EXPECT_INT(offsets_partition(offsets_at(t, 1)), 3);
    /* Not assigned: nothing to store yet; the position waits for the
     * assignment. */
    EXPECT_INT(offsets_assigned(t), 0);
    push_range(a, 7, 8);
    offsets_finish(a, 7, 1);
    EXPECT_INT(offsets_take_store(a), -1);
    offsets_assign(a);
    EXPECT_INT(offsets_assigned(t), 1);
    EXPECT_INT(offsets_take_store(a), 8);
    /* Many partitions: the table grows and keeps them apart. */
    for (int i = 0; i < 40; i++) EXPECT(offsets_part(t, "orders.intents.bot", 100 + i, 1));
    EXPECT_INT(offsets_count(t), 42);
    EXPECT(offsets_part(t, "orders.intents.bot", 3, 0) == a);
    offsets_free(t);
}

static const unit_test_t TESTS[] = {
    {"in_order", test_in_order},
    {"out_of_order", test_out_of_order},
    {"wrap_around", test_wrap_around},
    {"growth", test_growth},
    {"revoke_in_flight", test_revoke_in_flight},
    {"abandon", test_abandon},
    {"table", test_table},
    {NULL, NULL}};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
