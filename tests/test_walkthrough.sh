#!/usr/bin/env bash
# tests/test_walkthrough.sh -- the Docker Compose walk-through of
# docs/deployment.md, carried out command by command without Docker by
# tests/compose_walkthrough.py (see there for what stands in for what), on a
# Kafka, Redis and PostgreSQL of its own (ports of its own).  Every
# step must exit 0; then what the steps printed is checked: the signed intent
# sent from the host filled, the operator's commands did what they say, and
# no secret of compose/secrets/ or the bot's key appears in any output or log.
set -euo pipefail
ROOT=${ORDER_WORKER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
BIN=${DEV_BUILD_DIR:-$ROOT/build}/bin
PASSED=0 FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-walkthrough.XXXXXX")
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap finish EXIT

E=$WORK/emu
if ! /usr/bin/python3 "$ROOT/tests/compose_walkthrough.py" run --repo "$ROOT" --bin "$BIN" \
    --work "$E" >"$WORK/run.log" 2>&1; then
    bad "the walk-through ran to its end, every step exiting 0" "$WORK/run.log"
    for f in "$E"/logs/*.log; do
        [[ -e $f ]] && { say "--- $f"; tail -n 20 "$f"; }
    done
    exit 1
fi
ok "the walk-through ran to its end, every step exiting 0"

# step_out PATTERN: the output of the step whose command contains PATTERN;
# step_end_ms PATTERN: when it ended (ms since the epoch).
step_of() {
    local f
    f=$(grep -lF -- "$1" "$E"/steps/*.cmd | head -n1) || die "no step runs '$1'"
    printf '%s\n' "${f%.cmd}"
}
step_out() { cat "$(step_of "$1").out"; }
step_end_ms() { awk '{ printf "%.0f\n", $2 * 1000 }' "$(step_of "$1").time"; }
n=$(find "$E/steps" -name '*.rc' | wc -l)
if ((n >= 15)); then ok "$n steps ran"; else bad "only $n steps ran"; fi

step_out "bot add meanrev-1" >"$WORK/add.out"
expect_eq "bot add: the key went to the file, the binding to stderr" \
    "bot meanrev-1: may trade for alice" "$(grep 'may trade' "$WORK/add.out")"
key=$E/top/compose/meanrev-1.key
if [[ $(cat "$key") =~ ^[0-9a-f]{64}$ ]]; then ok "meanrev-1.key holds the key alone"; else
    bad "meanrev-1.key holds the key alone"; fi
expect_eq "chmod 600 of the key file" 600 "$(stat -c %a "$key")"
step_out "bot list" >"$WORK/list.out"
if grep -Eq '^meanrev-1 .*keys: 1 active .*users: alice' "$WORK/list.out"; then
    ok "bot list: meanrev-1, one key, user alice"
else bad "bot list: meanrev-1, one key, user alice" "$WORK/list.out"; fi

step_out "python3 -" >"$WORK/send.out"
if grep -Eq '^[0-9a-f-]{36} fill 1 $' "$WORK/send.out"; then
    ok "the signed intent sent from the host filled (1 share), read back from the host"
else bad "the signed intent sent from the host filled" "$WORK/send.out"; fi
id=$(grep -Eo '^[0-9a-f-]{36}' "$WORK/send.out" | head -n1)

step_out "ops trading" >"$WORK/trading.out"
if grep -Eq '^bot +meanrev-1 +halted .*checking the strategy' "$WORK/trading.out"; then
    ok "ops halt: meanrev-1 halted, with the reason"
else bad "ops halt: meanrev-1 halted, with the reason" "$WORK/trading.out"; fi
step_out "ops resume" >"$WORK/resume.out"
if grep -q 'active (was halted)' "$WORK/resume.out"; then ok "ops resume"; else
    bad "ops resume" "$WORK/resume.out"; fi
step_out "ops tail" >"$WORK/tail.out"
step_out "ops quota bot" >"$WORK/quota.out"
# A trade holds one of its bot's quota for RATE_PERIOD_MS / limit only (GCRA:
# 6 s by default), so the walk-through reads the quota right after the
# trade.  That premise, checked: the read ended within that time, less half
# a second, of the trade's accepted event (its Kafka timestamp, the TIME of
# ops tail, UTC; the quota is charged just before).
hold_ms=$(sed -nE 's/.* limit ([0-9]+).* period_ms ([0-9]+).*/\2 \1/p' "$WORK/quota.out" |
    awk '{ print int($1 / $2) }')
read_ms=$(step_end_ms "ops quota bot")
at=$(grep -m1 "accepted .*$id" "$WORK/tail.out" | awk '{ print $1 }')
accepted_ms=$(date -u -d "$(date -u -d "@$((read_ms / 1000))" +%F) $at" +%s%3N 2>/dev/null || echo 0)
((accepted_ms <= read_ms + 60000)) || accepted_ms=$((accepted_ms - 86400000))  # over midnight
if [[ -z $hold_ms || -z $at ]] || ((read_ms - accepted_ms >= hold_ms - 500)); then
    bad "ops quota read within ${hold_ms:-?} ms of the trade (less 500): $((read_ms - accepted_ms)) ms after its accepted event ($at)" "$WORK/quota.out"
elif grep -q '^bot meanrev-1: used 1, limit 10' "$WORK/quota.out"; then
    ok "ops quota: the trade counted against meanrev-1 (read $((read_ms - accepted_ms)) ms after it)"
else bad "ops quota: the trade counted against meanrev-1" "$WORK/quota.out"; fi
if grep -q "fill .*$id" "$WORK/tail.out" && grep -q "accepted .*$id" "$WORK/tail.out"; then
    ok "ops tail: the intent's accepted and fill events"
else bad "ops tail: the intent's accepted and fill events" "$WORK/tail.out"; fi
step_out "api/v1/targets" >"$WORK/prom.out"
expect_eq "Prometheus found the 3 replicas' /metrics" 3 \
    "$(grep -c '"scrapeUrl":"http://[0-9.]*:[0-9]*/metrics"' "$WORK/prom.out")"
if grep -q ': 0 found' "$WORK/run.log"; then
    ok "no secret in any step's output or any service's log"
else bad "no secret in any step's output or any service's log" "$WORK/run.log"; fi
