#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq and awk programs: their $names are theirs
# tests/test_ops.sh -- what operators see of the running replicas, through
# the stack of `compose/dev test` (2 workers, their admin endpoints on
# DEV_ADMIN_BASE_PORT + N):
#   /healthz and /readyz answer 200 with their checks; /metrics parses as
#   Prometheus text (python3-prometheus-client's parser), every family the
#   README lists is there, counters end in _total, histograms in _seconds;
#   a mixed run (market orders that fill, a quota refusal, an expired
#   intent, a validation failure, a DLQ message) moves the counters: for
#   every event type and rejection reason, the fleet's counter delta equals
#   the events that appeared on the topics meanwhile, consumption and the
#   latency histogram count every message sent, place_order calls and
#   quota refusals move, and the consumer lag of the 12 partitions drains
#   to 0; the comparison itself reports a planted difference;
#   /readyz turns 503 (postgres not ok) while PostgreSQL is stopped, /healthz
#   stays 200, and /readyz is 200 again once it is back;
#   logs are JSON lines when stderr is not a terminal and text on a terminal.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail
export LC_ALL=C

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test ops
ADMIN_BASE=${DEV_ADMIN_BASE_PORT:?DEV_ADMIN_BASE_PORT is not set (run via compose/dev test)}
PG_STOPPED=0

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    if ((PG_STOPPED)); then "$DEV" --state "$STATE" start postgres >/dev/null 2>&1; fi
}
trap test_exit EXIT

