/* test_ledger.c -- the ledger against a real PostgreSQL (DATABASE_URL).
 *
 * Checks the rules the pipeline relies on: migrations apply once; an intent
 * is recorded once and a reused intent_id with other content is told apart
 * from a redelivery; a state change happens only from the expected state;
 * events are stored once per event_id with their payload unchanged; decimals
 * come back exactly; dead letters are recorded once per origin. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "intent.h"
#include "ledger.h"
#include "publish.h"
#include "timefmt.h"

static int passed, failed;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (cond) {                                        \
            passed++;                                      \
        } else {                                           \
            failed++;                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
        }                                                  \
    } while (0)

static void make_uuid(char *buf, size_t n, unsigned seq) {
    snprintf(buf, n, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)getpid(), seq & 0xffff,
             seq & 0xfff, (unsigned)(timefmt_now_ms() & 0xfff),
             (unsigned long long)timefmt_now_ms());
}

static void decode(const char *json, intent_t *in) {
    intent_verdict_t v;
    intent_decode(json, strlen(json), INTENT_SOURCE_BOT, 60000, in, &v);
    if (v.status != INTENT_VALID) {
        printf("test intent invalid: %s\n", json);
        exit(2);
    }
}

static char *scalar(PGconn *c, const char *sql, const char *arg) {
    const char *p[] = {arg};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
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

int main(void) {
    /* The owner's role where there is one: this test migrates and edits. */
    const char *url = getenv("ADMIN_DATABASE_URL");
    if (!url || !*url) url = getenv("DATABASE_URL");
    if (!url || !*url) {
        printf("DATABASE_URL is not set: this test needs the PostgreSQL of "
               "`compose/dev test` (or any PostgreSQL)\n0 passed, 1 failed\n");
        return 1;
    }
    char err[512];
    ledger_t *l = ledger_connect(url, "test", err, sizeof(err));
    if (!l) {
        printf("%s\n0 passed, 1 failed\n", err);
        return 1;
    }
    CHECK(ledger_migrate(l, err, sizeof(err)) == 0, "migrate: %s", err);
    CHECK(ledger_migrate(l, err, sizeof(err)) == 0, "migrate twice: %s", err);
    CHECK(ledger_check_schema(l, err, sizeof(err)) == 0, "schema: %s", err);
    PGconn *pg = PQconnectdb(url);

    char id[40], json[1024], json2[1024];
    make_uuid(id, sizeof(id), 1);
    snprintf(json, sizeof(json),
             "{\"intent_id\":\"%s\",\"bot_id\":\"b1\",\"user_id\":\"u1\",\"symbol\":\"AAPL\","
             "\"side\":\"buy\",\"type\":\"limit\",\"qty\":\"0.123456789\",\"limit_price\":187.25,"
             "\"created_at\":\"2026-11-23T10:00:00Z\"}",
             id);
    intent_t in;
    decode(json, &in);
    origin_t from = {"orders.intents.bot", 3, 42, "b1", 2};
    ledger_seen_t seen;
    char state[LEDGER_STATE_MAX];

    /* Recorded once; the same content again is a redelivery. */
    CHECK(ledger_begin_intent(l, &in, &from, json, strlen(json), 0, &seen, state, err,
                              sizeof(err)) == 0, "begin: %s", err);
    CHECK(seen == LEDGER_FRESH && !strcmp(state, "received"), "fresh/received, got %d/%s",
          seen, state);
    CHECK(ledger_begin_intent(l, &in, &from, json, strlen(json), 0, &seen, state, err,
                              sizeof(err)) == 0 && seen == LEDGER_SEEN,
          "second begin is SEEN, got %d", seen);

    /* Exact decimals and times. */
    char *q = scalar(pg, "SELECT qty::text || ' ' || limit_price::text || ' ' || "
                         "(extract(epoch from created_at) * 1000)::bigint FROM intents WHERE intent_id = $1", id);
    CHECK(q && !strcmp(q, "0.123456789 187.25 1795428000000"), "decimals/time: %s", q ? q : "(null)");
    free(q);

    /* Same intent_id, other content: conflict. */
    snprintf(json2, sizeof(json2),
             "{\"intent_id\":\"%s\",\"bot_id\":\"b1\",\"user_id\":\"u1\",\"symbol\":\"AAPL\","
             "\"side\":\"buy\",\"type\":\"limit\",\"qty\":\"2\",\"limit_price\":187.25,"
             "\"created_at\":\"2026-11-23T10:00:00Z\"}",
             id);
    intent_t in2;
    decode(json2, &in2);
    CHECK(ledger_begin_intent(l, &in2, &from, json2, strlen(json2), 0, &seen, state, err,
                              sizeof(err)) == 0 && seen == LEDGER_CONFLICT,
          "other content is CONFLICT, got %d", seen);
    intent_free(&in2);

    /* Transitions only from the expected state. */
    CHECK(ledger_transition(l, id, "received", NULL, "validated", NULL, err, sizeof(err)) == 0,
          "received->validated: %s", err);
    CHECK(ledger_transition(l, id, "received", NULL, "validated", NULL, err, sizeof(err)) == 1,
          "second received->validated must report 1");
    CHECK(ledger_transition(l, id, "validated", NULL, "quota_granted", "{\"remaining\":3}", err,
                            sizeof(err)) == 0, "validated->quota_granted: %s", err);
    CHECK(ledger_transition(l, id, "quota_granted", NULL, "submitting", NULL, err, sizeof(err)) == 0,
          "->submitting: %s", err);
    char *n = scalar(pg, "SELECT count(*) FROM intent_transitions WHERE intent_id = $1", id);
    CHECK(n && !strcmp(n, "4"), "4 transitions recorded, got %s", n ? n : "(null)");
    free(n);

    /* A valid intent is recorded as validated at once; a move through an
     * intermediate state records both steps, in order. */
    char id3[40], json3[1024];
    make_uuid(id3, sizeof(id3), 3);
    snprintf(json3, sizeof(json3),
             "{\"intent_id\":\"%s\",\"bot_id\":\"b1\",\"user_id\":\"u1\",\"symbol\":\"AAPL\","
             "\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\","
             "\"created_at\":\"2026-11-23T10:00:00Z\"}",
             id3);
    intent_t in3;
    decode(json3, &in3);
    CHECK(ledger_begin_intent(l, &in3, &from, json3, strlen(json3), LEDGER_BEGIN_VALID, &seen, state, err,
                              sizeof(err)) == 0 && seen == LEDGER_FRESH &&
              !strcmp(state, "validated"),
          "valid intent recorded as validated, got %d/%s (%s)", seen, state, err);
    CHECK(ledger_transition(l, id3, "validated", "quota_granted", "submitting", NULL, err,
                                sizeof(err)) == 0, "validated->quota_granted->submitting: %s", err);
    CHECK(ledger_transition(l, id3, "validated", "quota_granted", "submitting", NULL, err,
                                sizeof(err)) == 1, "a second move from validated must report 1");
    char *path = scalar(pg, "SELECT string_agg(COALESCE(from_state, '-') || '>' || to_state, ' '"
                            " ORDER BY id) FROM intent_transitions WHERE intent_id = $1", id3);
    CHECK(path && !strcmp(path, "->received received>validated validated>quota_granted "
                                "quota_granted>submitting"),
          "transition rows in order, got %s", path ? path : "(null)");
    free(path);

    /* With LEDGER_BEGIN_LOCK the intent's lock comes first: while another
     * connection holds it nothing is done; once free, it is taken. */
    ledger_t *l2 = ledger_connect(url, "test-2", err, sizeof(err));
    CHECK(l2 != NULL, "second connection: %s", err);
    if (l2) {
        CHECK(ledger_lock_intent(l2, id3, err, sizeof(err)) == 1, "l2 locks: %s", err);
        CHECK(ledger_begin_intent(l, &in3, &from, json3, strlen(json3), LEDGER_BEGIN_LOCK,
                                  &seen, state, err, sizeof(err)) == 1,
              "begin with the lock held elsewhere must report 1");
        ledger_unlock_intent(l2, id3);
        CHECK(ledger_begin_intent(l, &in3, &from, json3, strlen(json3), LEDGER_BEGIN_LOCK,
                                  &seen, state, err, sizeof(err)) == 0 &&
                  seen == LEDGER_SEEN && !strcmp(state, "submitting"),
              "begin takes the free lock, got %d/%s (%s)", seen, state, err);
        CHECK(ledger_lock_intent(l2, id3, err, sizeof(err)) == 0, "l holds the lock now");
        ledger_unlock_intent(l, id3);
        CHECK(ledger_lock_intent(l2, id3, err, sizeof(err)) == 1, "released by l");
        ledger_unlock_intent(l2, id3);
        /* Deferred: the release waits for ledger_flush. */
        ledger_defer_on(l);
        CHECK(ledger_lock_intent(l, id3, err, sizeof(err)) == 1, "l locks again: %s", err);
        ledger_unlock_intent(l, id3);
        CHECK(ledger_has_deferred(l), "the release is deferred");
        CHECK(ledger_lock_intent(l2, id3, err, sizeof(err)) == 0, "still held until the flush");
        CHECK(ledger_flush(l, err, sizeof(err)) == 0 && !ledger_has_deferred(l), "flush: %s", err);
        CHECK(ledger_lock_intent(l2, id3, err, sizeof(err)) == 1, "released by the flush");
        ledger_unlock_intent(l2, id3);
        ledger_close(l2);
    }
    intent_free(&in3);

    /* Order + events + state in one commit; events stored once per id. */
    alpaca_order_t o;
    filled_order(&o, id, &in, "0.123456789", "187.2");
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.topic_fills, sizeof(cfg.topic_fills), "orders.fills");
    event_t evs[2];
    publish_build_fill(&cfg, &in, &o, "accepted", 1, NULL, NULL, &evs[0]);
    publish_build_fill(&cfg, &in, &o, "fill", 1, o.filled_qty, o.filled_avg_price, &evs[1]);
    char *first_payload = strdup(evs[0].payload);
    CHECK(ledger_commit(l, NULL, id, "submitting", "filled", NULL, &o, evs, 2, "b1", 2, err,
                        sizeof(err)) == 0, "commit: %s", err);
    CHECK(ledger_commit(l, NULL, id, "submitting", "filled", NULL, &o, evs, 2, "b1", 2, err,
                        sizeof(err)) == 1, "commit from a state left must report 1");
    /* Re-storing an event id keeps the first payload. */
    free(evs[0].payload);
    evs[0].payload = strdup("{\"changed\":true}");
    CHECK(ledger_commit(l, NULL, id, "filled", "filled", NULL, NULL, evs, 1, "b1", 2, err,
                        sizeof(err)) == 0, "re-commit: %s", err);
    char *nev = scalar(pg, "SELECT count(*) FROM events WHERE intent_id = $1", id);
    CHECK(nev && !strcmp(nev, "2"), "2 events stored, got %s", nev ? nev : "(null)");
    free(nev);
    char want_ids[200];
    snprintf(want_ids, sizeof(want_ids), "%s,%s", evs[0].event_id, evs[1].event_id);
    char *ids = scalar(pg, "SELECT string_agg(event_id, ',' ORDER BY seq) FROM events"
                           " WHERE intent_id = $1", id);
    CHECK(ids && !strcmp(ids, want_ids), "events in order");
    free(ids);
    char *first = scalar(pg, "SELECT payload FROM events WHERE intent_id = $1 ORDER BY seq"
                             " LIMIT 1", id);
    CHECK(first && first_payload && !strcmp(first, first_payload), "first payload kept: %s",
          first ? first : "(null)");
    free(first);
    free(first_payload);
    char *fq = scalar(pg, "SELECT filled_qty::text FROM broker_orders WHERE intent_id = $1", id);
    CHECK(fq && !strcmp(fq, "0.123456789"), "broker order filled_qty %s", fq ? fq : "(null)");
    free(fq);
    /* Without a publisher nothing is marked published. */
    char *pub = scalar(pg, "SELECT count(*) FROM events WHERE intent_id = $1 AND published_at IS NOT NULL", id);
    CHECK(pub && !strcmp(pub, "0"), "none published, got %s", pub ? pub : "(null)");
    free(pub);
    publish_event_clear(&evs[0]);
    publish_event_clear(&evs[1]);
    alpaca_order_clear(&o);

    /* A state outside the machine is refused by the table itself. */
    CHECK(ledger_transition(l, id, "filled", NULL, "bogus", NULL, err, sizeof(err)) == -1,
          "unknown state refused");

    /* Dead letters: once per origin, bytes kept exactly. */
    origin_t dl = {"orders.intents.bot", 1, (int64_t)(timefmt_now_ms() % 1000000000), NULL, 0};
    const char raw[] = {'n', 'o', 't', '\x00', '\xff', 'j'};
    CHECK(ledger_record_dead_letter(l, &dl, "not_json", "x", raw, sizeof(raw), err,
                                    sizeof(err)) == 0, "dead letter: %s", err);
    CHECK(ledger_record_dead_letter(l, &dl, "not_json", "x", raw, sizeof(raw), err,
                                    sizeof(err)) == 0, "dead letter again: %s", err);
    char off[32];
    snprintf(off, sizeof(off), "%lld", (long long)dl.offset);
    char *dn = scalar(pg, "SELECT count(*) || ' ' || encode(raw, 'hex') FROM dead_letters "
                          "WHERE topic = 'orders.intents.bot' AND kafka_partition = 1 AND kafka_offset = $1::bigint GROUP BY raw", off);
    CHECK(dn && !strcmp(dn, "1 6e6f7400ff6a"), "dead letter once, exact bytes: %s", dn ? dn : "(null)");
    free(dn);

    /* Many at once: each intent answered on its own (fresh, seen, busy),
     * moved only from its expected state, committed all or per outcome. */
    char ida[40], idb[40], ja[1024], jb[1024], j3[1024];
    make_uuid(ida, sizeof(ida), 10);
    make_uuid(idb, sizeof(idb), 11);
    const char *fmt = "{\"intent_id\":\"%s\",\"bot_id\":\"%s\",\"user_id\":\"u1\","
                      "\"symbol\":\"MSFT\",\"side\":\"sell\",\"type\":\"market\","
                      "\"qty\":\"2.5\",\"created_at\":\"2026-11-23T10:00:00Z\"}";
    snprintf(ja, sizeof(ja), fmt, ida, "ba");
    snprintf(jb, sizeof(jb), fmt, idb, "bb");
    snprintf(j3, sizeof(j3), "%s", json3);
    intent_t ia, ib, i3;
    decode(ja, &ia);
    decode(jb, &ib);
    decode(j3, &i3);
    origin_t fa = {"orders.intents.bot", 0, 7, "ba", 2}, fb = {"orders.intents.bot", 1, 8, "bb", 2};
    ledger_begin_t b[3] = {{.in = &ia, .from = &fa, .raw = ja, .raw_len = strlen(ja)},
                           {.in = &i3, .from = &from, .raw = j3, .raw_len = strlen(j3)},
                           {.in = &ib, .from = &fb, .raw = jb, .raw_len = strlen(jb)}};
    ledger_t *l3 = ledger_connect(url, "test-3", err, sizeof(err));
    CHECK(l3 && ledger_lock_intent(l3, idb, err, sizeof(err)) == 1, "l3 locks b: %s", err);
    CHECK(ledger_begin_many(l, b, 3, LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK, err,
                            sizeof(err)) == 0, "begin_many: %s", err);
    CHECK(!b[0].busy && b[0].seen == LEDGER_FRESH && !strcmp(b[0].state, "validated"),
          "a fresh: %d %d %s", b[0].busy, b[0].seen, b[0].state);
    CHECK(!b[1].busy && b[1].seen == LEDGER_SEEN && !strcmp(b[1].state, "submitting"),
          "id3 seen: %d %d %s", b[1].busy, b[1].seen, b[1].state);
    CHECK(b[2].busy, "b busy while l3 holds it");
    char *nb = scalar(pg, "SELECT count(*) FROM intents WHERE intent_id = $1", idb);
    CHECK(nb && !strcmp(nb, "0"), "a busy intent is not recorded, got %s", nb ? nb : "(null)");
    free(nb);
    if (l3) {
        ledger_unlock_intent(l3, idb);  /* at once: a closed connection's
                                           backend lets go a moment later */
        ledger_close(l3);
    }
    CHECK(ledger_begin_many(l, b + 2, 1, LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK, err,
                            sizeof(err)) == 0 && !b[2].busy && b[2].seen == LEDGER_FRESH,
          "b taken once free: %s", err);
    char *qa = scalar(pg, "SELECT qty::text || ' ' || msg_key || ' ' || kafka_offset"
                          " FROM intents WHERE intent_id = $1", ida);
    CHECK(qa && !strcmp(qa, "2.5 ba 7"), "a's row: %s", qa ? qa : "(null)");
    free(qa);
    const char *mids[] = {ida, id3, idb};
    int moved[3] = {9, 9, 9};
    CHECK(ledger_transition_many(l, mids, 3, "validated", "quota_granted", "submitting", NULL,
                                 moved, err, sizeof(err)) == 0 &&
              moved[0] == 1 && moved[1] == 0 && moved[2] == 1,
          "transition_many moves a and b, not id3: %d %d %d (%s)", moved[0], moved[1],
          moved[2], err);
    alpaca_order_t ob;
    filled_order(&ob, idb, &ib, "2.5", "410.01");
    event_t ea, eb[2];
    publish_build_fill(&cfg, &ia, &ob, "accepted", 1, NULL, NULL, &ea);
    publish_build_fill(&cfg, &ib, &ob, "accepted", 1, NULL, NULL, &eb[0]);
    publish_build_fill(&cfg, &ib, &ob, "fill", 1, ob.filled_qty, ob.filled_avg_price, &eb[1]);
    ledger_outcome_t oc[3] = {
        {ida, "submitting", "rejected", "broker_rejected", NULL, &ea, 1, "ba", 2, 9},
        {id3, "validated", "rejected", "expired", NULL, NULL, 0, NULL, 0, 9},
        {idb, "submitting", "filled", NULL, &ob, eb, 2, "bb", 2, 9}};
    CHECK(ledger_commit_many(l, NULL, oc, 3, err, sizeof(err)) == 0 && oc[0].moved == 1 &&
              oc[1].moved == 0 && oc[2].moved == 1,
          "commit_many: %d %d %d (%s)", oc[0].moved, oc[1].moved, oc[2].moved, err);
    const char *want_state[][2] = {{ida, "rejected/broker_rejected"}, {idb, "filled/-"},
                                   {id3, "submitting/-"}};
    for (int i = 0; i < 3; i++) {
        char *st = scalar(pg, "SELECT state || '/' || COALESCE(reason, '-') FROM intents"
                              " WHERE intent_id = $1", want_state[i][0]);
        CHECK(st && !strcmp(st, want_state[i][1]), "state %d: %s, want %s", i,
              st ? st : "(null)", want_state[i][1]);
        free(st);
    }
    char *evc = scalar(pg, "SELECT string_agg(event_type || ':' || COALESCE(msg_key, '-'),"
                           " ',' ORDER BY seq) FROM events WHERE intent_id = $1", ida);
    CHECK(evc && !strcmp(evc, "accepted:ba"), "a's event: %s", evc ? evc : "(null)");
    free(evc);
    char *evb = scalar(pg, "SELECT string_agg(event_type, ',' ORDER BY seq) || ' ' ||"
                           " (SELECT filled_avg_price::text FROM broker_orders WHERE intent_id = $1)"
                           " FROM events WHERE intent_id = $1", idb);
    CHECK(evb && !strcmp(evb, "accepted,fill 410.01"), "b's events and order: %s",
          evb ? evb : "(null)");
    free(evb);
    char *tr3 = scalar(pg, "SELECT count(*) FROM intent_transitions WHERE intent_id = $1"
                           " AND to_state = 'rejected'", id3);
    CHECK(tr3 && !strcmp(tr3, "0"), "nothing written for an outcome not in its state");
    free(tr3);
    publish_event_clear(&ea);
    publish_event_clear(&eb[0]);
    publish_event_clear(&eb[1]);
    alpaca_order_clear(&ob);
    intent_free(&ia);
    intent_free(&ib);
    intent_free(&i3);

    intent_free(&in);
    PQfinish(pg);
    ledger_close(l);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
