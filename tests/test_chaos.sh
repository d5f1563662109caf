#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_chaos.sh -- the chaos test of issue 6, through the stack of
# `compose/dev test` (the simulator, Kafka, Redis, PostgreSQL, 3 workers).
#
# CHAOS_INTENTS market buys of 0.01 AAPL (~50 bots, ~10 users) are sent in
# batches over the first 2/3 of CHAOS_SECONDS while a chaos driver, every
# 2-5 s, SIGKILLs a random worker (restarted 0-3 s later), SIGTERMs another
# (compose/dev stop, then start), or opens a simulator fault spell (30% of
# the order answers dropped, or every trading call answered 503, for 2 s);
# its first actions are one of each kind, and each kind must have happened.
# Then every worker runs again and the guarantee is checked exactly:
#   - every intent has exactly one terminal outcome (distinct event_ids), and
#     all of them are fills (no rejection);
#   - the simulator created one order per accepted intent, the ledger has one
#     broker_orders row per filled intent (duplicate_client_order_ids, i.e.
#     lookups after lost answers or crashes, is reported, not asserted);
#   - nothing is left in a non-terminal ledger state after the reconciler's
#     RECONCILE_AFTER_MS + RECONCILE_INTERVAL_MS;
#   - the filled quantities (sum of last_fill_qty) equal the simulator's AAPL
#     position and CHAOS_INTENTS * 0.01, exactly (in billionths);
#   - the ledger has no orphan row and open_intents lists exactly the open
#     intents (tests/orphans.sql: the ledger has no foreign keys on them).
#
# Settings: CHAOS_INTENTS (default 600; standalone: CHAOS_INTENTS=5000),
# CHAOS_SECONDS (default 45), CHAOS_WAIT_S (bound of the final wait, 400),
# CHAOS_SEED (the driver's random seed; default: random, printed).
#
# Runs inside `compose/dev test` (ctest): needs the stack's environment,
# ORDER_WORKER_ROOT, DEV_SCRIPT and DEV_STATE_DIR.  Processes are only ever
# signalled by the pids of the state dir's pid files (checked to be an
# order-worker).  On exit, whatever happened, the faults are cleared, the
# settings restored, the simulator restarted and two workers started with
# the usual settings.  Every wait is bounded; the last line is
# "N passed, M failed".
set -euo pipefail
export LC_ALL=C # sort and comm must agree

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test chaos

INTENTS=${CHAOS_INTENTS:-600}
CHAOS_S=${CHAOS_SECONDS:-45}
WAIT_S=${CHAOS_WAIT_S:-400}
SEED=${CHAOS_SEED:-$(od -An -tu2 -N2 /dev/urandom | tr -d ' \n')}
WORKERS=3
BOTS=50
USERS=10

CHANGED=0
SENDER_PID=""
KILLS=0 TERMS=0 SPELLS_DROP=0 SPELLS_503=0
declare -A PENDING=() # worker index -> pid of its restart job (ours)

# The workers' (and the simulator's) settings for this run; the previous
# values come back on exit.
# The limits' period is a second, so that the shared Alpaca budget holds no
# more than a second's calls when the usual limit (200 a minute) is back and
# the next test on the stack starts.
save_settings BOT_TRADES_PER_MIN USER_TRADES_PER_MIN ALPACA_CALLS_PER_MIN RATE_PERIOD_MS \
    INTENT_MAX_AGE_MS RECONCILE_INTERVAL_MS RECONCILE_AFTER_MS FOLLOW_INTERVAL_MS \
    FOLLOW_MAX_INTERVAL_MS FOLLOW_LEASE_MS ALPACA_TIMEOUT_MS WORKER_DRAIN_MS BREAKER_OPEN_MS


log() { printf '  %s  %s\n' "$(date -u +%H:%M:%S.%3N)" "$*"; }

# restack N: the simulator (it reads its rate limit at start) and N workers
# again, with the settings exported now.
restack() {
    dev stop alpaca-sim && dev start alpaca-sim && dev workers-restart "$1"
}

# worker_pid N: the pid of worker-N from its pid file, if it runs and is an
# order-worker (never a recycled pid).
worker_pid() {
    local f="$STATE/pids/worker-$1.pid" pid cmd
    [[ -f $f ]] || return 1
    pid=$(head -n1 "$f" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *order-worker* ]] || return 1
    printf '%s\n' "$pid"
}