# The admin URLs of the running workers.
mapfile -t WORKERS < <(find "$STATE/pids" -name 'worker-*.pid' -printf '%f\n' | sed 's/\.pid$//' | sort)
((${#WORKERS[@]} >= 1)) || die "no worker runs in $STATE"
url() { printf 'http://127.0.0.1:%d%s' "$((ADMIN_BASE + ${1#worker-}))" "$2"; }

# http_code URL: the status code (000 when nothing answers).
http_code() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time 10 "$1" || true; }

# until_code SECONDS PATH CODE: until every worker answers PATH with CODE.
until_code() {
    local deadline=$((SECONDS + $1)) w all
    while :; do
        all=1
        for w in "${WORKERS[@]}"; do
            [[ $(http_code "$(url "$w" "$2")") == "$3" ]] || all=0
        done
        ((all)) && return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# scrape OUT: every worker's /metrics, summed per series ("name{labels} value").
scrape() {
    local w
    : >"$WORK/all.prom"
    for w in "${WORKERS[@]}"; do
        curl -fsS --max-time 10 "$(url "$w" /metrics)" >>"$WORK/all.prom" ||
            die "GET $(url "$w" /metrics) failed"
    done
    awk '!/^#/ && NF == 2 { v[$1] += $2 } END { for (k in v) printf "%s %.17g\n", k, v[k] }' \
        "$WORK/all.prom" | sort >"$1"
}

# value FILE SERIES: a series' value in a scrape (0 if absent).
value() { awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }' "$1"; }

# The counters whose deltas are compared with the topics.
outcome_counters() { grep -E '^order_worker_(events_published|outcomes|dead_letters)_total' "$1" || true; }

# stable OUT-PROM OUT-TOPICS: a scrape and a snapshot of the result topics
# taken while nothing was published (the counters agree before and after
# the snapshot), so that the two describe the same moment.
stable() {
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        scrape "$WORK/s1"
        snapshot "$2"
        scrape "$1"
        if diff -q <(outcome_counters "$WORK/s1") <(outcome_counters "$1") >/dev/null; then
            return 0
        fi
        sleep 1
    done
    die "the result counters never held still for a snapshot"
}

# expected_deltas BEFORE-TOPICS AFTER-TOPICS: the counter deltas the new
# messages on the topics call for, as "series delta" lines.
expected_deltas() {
    jq -s -r --slurpfile old "$1" --arg fills "$T_FILLS" --arg rej "$T_REJ" --arg dlq "$T_DLQ" '
        ($old | map("\(._topic)/\(._partition)/\(._offset)") | INDEX(.)) as $seen
        | map(select(("\(._topic)/\(._partition)/\(._offset)") as $k | $seen[$k] | not))
        | (map(select(._topic == $fills or ._topic == $rej))
           | map("order_worker_events_published_total{topic=\"\(._topic)\",type=\"\(if ._topic == $rej then "rejected" else .type end)\"}")),
          (map(select((._topic == $fills and (.type == "fill" or .type == "canceled" or .type == "expired")) or ._topic == $rej))
           | map(if ._topic == $rej
                 then "order_worker_outcomes_total{type=\"rejected\",reason=\"\(.reason)\"}"
                 else "order_worker_outcomes_total{type=\"\(.type)\",reason=\"\"}" end)),
          (map(select(._topic == $dlq))
           | map("order_worker_dead_letters_total{reason=\"\(._headers["x-dlq-reason"])\"}"))
        | .[]' "$2" | sort | uniq -c | awk '{ print $2, $1 }' | sort
}

# actual_deltas BEFORE-PROM AFTER-PROM: the nonzero deltas of those counters.
actual_deltas() {
    join -a 2 -e 0 -o 0,1.2,2.2 <(outcome_counters "$1") <(outcome_counters "$2") |
        awk '{ d = $3 - $2; if (d != 0) printf "%s %d\n", $1, d }' | sort
}

say "== order-worker: metrics, health and logs (run $RUN; ${WORKERS[*]}) =="

# ---- health and readiness -----------------------------------------------------

if until_code 30 /healthz 200; then ok "GET /healthz: 200 on every worker"; else
    bad "GET /healthz: 200 on every worker" "$WORK/body"
fi
if until_code 60 /readyz 200; then ok "GET /readyz: 200 on every worker"; else
    bad "GET /readyz: 200 on every worker" "$WORK/body"
fi
if jq -e '.status == "ready" and (.checks | has("kafka") and has("postgres") and has("redis") and has("breakers")) and all(.checks[]; .ok)' \
    "$WORK/body" >/dev/null 2>&1; then
    ok "/readyz lists kafka, postgres, redis and breakers, all ok"
else
    bad "/readyz lists kafka, postgres, redis and breakers, all ok" "$WORK/body"
fi
code=$(http_code "$(url "${WORKERS[0]}" /nope)")
expect_eq "an unknown path answers 404" 404 "$code"

# ---- the metrics text ---------------------------------------------------------

curl -fsS --max-time 10 "$(url "${WORKERS[0]}" /metrics)" >"$WORK/one.prom" || die "GET /metrics failed"
if /usr/bin/python3 - "$WORK/one.prom" >"$WORK/families" 2>"$WORK/parse.err" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    print(f.name, f.type)
EOF
then ok "/metrics parses as Prometheus text ($(wc -l <"$WORK/families") families)"; else
    bad "/metrics parses as Prometheus text" "$WORK/parse.err"
fi
grep '^# TYPE ' "$WORK/one.prom" | awk '
    $4 == "counter" && $3 !~ /_total$/ { print "counter without _total: " $3 }
    $4 == "histogram" && $3 !~ /_seconds$/ { print "histogram without a unit: " $3 }
    $3 !~ /^order_worker_[a-z0-9_]+$/ { print "name outside order_worker_: " $3 }' >"$WORK/names.bad"
expect_empty "metric names: order_worker_ prefix, counters end in _total, histograms in _seconds" "$WORK/names.bad"
for fam in intents_consumed_total intent_processing_seconds intents_in_flight partitions_assigned \
    partitions_paused consumer_lag_messages events_published_total outcomes_total \
    dead_letters_total alpaca_requests_total alpaca_request_seconds breaker_state \
    breaker_transitions_total alpaca_budget_used_calls alpaca_budget_limit_calls \
    alpaca_budget_grants_total alpaca_budget_wait_seconds alpaca_budget_timeouts_total \
    alpaca_budget_leases_total alpaca_budget_leased_tokens_total redis_round_trips_total \
    cache_requests_total quota_refusals_total stage_seconds; do
    grep -q "^# TYPE order_worker_$fam " "$WORK/one.prom" || echo "missing: order_worker_$fam"
done >"$WORK/missing"
expect_empty "every metric family of README's operations section is exposed" "$WORK/missing"
n=$(grep -c '^order_worker_breaker_state{.*} 1$' "$WORK/one.prom" || true)
expect_eq "order_worker_breaker_state: one state at 1 for each of the 9 operations" 9 "$n"

# ---- a mixed run moves the counters ---------------------------------------------

stable "$WORK/before.prom" "$WORK/before.topics"
BOT="ops-$RUN"
: >"$WORK/intents.jsonl"
# 4 market orders from one bot whose quota is 2 per RATE_PERIOD_MS: 2 go
# through, 2 are refused.  (A small override, not BOT_TRADES_PER_MIN: with 10
# per minute a trade comes back every 6 s, and one bot's intents are handled
# one after the other, so a slow run would let them all through.)
quota=2
"$IC" quota set bot "$BOT" "$quota" >/dev/null 2>"$WORK/quota.err" || {
    sed 's/^/        | /' "$WORK/quota.err"
    die "intentctl quota set bot $BOT $quota failed"
}
gen_intents "$WORK/intents.jsonl" $((quota + 2)) --bot "$BOT" --user "u-$RUN" --symbol AAPL --side buy --qty 1
# expired: created 20 minutes ago, past any INTENT_MAX_AGE_MS of the suite
gen_intents "$WORK/intents.jsonl" 1 --bot "$BOT-old" --user "u-$RUN" --symbol AAPL --side buy --qty 1 \
    --created-at "$(date -u -d '20 minutes ago' +%Y-%m-%dT%H:%M:%S.000Z)"
send_lines "$WORK/intents.jsonl"
BAD_ID=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n' | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
printf '{"intent_id":"%s","bot_id":"%s-bad","user_id":"u-%s","symbol":"AAPL","side":"hold","type":"market","qty":"1","created_at":"%s"}\n' \
    "$BAD_ID" "$BOT" "$RUN" "$(NOW)" >"$WORK/bad.jsonl"
"$IC" send --raw --key "$BOT-bad" --topic "$T_BOT" <"$WORK/bad.jsonl" >/dev/null 2>"$WORK/send.err" ||
    die "intentctl send --raw (validation failure) failed"
printf 'not json %s\n' "$RUN" | "$IC" send --raw --key "$BOT-nj" --topic "$T_BOT" >/dev/null 2>"$WORK/send.err" ||
    die "intentctl send --raw (not json) failed"
SENT=$(($(wc -l <"$WORK/intents.jsonl") + 2))
jq -r .intent_id "$WORK/intents.jsonl" >"$WORK/ids"
echo "$BAD_ID" >>"$WORK/ids"
wait_terminal "$WORK/ids" 120000 || die "not every intent of the run reached its outcome within 120 s"
# The DLQ message has no intent id to wait for: wait for it by its key (its
# partition may have been between owners, after the previous test's restarts).
deadline=$((SECONDS + 120))
# (Not jq -e: jq 1.6 takes its status from the last input, not from any.)
until snapshot "$WORK/dlq.topics" &&
    jq -c --arg dlq "$T_DLQ" --arg nj "$BOT-nj" 'select(._topic == $dlq and ._key == $nj)' \
        "$WORK/dlq.topics" | grep -c . >/dev/null; do
    if ((SECONDS >= deadline)); then
        jq -r --arg dlq "$T_DLQ" 'select(._topic == $dlq) | "        | on \(._topic): key \(._key) \(._headers["x-dlq-reason"]) from \(._headers["x-dlq-topic"])[\(._headers["x-dlq-partition"])]@\(._headers["x-dlq-offset"])"' \
            "$WORK/dlq.topics" | tail -n 5
        die "the run's not-JSON message (key $BOT-nj) did not reach $T_DLQ within 120 s"
    fi
    sleep 1
done
ok "$((SENT - 1)) intents reached their outcomes, and one message the DLQ"

# The outcomes are on the topics before the replica that published them
# counted them (the acknowledgement comes after); settle, then compare.
deadline=$((SECONDS + 30))
while :; do
    stable "$WORK/after.prom" "$WORK/after.topics"
    expected_deltas "$WORK/before.topics" "$WORK/after.topics" >"$WORK/expected"
    actual_deltas "$WORK/before.prom" "$WORK/after.prom" >"$WORK/actual"
    if cmp -s "$WORK/expected" "$WORK/actual" || ((SECONDS >= deadline)); then break; fi
    sleep 1
done
expect_same_lines "the fleet's event and outcome counters moved exactly as the events on the topics" \
    "$WORK/expected" "$WORK/actual"
say "        | $(tr '\n' ';' <"$WORK/actual" | sed 's/order_worker_//g')"
# The run's own messages are among the events counted: its outcomes, read
# from the topics, are the ones the counters must show at least.
jq -r --rawfile ids "$WORK/ids" --arg fills "$T_FILLS" --arg rej "$T_REJ" --arg dlq "$T_DLQ" --arg nj "$BOT-nj" '
    ($ids | split("\n") | map(select(length > 0)) | INDEX(.)) as $mine
    | select(($mine[.intent_id // ""] != null) or (._topic == $dlq and ._key == $nj))
    | if ._topic == $rej then "rejected:\(.reason)"
      elif ._topic == $dlq then "dlq:\(._headers["x-dlq-reason"])"
      elif .type == "fill" or .type == "canceled" or .type == "expired" then .type
      else empty end' "$WORK/after.topics" | sort | uniq -c | awk '{ print $2 "=" $1 }' | paste -sd' ' >"$WORK/mine"
expect_eq "the run's own outcomes: $quota fills, 2 quota_exceeded, expired, validation_failed, DLQ not_json" \
    "dlq:not_json=1 fill=$quota rejected:expired=1 rejected:quota_exceeded=2 rejected:validation_failed=1" \
    "$(cat "$WORK/mine")"

# The comparison can fail: one event fewer on the topics (the run's
# validation_failed rejection) is a difference.
grep -v "\"intent_id\":\"$BAD_ID\"" "$WORK/after.topics" >"$WORK/short.topics" || true
(($(wc -l <"$WORK/short.topics") < $(wc -l <"$WORK/after.topics"))) ||
    die "the run's validation_failed rejection is not on the topics to leave out"
expected_deltas "$WORK/before.topics" "$WORK/short.topics" >"$WORK/expected.short"
if cmp -s "$WORK/expected.short" "$WORK/actual"; then
    bad "the comparison reports a missing event (it did not)"
else
    ok "the comparison reports a missing event"
fi

delta() {
    awk -v a="$(value "$WORK/after.prom" "$1")" -v b="$(value "$WORK/before.prom" "$1")" \
        'BEGIN { printf "%d\n", a - b }'
}
d=$(delta "order_worker_intents_consumed_total{topic=\"$T_BOT\"}")
expect_eq "order_worker_intents_consumed_total{topic=$T_BOT} moved by the $SENT messages sent" "$SENT" "$d"
d=$(delta "order_worker_intent_processing_seconds_count{topic=\"$T_BOT\"}")
expect_eq "order_worker_intent_processing_seconds counted the $SENT messages" "$SENT" "$d"
for stage in kafka_in lane_wait decode; do
    d=$(delta "order_worker_stage_seconds_count{path=\"intake\",stage=\"$stage\"}")
    expect_eq "order_worker_stage_seconds{path=intake,stage=$stage} counted the $SENT messages" "$SENT" "$d"
done
for stage in ledger_record risk quota submitting post outcome_commit produce_ack; do
    d=$(delta "order_worker_stage_seconds_count{path=\"intake\",stage=\"$stage\"}")
    if ((d >= quota)); then ok "order_worker_stage_seconds{path=intake,stage=$stage} counted >= $quota ($d)"; else
        bad "order_worker_stage_seconds{path=intake,stage=$stage} counted >= $quota (got $d)"
    fi
done
d=$(delta 'order_worker_quota_refusals_total{subject="bot"}')
expect_eq "order_worker_quota_refusals_total{subject=bot} moved by 2" 2 "$d"
d=$(delta 'order_worker_alpaca_request_seconds_count{operation="place_order"}')
if ((d >= quota)); then ok "order_worker_alpaca_request_seconds{operation=place_order} counted >= $quota calls ($d)"; else
    bad "order_worker_alpaca_request_seconds{operation=place_order} counted >= $quota calls (got $d)"
fi
d=$(delta 'order_worker_alpaca_budget_grants_total{priority="bot"}')
if ((d >= quota)); then ok "order_worker_alpaca_budget_grants_total{priority=bot} moved by >= $quota ($d)"; else
    bad "order_worker_alpaca_budget_grants_total{priority=bot} moved by >= $quota (got $d)"
fi

# Consumer lag: a series for each of the 12 intent partitions, all at 0
# once the offsets are committed (statistics every KAFKA_STATS_INTERVAL_MS).
deadline=$((SECONDS + 40))
while :; do
    scrape "$WORK/lag.prom"
    series=$(grep -c '^order_worker_consumer_lag_messages{' "$WORK/lag.prom" || true)
    total=$(awk '/^order_worker_consumer_lag_messages\{/ { s += $2 } END { print s + 0 }' "$WORK/lag.prom")
    if { ((series == 12)) && ((total == 0)); } || ((SECONDS >= deadline)); then break; fi
    sleep 1
done
expect_eq "order_worker_consumer_lag_messages: 12 partitions, total lag 0 after the run" "12 0" "$series $total"
expect_eq "order_worker_intents_in_flight: 0 across the fleet after the run" 0 \
    "$(value "$WORK/lag.prom" order_worker_intents_in_flight)"
expect_eq "order_worker_partitions_assigned: 12 across the fleet" 12 \
    "$(value "$WORK/lag.prom" order_worker_partitions_assigned)"

# ---- readiness follows PostgreSQL ------------------------------------------------

PG_STOPPED=1
"$DEV" --state "$STATE" stop postgres >"$WORK/pg.log" 2>&1 || die "compose/dev stop postgres failed"
if until_code 20 /readyz 503; then ok "PostgreSQL stopped: /readyz answers 503 on every worker"; else
    bad "PostgreSQL stopped: /readyz answers 503 on every worker" "$WORK/body"
fi
if jq -e '.status == "not_ready" and (.checks.postgres.ok | not)' "$WORK/body" >/dev/null 2>&1; then
    ok "/readyz names postgres as the check that failed"
else
    bad "/readyz names postgres as the check that failed" "$WORK/body"
fi
if until_code 5 /healthz 200; then ok "PostgreSQL stopped: /healthz still 200 (alive, not ready)"; else
    bad "PostgreSQL stopped: /healthz still 200" "$WORK/body"
fi
"$DEV" --state "$STATE" start postgres >"$WORK/pg.log" 2>&1 || die "compose/dev start postgres failed"
PG_STOPPED=0
if until_code 60 /readyz 200; then ok "PostgreSQL back: /readyz answers 200 again on every worker"; else
    bad "PostgreSQL back: /readyz answers 200 again" "$WORK/body"
fi

# ---- logs: JSON lines for machines, text for a terminal -----------------------------

# A worker that stops at once (its admin port is taken by worker-1) logs a
# few lines either way.
taken=$((ADMIN_BASE + ${WORKERS[0]#worker-}))
ADMIN_PORT=$taken REPLICA_ID="ops-$RUN" timeout 20 "$BIN/order-worker" >/dev/null 2>"$WORK/json.log" || true
if [[ -s $WORK/json.log ]] && jq -e -s 'length > 0 and all(.[]; has("time") and has("level") and has("replica") and has("event") and has("msg"))' \
    "$WORK/json.log" >/dev/null 2>&1 && grep -q '"event":"start_failed"' "$WORK/json.log"; then
    ok "stderr not a terminal: JSON lines with time, level, replica, event, msg"
else
    bad "stderr not a terminal: JSON lines with time, level, replica, event, msg" "$WORK/json.log"
fi
ADMIN_PORT=$taken REPLICA_ID="ops-$RUN" timeout 20 script -qec "$BIN/order-worker" /dev/null >"$WORK/tty.log" 2>&1 || true
if grep -qE "^[0-9-]{10}T[0-9:.]{12}Z error ops-$RUN start_failed: admin endpoint: cannot listen" "$WORK/tty.log" &&
    ! grep -q '^{' "$WORK/tty.log"; then
    ok "stderr a terminal: readable text lines (time level replica event: message)"
else
    bad "stderr a terminal: readable text lines" "$WORK/tty.log"
fi
