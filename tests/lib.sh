# tests/lib.sh -- helpers shared by the shell tests.  Sourced, not run.
#
# A test that runs on a stack starts with
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#     stack_test NAME
# which sets what every such test uses (below).  Other tests set WORK (a
# scratch folder), PASSED and FAILED themselves before using the helpers.
# shellcheck shell=bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables

# stack_test NAME: the preamble of a test that runs on a test stack.  The
# stack is OW_STACK's (a or b: tests/CMakeLists.txt sets it, and the fixture
# tests/stack.sh starts it), or, without OW_STACK, DEV_STATE_DIR's (compose/dev
# valgrind).  Exports the stack's settings (compose/dev env: KAFKA_BROKERS,
# REDIS_URL, DATABASE_URL, ALPACA_*, ...) and DEV_SCRIPT, DEV_STATE_DIR,
# DEV_NO_BUILD for the tools the test runs; sets ROOT, DEV, STATE, BIN, IC,
# T_BOT, T_USER, T_FILLS, T_REJ, T_DLQ, RUN (a random tag of this run), WORK
# (a scratch folder, removed by finish), TEST_NAME (NAME) and PASSED=FAILED=0.
stack_test() {
    TEST_NAME=$1
    ROOT=${ORDER_WORKER_ROOT:?ORDER_WORKER_ROOT is not set (run via ctest or compose/dev test)}
    DEV=$ROOT/compose/dev
    if [[ -n ${OW_STACK:-} ]]; then
        if [[ $OW_STACK == a ]]; then STATE=$ROOT/.dev-test; else STATE=$ROOT/.dev-test-$OW_STACK; fi
    else
        STATE=${DEV_STATE_DIR:?neither OW_STACK nor DEV_STATE_DIR is set (run via ctest or compose/dev test)}
    fi
    local settings
    settings=$("$DEV" --state "$STATE" env) || {
        printf '  FAIL  no running stack in %s (compose/dev env failed)\n' "$STATE"
        exit 1
    }
    eval "$settings"
    export DEV_SCRIPT=$DEV DEV_STATE_DIR=$STATE DEV_NO_BUILD=1
    BIN=${DEV_BUILD_DIR:-$ROOT/build}/bin
    IC=$BIN/intentctl
    # shellcheck disable=SC2034 # for the tests that source this file
    T_BOT=${TOPIC_INTENTS_BOT:-orders.intents.bot}
    # shellcheck disable=SC2034
    T_USER=${TOPIC_INTENTS_USER:-orders.intents.user}
    T_FILLS=${TOPIC_FILLS:-orders.fills}
    T_REJ=${TOPIC_REJECTIONS:-orders.rejections}
    T_DLQ=${TOPIC_DLQ:-orders.dlq}
    # shellcheck disable=SC2034 # for the tests that source this file
    RUN=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-$1.XXXXXX")
    PASSED=0 FAILED=0
}

say() { printf '%s\n' "$*"; }
# A failure after which the rest cannot run; cleanup counts it as one failure.
die() {
    printf '  FAIL  %s (aborting)\n' "$*"
    exit 1
}
ok() {
    PASSED=$((PASSED + 1))
    printf '  ok    %s\n' "$1"
}
# bad WHAT [DETAIL-FILE]: a failed assertion, with what differs.
bad() {
    FAILED=$((FAILED + 1))
    printf '  FAIL  %s\n' "$1"
    if [[ -n ${2:-} && -s $2 ]]; then head -n 40 "$2" | sed 's/^/        | /'; fi
}
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [[ $2 == "$3" ]]; then ok "$1"; else
        printf 'expected: %s\nactual:   %s\n' "$2" "$3" >"$WORK/eq.diff"
        bad "$1" "$WORK/eq.diff"
    fi
}
# expect_same_lines WHAT EXPECTED-FILE ACTUAL-FILE: equal as sorted line sets.
expect_same_lines() {
    if diff <(sort "$2") <(sort "$3") >"$WORK/lines.diff"; then ok "$1"; else
        sed -i '1i --- expected  +++ actual' "$WORK/lines.diff"
        bad "$1" "$WORK/lines.diff"
    fi
}
# expect_empty WHAT FILE: FILE must hold nothing (it lists the offenders).
expect_empty() {
    if [[ ! -s $2 ]]; then ok "$1"; else bad "$1" "$2"; fi
}



# sim METHOD PATH [JSON]: the simulator's control API.
sim() {
    curl -fsS --max-time 10 -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$ALPACA_SIM_URL$2"
}