# busy N: worker-N has a restart job of ours still running.
busy() {
    local p=${PENDING[$1]:-}
    [[ -n $p ]] && kill -0 "$p" 2>/dev/null
}

# wait_jobs: waits for every restart job (each is bounded by timeout).
wait_jobs() {
    local n
    for n in "${!PENDING[@]}"; do
        wait "${PENDING[$n]}" 2>/dev/null || true
        unset "PENDING[$n]"
    done
}

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    if [[ -n $SENDER_PID ]] && kill -0 "$SENDER_PID" 2>/dev/null; then
        say "-- stopping the intent sender (pid $SENDER_PID)"
        kill -TERM "$SENDER_PID" 2>/dev/null
        wait "$SENDER_PID" 2>/dev/null
    fi
    wait_jobs
    sim POST /_sim/faults '{}' >/dev/null
    if ((CHANGED)); then
        say "-- restoring the simulator and two workers with their usual settings"
        restore_settings
        restack 2 || FAILED=$((FAILED + 1))
    fi
}
trap test_exit EXIT
# A signal ends the run through cleanup, counted as a failure.
trap 'exit 130' INT
trap 'exit 143' TERM

# sleep_ms MS
sleep_ms() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ------------------------------------------------------------------ chaos actions

# restart_job N DELAY-MS [stop]: in the background, (stop worker-N, or)
# wait DELAY-MS, then start worker-N; a failure is noted in $WORK/jobs.failed.
restart_job() {
    local n=$1 delay=$2 how=${3:-}
    (
        if [[ $how == stop ]]; then
            timeout 120 "$DEV" --state "$STATE" stop "worker-$n" >"$WORK/job-$n.log" 2>&1 ||
                printf 'stop worker-%s failed: %s\n' "$n" "$(tail -n 3 "$WORK/job-$n.log" | tr '\n' ' ')" \
                    >>"$WORK/jobs.failed"
            log "worker-$n stopped (SIGTERM, drained)"
        fi
        sleep_ms "$delay"
        if timeout 120 "$DEV" --state "$STATE" start "worker-$n" >"$WORK/job-$n.log" 2>&1; then
            log "worker-$n started again (pid $(worker_pid "$n" || echo '?'))"
        else
            printf 'start worker-%s failed: %s\n' "$n" "$(tail -n 5 "$WORK/job-$n.log" | tr '\n' ' ')" \
                >>"$WORK/jobs.failed"
            log "worker-$n: start FAILED"
        fi
    ) &
    PENDING[$n]=$!
}

