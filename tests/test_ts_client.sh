#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_ts_client.sh -- the backend's TypeScript client
# (@order-worker/client, producers/typescript) sending as well as reading,
# through the whole stack of `compose/dev test`, with signatures required:
#   the workers are restarted with INTENT_SIGNING=required and a per-run
#   USER_TOPIC_SIGNER, whose key `intentctl bot add SIGNER --user '*'` writes
#   to a file; then tests/ts_client_roundtrip.mjs, written as a backend would:
#   a user intent built, checked, signed with that key by IntentProducer, sent
#   to orders.intents.user keyed by the user, filled, and read back with
#   ResultConsumer.awaitOutcome; the same intent unsigned, or signed with
#   another key, is rejected unauthorized; a resting gtc limit buy is canceled
#   by a cancel request (the canceled event names the request, requested, and
#   is the outcome of both), a cancel of an unknown intent is rejected
#   not_cancelable; awaitOutcome of an id that never ends rejects with
#   OutcomeTimeoutError naming it; a send no broker acknowledges rejects with
#   IntentSendError;
#   the example examples/backend-route.ts, compiled against the package, serves
#   POST /orders on a free port: an order is answered with its fill, a broken
#   one with 400 and the offending fields (its answers are printed here);
#   the key appears in no output.
# The workers' settings are put back on exit.  Every wait is bounded; the last
# line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test ts_client
TS="$ROOT/producers/typescript"
RESTARTED=0 ROUTE_PID=""

undo() {
    if [[ -n $ROUTE_PID ]]; then kill "$ROUTE_PID" 2>/dev/null; fi
    if ((RESTARTED)); then
        say "-- restoring the workers' settings"
        unset INTENT_SIGNING SIGNING_REFRESH_MS USER_TOPIC_SIGNER
        restore_workers
    fi
}
trap test_exit EXIT

command -v node >/dev/null || die "node is not installed"
[[ -f $TS/dist/index.js && -d $TS/node_modules ]] ||
    die "producers/typescript is not built (compose/dev build runs npm ci and the build)"

SIGNER="ts-$RUN-backend" USR="ts-$RUN-user"
say "== the workers with INTENT_SIGNING=required, USER_TOPIC_SIGNER=$SIGNER"
export INTENT_SIGNING=required SIGNING_REFRESH_MS=200 USER_TOPIC_SIGNER="$SIGNER"
RESTARTED=1
timeout 180 "$DEV" --state "$STATE" workers-restart >"$WORK/restart.log" 2>&1 || {
    sed 's/^/        | /' "$WORK/restart.log"
    die "workers-restart failed"
}
timeout 30 "$IC" bot add "$SIGNER" --user '*' --key-file "$WORK/backend.key" >"$WORK/bot.out" 2>&1 || {
    sed 's/^/        | /' "$WORK/bot.out"
    die "intentctl bot add $SIGNER failed"
}
sleep 0.5 # twice SIGNING_REFRESH_MS: every replica has read the key

say "== a backend's round trip (tests/ts_client_roundtrip.mjs)"
LIMIT=$(sim GET /_sim/quotes | jq -r '.IBM.bid | tonumber / 2 | floor') || die "no IBM quote from the simulator"
timeout 300 node "$ROOT/tests/ts_client_roundtrip.mjs" "$TS/dist/index.js" "$USR" "$WORK/backend.key" "$LIMIT" \
    >"$WORK/rt.out" 2>"$WORK/rt.err" || bad "ts_client_roundtrip.mjs exited non-zero" "$WORK/rt.err"
sed 's/^/        | /' "$WORK/rt.out"
sc() { jq -c --arg s "$1" "select(.scenario == \$s) | $2" "$WORK/rt.out"; }
expect_eq "signed by the backend, sent to $T_USER keyed by the user, filled: awaitOutcome gives the fill" \
    "$T_USER $USR fill $USR" "$(sc fill '"\(.topic) \(.key) \(.outcome) \(.event_user)"' | jq -r .)"
FILL_ID=$(sc fill '.intent_id' | jq -r .)
snapshot "$WORK/fill.events" <(echo "$FILL_ID")
expect_eq "the fill's events are keyed by the user (intentctl tail)" "$USR" \
    "$(jq -r 'select(.type == "fill") | ._key' "$WORK/fill.events" | sort -u)"
