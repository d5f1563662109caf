/* test_ledger.c -- the ledger against a real PostgreSQL (DATABASE_URL).
 *
 * Checks the rules the pipeline relies on: migrations apply once; an intent
 * is recorded once and a reused intent_id with other content is told apart
 * from a redelivery; a state change happens only from the expected state;
 * an intent's lock keeps a second connection out; events are stored once
 * per event_id with their payload unchanged; decimals come back exactly;
 * dead letters are recorded once per origin; many intents at once are each
 * answered, moved and committed on their own.
 *
 * Runs on tests/unit.h (`test_ledger --list` names the tests).  Each test
 * makes the intents it needs (ids carry the pid and the time, so reruns
 * never meet) and reads what the ledger wrote with plain SQL. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "intent.h"
#include "ledger.h"
#include "publish.h"
#include "stack.h"
#include "timefmt.h"
#include "unit.h"

/* The intents' JSON: printf formats of the id and one more field. */
#define LIMIT_JSON /* the id, qty */                                                        \
    "{\"intent_id\":\"%s\",\"bot_id\":\"b1\",\"user_id\":\"u1\",\"symbol\":\"AAPL\","        \
    "\"side\":\"buy\",\"type\":\"limit\",\"qty\":\"%s\",\"limit_price\":187.25,"              \
    "\"created_at\":\"2026-11-23T10:00:00Z\"}"
#define MARKET_JSON /* the id, bot_id */                                                    \
    "{\"intent_id\":\"%s\",\"bot_id\":\"%s\",\"user_id\":\"u1\",\"symbol\":\"AAPL\","         \
    "\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\",\"created_at\":\"2026-11-23T10:00:00Z\"}"
#define SELL_JSON /* the id, bot_id */                                                      \
    "{\"intent_id\":\"%s\",\"bot_id\":\"%s\",\"user_id\":\"u1\","                             \
    "\"symbol\":\"MSFT\",\"side\":\"sell\",\"type\":\"market\","                              \
    "\"qty\":\"2.5\",\"created_at\":\"2026-11-23T10:00:00Z\"}"

static const char *url;   /* the owner's role where there is one: this test migrates */
static ledger_t *l;       /* the ledger under test */
static PGconn *pg;        /* what it wrote, read back */
static unsigned seq;
static const origin_t from = {"orders.intents.bot", 3, 42, "b1", 2};

/* A test intent: a fresh id, its JSON and its decoded form. */
typedef struct test_intent {
    char id[40];
    char json[1024];
    intent_t in;
} test_intent_t;

/* Makes t from fmt (one of the *_JSON above) with a fresh id (or id, when
 * not NULL) and arg.  0 after failing the test if the intent is not valid
 * (nothing to free then); else free it with intent_free(&t->in). */
static int new_intent(test_intent_t *t, const char *fmt, const char *id, const char *arg) {
    unsigned s = ++seq;
    if (id)
        snprintf(t->id, sizeof(t->id), "%s", id);
    else
        snprintf(t->id, sizeof(t->id), "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)getpid(),
                 s & 0xffff, s & 0xfff, (unsigned)(timefmt_now_ms() & 0xfff),
                 (unsigned long long)timefmt_now_ms());
    snprintf(t->json, sizeof(t->json), fmt, t->id, arg);
    intent_verdict_t v;
    intent_decode(t->json, strlen(t->json), INTENT_SOURCE_BOT, 60000, &t->in, &v);
    if (EXPECT_MSG(v.status == INTENT_VALID, "test intent invalid: %s", t->json))
        return 1;
    intent_free(&t->in);
    return 0;
}

/* rc (a ledger call's answer) is want; the message says both, and the
 * ledger's error when it failed. */
static int expect_rc(int rc, int want, const char *what, const char *err, const char *file,
                     int line) {
    return unit_check(rc == want, file, line, "%s (expected %d, got %d%s%s)", what, want, rc,
                      rc == -1 ? ": " : "", rc == -1 ? err : "");
}
#define EXPECT_RC(call, want, err) expect_rc((call), (want), #call, (err), __FILE__, __LINE__)

/* The one value sql returns with $1 = arg (named `name` in the message)
 * is want. */
