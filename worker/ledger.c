/* ledger.c -- the PostgreSQL ledger (see ledger.h for the rules it keeps).
 *
 * Every statement is parameterised.  Each public call is one transaction,
 * so a crash leaves the ledger at a state boundary, never between an event
 * and the state change it belongs to.  Decimals travel as text into numeric
 * columns and never pass through floating point.
 *
 * Durability: a commit waits for its WAL flush only when something outside
 * the ledger will act on it next.  Those are the "submitting" state (an
 * order is sent after it), every commit that stores events (they are
 * produced after it), and dead letters (the DLQ message follows).  The
 * other writes ("received", "validated", "quota_granted", the published
 * marks, leases) commit asynchronously (synchronous_commit off for the
 * session): a crash may lose the last few of them, and the intent is then
 * re-derived from an earlier durable state on redelivery, with the same
 * result (the quota charge is idempotent per intent_id, events keep their
 * event_id).  A durable commit flushes every earlier asynchronous one.
 *
 * This file holds the connection and the intent's life (recording, locks,
 * transitions, outcomes, publishing, dead letters); ledger_schema.c the
 * migrations and grants, ledger_read.c what the follower, the reconciler
 * and the risk checks read; ledger_internal.h is what they share. */
#include "ledger.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "metrics.h"
#include "pqmsg.h"
#include "timefmt.h"

/* In a statement, set_config(...) turns the flush wait on for the
 * statement's own transaction: one round trip for a durable write. */
#define DURABLE_IF(param) "set_config('synchronous_commit', " param ", true)"

/* One move of the happy path as a one-element intent_step[] (migration 009),
 * from SQL expressions for the two states and the replica. */
#define STEP(from, to, who) \
    "ARRAY[ROW(" from "::text, " to "::text, now(), " who "::text)::intent_step]"

/* The terminal states, as an SQL list. */
#define TERMINAL_SQL "('filled', 'canceled', 'expired', 'rejected')"

void ledger_set_err(char *err, size_t errlen, const char *what, PGconn *c,
                    PGresult *r) {
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "ledger: %s", what);
    pqmsg_line(err, errlen, prefix, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
}

/* A broken connection is never reset behind the owner's back: it held the
 * session's advisory locks, so the owner must notice (ledger_ok) and start
 * over with a new connection. */
int ledger_ok(ledger_t *l) { return l && !l->broken && PQstatus(l->conn) == CONNECTION_OK; }

