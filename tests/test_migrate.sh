#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs and SQL: their $names are not the shell's
# tests/test_migrate.sh -- a ledger written before migration 009 (the happy
# path's moves in the intent's row, open_intents, no foreign keys on the
# children) is carried forward and resumed by a worker of today.
#
# On the stack's PostgreSQL, a database of its own gets migrations 001-008
# only, and intents written as the worker before 009 wrote them (every move
# an intent_transitions row):
#   F   filled, with its broker order and its two events published;
#   Q   left in quota_granted an hour ago (a crash before "submitting");
#   S   left in submitting an hour ago, never sent (a crash before the POST);
#   B   submitted an hour ago: its order is at the simulator (placed here
#       with the worker's client_order_id), no outcome recorded yet.
# Then `order-worker migrate` applies 009, and one worker runs on that
# ledger alone (the stack's workers are stopped, so the consumer group's
# partitions are all its own).  Expected:
#   - open_intents holds Q, S and B, not F; intent_history answers for all
#     four from their old rows;
#   - the reconciler resumes Q and S, the follower settles B: each ends
#     filled with one fill event and one order at the simulator;
#   - F is not touched (no new event, no new order);
#   - a new intent on the migrated ledger fills, its moves in its row;
#   - the orphan check finds nothing (tests/orphans.sql).
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test migrate

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
PGPORT=$(sed -E 's#.*@[^:]+:([0-9]+)/.*#\1#' <<<"$DATABASE_URL")
DB=ow_migrate_$RUN
ADMIN_URL=${ADMIN_DATABASE_URL%/*}/$DB
WORKER_URL=${DATABASE_URL%/*}/$DB
PID=""

superuser() { PGPASSFILE=$STATE/pgpass "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres \
    -d postgres -v ON_ERROR_STOP=1 "$@"; }
on_db() { psql "$ADMIN_URL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

undo() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; fi
    restore_workers 2
    superuser -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null ||
        printf '  FAIL  dropping database %s\n' "$DB"
}
trap test_exit EXIT

say "== a ledger from before migration 009, resumed (run $RUN) =="
dev stop worker-1
dev stop worker-2
superuser -c "CREATE DATABASE $DB OWNER $(sed -E 's#^[a-z]+://([^:]+):.*#\1#' <<<"$ADMIN_DATABASE_URL")" \
    >/dev/null || die "cannot create database $DB"

# ---- the old ledger: migrations 001-008, as `order-worker migrate` applied them
on_db -c "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
for f in "$ROOT"/schemas/migrations/00[1-8]_*.sql; do
    name=$(basename "$f" .sql)
    { cat "$f"; printf "\nINSERT INTO schema_migrations (version, name) VALUES (%d, '%s');\n" \
        "$((10#${name%%_*}))" "$name"; } | on_db -1 >/dev/null || die "applying $name failed"
done
ok "migrations 001-008 applied to $DB"

# ---- intents written as before 009
declare -A ID
for k in F Q S B; do
    gen_intents "$WORK/$k.json" 1 --bot "mig-$RUN" --user "u-$RUN" --symbol AAPL --side buy \
        --qty 0.01 --expires-in 600000
    ID[$k]=$(jq -r .intent_id "$WORK/$k.json")
done
# B's order, placed at the simulator as the worker would have placed it.
order=$(curl -fsS --max-time 10 -X POST -H "APCA-API-KEY-ID: $ALPACA_API_KEY_ID" \
    -H "APCA-API-SECRET-KEY: $ALPACA_API_SECRET_KEY" -H 'Content-Type: application/json' \
    --data "{\"symbol\":\"AAPL\",\"side\":\"buy\",\"type\":\"market\",\"qty\":\"0.01\",
             \"time_in_force\":\"day\",\"client_order_id\":\"ow-${ID[B]}\"}" \
    "$ALPACA_SIM_URL/v2/orders") || die "cannot place B's order at the simulator"
B_ORDER=$(jq -r .id <<<"$order")

old_intent() { # old_intent KEY STATE MOVES...: the row and one transition row per move
    local k=$1 state=$2 id=${ID[$1]} raw hash
    shift 2
    raw=$(cat "$WORK/$k.json")
    # The worker's content hash (intent.c): SHA-256 of the compact, key-sorted
    # {"source", "intent"} with time_in_force and extended_hours defaulted.
    hash=$(jq -cjS '{source: "bot", intent: (. + {time_in_force: (.time_in_force // "day"),
        extended_hours: (.extended_hours // false)})}' <<<"$raw" | sha256sum | cut -d' ' -f1)
    on_db -v id="$id" -v raw="$raw" -v state="$state" -v bot="mig-$RUN" -v user="u-$RUN" \
        -v hash="$hash" <<'SQL'
INSERT INTO intents (intent_id, content_hash, source, msg_key, topic, kafka_partition, kafka_offset,
    bot_id, user_id, symbol, side, order_type, qty, time_in_force, created_at, expires_at,
    client_order_id, state, raw, received_at, updated_at)
VALUES (:'id', :'hash', 'bot', :'bot', 'orders.intents.bot', 0, 0, :'bot', :'user', 'AAPL',
    'buy', 'market', 0.01, 'day', now(), now() + interval '10 minutes', 'ow-' || :'id', :'state',
    :'raw', now() - interval '1 hour', now() - interval '1 hour');
SQL
    local from="" to n=0
    for to in "$@"; do
        n=$((n + 1))
        on_db -v id="$id" -v f="$from" -v t="$to" -v n="$n" <<'SQL'
INSERT INTO intent_transitions (intent_id, from_state, to_state, replica, at)
VALUES (:'id', NULLIF(:'f', ''), :'t', 'worker-old', now() - interval '1 hour' + :'n' * interval '1 ms');
SQL
        from=$to
    done
}
old_intent F filled received validated quota_granted submitting submitted filled
old_intent Q quota_granted received validated quota_granted
old_intent S submitting received validated quota_granted submitting
old_intent B submitted received validated quota_granted submitting submitted
on_db -v id="${ID[F]}" -v b="${ID[B]}" -v bo="$B_ORDER" <<'SQL' >/dev/null
INSERT INTO broker_orders (order_id, intent_id, client_order_id, status, symbol, side, order_type,
    qty, filled_qty, filled_avg_price, raw)
VALUES ('old-order-' || :'id', :'id', 'ow-' || :'id', 'filled', 'AAPL', 'buy', 'market', 0.01, 0.01,
    189.11, '{}'),
    (:'bo', :'b', 'ow-' || :'b', 'accepted', 'AAPL', 'buy', 'market', 0.01, 0, NULL, '{}');
INSERT INTO events (event_id, intent_id, topic, msg_key, event_type, terminal, payload, published_at)
VALUES ('old-accepted-' || :'id', :'id', 'orders.fills', 'k', 'accepted', false, '{}', now()),
    ('old-fill-' || :'id', :'id', 'orders.fills', 'k', 'fill', true, '{}', now());
SQL
ok "old-shape intents written: F filled, Q quota_granted, S submitting, B submitted"

# ---- migrate
DATABASE_URL=$WORKER_URL ADMIN_DATABASE_URL=$ADMIN_URL "$BIN/order-worker" migrate \
    >"$WORK/migrate.log" 2>&1 || { sed 's/^/        | /' "$WORK/migrate.log"; die "order-worker migrate failed"; }
expect_eq "migration 009 applied" "9" "$(on_db -c 'SELECT max(version) FROM schema_migrations')"
expect_eq "open_intents: Q, S and B, not F" \
    "$(printf '%s\n' "${ID[Q]}" "${ID[S]}" "${ID[B]}" | sort | tr '\n' ' ')" \
    "$(on_db -c 'SELECT intent_id FROM open_intents ORDER BY 1' | tr '\n' ' ')"
expect_eq "intent_history answers F's old moves, in order" \
    ">received received>validated validated>quota_granted quota_granted>submitting submitting>submitted submitted>filled" \
    "$(on_db -v id="${ID[F]}" <<<"SELECT string_agg(COALESCE(from_state, '') || '>' || to_state, ' ' ORDER BY at, n)
        FROM intent_history WHERE intent_id = :'id'")"

# ---- one worker of today on the migrated ledger
orders0=$(sim_orders)
env -u ADMIN_DATABASE_URL DATABASE_URL="$WORKER_URL" REPLICA_ID="migrated-$RUN" \
    ADMIN_ADDR=127.0.0.1 ADMIN_PORT=$((DEV_ADMIN_BASE_PORT + 9)) INTENT_SIGNING=optional \
    KAFKA_CONSUMER_FETCH_WAIT_MAX_MS=10 KAFKA_CONSUMER_SESSION_TIMEOUT_MS=3000 \
    RECONCILE_AFTER_MS=1000 RECONCILE_INTERVAL_MS=500 INTENT_MAX_AGE_MS=600000 \
    "$BIN/order-worker" run >"$STATE/logs/migrated-$RUN.log" 2>&1 &
PID=$!
for k in Q S B; do
    st=$(DATABASE_URL=$WORKER_URL ledger_state "${ID[$k]}" filled 60)
    expect_eq "$k resumed on the migrated ledger: filled" "filled" "$st"
done
printf '%s\n' "${ID[Q]}" "${ID[S]}" "${ID[B]}" >"$WORK/resumed.ids"
wait_terminal "$WORK/resumed.ids" 30000 || true
snapshot "$WORK/resumed.events" "$WORK/resumed.ids"
for k in Q S B; do
    expect_eq "$k: one fill event on the fills topic" "1" \
        "$(jqe -s --arg id "${ID[$k]}" '[.[] | select(.intent_id == $id and .type == "fill")] | unique_by(.event_id) | length' "$WORK/resumed.events")"
    expect_eq "$k: its order at the simulator is filled" "filled" \
        "$(alpaca GET "/v2/orders:by_client_order_id?client_order_id=ow-${ID[$k]}" | jq -r .status)"
done
expect_eq "two orders placed (Q and S), none for F or B again" "$((orders0 + 2))" "$(sim_orders)"
# Q's fill may come back in the POST's answer (the reconciler's move) or
# from the follower (the order's life at the broker: a step in the row).
hist=$(on_db -v id="${ID[Q]}" <<<"SELECT string_agg(to_state || ':' || recorded_in
    || COALESCE(':' || (detail->>'why'), ''), ' ' ORDER BY at, n) FROM intent_history WHERE intent_id = :'id'")
case $hist in
    "received:transitions validated:transitions quota_granted:transitions submitting:transitions:reconciler submitted:transitions:reconciler filled:"*)
        ok "Q's history: its old moves, then the reconciler's ($hist)" ;;
    *) bad "Q's history: its old moves, then the reconciler's, got: $hist" ;;
esac
expect_eq "F untouched: its two old events, no new one" "old-accepted-${ID[F]} old-fill-${ID[F]}" \
    "$(on_db -v id="${ID[F]}" <<<"SELECT string_agg(event_id, ' ' ORDER BY seq) FROM events WHERE intent_id = :'id'")"

# ---- a new intent on the migrated ledger
send fresh --bot "mig-$RUN" --user "u-$RUN" --symbol AAPL --side buy --qty 0.01
expect_outcome "a new intent on the migrated ledger fills" fresh fill
expect_eq "its moves are steps in its row" \
    "received:row validated:row quota_granted:row submitting:row submitted:row filled:row" \
    "$(on_db -v id="$(cat "$WORK/fresh.id")" <<<"SELECT string_agg(to_state || ':' || recorded_in, ' ' ORDER BY at, n)
        FROM intent_history WHERE intent_id = :'id'")"
ADMIN_DATABASE_URL=$ADMIN_URL ledger_orphans

kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=""
expect_eq "the worker on the migrated ledger exits cleanly on SIGTERM" "0" "$rc"