static int expect_sql(const char *sql, const char *name, const char *arg, const char *want,
                      const char *file, int line) {
    const char *p[] = {arg};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    const char *got = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        got = PQgetvalue(r, 0, 0);
    int ok = unit_check(got && !strcmp(got, want), file, line,
                        "%s, $1 = %s (expected \"%s\", got \"%s\")", sql, name, want,
                        got                                    ? got
                        : PQresultStatus(r) == PGRES_TUPLES_OK ? "(not one row)"
                                                               : PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}
#define EXPECT_SQL(sql, arg, want) expect_sql((sql), #arg, (arg), (want), __FILE__, __LINE__)

/* Records t as validated and moves it on to submitting, as a lane does
 * before it places the order. */
static int to_submitting(const test_intent_t *t) {
    char err[512] = "", state[LEDGER_STATE_MAX] = "";
    ledger_seen_t seen = LEDGER_CONFLICT;
    int ok = EXPECT_RC(ledger_begin_intent(l, &t->in, &from, t->json, strlen(t->json),
                                           LEDGER_BEGIN_VALID, &seen, state, err, sizeof(err)),
                       0, err);
    ok = ok && EXPECT_INT(seen, LEDGER_FRESH);
    return ok && EXPECT_RC(ledger_transition(l, t->id, "validated", "quota_granted", "submitting",
                                             NULL, err, sizeof(err)),
                           0, err);
}

/* A filled broker order for the intent (free with alpaca_order_clear). */
static void filled_order(alpaca_order_t *o, const char *id, const intent_t *in,
                         const char *qty, const char *price) {
    memset(o, 0, sizeof(*o));
    snprintf(o->id, sizeof(o->id), "ord-%s", id);
    intent_client_order_id(in, o->client_order_id, sizeof(o->client_order_id));
    snprintf(o->status, sizeof(o->status), "filled");
    snprintf(o->filled_qty, sizeof(o->filled_qty), "%s", qty);
    snprintf(o->filled_avg_price, sizeof(o->filled_avg_price), "%s", price);
    o->raw = strdup("{\"id\":\"x\"}");
}

static void test_migrate(void) {
    char err[512] = "";
    EXPECT_RC(ledger_migrate(l, err, sizeof(err)), 0, err);
    EXPECT_RC(ledger_migrate(l, err, sizeof(err)), 0, err); /* twice: nothing to do */
    EXPECT_RC(ledger_check_schema(l, err, sizeof(err)), 0, err);
}

/* Recorded once; the same content again is a redelivery; exact decimals
 * and times. */
static void test_recorded_once(void) {
    test_intent_t t;
    char err[512] = "", state[LEDGER_STATE_MAX] = "";
    ledger_seen_t seen = LEDGER_CONFLICT;
    if (!new_intent(&t, LIMIT_JSON, NULL, "0.123456789"))
        return;
    EXPECT_RC(ledger_begin_intent(l, &t.in, &from, t.json, strlen(t.json), 0, &seen, state, err,
                                  sizeof(err)),
              0, err);
    EXPECT_INT(seen, LEDGER_FRESH);
    EXPECT_STR(state, "received");
    EXPECT_RC(ledger_begin_intent(l, &t.in, &from, t.json, strlen(t.json), 0, &seen, state, err,
                                  sizeof(err)),
              0, err);
    EXPECT_INT(seen, LEDGER_SEEN);
    EXPECT_SQL("SELECT qty::text || ' ' || limit_price::text || ' ' || "
               "(extract(epoch from created_at) * 1000)::bigint FROM intents WHERE intent_id = $1",
               t.id, "0.123456789 187.25 1795428000000");
    intent_free(&t.in);
}

/* Same intent_id, other content: a conflict, not a redelivery. */
static void test_reused_id_conflicts(void) {
    test_intent_t t, other;
    char err[512] = "", state[LEDGER_STATE_MAX] = "";
    ledger_seen_t seen = LEDGER_FRESH;
    if (!new_intent(&t, LIMIT_JSON, NULL, "0.123456789"))
        return;
    if (!new_intent(&other, LIMIT_JSON, t.id, "2")) {
        intent_free(&t.in);
        return;
    }
    EXPECT_RC(ledger_begin_intent(l, &t.in, &from, t.json, strlen(t.json), 0, &seen, state, err,
                                  sizeof(err)),
              0, err);
    EXPECT_RC(ledger_begin_intent(l, &other.in, &from, other.json, strlen(other.json), 0, &seen,
                                  state, err, sizeof(err)),
              0, err);
    EXPECT_INT(seen, LEDGER_CONFLICT);
    intent_free(&other.in);
    intent_free(&t.in);
}

/* Transitions only from the expected state, one row each. */
static void test_moves_only_from_expected_state(void) {
    test_intent_t t;
    char err[512] = "", state[LEDGER_STATE_MAX] = "";
    ledger_seen_t seen;
    if (!new_intent(&t, LIMIT_JSON, NULL, "0.123456789"))
        return;
    EXPECT_RC(ledger_begin_intent(l, &t.in, &from, t.json, strlen(t.json), 0, &seen, state, err,
                                  sizeof(err)),
              0, err);
    EXPECT_RC(ledger_transition(l, t.id, "received", NULL, "validated", NULL, err, sizeof(err)), 0,
              err);
    /* a second time: no longer received */
    EXPECT_RC(ledger_transition(l, t.id, "received", NULL, "validated", NULL, err, sizeof(err)), 1,
              err);
    EXPECT_RC(ledger_transition(l, t.id, "validated", NULL, "quota_granted", "{\"remaining\":3}",
                                err, sizeof(err)),
              0, err);
    EXPECT_RC(ledger_transition(l, t.id, "quota_granted", NULL, "submitting", NULL, err,
                                sizeof(err)),
              0, err);
    /* the happy path's moves are steps in the row, the one with a detail
     * is a transitions row; intent_history shows all four, in order */
    EXPECT_SQL("SELECT count(*) FROM intent_transitions WHERE intent_id = $1", t.id, "1");
    EXPECT_SQL("SELECT string_agg(to_state || ':' || recorded_in || ':'"
               " || COALESCE(detail->>'remaining', '-'), ' ' ORDER BY at, recorded_in, n)"
               " FROM intent_history WHERE intent_id = $1",
               t.id, "received:row:- validated:row:- quota_granted:transitions:3 "
                     "submitting:row:-");
    intent_free(&t.in);
}

/* A valid intent is recorded as validated at once; a move through an
 * intermediate state records both steps, in order. */
static void test_valid_at_once_and_two_steps(void) {
    test_intent_t t;
    char err[512] = "", state[LEDGER_STATE_MAX] = "";
    ledger_seen_t seen = LEDGER_CONFLICT;
    if (!new_intent(&t, MARKET_JSON, NULL, "b1"))
        return;
    EXPECT_RC(ledger_begin_intent(l, &t.in, &from, t.json, strlen(t.json), LEDGER_BEGIN_VALID,
                                  &seen, state, err, sizeof(err)),
              0, err);
    EXPECT_INT(seen, LEDGER_FRESH);
    EXPECT_STR(state, "validated");
    EXPECT_RC(ledger_transition(l, t.id, "validated", "quota_granted", "submitting", NULL, err,
                                sizeof(err)),
              0, err);
    /* a second move from validated: no longer there */
    EXPECT_RC(ledger_transition(l, t.id, "validated", "quota_granted", "submitting", NULL, err,
                                sizeof(err)),
              1, err);
    EXPECT_SQL("SELECT string_agg(COALESCE(from_state, '-') || '>' || to_state, ' '"
               " ORDER BY n) FROM intent_history WHERE intent_id = $1",
               t.id, "->received received>validated validated>quota_granted "
                     "quota_granted>submitting");
    EXPECT_SQL("SELECT count(*) FROM intent_transitions WHERE intent_id = $1", t.id, "0");
    EXPECT_SQL("SELECT count(DISTINCT replica) || ' ' || bool_and(replica IS NOT NULL)"
               " FROM intent_history WHERE intent_id = $1",
               t.id, "1 true");
    EXPECT_SQL("SELECT count(*) FROM open_intents WHERE intent_id = $1", t.id, "1");
    intent_free(&t.in);
}

/* With LEDGER_BEGIN_LOCK the intent's lock comes first: while another
 * connection holds it nothing is done; once free, it is taken. */
static void test_begin_takes_the_lock(void) {
    char err[512] = "", state[LEDGER_STATE_MAX] = "";
    ledger_seen_t seen = LEDGER_CONFLICT;
    ledger_t *l2 = ledger_connect(url, "test-2", err, sizeof(err));
    if (!EXPECT_MSG(l2 != NULL, "second connection: %s", err))
        return;
    test_intent_t t;
    if (new_intent(&t, MARKET_JSON, NULL, "b1") && to_submitting(&t)) {
        EXPECT_RC(ledger_lock_intent(l2, t.id, err, sizeof(err)), 1, err);
        /* held elsewhere: nothing done */
        EXPECT_RC(ledger_begin_intent(l, &t.in, &from, t.json, strlen(t.json), LEDGER_BEGIN_LOCK,
                                      &seen, state, err, sizeof(err)),
                  1, err);
        ledger_unlock_intent(l2, t.id);
        EXPECT_RC(ledger_begin_intent(l, &t.in, &from, t.json, strlen(t.json), LEDGER_BEGIN_LOCK,
                                      &seen, state, err, sizeof(err)),
                  0, err);
        EXPECT_INT(seen, LEDGER_SEEN);
        EXPECT_STR(state, "submitting");
        EXPECT_RC(ledger_lock_intent(l2, t.id, err, sizeof(err)), 0, err); /* l holds it now */
        ledger_unlock_intent(l, t.id);
        EXPECT_RC(ledger_lock_intent(l2, t.id, err, sizeof(err)), 1, err); /* released by l */
        ledger_unlock_intent(l2, t.id);
        intent_free(&t.in);
    }
    ledger_close(l2);
}

/* Deferred: the release waits for ledger_flush. */
static void test_deferred_release(void) {
    char err[512] = "", id[40];
    snprintf(id, sizeof(id), "%08x-0000-4000-8000-%012llx", (unsigned)getpid(),
             (unsigned long long)timefmt_now_ms());
    ledger_t *l1 = ledger_connect(url, "test-deferring", err, sizeof(err));
    ledger_t *l2 = l1 ? ledger_connect(url, "test-2", err, sizeof(err)) : NULL;
    if (EXPECT_MSG(l1 && l2, "connections: %s", err)) {
        ledger_defer_on(l1);
        EXPECT_RC(ledger_lock_intent(l1, id, err, sizeof(err)), 1, err);
        ledger_unlock_intent(l1, id);
        EXPECT(ledger_has_deferred(l1));
        EXPECT_RC(ledger_lock_intent(l2, id, err, sizeof(err)), 0, err); /* until the flush */
        EXPECT_RC(ledger_flush(l1, err, sizeof(err)), 0, err);
        EXPECT(!ledger_has_deferred(l1));
        EXPECT_RC(ledger_lock_intent(l2, id, err, sizeof(err)), 1, err); /* released by it */
        ledger_unlock_intent(l2, id);
    }
    if (l2)
        ledger_close(l2);
    if (l1)
        ledger_close(l1);
}

/* Order + events + state in one commit; events stored once per id, the
 * first payload kept. */
static void test_commit_stores_events_once(void) {
    test_intent_t t;
    char err[512] = "";
    if (!new_intent(&t, LIMIT_JSON, NULL, "0.123456789"))
        return;
    if (!to_submitting(&t)) {
        intent_free(&t.in);
        return;
    }
    alpaca_order_t o;
    filled_order(&o, t.id, &t.in, "0.123456789", "187.2");
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.topic_fills, sizeof(cfg.topic_fills), "orders.fills");
    event_t evs[2];
    publish_build_fill(&cfg, &t.in, &o, "accepted", 1, NULL, NULL, &evs[0]);
    publish_build_fill(&cfg, &t.in, &o, "fill", 1, o.filled_qty, o.filled_avg_price, &evs[1]);
    char *first_payload = strdup(evs[0].payload);
    EXPECT_RC(ledger_commit(l, NULL, t.id, "submitting", "filled", NULL, NULL, &o, evs, 2, "b1", 2, err,
                            sizeof(err)),
              0, err);
    /* from a state left: nothing written */
    EXPECT_RC(ledger_commit(l, NULL, t.id, "submitting", "filled", NULL, NULL, &o, evs, 2, "b1", 2, err,
                            sizeof(err)),
              1, err);
    /* re-storing an event id keeps the first payload */
    free(evs[0].payload);
    evs[0].payload = strdup("{\"changed\":true}");
    EXPECT_RC(ledger_commit(l, NULL, t.id, "filled", "filled", NULL, NULL, NULL, evs, 1, "b1", 2, err,
                            sizeof(err)),
              0, err);
    EXPECT_SQL("SELECT count(*) FROM events WHERE intent_id = $1", t.id, "2");
    char want_ids[200];
    snprintf(want_ids, sizeof(want_ids), "%s,%s", evs[0].event_id, evs[1].event_id);
    EXPECT_SQL("SELECT string_agg(event_id, ',' ORDER BY seq) FROM events WHERE intent_id = $1",
               t.id, want_ids);
    EXPECT_SQL("SELECT payload FROM events WHERE intent_id = $1 ORDER BY seq LIMIT 1", t.id,
               first_payload);
    EXPECT_SQL("SELECT filled_qty::text FROM broker_orders WHERE intent_id = $1", t.id,
               "0.123456789");
    /* without a publisher nothing is marked published */
    EXPECT_SQL("SELECT count(*) FROM events WHERE intent_id = $1 AND published_at IS NOT NULL",
               t.id, "0");
    /* a state outside the machine is refused by the table itself */
    EXPECT_RC(ledger_transition(l, t.id, "filled", NULL, "bogus", NULL, err, sizeof(err)), -1,
              err);
    free(first_payload);
    publish_event_clear(&evs[0]);
    publish_event_clear(&evs[1]);
    alpaca_order_clear(&o);
    intent_free(&t.in);
}