# sim_stat FIELD: one number of /_sim/stats.
sim_stat() {
    local v
    v=$(sim GET /_sim/stats | jq -r --arg f "$1" '.[$f]') || die "cannot read /_sim/stats"
    [[ $v =~ ^[0-9]+$ ]] || die "/_sim/stats has no $1: $v"
    printf '%s\n' "$v"
}

sim_orders() { sim_stat orders_created; }

# worker_metric SERIES: one series (name{labels} as rendered) summed over
# the running workers' /metrics (0 where absent); needs DEV_STATE_DIR and
# DEV_ADMIN_BASE_PORT (worker-N answers on base + N).
worker_metric() {
    local pidf w sum=0 v
    for pidf in "${DEV_STATE_DIR:?}"/pids/worker-*.pid; do
        [[ -e $pidf ]] || continue
        w=$(basename "$pidf" .pid)
        v=$(curl -fsS --max-time 10 \
            "http://127.0.0.1:$((${DEV_ADMIN_BASE_PORT:?} + ${w#worker-}))/metrics" |
            awk -v k="$1" '$1 == k { printf "%d", $2 }') || die "GET /metrics of $w failed"
        sum=$((sum + ${v:-0}))
    done
    printf '%s\n' "$sum"
}

# alpaca METHOD PATH: the trading API of the simulator, with the keys.
# The simulator counts these calls against the same rate limit as the
# workers' (ALPACA_CALLS_PER_MIN): a 429 is waited out (up to 30 s), since
# the answer wanted is the order's, not the limit's.
alpaca() {
    local body status i
    for ((i = 0; i < 30; i++)); do
        body=$(curl -sS --max-time 10 -X "$1" -H "APCA-API-KEY-ID: $ALPACA_API_KEY_ID" \
            -H "APCA-API-SECRET-KEY: $ALPACA_API_SECRET_KEY" -w '\n%{http_code}' \
            "$ALPACA_SIM_URL$2") || return 1
        status=${body##*$'\n'}
        [[ $status == 429 ]] || break
        sleep 1
    done
    printf '%s\n' "${body%$'\n'*}"
}

# snapshot OUT [IDS-FILE]: every message now on the result topics (of those
# ids), as JSON lines.
snapshot() {
    local -a filter=()
    if [[ -n ${2:-} ]]; then filter=(--intents "$2"); fi
    "$IC" tail --from-beginning --exit-at-end --json --timeout 60000 "${filter[@]}" >"$1" ||
        die "intentctl tail could not read the result topics to their end"
}

# wait_terminal IDS-FILE TIMEOUT-MS: until every id has a terminal outcome.
wait_terminal() {
    local rc=0
    "$IC" tail --from-beginning --json --intents "$1" --until-terminal all \
        --timeout "$2" >/dev/null 2>"$WORK/wait.err" || rc=$?
    if ((rc != 0)); then sed 's/^/        | /' "$WORK/wait.err"; fi
    return "$rc"
}

# gen_intents OUT COUNT intentctl-send-flags...: COUNT fresh intents, appended.
gen_intents() {
    local out=$1 count=$2
    shift 2
    "$IC" send --dry-run --repeat "$count" "$@" >>"$out" || die "intentctl send --dry-run $* failed"
}

# send_lines FILE [SENT-OUT]: sends checked intents (byte for byte).
send_lines() {
    "$IC" send --stdin --json <"$1" >"${2:-$WORK/sent.json}" 2>"$WORK/send.err" || {
        sed 's/^/        | /' "$WORK/send.err"
        die "intentctl send --stdin <$1 failed"
    }
}

# shellcheck disable=SC2034 # used by the tests that source this file
JQ_DEFS='def terminal: (._topic == $fills and (.type == "fill" or .type == "canceled" or .type == "expired")) or ._topic == $rej;'
jqe() { jq --arg fills "$T_FILLS" --arg rej "$T_REJ" --arg dlq "$T_DLQ" "$@"; }

NOW() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }


# send NAME intentctl-send-flags...: sends one intent; its id goes to
# $WORK/NAME.id.
send() {
    local name=$1
    shift
    "$IC" send --json "$@" >"$WORK/$name.sent" 2>"$WORK/send.err" || {
        sed 's/^/        | /' "$WORK/send.err"
        die "intentctl send $* failed"
    }
    jq -r '.intent_id' "$WORK/$name.sent" >"$WORK/$name.id"
}

# outcome NAME: waits (30 s at most) until the intent has a terminal
# outcome and prints it: "fill", "rejected REASON: MESSAGE", or "none".
outcome() {
    local name=$1
    wait_terminal "$WORK/$name.id" 30000 >/dev/null || true
    snapshot "$WORK/$name.events" "$WORK/$name.id"
    jqe -rs "$JQ_DEFS"' [.[] | select(terminal)][0] // null
        | if . == null then "none"
          elif ._topic == $rej then "rejected \(.reason): \(.message)"
          else .type end' "$WORK/$name.events"
}