# pick_worker [NOT]: a random worker index that runs and has no job pending
# (other than NOT if possible); empty when there is none.
pick_worker() {
    local not=${1:-} n
    local -a cand=() other=()
    for ((n = 1; n <= WORKERS; n++)); do
        busy "$n" && continue
        worker_pid "$n" >/dev/null || continue
        if [[ $n == "$not" ]]; then other+=("$n"); else cand+=("$n"); fi
    done
    ((${#cand[@]} > 0)) || cand=("${other[@]}")
    ((${#cand[@]} > 0)) || return 0
    printf '%s\n' "${cand[RANDOM % ${#cand[@]}]}"
}

LAST_KILLED=""
act_kill() {
    local n pid delay
    n=$(pick_worker)
    if [[ -z $n ]]; then log "kill: no running worker free to kill; skipped"; return 0; fi
    pid=$(worker_pid "$n") || { log "kill: worker-$n just went away; skipped"; return 0; }
    delay=$((RANDOM % 3001))
    kill -KILL "$pid" 2>/dev/null || { log "kill: worker-$n (pid $pid) already gone"; return 0; }
    KILLS=$((KILLS + 1))
    LAST_KILLED=$n
    log "SIGKILL worker-$n (pid $pid); restart in ${delay} ms"
    restart_job "$n" "$delay"
}

act_term() {
    local n pid
    n=$(pick_worker "$LAST_KILLED")
    if [[ -z $n ]]; then log "term: no running worker free to stop; skipped"; return 0; fi
    pid=$(worker_pid "$n") || { log "term: worker-$n just went away; skipped"; return 0; }
    TERMS=$((TERMS + 1))
    log "SIGTERM worker-$n (pid $pid) via compose/dev stop, then start"
    restart_job "$n" 0 stop
}

# act_fault drop|503: a fault spell of that kind for 2 s.
act_fault() {
    local kind=$1 body
    if [[ $kind == drop ]]; then
        body='{"drop_response_rate":0.3}'
        SPELLS_DROP=$((SPELLS_DROP + 1))
    else
        body='{"error_rate":1,"error_status":503}'
        SPELLS_503=$((SPELLS_503 + 1))
    fi
    sim POST /_sim/faults "$body" >/dev/null || die "POST /_sim/faults $body failed"
    log "fault spell ($kind): $body for 2 s"
    sleep 2
    sim POST /_sim/faults '{}' >/dev/null || die "POST /_sim/faults {} failed"
    log "fault spell ($kind) over: {}"
}

# pick_action: sets ACTION to the next chaos action: kill, term, drop or 503.
# Until each kind has happened once, the first that has not (a skipped kill
# or SIGTERM -- no worker free -- is tried again next time), so that every
# run has them all; then at random: 40% SIGKILL, 30% SIGTERM, 30% a fault
# spell (half each kind).  No subshell: RANDOM stays the seed's sequence.
pick_action() {
    local r
    if ((KILLS == 0)); then ACTION="kill"; return; fi
    if ((TERMS == 0)); then ACTION="term"; return; fi
    if ((SPELLS_DROP == 0)); then ACTION="drop"; return; fi
    if ((SPELLS_503 == 0)); then ACTION=503; return; fi
    r=$((RANDOM % 10))
    if ((r < 4)); then
        ACTION="kill"
    elif ((r < 7)); then
        ACTION="term"
    elif ((RANDOM % 2)); then
        ACTION="drop"
    else
        ACTION=503
    fi
}

# ------------------------------------------------------------------ set-up

[[ -x $IC ]] || die "$IC is missing (build first)"
command -v jq >/dev/null || die "jq is missing"
command -v psql >/dev/null || die "psql is missing"
[[ $INTENTS =~ ^[1-9][0-9]*$ ]] || die "CHAOS_INTENTS must be a positive number, got '$INTENTS'"
[[ $CHAOS_S =~ ^[1-9][0-9]*$ ]] || die "CHAOS_SECONDS must be a positive number, got '$CHAOS_S'"
[[ $WAIT_S =~ ^[1-9][0-9]*$ ]] || die "CHAOS_WAIT_S must be a positive number, got '$WAIT_S'"
[[ $SEED =~ ^[0-9]+$ ]] || die "CHAOS_SEED must be a number, got '$SEED'"
RANDOM=$SEED

say "== order-worker: chaos (run $RUN): $INTENTS intents, $CHAOS_S s of chaos, seed $SEED =="
say "-- restarting the simulator and $WORKERS workers with high limits and fast timers"
export BOT_TRADES_PER_MIN=1000000 USER_TRADES_PER_MIN=1000000 ALPACA_CALLS_PER_MIN=1000000 RATE_PERIOD_MS=1000 \
    INTENT_MAX_AGE_MS=900000 RECONCILE_INTERVAL_MS=5000 RECONCILE_AFTER_MS=15000 \
    FOLLOW_INTERVAL_MS=300 FOLLOW_MAX_INTERVAL_MS=1000 FOLLOW_LEASE_MS=2000 \
    ALPACA_TIMEOUT_MS=1500 WORKER_DRAIN_MS=3000 BREAKER_OPEN_MS=2000
CHANGED=1
restack "$WORKERS" || die "could not restart the simulator and $WORKERS workers"
sim POST /_sim/reset >/dev/null || die "POST /_sim/reset failed"

say "-- warm-up: one intent through before the chaos"
: >"$WORK/warm.jsonl"
gen_intents "$WORK/warm.jsonl" 1 --bot "chaos-$RUN-warm" --user "chaos-$RUN-u0" --symbol AAPL \
    --side buy --qty 0.01
send_lines "$WORK/warm.jsonl" "$WORK/warm.sent"
jq -r .intent_id "$WORK/warm.jsonl" >"$WORK/warm.ids"
wait_terminal "$WORK/warm.ids" 90000 || die "the warm-up intent got no outcome within 90 s"
sim POST /_sim/reset >/dev/null || die "POST /_sim/reset failed"
expect_eq "the simulator starts from nothing (orders_created after reset)" 0 "$(sim_stat orders_created)"

# ------------------------------------------------------------------ intents

# ~10% user intents from the USERS users, the rest bot intents from BOTS
# bots (each bot trading for one of the users); shuffled, then cut into one
# batch per second of the first 2/3 of the chaos.
n_user=$((INTENTS / 10))
n_bot=$((INTENTS - n_user))
: >"$WORK/gen.jsonl"
for ((b = 0; b < BOTS; b++)); do
    n=$((n_bot / BOTS + (b < n_bot % BOTS ? 1 : 0)))
    ((n > 0)) || continue
    gen_intents "$WORK/gen.jsonl" "$n" --bot "chaos-$RUN-b$b" --user "chaos-$RUN-u$((b % USERS))" \
        --symbol AAPL --side buy --qty 0.01
done
for ((u = 0; u < USERS; u++)); do
    n=$((n_user / USERS + (u < n_user % USERS ? 1 : 0)))
    ((n > 0)) || continue
    gen_intents "$WORK/gen.jsonl" "$n" --user "chaos-$RUN-u$u" --symbol AAPL --side buy --qty 0.01
done
shuf --random-source=<(yes "$SEED") "$WORK/gen.jsonl" >"$WORK/all.jsonl"
jq -r .intent_id "$WORK/all.jsonl" | sort >"$WORK/all.ids"
expect_eq "$INTENTS distinct intents generated ($n_bot from $BOTS bots, $n_user from $USERS users)" \
    "$INTENTS" "$(sort -u "$WORK/all.ids" | wc -l)"

SPREAD_MS=$((CHAOS_S * 2000 / 3))
NB=$((SPREAD_MS / 1000))
((NB >= 1)) || NB=1
((NB <= INTENTS)) || NB=$INTENTS
mkdir "$WORK/batches" "$WORK/sent"
split -n "l/$NB" -d -a 4 "$WORK/all.jsonl" "$WORK/batches/"

# send_batches T0-MS: the batches, batch i at T0 + i * SPREAD_MS / NB.
send_batches() {
    local t0=$1 i=0 f due now k out
    trap 'exit 143' TERM
    for f in "$WORK"/batches/*; do
        due=$((t0 + i * SPREAD_MS / NB))
        now=$(now_ms)
        if ((due > now)); then sleep_ms $((due - now)); fi
        i=$((i + 1))
        [[ -s $f ]] || continue
        k=$(wc -l <"$f")
        out="$WORK/sent/${f##*/}"
        if timeout 120 "$IC" send --stdin --json <"$f" >"$out.json" 2>"$out.err"; then
            log "sent batch $i/$NB ($k intents)"
        else
            printf 'batch %s (%s intents): intentctl send failed: %s\n' "$i" "$k" \
                "$(head -n 3 "$out.err" | tr '\n' ' ')" >>"$WORK/send.failed"
            log "batch $i/$NB: intentctl send FAILED"
        fi
    done
    log "all $NB batches sent"
}

# ------------------------------------------------------------------ chaos

say ""
say "-- chaos for $CHAOS_S s; $INTENTS intents in $NB batches over the first $((SPREAD_MS / 1000)) s"
T0=$(now_ms)
send_batches "$T0" &
SENDER_PID=$!
END=$((T0 + CHAOS_S * 1000))
while :; do
    d=$((2000 + RANDOM % 3001))
    (($(now_ms) + d < END)) || break
    sleep_ms "$d"
    pick_action
    case $ACTION in
        kill) act_kill ;;
        term) act_term ;;
        *) act_fault "$ACTION" ;;
    esac
done
left=$((END - $(now_ms)))
if ((left > 0)); then sleep_ms "$left"; fi
log "chaos over: $KILLS SIGKILLs, $TERMS SIGTERMs, $((SPELLS_DROP + SPELLS_503)) fault spells" \
    "($SPELLS_DROP dropped answers, $SPELLS_503 all-503)"
# happened WHAT COUNT: the chaos did WHAT at least once.
happened() {
    if (($2 > 0)); then ok "the chaos had $1 ($2)"; else
        bad "the chaos had $1 (none in $CHAOS_S s: too short a CHAOS_SECONDS, or no worker was free)"
    fi
}
happened "a SIGKILL of a worker" "$KILLS"
happened "a SIGTERM of a worker" "$TERMS"
happened "a fault spell of dropped answers" "$SPELLS_DROP"
happened "a fault spell of all-503 answers" "$SPELLS_503"

sim POST /_sim/faults '{}' >/dev/null || die "could not clear the simulator's faults"
wait_jobs
for ((n = 1; n <= WORKERS; n++)); do
    dev start "worker-$n" || bad "worker-$n could be started after the chaos"
done
down=""
for ((n = 1; n <= WORKERS; n++)); do worker_pid "$n" >/dev/null || down+=" worker-$n"; done
if [[ -z $down ]]; then ok "all $WORKERS workers run after the chaos"; else
    bad "all $WORKERS workers run after the chaos (not running:$down)"
fi
if [[ -s $WORK/jobs.failed ]]; then
    bad "every stop/start during the chaos worked" "$WORK/jobs.failed"
else
    ok "every stop/start during the chaos worked"
fi

# The sender finishes by 2/3 of the chaos; bounded anyway.
for ((i = 0; i < 180; i++)); do
    kill -0 "$SENDER_PID" 2>/dev/null || break
    sleep 1
done
if kill -0 "$SENDER_PID" 2>/dev/null; then
    kill -TERM "$SENDER_PID" 2>/dev/null || true
    bad "the intent sender finished within 180 s after the chaos"
fi
wait "$SENDER_PID" 2>/dev/null || true
SENDER_PID=""
cat "$WORK"/sent/*.json 2>/dev/null | jq -r 'select(.status == "sent") | .intent_id' | sort -u \
    >"$WORK/sent.ids" || true
if [[ -s $WORK/send.failed ]]; then bad "every batch was sent" "$WORK/send.failed"; fi
expect_eq "intentctl delivered all $INTENTS intents" "$INTENTS" "$(wc -l <"$WORK/sent.ids")"

# ------------------------------------------------------------------ outcomes

say ""
say "-- waiting (at most $WAIT_S s) for every intent's terminal outcome"
t=$SECONDS
if wait_terminal "$WORK/all.ids" $((WAIT_S * 1000)); then
    ok "every intent reached a terminal outcome ($((SECONDS - t)) s after the chaos)"
else
    bad "every intent reached a terminal outcome within $WAIT_S s"
fi
SETTLE_MS=$((RECONCILE_AFTER_MS + RECONCILE_INTERVAL_MS))
say "        waiting $((SETTLE_MS / 1000)) s more (RECONCILE_AFTER_MS + RECONCILE_INTERVAL_MS)"
sleep_ms "$SETTLE_MS"

snapshot "$WORK/events" "$WORK/all.ids"
say "        $(wc -l <"$WORK/events") events on the result topics for these intents"

# 1. exactly one terminal outcome each, none missing
jqe -r "$JQ_DEFS"' select(terminal) | .intent_id' "$WORK/events" | sort -u >"$WORK/terminal.ids"
expect_same_lines "all $INTENTS intents have a terminal outcome (none missing)" \
    "$WORK/all.ids" "$WORK/terminal.ids"
jqe -rs "$JQ_DEFS"' [.[] | select(terminal)] | group_by(.intent_id)[]
    | select((map(.event_id) | unique | length) > 1)
    | "\(.[0].intent_id): \(map(.event_id) | unique | join(", "))"' "$WORK/events" >"$WORK/multi"
expect_empty "exactly one terminal outcome (distinct event_id) per intent" "$WORK/multi"
dup_pub=$(jq -rs 'group_by(.event_id) | map(select(length > 1)) | length' "$WORK/events")
say "        events published more than once (same event_id; allowed): $dup_pub"
jqe -rs '[.[] | select(._topic == $dlq)] | length' "$WORK/events" >"$WORK/dlq.count"
expect_eq "no intent went to the DLQ" 0 "$(cat "$WORK/dlq.count")"

# 2. all filled, none rejected
jqe -r 'select(._topic == $rej) | "\(.intent_id) \(.reason): \(.message)"' "$WORK/events" |
    sort -u >"$WORK/rejected"
if [[ -s $WORK/rejected ]]; then
    say "        rejections by reason:"
    awk '{ print $2 }' "$WORK/rejected" | sort | uniq -c | sed 's/^/          /'
fi
expect_empty "no intent was rejected" "$WORK/rejected"
jqe -r 'select(._topic == $fills and .type == "fill") | .intent_id' "$WORK/events" | sort -u >"$WORK/filled.ids"
FILLS=$(wc -l <"$WORK/filled.ids")
expect_eq "all $INTENTS intents filled" "$INTENTS" "$FILLS"
jqe -r 'select(._topic == $fills and (.type == "canceled" or .type == "expired"))
    | "\(.intent_id) \(.type) (\(.status))"' "$WORK/events" | sort -u >"$WORK/unfilled"
expect_empty "no order was canceled or expired" "$WORK/unfilled"

# 3. one broker order per executed intent
jqe -r 'select(._topic == $fills and .type == "accepted") | .intent_id' "$WORK/events" | sort -u >"$WORK/accepted.ids"
ACCEPTED=$(wc -l <"$WORK/accepted.ids")
sim GET /_sim/stats >"$WORK/stats.json" || die "cannot read /_sim/stats"
ORDERS=$(jq -r '.orders_created' "$WORK/stats.json")
DUPS=$(jq -r '.duplicate_client_order_ids' "$WORK/stats.json")
expect_eq "the simulator created one order per accepted intent (orders_created $ORDERS, accepted $ACCEPTED)" \
    "$ACCEPTED" "$ORDERS"
expect_eq "every intent was accepted once by the broker" "$INTENTS" "$ACCEPTED"
say "        duplicate_client_order_ids: $DUPS (lookups after lost answers or crashes; not an error)"
say "        simulator: $(jq -c '{trading_requests, fault_errors, fault_drops, responses_5xx, responses_429}' \
    "$WORK/stats.json")"

# The ledger, with the ids in a temp table: psql_ids SQL.
psql_ids() {
    psql "$DATABASE_URL" -X -q -At -F ' ' -v ON_ERROR_STOP=1 <<EOF
CREATE TEMP TABLE chaos_ids (intent_id text PRIMARY KEY);
\\copy chaos_ids FROM '$WORK/all.ids'
$1
EOF
}
rows=$(psql_ids "SELECT count(*), count(DISTINCT b.intent_id) FROM broker_orders b
    JOIN chaos_ids USING (intent_id);") || die "cannot query the ledger"
expect_eq "the ledger has exactly one broker_orders row per filled intent" "$FILLS $FILLS" "$rows"

# 4. nothing stuck in the ledger
psql_ids "SELECT i.intent_id, i.state, coalesce(i.reason, '') FROM intents i JOIN chaos_ids USING (intent_id)
    WHERE i.state NOT IN ('filled', 'canceled', 'expired', 'rejected') ORDER BY 2, 1;" \
    >"$WORK/stuck" || die "cannot query the ledger"
expect_empty "no intent is left in a non-terminal ledger state ($(wc -l <"$WORK/stuck") are)" "$WORK/stuck"
psql_ids "SELECT count(*) FROM intents JOIN chaos_ids USING (intent_id);" >"$WORK/inledger" ||
    die "cannot query the ledger"
expect_eq "every intent is in the ledger" "$INTENTS" "$(cat "$WORK/inledger")"

# 5. filled quantities agree, in billionths
SUM=$(jqe -rs "$JQ_NANOS"' [.[] | select(._topic == $fills and (.type == "fill" or .type == "partial_fill"))]
    | unique_by(.event_id) | map(.last_fill_qty | nanos) | add // 0' "$WORK/events")
code=$(curl -sS --max-time 10 -o "$WORK/pos.json" -w '%{http_code}' \
    -H "APCA-API-KEY-ID: $ALPACA_API_KEY_ID" -H "APCA-API-SECRET-KEY: $ALPACA_API_SECRET_KEY" \
    "$ALPACA_SIM_URL/v2/positions/AAPL") || die "cannot read the simulator's AAPL position"
case $code in
    200) POS=$(jq -r "$JQ_NANOS"' .qty | nanos' "$WORK/pos.json") ;;
    404) POS=0 ;;
    *) die "GET /v2/positions/AAPL answered $code: $(head -c 300 "$WORK/pos.json")" ;;
esac
WANT=$((INTENTS * 10000000))
expect_eq "sum of last_fill_qty (billionths) == the simulator's AAPL position" "$POS" "$SUM"
expect_eq "sum of last_fill_qty (billionths) == CHAOS_INTENTS * 0.01" "$WANT" "$SUM"

# 6. the ledger's integrity, without foreign keys (tests/orphans.sql)
ledger_orphans

say ""
say "        chaos: $KILLS SIGKILLs, $TERMS SIGTERMs, $((SPELLS_DROP + SPELLS_503)) fault spells" \
    "($SPELLS_DROP dropped answers, $SPELLS_503 all-503); seed $SEED"