/* Runs sql (a string literal: see struct ledger) with text parameters. */
PGresult *ledger_exec(ledger_t *l, const char *sql, int n, const char *const *v,
                      ExecStatusType want, const char *what, char *err,
                      size_t errlen) {
    int slot = 0;
    while (slot < l->n_prepared && l->prepared[slot] != sql) slot++;
    char name[16];
    snprintf(name, sizeof(name), "ow%d", slot);
    if (slot == l->n_prepared && slot < LEDGER_PREPARED_MAX) {
        PGresult *p = PQprepare(l->conn, name, sql, n, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            ledger_set_err(err, errlen, what, l->conn, p);
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        l->prepared[l->n_prepared++] = sql;
    }
    PGresult *r = slot < LEDGER_PREPARED_MAX
                      ? PQexecPrepared(l->conn, name, n, v, NULL, NULL, 0)
                      : PQexecParams(l->conn, sql, n, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        ledger_set_err(err, errlen, what, l->conn, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

int ledger_exec_cmd(ledger_t *l, const char *sql, int n, const char *const *v,
                    const char *what, char *err, size_t errlen) {
    PGresult *r = ledger_exec(l, sql, n, v, PGRES_COMMAND_OK, what, err, errlen);
    if (!r) return -1;
    PQclear(r);
    return 0;
}

/* Opens a durable transaction (it waits for its WAL flush at COMMIT). */
int ledger_begin_durable(ledger_t *l, char *err, size_t errlen) {
    PGresult *r = PQexec(l->conn, "BEGIN; SET LOCAL synchronous_commit = on");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        ledger_set_err(err, errlen, "begin", l->conn, r);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

void ledger_rollback(ledger_t *l) {
    PGresult *r = PQexec(l->conn, "ROLLBACK");
    PQclear(r);
}

ledger_t *ledger_connect(const char *database_url, const char *replica,
                         char *err, size_t errlen) {
    ledger_t *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "ledger: out of memory");
        return NULL;
    }
    snprintf(l->replica, sizeof(l->replica), "%s", replica ? replica : "");
    l->stage_path = "intake";
    l->conn = PQconnectdb(database_url);
    if (PQstatus(l->conn) != CONNECTION_OK) {
        /* PQerrorMessage names host and port, never the password. */
        ledger_set_err(err, errlen, "connect", l->conn, NULL);
        PQfinish(l->conn);
        free(l);
        return NULL;
    }
    PQsetNoticeProcessor(l->conn, pqmsg_ignore_notice, NULL);
    /* See the top of the file: durable commits ask for it
     * (ledger_begin_durable(), DURABLE_IF).
     * Planner: every statement here reaches its rows through an index
     * (intent_id, event_id, ...), and a prepared statement's generic plan
     * lives as long as the connection.  A plan made while the tables were
     * small would hash-join or scan them whole (the batch statements, whose
     * row lists the planner guesses at 100) and keep doing so when they hold
     * millions of rows: measured, 37 ms and growing per batch commit on a
     * fresh database.  So joins are nested loops over index scans, and the
     * batch statements reach their rows by `intent_id = ANY (list)`, never
     * by a join whose order the planner could turn around.
     * JIT off: a generic plan guesses a `= ANY (list)` of thousands of rows
     * once a table is large, so the commit's estimated cost passed
     * jit_above_cost and PostgreSQL compiled the statement on every call:
     * 30 ms of LLVM per batch of 32 (auto_explain, measured on a ledger of
     * 250,000 intents: a fifth of the throughput).  No statement here reads
     * enough rows to gain from it. */
    PGresult *r = PQexec(l->conn, "SET synchronous_commit = off;"
                                  " SET enable_seqscan = off; SET enable_hashjoin = off;"
                                  " SET enable_mergejoin = off; SET jit = off");
    PQclear(r);
    return l;
}

void ledger_set_stage_path(ledger_t *l, const char *path) { l->stage_path = path; }

void ledger_set_settled(ledger_t *l, settled_t *s) { l->settled = s; }

void ledger_close(ledger_t *l) {
    if (!l) return;
    char err[256];
    if (l->n_pending && ledger_ok(l)) ledger_flush(l, err, sizeof(err));
    PQfinish(l->conn);  /* releases whatever locks were still held */
    jsonw_free(&l->rows);
    free(l);
}

int ledger_state_is_terminal(const char *s) {
    return !strcmp(s, "filled") || !strcmp(s, "canceled") ||
           !strcmp(s, "expired") || !strcmp(s, "rejected");
}

/* ---- intents ----------------------------------------------------------- */

static const char *opt(const char *s) { return s && *s ? s : NULL; }
static const char *dec(int has, const decimal_t *d) { return has ? d->text : NULL; }

/* In the rows: times as epoch ms (PostgreSQL converts them: no local time
 * zone games), 0 left out (NULL); raw texts and keys cut at a NUL (a text
 * column cannot hold one), and a key that is not UTF-8 fails the rows, as
 * PostgreSQL would refuse it. */

int ledger_begin_intent(ledger_t *l, const intent_t *in, const origin_t *from,
                        const char *raw, size_t raw_len, int flags, ledger_seen_t *seen,
                        char state[LEDGER_STATE_MAX], char *err, size_t errlen) {
    ledger_begin_t b = {.in = in, .from = from, .raw = raw, .raw_len = raw_len};
    if (ledger_begin_many(l, &b, 1, flags, err, errlen) < 0) return -1;
    if (b.busy) return 1;
    *seen = b.seen;
    snprintf(state, LEDGER_STATE_MAX, "%s", b.state);
    return 0;
}

/* The intents of b as the JSON rows of ledger_begin_many's statement
 * (text owned by w), or NULL when one cannot be encoded (not UTF-8) or
 * memory runs out.  Absent members are NULLs to json_to_recordset. */
static const char *begin_rows(jsonw_t *w, const ledger_begin_t *b, int n) {
    jsonw_reset(w);
    jsonw_open(w, NULL, '[');
    for (int i = 0; i < n; i++) {
        const intent_t *in = b[i].in;
        const origin_t *from = b[i].from;
        char cid[64];
        intent_client_order_id(in, cid, sizeof(cid));
        jsonw_open(w, NULL, '{');
        jsonw_int(w, "n", i);
        jsonw_str(w, "intent_id", in->intent_id);
        jsonw_str(w, "content_hash", in->content_hash);
        jsonw_str(w, "source", in->source == INTENT_SOURCE_BOT ? "bot" : "user");
        jsonw_str(w, "topic", from->topic);
        jsonw_int(w, "kafka_partition", from->partition);
        jsonw_int(w, "kafka_offset", from->offset);
        jsonw_str(w, "bot_id", opt(in->bot_id));
        jsonw_str(w, "user_id", opt(in->user_id));
        jsonw_str(w, "symbol", opt(in->symbol));
        jsonw_str(w, "side", opt(in->side));
        jsonw_str(w, "order_type", opt(in->type));
        jsonw_str(w, "qty", dec(in->has_qty, &in->qty));
        jsonw_str(w, "notional", dec(in->has_notional, &in->notional));
        jsonw_str(w, "limit_price", dec(in->has_limit_price, &in->limit_price));
        jsonw_str(w, "stop_price", dec(in->has_stop_price, &in->stop_price));
        jsonw_str(w, "time_in_force", opt(in->time_in_force));
        jsonw_bool(w, "extended_hours", in->extended_hours);
        if (in->created_at_ms) jsonw_int(w, "created_at", in->created_at_ms);
        if (in->expires_at_ms) jsonw_int(w, "expires_at", in->expires_at_ms);
        jsonw_str(w, "client_order_id", cid);
        jsonw_strn(w, "raw", b[i].raw, b[i].raw_len);  /* cut at a NUL */
        if (in->cancel) {
            jsonw_str(w, "action", "cancel");
            jsonw_str(w, "target_intent_id", in->target_intent_id);
        }
        jsonw_strn(w, "msg_key", from->key, from->key_len);
        jsonw_close(w, '}');
    }
    jsonw_close(w, ']');
    return jsonw_text(w);
}

/* Reads ledger_begin_many's answer (one row per intent, in order) into b.
 * 0, or -1 with err. */
static int begin_answers(PGresult *r, ledger_begin_t *b, int n, char *err, size_t errlen) {
    if (PQntuples(r) != n) {
        snprintf(err, errlen, "ledger: %d intents recorded, %d answers", n, PQntuples(r));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        b[i].busy = PQgetvalue(r, i, 1)[0] != 't';
        b[i].state[0] = '\0';
        if (b[i].busy) continue;
        if (PQgetisnull(r, i, 2)) {
            snprintf(err, errlen, "ledger: intent %s vanished", b[i].in->intent_id);
            return -1;
        }
        snprintf(b[i].state, sizeof(b[i].state), "%s", PQgetvalue(r, i, 2));
        b[i].cancel_marked = PQgetvalue(r, i, 5)[0] == 't';
        if (PQgetvalue(r, i, 4)[0] == 't') b[i].seen = LEDGER_FRESH;
        else if (strcmp(PQgetvalue(r, i, 3), b[i].in->content_hash) != 0)
            b[i].seen = LEDGER_CONFLICT;
        else b[i].seen = LEDGER_SEEN;
    }
    return 0;
}

int ledger_begin_many(ledger_t *l, ledger_begin_t *b, int n, int flags, char *err,
                      size_t errlen) {
    const char *rows = begin_rows(&l->rows, b, n);
    if (!rows) {
        snprintf(err, errlen, "ledger: cannot encode %d intents (not UTF-8?)", n);
        return -1;
    }
    const char *p[] = {rows, l->replica, flags & LEDGER_BEGIN_VALID ? "validated" : "received",
                       flags & LEDGER_BEGIN_LOCK ? "true" : "false"};
    /* One statement, one round trip: each intent's lock first (with
     * LEDGER_BEGIN_LOCK; nothing else happens to an intent without it),
     * then the insert either creates the row or leaves the existing one
     * alone, and the join that follows tells which (the statement's
     * snapshot does not see its own insert, so an intent found in `intents`
     * was recorded before).  A valid intent is recorded as received and
     * validated at once (two steps in its row), and enters open_intents.
     * The lock holder is the only writer, so nothing races the insert. */
    PGresult *r = ledger_exec(l,
        "WITH x AS MATERIALIZED ("
        " SELECT r.*, CASE WHEN $4::boolean"
        "  THEN pg_try_advisory_lock(hashtextextended(r.intent_id, 0)) ELSE true END AS held"
        " FROM json_to_recordset($1::json) AS r(n int, intent_id text, content_hash text,"
        "  source text, msg_key text, topic text, kafka_partition int, kafka_offset bigint,"
        "  bot_id text, user_id text, symbol text, side text, order_type text, qty numeric,"
        "  notional numeric, limit_price numeric, stop_price numeric, time_in_force text,"
        "  extended_hours boolean, created_at bigint, expires_at bigint,"
        "  client_order_id text, raw text, action text, target_intent_id text)),"
        " ins AS ("
        " INSERT INTO intents (intent_id, content_hash, source, msg_key, topic,"
        "  kafka_partition, kafka_offset, bot_id, user_id, symbol, side,"
        "  order_type, qty, notional, limit_price, stop_price, time_in_force,"
        "  extended_hours, created_at, expires_at, client_order_id, state, raw,"
        "  action, target_intent_id, steps)"
        " SELECT intent_id, content_hash, source, msg_key, topic, kafka_partition,"
        "  kafka_offset, bot_id, user_id, symbol, side, order_type, qty, notional,"
        "  limit_price, stop_price, time_in_force, extended_hours,"
        "  to_timestamp(created_at / 1000.0), to_timestamp(expires_at / 1000.0),"
        "  client_order_id, $3, raw, COALESCE(action, 'place'), target_intent_id,"
        "  CASE WHEN $3 = 'received' THEN " STEP("NULL", "'received'", "$2")
        "  ELSE " STEP("NULL", "'received'", "$2") " || " STEP("'received'", "$3", "$2") " END"
        " FROM x WHERE held ORDER BY n"
        " ON CONFLICT (intent_id) DO NOTHING RETURNING intent_id, state, content_hash, bot_id),"
        " op AS (INSERT INTO open_intents (intent_id, bot_id)"
        " SELECT intent_id, bot_id FROM ins ORDER BY intent_id)"
        " SELECT x.n, x.held, COALESCE(i.state, o.state), COALESCE(i.content_hash,"
        "  o.content_hash), i.intent_id IS NOT NULL, o.cancel_requested_at IS NOT NULL"
        " FROM x LEFT JOIN ins i ON i.intent_id = x.intent_id"
        " LEFT JOIN intents o ON x.held AND i.intent_id IS NULL AND o.intent_id = x.intent_id"
        " ORDER BY x.n",
        4, p, PGRES_TUPLES_OK, "record intent", err, errlen);
    if (!r) return -1;
    int rc = begin_answers(r, b, n, err, errlen);
    PQclear(r);
    return rc;
}

int ledger_lock_intent(ledger_t *l, const char *intent_id, char *err, size_t errlen) {
    const char *p[] = {intent_id};
    PGresult *r = ledger_exec(l, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1,
                              p, PGRES_TUPLES_OK, "lock intent", err, errlen);
    if (!r) return -1;
    int held = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return held;
}

/* Appends to the deferred list (flushing first when it is full). */
static void defer(ledger_t *l, const char *intent_id, const char *seq, int unlock) {
    char err[256];
    if (l->n_pending == LEDGER_DEFER_MAX && ledger_flush(l, err, sizeof(err)) < 0)
        return;  /* the connection is broken: its locks are gone with it */
    deferred_t *d = &l->pending[l->n_pending++];
    snprintf(d->intent_id, sizeof(d->intent_id), "%s", intent_id);
    snprintf(d->seq, sizeof(d->seq), "%s", seq ? seq : "");
    d->unlock = unlock;
}

void ledger_defer_on(ledger_t *l) { l->defer = 1; }

int ledger_has_deferred(const ledger_t *l) { return l && l->n_pending > 0; }

/* Appends s at buf[at] as a quoted element of a PostgreSQL array literal
 * opened with '{' at buf[0]; returns the new end.  buf must have room for
 * 2 * strlen(s) + 4 more bytes. */
static size_t array_add(char *buf, size_t at, const char *s) {
    if (at > 1) buf[at++] = ',';
    buf[at++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') buf[at++] = '\\';
        buf[at++] = *s;
    }
    buf[at++] = '"';
    buf[at] = '\0';
    return at;
}

int ledger_flush(ledger_t *l, char *err, size_t errlen) {
    if (!l->n_pending) return 0;
    /* Elements: an intent_id (< 40 bytes, doubled when escaped) or a seq. */
    char ids[LEDGER_DEFER_MAX * 84 + 4] = "{", seqs[LEDGER_DEFER_MAX * 52 + 4] = "{",
         locks[LEDGER_DEFER_MAX * 84 + 4] = "{";
    size_t ni = 1, ns = 1, nl = 1;
    for (int i = 0; i < l->n_pending; i++) {
        const deferred_t *d = &l->pending[i];
        if (d->seq[0]) {
            ni = array_add(ids, ni, d->intent_id);
            ns = array_add(seqs, ns, d->seq);
        }
        if (d->unlock) nl = array_add(locks, nl, d->intent_id);
    }
    snprintf(ids + ni, sizeof(ids) - ni, "}");
    snprintf(seqs + ns, sizeof(seqs) - ns, "}");
    snprintf(locks + nl, sizeof(locks) - nl, "}");
    l->n_pending = 0;  /* written or not, never twice */
    const char *p[] = {ids, seqs, locks};
    PGresult *r = ledger_exec(l,
        /* The intents' rows through the index on intent_id, each kept up
         * to its own seq (an intent listed twice: its first, lower seq).
         * No "published_at IS NULL" in the WHERE: the planner, trusting it
         * to be selective, scanned the whole table for it. */
        "WITH m AS ("
        " UPDATE events SET published_at = COALESCE(published_at, now())"
        " WHERE intent_id = ANY ($1::text[])"
        "  AND seq <= ($2::bigint[])[array_position($1::text[], intent_id)]"
        " RETURNING 1)"
        " SELECT count(pg_advisory_unlock(hashtextextended(x, 0)))"
        " FROM unnest($3::text[]) AS x",
        3, p, PGRES_TUPLES_OK, "mark published and unlock", err, errlen);
    if (!r) {
        l->broken = 1;
        return -1;
    }
    PQclear(r);
    return 0;
}

void ledger_unlock_intent(ledger_t *l, const char *intent_id) {
    if (l->defer) {
        defer(l, intent_id, NULL, 1);
        return;
    }
    const char *p[] = {intent_id};
    char err[256];
    PGresult *r = ledger_exec(l, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", 1,
                              p, PGRES_TUPLES_OK, "unlock intent", err, sizeof(err));
    PQclear(r);
}

/* Whether entering state s must be durable before the caller goes on (see
 * the top of the file). */
static int state_is_acted_on(const char *s) {
    return !strcmp(s, "submitting") || !strcmp(s, "submitted") || ledger_state_is_terminal(s);
}

int ledger_transition(ledger_t *l, const char *intent_id, const char *from,
                      const char *via, const char *to, const char *detail_json,
                      char *err, size_t errlen) {
    int moved = 0;
    if (ledger_transition_many(l, &intent_id, 1, from, via, to, detail_json, &moved, err,
                               errlen) < 0)
        return -1;
    return moved ? 0 : 1;
}

char *ledger_id_array(const char *const *ids, int n) {
    size_t cap = 3;
    for (int i = 0; i < n; i++) cap += 2 * strlen(ids[i]) + 4;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t at = 1;
    buf[0] = '{';
    buf[1] = '\0';
    for (int i = 0; i < n; i++) at = array_add(buf, at, ids[i]);
    buf[at++] = '}';
    buf[at] = '\0';
    return buf;
}

int ledger_transition_many(ledger_t *l, const char *const *ids, int n, const char *from,
                           const char *via, const char *to, const char *detail_json,
                           int *moved, char *err, size_t errlen) {
    char *arr = ledger_id_array(ids, n);
    if (!arr) {
        snprintf(err, errlen, "ledger: out of memory");
        return -1;
    }
    const char *p[] = {arr, from, to, detail_json, l->replica, via,
                       state_is_acted_on(to) ? "on" : "off"};
    /* With via: two moves per intent, from -> via -> to.  Without a
     * detail they are steps in the row (the happy path), with one they are
     * intent_transitions rows carrying it.  A terminal state takes the
     * intent out of open_intents.  The answer has one row per intent moved,
     * or one NULL row for none (the set_config runs either way).  An intent
     * that a cancel is canceling never enters "submitting"
     * (ledger_cancel.c): the mark and this move meet on the row, so a
     * target is either marked before it is sent, and stays unsent, or sent,
     * and canceled at the broker. */
    PGresult *r = ledger_exec(l,
        "WITH upd AS ("
        " UPDATE intents SET state = $3, updated_at = now(),"
        "  steps = CASE WHEN $4::jsonb IS NOT NULL THEN steps"
        "   WHEN $6::text IS NULL THEN steps || " STEP("$2", "$3", "$5")
        "   ELSE steps || " STEP("$2", "$6", "$5") " || " STEP("$6", "$3", "$5") " END"
        " WHERE intent_id = ANY ($1::text[]) AND state = $2"
        " AND ($3 <> 'submitting' OR cancel_requested_at IS NULL) RETURNING intent_id),"
        " tr AS ("
        " INSERT INTO intent_transitions (intent_id, from_state, to_state, replica, detail)"
        " SELECT upd.intent_id, s.f, s.t, $5, $4::jsonb FROM upd,"
        "  (VALUES (1, $2, COALESCE($6, $3)), (2, $6, $3)) AS s(k, f, t)"
        " WHERE s.f IS NOT NULL AND $4::jsonb IS NOT NULL ORDER BY upd.intent_id, s.k),"
        " cl AS (DELETE FROM open_intents WHERE $3 IN " TERMINAL_SQL
        "  AND intent_id IN (SELECT intent_id FROM upd))"
        " SELECT upd.intent_id FROM (SELECT " DURABLE_IF("$7") ") AS d"
        " LEFT JOIN upd ON true",
        7, p, PGRES_TUPLES_OK, "transition", err, errlen);
    free(arr);
    if (!r) return -1;
    for (int i = 0; i < n; i++) moved[i] = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        if (PQgetisnull(r, row, 0)) continue;
        const char *id = PQgetvalue(r, row, 0);
        for (int i = 0; i < n; i++)
            if (!strcmp(ids[i], id)) moved[i] = 1;
    }
    PQclear(r);
    return 0;
}

/* Produces the events in rows of r (columns from col: event_id, topic,
 * msg_key, payload, published, seq, event_type; a NULL event_id is no
 * event; the intent's id in column idcol, or intent_id for every row when
 * idcol < 0), those not yet published or all with again=1, all in flight at
 * once.  Once Kafka acknowledged every one, each intent's events are marked
 * published up to the last seq sent (events appended since have a later seq
 * and stay unmarked).  An intent's rows must be together, oldest first. */
static int publish_rows(ledger_t *l, publisher_t *pub, const char *intent_id, int idcol,
                        PGresult *r, int col, int again, char *err, size_t errlen) {
    int rows = PQntuples(r), n = 0, rc = 0;
    publish_msg_t small[8], *m = rows <= 8 ? small : calloc((size_t)rows, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "ledger: out of memory");
        return -1;
    }
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(r, i, col)) continue;
        if (PQgetvalue(r, i, col + 4)[0] == 't' && !again) continue;
        const char *key = PQgetisnull(r, i, col + 2) ? NULL : PQgetvalue(r, i, col + 2);
        m[n++] = (publish_msg_t){PQgetvalue(r, i, col + 1), key, key ? strlen(key) : 0,
                                 PQgetvalue(r, i, col + 3),
                                 (size_t)PQgetlength(r, i, col + 3),
                                 PQgetvalue(r, i, col + 6)};
    }
    if (n > 0) rc = publish_send_many(pub, m, n, err, errlen);
    /* Acknowledged: per intent, marked up to the last unpublished seq sent. */
    const char *seq = NULL;  /* of the current intent's last unpublished event */
    for (int i = 0; rc == 0 && i < rows; i++) {
        const char *id = idcol < 0 ? intent_id : PQgetvalue(r, i, idcol);
        if (!PQgetisnull(r, i, col) && PQgetvalue(r, i, col + 4)[0] != 't')
            seq = PQgetvalue(r, i, col + 5);
        int last = i + 1 == rows ||
                   (idcol >= 0 && strcmp(id, PQgetvalue(r, i + 1, idcol)) != 0);
        if (!last || !seq) continue;
        if (l->defer) {
            defer(l, id, seq, 0);
        } else {
            const char *p[] = {id, seq};
            rc = ledger_exec_cmd(l,
                "UPDATE events SET published_at = now() WHERE intent_id = $1"
                " AND published_at IS NULL AND seq <= $2",
                2, p, "mark published", err, errlen);
        }
        seq = NULL;
    }
    if (m != small) free(m);
    return rc;
}

