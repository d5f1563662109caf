#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_ceiling.sh -- ow-ceiling (bench/ceiling) runs on the suite's
# stack and reports figures that add up; never how fast:
#   [1] ledger: 2 connections, batches of 8, 2 s, in a schema of its own
#       (ow_ceiling_test, through ADMIN_DATABASE_URL: the workers' ledger
#       never sees its intents): exit 0, intents and intents/s, every call
#       timed, the stack's postmaster found and its CPU per intent a number;
#       in the schema, the run's intents (its id prefix) are exactly those it
#       counted, every one filled, with its five moves in its row, its broker
#       order and its two events (accepted, fill), published;
#   [2] quota: 2 connections, batches of 8, 2 s, on Redis database 9 (the
#       budget's keys are shared: never the workers' database): exit 0, the
#       figures, redis-server found; the budget's log (intentctl quota
#       alpaca) gained one call per intent;
#   [3] mistakes: a bad flag exits 2 naming it, a server that refuses the
#       connection exits 1, saying so without the URL's password.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test ceiling
CEIL=$BIN/ow-ceiling
SCHEMA=ow_ceiling_test

trap test_exit EXIT

[[ -x $CEIL ]] || die "$CEIL is missing: compose/dev build"

# expect_jq WHAT FILE [JQ-ARGS...] FILTER: FILTER (jq -e) holds on FILE.
expect_jq() {
    local what=$1 file=$2
    shift 2
    if jq -e "$@" "$file" >/dev/null 2>&1; then ok "$what"; else bad "$what" "$file"; fi
}

# The figures every report must have, whatever the mode.
check_figures() { # MODE FILE PIDFILE
    expect_jq "$1: intents counted, intents/s > 0, no connection failed" "$2" \
        '.intents > 0 and .intents_per_s > 0 and .errors == 0 and .first_error == null
         and .batches * .config.batch == .intents'
    expect_jq "$1: every call timed (p50 <= p99 <= max)" "$2" \
        '(.calls | length) > 0
         and ([.calls[] | .n > 0 and .p50_ms >= 0 and .p50_ms <= .p99_ms and .p99_ms <= .max_ms] | all)'
    expect_jq "$1: the server is the stack's (pid $(head -n1 "$3")), its CPU per intent a number" "$2" \
        --argjson pid "$(head -n1 "$3")" '.server.pid == $pid and (.server.us_per_intent | type) == "number"
         and .server.cpu_s >= 0 and (.tool_cpu.us_per_intent | type) == "number"'
}

say "[1] ow-ceiling ledger, schema $SCHEMA"
rc=0
timeout 60 "$CEIL" ledger --database-url "$ADMIN_DATABASE_URL" --schema "$SCHEMA" --connections 2 \
    --batch 8 --duration 2 --json "$WORK/ledger.json" 2>"$WORK/ledger.err" || rc=$?
expect_eq "ow-ceiling ledger exits 0" 0 "$rc"
[[ -s $WORK/ledger.json ]] || die "ow-ceiling ledger wrote no report: $(tail -n 5 "$WORK/ledger.err")"
check_figures ledger "$WORK/ledger.json" "$STATE/pids/postgres.pid"
expect_jq "ledger: record, submitting, commit and release timed once per batch" "$WORK/ledger.json" \
    '.batches as $b | (.calls | keys) == ["commit", "record", "release", "submitting"]
     and ([.calls[].n == $b] | all)'

prefix=$(jq -r .id_prefix "$WORK/ledger.json")
n=$(jq .intents "$WORK/ledger.json")
psql "$ADMIN_DATABASE_URL" -X -At -F' ' -v ON_ERROR_STOP=1 -v p="$prefix-%" >"$WORK/rows" 2>&1 <<SQL ||
SELECT 'intents', count(*), count(*) FILTER (WHERE state = 'filled') FROM $SCHEMA.intents
  WHERE intent_id LIKE :'p';