/* Dead letters: once per origin, bytes kept exactly. */
static void test_dead_letter_once(void) {
    char err[512] = "", off[32];
    origin_t dl = {"orders.intents.bot", 1, (int64_t)(timefmt_now_ms() % 1000000000), NULL, 0};
    const char raw[] = {'n', 'o', 't', '\x00', '\xff', 'j'};
    EXPECT_RC(ledger_record_dead_letter(l, &dl, "not_json", "x", raw, sizeof(raw), err,
                                        sizeof(err)),
              0, err);
    EXPECT_RC(ledger_record_dead_letter(l, &dl, "not_json", "x", raw, sizeof(raw), err,
                                        sizeof(err)),
              0, err);
    snprintf(off, sizeof(off), "%lld", (long long)dl.offset);
    EXPECT_SQL("SELECT count(*) || ' ' || encode(raw, 'hex') FROM dead_letters WHERE topic = "
               "'orders.intents.bot' AND kafka_partition = 1 AND kafka_offset = $1::bigint "
               "GROUP BY raw",
               off, "1 6e6f7400ff6a");
}

/* The three intents of the tests of many at once: a and b fresh (by bots
 * ba and bb), and one already submitting. */
typedef struct three {
    test_intent_t a, b, sub;
    origin_t fa, fb;
} three_t;