int ledger_commit(ledger_t *l, publisher_t *pub, const char *intent_id, const char *from,
                  const char *to, const char *reason, const char *detail_json,
                  const alpaca_order_t *order, const event_t *events,
                  int n_events, const char *key, size_t key_len,
                  char *err, size_t errlen) {
    ledger_outcome_t o = {intent_id, from, to, reason, order, events, n_events,
                          key, key_len, 0, detail_json};
    if (ledger_commit_many(l, pub, &o, 1, err, errlen) < 0) return -1;
    return o.moved ? 0 : 1;
}

/* The outcomes as the JSON rows of ledger_commit_many's statement (text
 * owned by w), or NULL when one cannot be encoded or memory runs out. */
static const char *outcome_rows(jsonw_t *w, const ledger_outcome_t *c, int n) {
    jsonw_reset(w);
    jsonw_open(w, NULL, '[');
    for (int i = 0; i < n; i++) {
        const alpaca_order_t *o = c[i].order;
        jsonw_open(w, NULL, '{');
        jsonw_int(w, "n", i);
        jsonw_str(w, "intent_id", c[i].intent_id);
        jsonw_str(w, "f", c[i].from);
        jsonw_str(w, "t", c[i].to);
        jsonw_str(w, "reason", c[i].reason);
        if (c[i].detail) jsonw_raw(w, "detail", c[i].detail);  /* the pipeline's literal */
        jsonw_open(w, "events", '[');
        for (int k = 0; k < c[i].n_events; k++) {
            const event_t *e = &c[i].events[k];
            jsonw_open(w, NULL, '{');
            jsonw_str(w, "event_id", e->event_id);
            jsonw_str(w, "topic", e->topic);
            jsonw_str(w, "type", e->type);
            jsonw_bool(w, "terminal", e->terminal);
            jsonw_str(w, "payload", e->payload);
            jsonw_close(w, '}');
        }
        jsonw_close(w, ']');
        jsonw_strn(w, "msg_key", c[i].key, c[i].key_len);
        if (o) {
            jsonw_str(w, "order_id", o->id);
            jsonw_str(w, "client_order_id", o->client_order_id);
            jsonw_str(w, "status", o->status);
            jsonw_str(w, "symbol", opt(o->symbol));
            jsonw_str(w, "side", opt(o->side));
            jsonw_str(w, "order_type", opt(o->type));
            jsonw_str(w, "qty", opt(o->qty));
            jsonw_str(w, "notional", opt(o->notional));
            jsonw_str(w, "filled_qty", opt(o->filled_qty));
            jsonw_str(w, "filled_avg_price", opt(o->filled_avg_price));
            jsonw_str(w, "raw", o->raw ? o->raw : "{}");
        }
        jsonw_close(w, '}');
    }
    jsonw_close(w, ']');
    return jsonw_text(w);
}