SELECT 'steps', sum(cardinality(steps)), count(*) FILTER (WHERE cardinality(steps) = 5)
  FROM $SCHEMA.intents WHERE intent_id LIKE :'p';
SELECT 'transitions', count(*), count(DISTINCT intent_id) FROM $SCHEMA.intent_transitions
  WHERE intent_id LIKE :'p';
SELECT 'open', count(*), 0 FROM $SCHEMA.open_intents WHERE intent_id LIKE :'p';
SELECT 'orders', count(*), count(*) FILTER (WHERE status = 'filled') FROM $SCHEMA.broker_orders
  WHERE intent_id LIKE :'p';
SELECT 'events', count(*) FILTER (WHERE published_at IS NOT NULL),
  count(*) FILTER (WHERE event_type IN ('accepted', 'fill')) FROM $SCHEMA.events
  WHERE intent_id LIKE :'p';
SELECT 'in_public', count(*), 0 FROM public.intents WHERE intent_id LIKE :'p';
SQL
    die "cannot read schema $SCHEMA: $(cat "$WORK/rows")"
printf '%s\n' "intents $n $n" "steps $((5 * n)) $n" "transitions 0 0" "open 0 0" "orders $n $n" \
    "events $((2 * n)) $((2 * n))" "in_public 0 0" >"$WORK/want"
expect_same_lines "ledger: its $n intents filled, 5 moves each in their rows (none in intent_transitions: the happy path), none left open, the order, both events published; none in the workers' ledger" \
    "$WORK/want" "$WORK/rows"

say "[2] ow-ceiling quota, Redis database 9"
R9="${REDIS_URL%/*}/9"
used() { REDIS_URL=$R9 timeout 20 "$IC" quota alpaca --json | jq .used; }
used0=$(used) || die "intentctl quota alpaca failed on database 9"
rc=0
timeout 60 "$CEIL" quota --redis-url "$R9" --connections 2 --batch 8 --duration 2 \
    --json "$WORK/quota.json" 2>"$WORK/quota.err" || rc=$?
expect_eq "ow-ceiling quota exits 0" 0 "$rc"
[[ -s $WORK/quota.json ]] || die "ow-ceiling quota wrote no report: $(tail -n 5 "$WORK/quota.err")"
check_figures quota "$WORK/quota.json" "$STATE/pids/redis.pid"
expect_jq "quota: the quota timed once per batch, the budget once per intent" "$WORK/quota.json" \
    '(.calls | keys) == ["budget", "quota"] and .calls.quota.n == .batches
     and .calls.budget.n == .intents'
n=$(jq .intents "$WORK/quota.json")
expect_eq "quota: the budget's log gained one call per intent" "$n" "$(($(used) - used0))"

say "[3] mistakes"
for args in "ledger --batch 65" "quota --schema x" "quota --database-url x" "bogus"; do
    rc=0
    # shellcheck disable=SC2086 # the arguments are meant to split
    "$CEIL" $args >/dev/null 2>"$WORK/usage.err" || rc=$?
    word=${args%% *}
    [[ $args == *--* ]] && word=$(grep -o -- '--[a-z-]*' <<<"$args" | head -n1)
    [[ $args == bogus ]] && word=mode
    if ((rc == 2)) && grep -q -- "$word" "$WORK/usage.err"; then ok "'$args': exit 2, naming $word"; else
        echo "exit $rc" >>"$WORK/usage.err"
        bad "'$args': exit 2, naming $word" "$WORK/usage.err"
    fi
done
rc=0
"$CEIL" ledger --database-url "postgresql://orders:not-this-secret@127.0.0.1:1/orders" --duration 1 \
    >/dev/null 2>"$WORK/refused.err" || rc=$?
if ((rc == 1)) && grep -q 'Connection refused' "$WORK/refused.err" &&
    ! grep -q 'not-this-secret' "$WORK/refused.err"; then
    ok "a refused connection: exit 1, said, without the password"
else
    echo "exit $rc" >>"$WORK/refused.err"
    bad "a refused connection: exit 1, said, without the password" "$WORK/refused.err"
fi