# Decimal text (or a number) to integer billionths, for jq: its numbers are
# doubles, so sums of quantities are compared as whole numbers of 1e-9
# (`jq "$JQ_NANOS"' ... | nanos'`).
# shellcheck disable=SC2034 # used by the tests that source this file
JQ_NANOS='def nanos: tostring | split(".") as $p | (($p[1] // "") + "000000000")[0:9] as $f | ($p[0] | tonumber) * 1000000000 + ($f | tonumber);'

# events NAME: every message on the result topics for NAME's intent (its
# id in $WORK/NAME.id), in topic order, as JSON lines in $WORK/NAME.events.
events() {
    snapshot "$WORK/$1.events" "$WORK/$1.id"
}

# wait_for NAME JQ-CONDITION TIMEOUT-S: until NAME's events satisfy the
# condition (a jq expression over the array of its events; $fills, $rej and
# $dlq name the topics).
wait_for() {
    local name=$1 cond=$2 deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        events "$name"
        if jqe -s -e "$cond" "$WORK/$name.events" >/dev/null; then return 0; fi
        sleep 0.3
    done
    return 1
}

# ledger_orphans: checks the ledger's integrity without foreign keys
# (tests/orphans.sql): ok when it finds nothing, bad with what it found.
ledger_orphans() {
    local out
    out=$(psql "${ADMIN_DATABASE_URL:-$DATABASE_URL}" -X -q -At -v ON_ERROR_STOP=1 \
        -f "$(dirname "${BASH_SOURCE[0]}")/orphans.sql") || die "cannot run tests/orphans.sql"
    if [[ -z $out ]]; then
        ok "ledger: no orphan rows, open_intents matches the open intents"
    else
        bad "ledger: $(wc -l <<<"$out") integrity problems: $(head -n 5 <<<"$out" | tr '\n' ';')"
    fi
}

# ledger_state ID WANT SECONDS: the intent's state in the ledger, once it is
# WANT or SECONDS have passed (an intent resumed after a restart settles
# when its message comes back, a little after its target's event).
ledger_state() {
    local state="" deadline=$((SECONDS + $3))
    while :; do
        state=$(psql "$DATABASE_URL" -At -c "SELECT state FROM intents WHERE intent_id = '$1'")
        if [[ $state == "$2" ]] || ((SECONDS >= deadline)); then break; fi
        sleep 0.3
    done
    printf '%s\n' "$state"
}

# expect_outcome WHAT NAME PATTERN: the intent's outcome matches PATTERN
# (a bash glob).
expect_outcome() {
    local got
    got=$(outcome "$2")
    # shellcheck disable=SC2053 # $3 is a glob on purpose
    if [[ $got == $3 ]]; then ok "$1"; else
        printf 'expected: %s\nactual:   %s\n' "$3" "$got" >"$WORK/eq.diff"
        bad "$1" "$WORK/eq.diff"
    fi
}

# dev WHAT...: compose/dev on this stack (needs DEV, STATE), bounded, its
# output appended to $WORK/dev.log; a failure prints the log's end and is
# counted.
dev() {
    local rc=0
    timeout 300 "$DEV" --state "$STATE" "$@" >>"$WORK/dev.log" 2>&1 || rc=$?
    if ((rc != 0)); then
        tail -n 30 "$WORK/dev.log" | sed 's/^/        | /'
        printf '  FAIL  compose/dev %s (exit %d)\n' "$*" "$rc"
    fi
    return "$rc"
}

# restore_workers [N]: restarts the workers (N of them, or as many as run)
# with the environment as it is now; a failure is counted.  Needs DEV, STATE.
# shellcheck disable=SC2120 # the count is optional
restore_workers() {
    timeout 180 "$DEV" --state "$STATE" workers-restart ${1:+"$1"} >"$WORK/restore.log" 2>&1 || {
        sed 's/^/        | /' "$WORK/restore.log"
        printf '  FAIL  restarting the workers\n'
        FAILED=$((FAILED + 1))
    }
}

# mark NAME / since NAME [WORKER]: what the worker logs (or worker-WORKER's
# alone) gained after the mark: a test's own window of logs that accumulate
# over the suite (a log that appeared after the mark counts whole).  Needs
# STATE.
mark() {
    local f
    for f in "$STATE"/logs/worker-*.log; do
        [[ -e $f ]] && printf '%s %s\n' "$(stat -c %s "$f")" "$f"
    done >"$WORK/$1.mark"
}
since() {
    local f off
    for f in "$STATE"/logs/worker-${2:-*}.log; do
        [[ -e $f ]] || continue
        off=$(awk -v f="$f" '$2 == f { print $1 }' "$WORK/$1.mark")
        tail -c "+$((${off:-0} + 1))" "$f"
    done
}