int ledger_commit_many(ledger_t *l, publisher_t *pub, ledger_outcome_t *c, int n,
                       char *err, size_t errlen) {
    const char *rows = outcome_rows(&l->rows, c, n);
    if (!rows) {
        snprintf(err, errlen, "ledger: cannot encode %d outcomes", n);
        return -1;
    }
    const char *p[] = {rows, l->replica};
    /* One statement, durable: per intent, the state change (unless from =
     * to: a step in its row, or with a detail an intent_transitions row; a
     * terminal one takes it out of open_intents), the broker order and the
     * events, all or nothing for the whole list.  "ok" has an intent's row when its change applies; nothing else
     * is written for it without that.  The answer: per outcome, whether it
     * applied, then its unpublished events, those stored before (the
     * statement's snapshot) and those it stores (RETURNING), oldest first. */
    int64_t t0 = timefmt_mono_us();
    PGresult *r = ledger_exec(l,
        "WITH x AS MATERIALIZED ("
        " SELECT * FROM json_to_recordset($1::json) AS r(n int, intent_id text, f text,"
        "  t text, reason text, msg_key text, events json, order_id text,"
        "  client_order_id text, status text, symbol text, side text, order_type text,"
        "  qty numeric, notional numeric, filled_qty numeric, filled_avg_price numeric,"
        "  raw text, detail jsonb)),"
        " upd AS ("
        " UPDATE intents i SET state = x.t, reason = COALESCE(x.reason, i.reason),"
        "  updated_at = now(), steps = CASE WHEN x.detail IS NULL"
        "   THEN i.steps || " STEP("x.f", "x.t", "$2") " ELSE i.steps END FROM x"
        " WHERE i.intent_id = ANY (ARRAY(SELECT intent_id FROM x))"
        "  AND i.intent_id = x.intent_id AND i.state = x.f AND x.f <> x.t"
        " RETURNING i.intent_id),"
        " ok AS (SELECT x.* FROM x WHERE x.f = x.t"
        "  OR x.intent_id IN (SELECT intent_id FROM upd)),"
        " tr AS ("
        " INSERT INTO intent_transitions (intent_id, from_state, to_state, replica, detail)"
        " SELECT intent_id, f, t, $2, detail FROM ok"
        " WHERE f <> t AND detail IS NOT NULL ORDER BY n),"
        " cl AS (DELETE FROM open_intents WHERE intent_id = ANY (ARRAY("
        "  SELECT intent_id FROM ok WHERE f <> t AND t IN " TERMINAL_SQL "))),"
        " ord AS ("
        " INSERT INTO broker_orders (order_id, intent_id, client_order_id, status,"
        "  symbol, side, order_type, qty, notional, filled_qty, filled_avg_price, raw)"
        " SELECT order_id, intent_id, client_order_id, status, symbol, side, order_type,"
        "  qty, notional, filled_qty, filled_avg_price, raw::jsonb"
        " FROM ok WHERE order_id IS NOT NULL ORDER BY n"
        " ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status,"
        "  filled_qty = EXCLUDED.filled_qty,"
        "  filled_avg_price = EXCLUDED.filled_avg_price, raw = EXCLUDED.raw,"
        "  updated_at = now()),"
        " ev AS ("
        " INSERT INTO events (event_id, intent_id, topic, msg_key, event_type, terminal, payload)"
        " SELECT e.event_id, ok.intent_id, e.topic, ok.msg_key, e.type, e.terminal, e.payload"
        " FROM ok, ROWS FROM (json_to_recordset(ok.events) AS (event_id text, topic text,"
        "  type text, terminal boolean, payload text)) WITH ORDINALITY"
        "  AS e(event_id, topic, type, terminal, payload, k)"
        " ORDER BY ok.n, e.k ON CONFLICT (event_id) DO NOTHING"
        " RETURNING intent_id, event_id, topic, msg_key, payload, seq, event_type)"
        " SELECT x.n, ok.n IS NOT NULL, e.event_id, e.topic, e.msg_key, e.payload, false,"
        "  e.seq, e.event_type, x.intent_id"
        " FROM (SELECT " DURABLE_IF("'on'") ") AS d CROSS JOIN x"
        " LEFT JOIN ok ON ok.n = x.n"
        " LEFT JOIN (SELECT intent_id, event_id, topic, msg_key, payload, seq, event_type"
        "  FROM ev UNION ALL"
        "  SELECT intent_id, event_id, topic, msg_key, payload, seq, event_type FROM events"
        "  WHERE intent_id = ANY (ARRAY(SELECT intent_id FROM ok))"
        "  AND published_at IS NULL) AS e"
        " ON e.intent_id = ok.intent_id"
        " ORDER BY x.n, e.seq",
        2, p, PGRES_TUPLES_OK, "commit", err, errlen);
    metrics_stage(l->stage_path, "outcome_commit", t0, n);
    if (!r) return -1;
    for (int i = 0; i < n; i++) c[i].moved = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        int k = atoi(PQgetvalue(r, row, 0));
        if (k >= 0 && k < n && PQgetvalue(r, row, 1)[0] == 't') c[k].moved = 1;
    }
    /* Durable: an order whose intent ended here can no longer move. */
    for (int i = 0; i < n; i++)
        if (c[i].moved && c[i].order && ledger_state_is_terminal(c[i].to))
            settled_add(l->settled, c[i].order->client_order_id);
    /* Durable now: out to Kafka, without reading them back. */
    t0 = timefmt_mono_us();
    int rc = pub ? publish_rows(l, pub, NULL, 9, r, 2, 0, err, errlen) : 0;
    if (pub) metrics_stage(l->stage_path, "produce_ack", t0, n);
    PQclear(r);
    return rc;
}