static int three_new(three_t *m) {
    m->fa = (origin_t){"orders.intents.bot", 0, 7, "ba", 2};
    m->fb = (origin_t){"orders.intents.bot", 1, 8, "bb", 2};
    if (!new_intent(&m->a, SELL_JSON, NULL, "ba"))
        return 0;
    if (!new_intent(&m->b, SELL_JSON, NULL, "bb")) {
        intent_free(&m->a.in);
        return 0;
    }
    if (!new_intent(&m->sub, MARKET_JSON, NULL, "b1")) {
        intent_free(&m->a.in);
        intent_free(&m->b.in);
        return 0;
    }
    to_submitting(&m->sub);
    return 1;
}

static void three_free(three_t *m) {
    intent_free(&m->a.in);
    intent_free(&m->b.in);
    intent_free(&m->sub.in);
}

/* A ledger_begin_many entry for t, from origin o. */
static ledger_begin_t begin_of(const test_intent_t *t, const origin_t *o) {
    return (ledger_begin_t){.in = &t->in, .from = o, .raw = t->json, .raw_len = strlen(t->json)};
}

/* Many at once: each intent answered on its own (fresh, seen, busy). */
static void test_begin_many(void) {
    char err[512] = "";
    three_t m;
    if (!three_new(&m))
        return;
    ledger_begin_t b[3] = {begin_of(&m.a, &m.fa), begin_of(&m.sub, &from),
                           begin_of(&m.b, &m.fb)};
    ledger_t *l3 = ledger_connect(url, "test-3", err, sizeof(err));
    EXPECT_MSG(l3 && ledger_lock_intent(l3, m.b.id, err, sizeof(err)) == 1, "l3 locks b: %s",
               err);
    EXPECT_RC(ledger_begin_many(l, b, 3, LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK, err,
                                sizeof(err)),
              0, err);
    EXPECT_INT(b[0].busy, 0);
    EXPECT_INT(b[0].seen, LEDGER_FRESH);
    EXPECT_STR(b[0].state, "validated");
    EXPECT_INT(b[1].busy, 0);
    EXPECT_INT(b[1].seen, LEDGER_SEEN);
    EXPECT_STR(b[1].state, "submitting");
    EXPECT_MSG(b[2].busy, "b busy while l3 holds it");
    /* a busy intent is not recorded */
    EXPECT_SQL("SELECT count(*) FROM intents WHERE intent_id = $1", m.b.id, "0");
    if (l3) {
        ledger_unlock_intent(l3, m.b.id); /* at once: a closed connection's
                                             backend lets go a moment later */
        ledger_close(l3);
    }
    /* taken once free */
    EXPECT_RC(ledger_begin_many(l, b + 2, 1, LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK, err,
                                sizeof(err)),
              0, err);
    EXPECT_INT(b[2].busy, 0);
    EXPECT_INT(b[2].seen, LEDGER_FRESH);
    EXPECT_SQL("SELECT qty::text || ' ' || msg_key || ' ' || kafka_offset"
               " FROM intents WHERE intent_id = $1",
               m.a.id, "2.5 ba 7");
    three_free(&m);
}