# failpoint_hit SECONDS: waits (bounded) until a worker's log says it exited
# at its WORKER_FAILPOINT, and prints that log's path (nothing when none
# did).  The failpoint lines are then moved aside (event "failpoint-seen"),
# so that the next wait sees only its own.  Needs STATE.
failpoint_hit() {
    local died="" i f
    for ((i = 0; i < $1 * 2; i++)); do
        died=$(grep -l '"event":"failpoint"' "$STATE"/logs/worker-*.log 2>/dev/null | head -n1) || true
        [[ -n $died ]] && break
        sleep 0.5
    done
    for f in "$STATE"/logs/worker-*.log; do sed -i 's/"event":"failpoint"/"event":"failpoint-seen"/' "$f"; done
    printf '%s\n' "$died"
}

# keep_logs [NAME DIR]: what DIR (default WORK) holds of the processes'
# output, kept as NAME for tests/test_secrets.sh before DIR goes
# (tests/keep_logs.sh); a failure is counted.
# shellcheck disable=SC2120 # the arguments are optional
keep_logs() {
    local dir=${2:-$WORK}
    bash "$(dirname "${BASH_SOURCE[0]}")/keep_logs.sh" "${1:-$(basename "$dir")}" "$dir" ||
        bad "the logs of $dir kept for test_secrets (tests/keep_logs.sh failed)"
}

# test_exit: the EXIT trap of a test (`trap test_exit EXIT`): an exit with
# a non-zero status (a `die`, a command failing under set -e) counts as a
# failure; then the test's own `undo`, if it defines one (what it changed,
# put back), runs without -e; then finish.
test_exit() {
    local rc=$?
    set +e
    if ((rc != 0)); then FAILED=$((FAILED + 1)); fi
    if declare -F undo >/dev/null; then undo; fi
    finish
}

# The kill switch as a test sets it.  ic_state halt|reduce|resume
# SCOPE-FLAGS...: the operator's command, with the reason "test_NAME RUN"
# (NAME: stack_test's); the scope is remembered in TOUCHED.  On exit,
# resume_touched IDS [SCOPE-FLAGS...] resumes every scope remembered (and
# those given), then deletes the run's rows of trading_states (id LIKE IDS;
# their history stays in trading_state_changes); a failure is counted.
TOUCHED=()
ic_state() {
    local cmd=$1
    shift
    TOUCHED+=("$*")
    timeout 30 "$IC" "$cmd" "$@" --reason "test_$TEST_NAME $RUN" >"$WORK/state.out" 2>&1 || {
        sed 's/^/        | /' "$WORK/state.out"
        die "intentctl $cmd $* failed"
    }
}
resume_touched() {
    local ids=$1 s
    shift
    for s in "${TOUCHED[@]}" "$@"; do
        # shellcheck disable=SC2086 # "--bot ID": option and value
        timeout 30 "$IC" resume $s --reason "test_$TEST_NAME cleanup" >/dev/null 2>"$WORK/resume.err" || {
            sed 's/^/        | /' "$WORK/resume.err"
            printf '  FAIL  intentctl resume %s on exit\n' "$s"
            FAILED=$((FAILED + 1))
        }
    done
    psql "${ADMIN_DATABASE_URL:-$DATABASE_URL}" -q -v ON_ERROR_STOP=1 -v ids="$ids" \
        <<<"DELETE FROM trading_states WHERE id LIKE :'ids'" >/dev/null ||
        FAILED=$((FAILED + 1))
}

# save_settings NAME...: remembers the environment variables NAME... (set or
# not) for restore_settings, before a test exports its own values.
declare -A SAVED_SETTINGS=()
save_settings() {
    local v
    for v in "$@"; do SAVED_SETTINGS[$v]=${!v-__unset__}; done
}

# restore_settings: every variable save_settings remembered, as it was.
restore_settings() {
    local v
    for v in "${!SAVED_SETTINGS[@]}"; do
        if [[ ${SAVED_SETTINGS[$v]} == __unset__ ]]; then unset "$v"; else export "$v=${SAVED_SETTINGS[$v]}"; fi
    done
}

# finish: the end of a test's EXIT trap: removes WORK, prints the summary
# and exits with the status (an EXIT trap's own status is not the script's).
finish() {
    # shellcheck disable=SC2119 # WORK, the default
    keep_logs
    rm -rf "$WORK"
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    if ((FAILED > 0)); then exit 1; fi
    exit 0
}