/* The intent's stored events, oldest first: event_id, topic, msg_key,
 * payload, published (t/f), seq, event_type. */
static PGresult *read_events(ledger_t *l, const char *intent_id, char *err, size_t errlen) {
    const char *p[] = {intent_id};
    return ledger_exec(l,
        "SELECT event_id, topic, msg_key, payload, published_at IS NOT NULL, seq, event_type"
        " FROM events WHERE intent_id = $1 ORDER BY seq",
        1, p, PGRES_TUPLES_OK, "read events", err, errlen);
}

int ledger_publish_events(ledger_t *l, publisher_t *pub, const char *intent_id,
                          int again, char *err, size_t errlen) {
    PGresult *r = read_events(l, intent_id, err, errlen);
    if (!r) return -1;
    int rc = publish_rows(l, pub, intent_id, -1, r, 0, again, err, errlen);
    PQclear(r);
    return rc;
}

/* ---- dead letters ---------------------------------------------------- */

int ledger_record_dead_letter(ledger_t *l, const origin_t *from,
                              const char *reason, const char *detail,
                              const void *raw, size_t raw_len,
                              char *err, size_t errlen) {
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", (int)from->partition);
    snprintf(off, sizeof(off), "%lld", (long long)from->offset);
    const char *p[] = {from->topic, part, off, reason, detail, from->key,
                       (const char *)raw};
    int lens[] = {0, 0, 0, 0, 0, (int)from->key_len, (int)raw_len};
    int fmts[] = {0, 0, 0, 0, 0, 1, 1};
    /* Durable: the DLQ message follows. */
    PGresult *r = PQexecParams(l->conn,
        "WITH ins AS ("
        " INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, reason,"
        " detail, msg_key, raw) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT DO NOTHING)"
        " SELECT " DURABLE_IF("'on'"),
        7, NULL, p, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ledger_set_err(err, errlen, "record dead letter", l->conn, r);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

int ledger_mark_dead_letter_published(ledger_t *l, const origin_t *from,
                                      char *err, size_t errlen) {
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", (int)from->partition);
    snprintf(off, sizeof(off), "%lld", (long long)from->offset);
    const char *p[] = {from->topic, part, off};
    return ledger_exec_cmd(l,
        "UPDATE dead_letters SET published_at = now() WHERE topic = $1"
        " AND kafka_partition = $2 AND kafka_offset = $3",
        3, p, "mark dead letter published", err, errlen);
}