/* Moved only from the expected state, committed per outcome. */
static void test_commit_many(void) {
    char err[512] = "";
    three_t m;
    if (!three_new(&m))
        return;
    ledger_begin_t b[2] = {begin_of(&m.a, &m.fa), begin_of(&m.b, &m.fb)};
    EXPECT_RC(ledger_begin_many(l, b, 2, LEDGER_BEGIN_VALID, err, sizeof(err)), 0, err);
    const char *ids[] = {m.a.id, m.sub.id, m.b.id};
    int moved[3] = {9, 9, 9};
    EXPECT_RC(ledger_transition_many(l, ids, 3, "validated", "quota_granted", "submitting", NULL,
                                     moved, err, sizeof(err)),
              0, err);
    EXPECT_INT(moved[0], 1);
    EXPECT_INT(moved[1], 0); /* already submitting */
    EXPECT_INT(moved[2], 1);
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.topic_fills, sizeof(cfg.topic_fills), "orders.fills");
    alpaca_order_t ob;
    filled_order(&ob, m.b.id, &m.b.in, "2.5", "410.01");
    event_t ea, eb[2];
    publish_build_fill(&cfg, &m.a.in, &ob, "accepted", 1, NULL, NULL, &ea);
    publish_build_fill(&cfg, &m.b.in, &ob, "accepted", 1, NULL, NULL, &eb[0]);
    publish_build_fill(&cfg, &m.b.in, &ob, "fill", 1, ob.filled_qty, ob.filled_avg_price, &eb[1]);
    ledger_outcome_t oc[3] = {
        {m.a.id, "submitting", "rejected", "broker_rejected", NULL, &ea, 1, "ba", 2, 9,
         "{\"why\":\"retry\"}"},
        {m.sub.id, "validated", "rejected", "expired", NULL, NULL, 0, NULL, 0, 9, NULL},
        {m.b.id, "submitting", "filled", NULL, &ob, eb, 2, "bb", 2, 9, NULL}};
    EXPECT_RC(ledger_commit_many(l, NULL, oc, 3, err, sizeof(err)), 0, err);
    EXPECT_INT(oc[0].moved, 1);
    EXPECT_INT(oc[1].moved, 0);
    EXPECT_INT(oc[2].moved, 1);
    const struct {
        const char *name, *id, *want;
    } states[] = {{"a", m.a.id, "rejected/broker_rejected"},
                  {"b", m.b.id, "filled/-"},
                  {"the one submitting", m.sub.id, "submitting/-"}};
    for (int i = 0; i < 3; i++)
        expect_sql("SELECT state || '/' || COALESCE(reason, '-') FROM intents WHERE intent_id = $1",
                   states[i].name, states[i].id, states[i].want, __FILE__, __LINE__);
    EXPECT_SQL("SELECT string_agg(event_type || ':' || COALESCE(msg_key, '-'), ',' ORDER BY seq)"
               " FROM events WHERE intent_id = $1",
               m.a.id, "accepted:ba");
    EXPECT_SQL("SELECT string_agg(event_type, ',' ORDER BY seq) || ' ' || (SELECT"
               " filled_avg_price::text FROM broker_orders WHERE intent_id = $1)"
               " FROM events WHERE intent_id = $1",
               m.b.id, "accepted,fill 410.01");
    /* nothing written for an outcome not in its state */
    EXPECT_SQL("SELECT count(*) FROM intent_history WHERE intent_id = $1"
               " AND to_state = 'rejected'",
               m.sub.id, "0");
    /* an outcome with a detail is a transitions row, one without a step */
    EXPECT_SQL("SELECT string_agg(to_state || ':' || recorded_in || ':'"
               " || COALESCE(detail->>'why', '-'), ' ' ORDER BY at, recorded_in, n)"
               " FROM intent_history WHERE intent_id = $1 AND to_state = 'rejected'",
               m.a.id, "rejected:transitions:retry");
    EXPECT_SQL("SELECT string_agg(to_state || ':' || recorded_in, ' ' ORDER BY n)"
               " FROM intent_history WHERE intent_id = $1 AND to_state = 'filled'",
               m.b.id, "filled:row");
    /* the ended ones left open_intents, the one submitting stays */
    EXPECT_SQL("SELECT string_agg(intent_id, ',' ORDER BY intent_id) FROM open_intents"
               " WHERE intent_id IN ($1)",
               m.sub.id, m.sub.id);
    EXPECT_SQL("SELECT count(*) FROM open_intents WHERE intent_id = $1", m.b.id, "0");
    publish_event_clear(&ea);
    publish_event_clear(&eb[0]);
    publish_event_clear(&eb[1]);
    alpaca_order_clear(&ob);
    three_free(&m);
}

static const unit_test_t TESTS[] = {
    {"migrate", test_migrate},
    {"recorded_once", test_recorded_once},
    {"reused_id_conflicts", test_reused_id_conflicts},
    {"moves_only_from_expected_state", test_moves_only_from_expected_state},
    {"valid_at_once_and_two_steps", test_valid_at_once_and_two_steps},
    {"begin_takes_the_lock", test_begin_takes_the_lock},
    {"deferred_release", test_deferred_release},
    {"commit_stores_events_once", test_commit_stores_events_once},
    {"dead_letter_once", test_dead_letter_once},
    {"begin_many", test_begin_many},
    {"commit_many", test_commit_many},
    {NULL, NULL}};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return unit_main(TESTS, argc, argv);
    url = getenv("ADMIN_DATABASE_URL");
    if (!url || !*url)
        url = getenv("DATABASE_URL");
    pg = stack_ledger();
    if (!pg)
        return 1;
    char err[512];
    l = ledger_connect(url, "test", err, sizeof(err));
    int rc = 1;
    if (!l)
        printf("FAIL: ledger_connect: %s\n", err);
    else
        rc = unit_main(TESTS, argc, argv);
    if (l)
        ledger_close(l);
    PQfinish(pg);
    return rc;
}