expect_eq "the same intent unsigned: rejected unauthorized" '"rejected unauthorized"' \
    "$(sc unsigned '"\(.outcome) \(.reason)"')"
expect_eq "signed with another key: rejected unauthorized" '"rejected unauthorized"' \
    "$(sc wrong_key '"\(.outcome) \(.reason)"')"
CXID=$(sc cancel '.request' | jq -r .)
expect_eq "a resting order canceled by a request: the canceled event names it (requested), for both waits" \
    "canceled $CXID requested true $USR" \
    "$(sc cancel '"\(.outcome) \(.cancel_intent_id) \(.cancel_reason) \(.same_event) \(.request_key)"' | jq -r .)"
expect_eq "a cancel of an unknown intent: rejected not_cancelable" '"rejected not_cancelable"' \
    "$(sc ghost '"\(.outcome) \(.reason)"')"
expect_eq "awaitOutcome of an id that never ends: OutcomeTimeoutError naming it, after 1.5 s" \
    "OutcomeTimeoutError outcome_timeout true true" \
    "$(sc timeout '"\(.error) \(.code) \(.intent_id == .wanted) \(.waited_ms >= 1400 and .waited_ms < 10000)"' | jq -r .)"
expect_eq "a send no broker acknowledges: IntentSendError naming the intent" "IntentSendError send_failed true" \
    "$(sc not_acked '"\(.error) \(.code) \(.intent_id == .wanted)"' | jq -r .)"

say "== the example: examples/backend-route.ts (POST /orders)"
(cd "$TS" && timeout 120 node node_modules/typescript/bin/tsc -p examples) >"$WORK/tsc-ex.out" 2>&1 ||
    die "the example does not compile: $(head -c 2000 "$WORK/tsc-ex.out")"
ok "the example compiles against the package (import from '@order-worker/client')"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
INTENT_SIGNING_KEY_FILE="$WORK/backend.key" PORT=$PORT OUTCOME_TIMEOUT_MS=60000 \
    node "$TS/examples/dist/backend-route.js" >"$WORK/route.out" 2>"$WORK/route.err" &
ROUTE_PID=$!
for ((i = 0; i < 300; i++)); do
    grep -q listening "$WORK/route.out" && break
    kill -0 "$ROUTE_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q listening "$WORK/route.out" || die "backend-route did not start: $(cat "$WORK/route.err")"
post() {
    curl -sS --max-time 90 -X POST "http://127.0.0.1:$PORT/orders" -H "x-user-id: $USR" \
        -H 'content-type: application/json' -d "$1" -w '\n%{http_code}\n'
}
ORDER='{"symbol":"AAPL","side":"buy","type":"market","qty":"1"}'
post "$ORDER" >"$WORK/post.out" || true
say "   \$ curl -X POST localhost:PORT/orders -H 'x-user-id: $USR' -d '$ORDER'"
sed 's/^/        | /' "$WORK/post.out"
expect_eq "POST /orders: 200, the order's fill" "200 fill 1" \
    "$(tail -n 1 "$WORK/post.out") $(head -n 1 "$WORK/post.out" | jq -r '"\(.outcome) \(.filled_qty)"')"
BAD='{"symbol":"aapl","side":"buy","type":"market","qty":1}'
post "$BAD" >"$WORK/post-bad.out" || true
say "   \$ curl -X POST localhost:PORT/orders -H 'x-user-id: $USR' -d '$BAD'"
sed 's/^/        | /' "$WORK/post-bad.out"
expect_eq "POST /orders, a broken order: 400, the fields symbol and qty, nothing sent" "400 symbol,qty" \
    "$(tail -n 1 "$WORK/post-bad.out") $(head -n 1 "$WORK/post-bad.out" | jq -r '.fields | join(",")')"
kill -TERM "$ROUTE_PID"
rc=0
for ((i = 0; i < 150; i++)); do kill -0 "$ROUTE_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ROUTE_PID" || rc=$?
ROUTE_PID=""
expect_eq "backend-route stops on SIGTERM (exit 0)" 0 "$rc"

say "== the key"
if grep -rqF "$(cat "$WORK/backend.key")" "$WORK"/*.out "$WORK"/*.err; then
    bad "the signing key appears in an output" 
else ok "the signing key appears in no output of the client, the example or the tests"; fi
