#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# bench/run.sh -- `compose/dev bench [--quick]`: the benchmark of issue 8.
#
# Owns: bringing up a stack of its own (state dir .dev-bench, or
# .dev-bench-quick; ports distinct from the dev and test stacks unless
# DEV_*_PORT say otherwise), running the scenarios below with build/bin/
# ow-loadgen, measuring the workers from outside (/proc, /metrics, the
# simulator's /_sim/stats), and writing bench/results/latest.{json,md} plus
# timestamped copies (--quick: bench/results/quick/, gitignored).  Why: the
# figures must come from the real local stack, reproducibly, with the
# machine, versions, command and date attached to every result.
#
# Scenarios (the full run; --quick runs the same, tiny, with 1 replica and a
# scaled-down budget):
#   throughput-1, throughput-2  limits lifted; --rate max with a closed-loop
#       window; fills per second over the steady window (after warm-up), 1
#       then 2 replicas; rejections per second reported apart (a worker that
#       rejects fast must not pass for a fast one).
#   latency-1000  2 replicas, a fixed 1,000 intents/s: created_at -> accepted
#       read back (ow-loadgen), consume -> outcome (the workers' histogram
#       order_worker_intent_processing_seconds, bucket deltas between the
#       start and the end of the steady window: bucket resolution), CPU per
#       intent (utime+stime of the worker pids / intents the histogram
#       counted in the same interval), peak RSS (VmHWM).
#   backlog     workers stopped, N intents published (1,000,000), then 2
#       replicas drain them; peak RSS per replica (VmHWM) and the drain rate.
#       The full drain is capped at BENCH_DRAIN_MAX_S (default 900 s); what
#       was drained by then is reported.
#   realtime-20, realtime-200  what a trader feels: a fresh stack, 1 replica,
#       the settings a user runs (quotas and budget lifted, the simulator's
#       100 ms tick and 10% partial fills, fills pushed by its trade_updates
#       stream), 60 s of market orders at a fixed 20 then 200 intents/s over
#       1,000 bots and 10 users: publication -> `accepted` and -> `fill` read
#       back (ow-loadgen, p50/p90/p99/max), the simulator's own fill time
#       (its orders' filled_at, those of the steady window) -> `fill` read
#       back, each result event's hop
#       on its topic, the worker's per-stage breakdown
#       (order_worker_stage_seconds deltas over the steady window,
#       bench/stages.awk) and the trading API calls per minute spent on
#       anything but placements (order_worker_alpaca_requests_total).
#   budget      a fresh stack, 3 replicas, the real limits (ALPACA_CALLS_PER_MIN
#       200 per RATE_PERIOD_MS 60000 for the workers AND the simulator, default
#       quotas), 5 minutes offered at 25 intents/s (7.5x the budget) over 200
#       bots and 20 users (each under its own quota): trading API calls in
#       every full minute (sampled from /_sim/stats each second), responses_429,
#       max_requests_in_any_period, and the oldest waiting intent's wait.
#   priority    a fresh stack, 3 replicas, the budget scaled tenfold
#       (ALPACA_CALLS_PER_MIN 200 per RATE_PERIOD_MS 6000, workers and
#       simulator), quotas lifted: one bot floods (3,000 intents) and sixty
#       others queue 20 each, far beyond the budget; meanwhile, every 500 ms,
#       a user places a market order and a bot cancels one of its resting
#       orders (40 of each, bench/priority.py): publication -> the user
#       intent's accepted and terminal events, and -> the cancel's outcome,
#       read back; the workers' budget wait by priority.
#   ceiling     the fleet's ceiling: a fresh stack without workers, and
#       build/bin/ow-ceiling (bench/ceiling) running the worker's own ledger
#       calls alone against its PostgreSQL (a batch of BENCH_CEILING_BATCH,
#       default 32, new valid intents at a time: record, submitting, commit
#       with the events, deferred published marks and unlocks), then the
#       worker's own Redis calls alone against its Redis (each intent's quota
#       decision and its placement's budget token, limits lifted), each for
#       20 s at 1, 2 and 4 connections: intents/s, each call's p50/p99, the
#       server's CPU per intent (utime+stime of the postmaster and its
#       children, or of redis-server), PostgreSQL transactions or Redis
#       commands per intent, how busy the machine was.  With replicas on
#       machines of their own, one ledger and one Redis carry at most that.
#
# Except in the realtime scenarios, the simulator fills marketable orders
# inside the POST (SIM_FILL_ON_SUBMIT=1, no partial fills) so that an intent's terminal outcome is the worker's work,
# not the simulated market's 100 ms tick and the follower's polling; its cash
# is raised so a million buys do not run out of buying power.  Kafka topics get
# 64 partitions (DEV_KAFKA_PARTITIONS): the development broker keeps at most
# 5 MB per partition, and the backlog must fit.
#
# BENCH_KEEP_DIR (set by tests/test_bench.sh inside the suite): before each
# stack of the run is purged, its logs and secrets are kept in
# BENCH_KEEP_DIR/stack-N/ (compose/dev down --purge --keep), so that
# tests/test_secrets.sh can search the bench stacks' logs for their secrets.
#
# Every throughput run also reports the CPU per intent of each process of the
# stack (workers, PostgreSQL with its backends, Redis, the dev broker, the
# simulator, the load generator).  BENCH_PROFILE_S=N (default 0: off) adds,
# after each throughput run, a run of its own under the same load in which,
# for N seconds, `perf stat` counts the workers' system calls and context
# switches per intent and `perf record -g` samples them (the top symbols go
# in the table, the report stays in WORK): the measured figures are never
# taken under perf.
#
# Exit status: 0 when every scenario produced its numbers and files, 1 if one
# produced nothing.  Never a speed check.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DEV=${DEV_SCRIPT:-$REPO/compose/dev}
BIN=${DEV_BUILD_DIR:-$REPO/build}/bin
LOADGEN="$BIN/ow-loadgen"
CEILING="$BIN/ow-ceiling"

QUICK=0
STATE=""
ONLY=""
ARGS=("$@")
while (($# > 0)); do
    case $1 in
        --quick) QUICK=1 ;;
        --state) STATE=$2; shift ;;
        --state=*) STATE=${1#*=} ;;
        --only) ONLY=$2; shift ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            echo "usage: compose/dev bench [--quick] [--state DIR] [--only throughput,latency,realtime,backlog,budget,priority,ceiling]"
            exit 0
            ;;
        *) echo "bench: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done

if [[ -z $STATE ]]; then
    if ((QUICK)); then STATE="$REPO/.dev-bench-quick"; else STATE="$REPO/.dev-bench"; fi
fi
STATE=$(realpath -m -- "$STATE")
WORK="$STATE.work"
if ((QUICK)); then OUT="$REPO/bench/results/quick"; else OUT="$REPO/bench/results"; fi
export DEV_PG_PORT=${DEV_PG_PORT:-63432} DEV_REDIS_PORT=${DEV_REDIS_PORT:-63379}
export DEV_SIM_PORT=${DEV_SIM_PORT:-63080} DEV_ADMIN_PORT=${DEV_ADMIN_PORT:-63100}
SIM="http://127.0.0.1:$DEV_SIM_PORT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Sizes of the scenarios.
if ((QUICK)); then
    TP_REPLICAS=(1) TP_WARMUP=1 TP_DURATION=3 TP_WINDOW=300
    LAT_REPLICAS=1 LAT_RATE=200 LAT_WARMUP=1 LAT_DURATION=2
    BACKLOG=3000 BACKLOG_REPLICAS=1 DRAIN_MAX=${BENCH_DRAIN_MAX_S:-40}
    BUDGET_REPLICAS=2 BUDGET_CALLS=20 BUDGET_PERIOD_MS=5000 BUDGET_SECONDS=20 BUDGET_RATE=10
    BUDGET_BOTS=20 BUDGET_USERS=4
    RT_RATES=(20 200) RT_WARMUP=1 RT_DURATION=3
    PRIO_ARGS=(--flood 200 --others 10 --per-other 5 --probes 6 --settle 2 --timeout 60)
    CEIL_CONNECTIONS=(1) CEIL_DURATION=2
else
    TP_REPLICAS=(1 2) TP_WARMUP=10 TP_DURATION=30 TP_WINDOW=4000
    LAT_REPLICAS=2 LAT_RATE=1000 LAT_WARMUP=10 LAT_DURATION=30
    BACKLOG=1000000 BACKLOG_REPLICAS=2 DRAIN_MAX=${BENCH_DRAIN_MAX_S:-900}
    BUDGET_REPLICAS=3 BUDGET_CALLS=200 BUDGET_PERIOD_MS=60000 BUDGET_SECONDS=300 BUDGET_RATE=25
    BUDGET_BOTS=200 BUDGET_USERS=20
    RT_RATES=(20 200) RT_WARMUP=5 RT_DURATION=60
    PRIO_ARGS=(--flood 3000 --others 60 --per-other 20 --probes 40 --settle 5 --timeout 120)
    CEIL_CONNECTIONS=(1 2 4) CEIL_DURATION=20
fi
BOTS=${BENCH_BOTS:-100} USERS=${BENCH_USERS:-10}
PROFILE_S=${BENCH_PROFILE_S:-0}
CEIL_BATCH=${BENCH_CEILING_BATCH:-32}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

dev() { "$DEV" --state "$STATE" "$@"; }

[[ -x $LOADGEN ]] || die "$LOADGEN is missing (compose/dev build)"
for c in curl jq awk; do command -v "$c" >/dev/null || die "$c is missing (compose/dev install)"; done
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
FAILED_SCENARIOS=()

teardown() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    jobs -p | xargs -r kill 2>/dev/null
    say "tearing the bench stack down ($STATE)"
    purge_stack >>"$WORK/dev.log" 2>&1 || say "teardown reported an error (see $WORK/dev.log)"
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the stack

# purge_stack: compose/dev down --purge; with BENCH_KEEP_DIR set (the suite's
# tests/test_bench.sh), the stack's logs and secrets are kept first in
# BENCH_KEEP_DIR/stack-N/ (one per stack of the run), for tests/test_secrets.sh.
KEPT_STACKS=0
purge_stack() {
    local -a keep=()
    if [[ -n ${BENCH_KEEP_DIR:-} && -e $STATE/.order-worker-dev ]]; then
        KEPT_STACKS=$((KEPT_STACKS + 1))
        keep=(--keep "$BENCH_KEEP_DIR/stack-$KEPT_STACKS")
    fi
    dev down --purge "${keep[@]}"
}

# Settings of the throughput scenarios: every limit lifted.
env_lifted() {
    export BOT_TRADES_PER_MIN=1000000 USER_TRADES_PER_MIN=1000000 ALPACA_CALLS_PER_MIN=1000000
    export RATE_PERIOD_MS=60000 INTENT_MAX_AGE_MS=3600000
    export WORKER_MAX_IN_FLIGHT=${BENCH_MAX_IN_FLIGHT:-1000} LOG_LEVEL=warn
    export SIM_FILL_ON_SUBMIT=1 SIM_PARTIAL_FILL_RATE=0 DEV_KAFKA_PARTITIONS=64
}

# The realtime scenarios: the settings a user runs, limits lifted so that
# the quotas and the budget never hold an intent; the simulator as it starts
# (fills at its 100 ms tick, 10% of them partial).
env_realtime() {
    export BOT_TRADES_PER_MIN=1000000 USER_TRADES_PER_MIN=1000000 ALPACA_CALLS_PER_MIN=1000000
    export RATE_PERIOD_MS=60000 INTENT_MAX_AGE_MS=3600000
    unset LOG_LEVEL WORKER_MAX_IN_FLIGHT SIM_FILL_ON_SUBMIT SIM_PARTIAL_FILL_RATE DEV_KAFKA_PARTITIONS
}

# The budget scenario: real Alpaca budget (workers and simulator), default quotas.
env_budget() {
    unset BOT_TRADES_PER_MIN USER_TRADES_PER_MIN
    export ALPACA_CALLS_PER_MIN=$BUDGET_CALLS RATE_PERIOD_MS=$BUDGET_PERIOD_MS
    export INTENT_MAX_AGE_MS=3600000 LOG_LEVEL=warn
    export SIM_FILL_ON_SUBMIT=1 SIM_PARTIAL_FILL_RATE=0 DEV_KAFKA_PARTITIONS=64
}

stack_fresh() { # stack_fresh REPLICAS
    say "fresh stack in $STATE with $1 worker(s)"
    purge_stack >>"$WORK/dev.log" 2>&1 || true
    dev --workers "$1" up >>"$WORK/dev.log" 2>&1 || { tail -n 30 "$WORK/dev.log" >&2; die "compose/dev up failed"; }
    eval "$(dev env)"
    # A million market buys need more than the simulated account's $100,000.
    curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' \
        --data '{"cash":"1000000000000"}' "$SIM/_sim/account" >/dev/null || die "POST /_sim/account failed"
}

workers_restart() { # workers_restart N
    say "workers-restart $1"
    dev workers-restart "$1" >>"$WORK/dev.log" 2>&1 || { tail -n 30 "$WORK/dev.log" >&2; die "workers-restart $1 failed"; }
}

worker_pids() {
    local f
    for f in "$STATE"/pids/worker-*.pid; do [[ -e $f ]] && head -n1 "$f"; done
}

# ---------------------------------------------------------------- measuring

# cpu_ticks: utime+stime (clock ticks) summed over the worker pids.
cpu_ticks() {
    local pid total=0 s
    for pid in $(worker_pids); do
        s=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        s=${s##*) }
        # fields after the command: state is 1, utime 12, stime 13
        total=$((total + $(awk '{print $12 + $13}' <<<"$s")))
    done
    echo "$total"
}

# pid_ticks PID: utime+stime of one process.
pid_ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    awk '{print $12 + $13}' <<<"$s"
}

# machine_ticks: "busy total" jiffies of the whole machine (/proc/stat).
machine_ticks() {
    awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat
}

# round_trips: "pg_transactions redis_commands sim_trading_requests" so far
# (how many calls to each dependency the intents cost; the stack's own totals).
round_trips() {
    local pg redis sim pgbin
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    pg=$(PGPASSFILE="$STATE/pgpass" "$pgbin/psql" -X -tA -h 127.0.0.1 -p "$DEV_PG_PORT" -U postgres \
        -d postgres -c "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database" 2>/dev/null || echo 0)
    redis=$(REDISCLI_AUTH=$(head -n1 "$STATE/redis.password") redis-cli -h 127.0.0.1 -p "$DEV_REDIS_PORT" \
        info stats 2>/dev/null | awk -F: '/^total_commands_processed:/ {print $2 + 0}')
    sim=$(curl -fsS --max-time 5 "$SIM/_sim/stats" 2>/dev/null | jq '.trading_requests // 0' || echo 0)
    echo "${pg:-0} ${redis:-0} ${sim:-0}"
}

# stack_ticks: "postgres redis kafka sim" utime+stime ticks so far (the
# PostgreSQL figure sums the postmaster and its children: the backends).
stack_ticks() {
    local pm kids t_pg=0 p name pid
    pm=$(head -n1 "$STATE/pids/postgres.pid" 2>/dev/null || echo 0)
    if [[ $pm != 0 ]]; then
        kids=$(ps -o pid= --ppid "$pm" 2>/dev/null || true)
        for p in $pm $kids; do t_pg=$((t_pg + $(pid_ticks "$p"))); done
    fi
    local out="$t_pg"
    for name in redis kafka alpaca-sim; do
        pid=$(head -n1 "$STATE/pids/$name.pid" 2>/dev/null || echo 0)
        out+=" $(pid_ticks "$pid")"
    done
    echo "$out"
}

# rss_json: [{"replica":..,"pid":..,"vmhwm_kb":..,"vmrss_kb":..}, ...]
rss_json() {
    local f name pid hwm rss
    {
        for f in "$STATE"/pids/worker-*.pid; do
            [[ -e $f ]] || continue
            name=${f##*/}
            name=${name%.pid}
            pid=$(head -n1 "$f")
            hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
            rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
            jq -n --arg r "$name" --argjson p "$pid" --argjson h "${hwm:-0}" --argjson s "${rss:-0}" \
                '{replica: $r, pid: $p, vmhwm_kb: $h, vmrss_kb: $s}'
        done
    } | jq -s .
}

# scrape_workers OUT: the /metrics of every running worker, one after the other.
scrape_workers() {
    local i
    : >"$1"
    for ((i = 1; i <= 9; i++)); do
        [[ -e $STATE/pids/worker-$i.pid ]] || continue
        curl -fsS --max-time 5 "http://127.0.0.1:$((DEV_ADMIN_PORT + i))/metrics" >>"$1" 2>/dev/null || true
    done
}

# hist_snapshot FILE: the summed buckets of order_worker_intent_processing_seconds
# over every replica and topic, as "le count" lines (cumulative), plus "count N".
hist_snapshot() {
    scrape_workers "$1.raw"
    awk '
        /^order_worker_intent_processing_seconds_bucket/ {
            match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
            b[le] += $NF; seen[le] = 1
        }
        /^order_worker_intent_processing_seconds_count/ { c += $NF }
        END { for (le in seen) print le, b[le]; print "count", c + 0 }
    ' "$1.raw" >"$1"
}

# hist_json BEFORE AFTER: percentiles (upper bucket bounds, ms) of the delta.
hist_json() {
    awk '
        NR == FNR { before[$1] = $2; next }
        { after[$1] = $2 }
        END {
            n = after["count"] - before["count"]
            k = 0
            for (le in after) if (le != "count" && le != "+Inf") { les[++k] = le + 0; key[le + 0] = le }
            # sort numerically
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (les[j] < les[i]) { t = les[i]; les[i] = les[j]; les[j] = t }
            split("0.5 0.9 0.99", ps, " ")
            names[1] = "p50_ms"; names[2] = "p90_ms"; names[3] = "p99_ms"
            printf "{\"what\":\"order_worker_intent_processing_seconds: consume to first durable outcome; upper bound of the bucket holding the percentile (bucket resolution)\",\"n\":%d", n
            for (q = 1; q <= 3; q++) {
                v = "null"
                if (n > 0) {
                    v = "\">60000\""
                    for (i = 1; i <= k; i++) {
                        d = after[key[les[i]]] - before[key[les[i]]]
                        if (d >= ps[q] * n) { v = les[i] * 1000; break }
                    }
                }
                printf ",\"%s\":%s", names[q], v
            }
            mx = "null"
            if (n > 0) {
                prev = 0; mx = "\">60000\""
                for (i = 1; i <= k; i++) {
                    d = after[key[les[i]]] - before[key[les[i]]]
                    if (d >= n) { mx = les[i] * 1000; break }
                }
            }
            printf ",\"max_ms_bucket\":%s}\n", mx
        }
    ' "$1" "$2"
}

# loadgen_bg OUTJSON ARGS...: starts ow-loadgen in the background, waits for
# its ready file (consumer assigned, producer connected); pid in LG_PID.
loadgen_bg() {
    local out=$1
    shift
    rm -f "$WORK/ready"
    "$LOADGEN" --json "$out" --ready-file "$WORK/ready" "$@" 2>>"$WORK/loadgen.log" &
    LG_PID=$!
    local i
    for ((i = 0; i < 300; i++)); do
        [[ -s $WORK/ready ]] && return 0
        kill -0 "$LG_PID" 2>/dev/null || { tail -n 20 "$WORK/loadgen.log" >&2; return 1; }
        sleep 0.1
    done
    say "ow-loadgen did not become ready in 30 s"
    return 1
}

loadgen_wait() { # sets LG_RC
    LG_RC=0
    wait "$LG_PID" || LG_RC=$?
}

# profile_workers NAME SECONDS: perf stat and perf record of the workers for
# SECONDS (under load); prints the JSON of the window:
# syscalls and context switches per intent, the top symbols (self).
profile_workers() {
    local name=$1 s=$2 pids h0 h1 n
    pids=$(worker_pids | paste -sd,)
    command -v perf >/dev/null || { echo null; return; }
    hist_snapshot "$WORK/$name.p0"
    perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$pids" -o "$WORK/$name.stat" \
        -- sleep "$s" 2>/dev/null &
    local stat_pid=$!
    perf record -q -F 499 -g -p "$pids" -o "$WORK/$name.perf" -- sleep "$s" >/dev/null 2>&1 || true
    wait "$stat_pid" || true
    hist_snapshot "$WORK/$name.p1"
    h0=$(awk '$1 == "count" {print $2}' "$WORK/$name.p0")
    h1=$(awk '$1 == "count" {print $2}' "$WORK/$name.p1")
    n=$((h1 - h0))
    perf report -q -i "$WORK/$name.perf" --no-children --sort dso,sym --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | head -n 20 >"$WORK/$name.top" || true
    jq -n --argjson s "$s" --argjson n "$n" \
        --arg stat "$(cat "$WORK/$name.stat" 2>/dev/null)" --rawfile top "$WORK/$name.top" '
        ($stat | split("\n") | map(split(",")) | map(select(length > 2))
         | map({(.[2]): (.[0] | tonumber? // 0)}) | add // {}) as $c
        | {seconds: $s, intents: $n,
           syscalls_per_intent: (if $n > 0 then ($c["raw_syscalls:sys_enter"] // 0) / $n else null end),
           context_switches_per_intent: (if $n > 0 then ($c["context-switches"] // 0) / $n else null end),
           top: [$top | split("\n")[] | select(length > 0)
                 | capture("^ *(?<pct>[0-9.]+)% +(?<dso>\\S+) +\\[.\\] (?<sym>.*)$")
                 | {pct: (.pct | tonumber), dso, sym: (.sym | sub(" +$"; ""))}]}'
}

# ---------------------------------------------------------------- scenarios

scenario_failed() {
    say "scenario $1 produced nothing: $2"
    FAILED_SCENARIOS+=("$1")
}

# run_load NAME REPLICAS WARMUP DURATION LOADGEN-ARGS...: one measured load run
# on the running stack; writes $WORK/NAME.json.
run_load() {
    local name=$1 replicas=$2 warmup=$3 duration=$4
    shift 4
    say "scenario $name: $replicas replica(s), ow-loadgen $*"
    if ! loadgen_bg "$WORK/$name.loadgen.json" --warmup "$warmup" --duration "$duration" \
        --bots "$BOTS" --users "$USERS" "$@"; then
        scenario_failed "$name" "ow-loadgen did not start"
        return 0
    fi
    sleep "$warmup"
    local c0 c1 t0 t1 l0 l1 m0 m1 rt0 rt1 s0 s1
    rt0=$(round_trips)
    hist_snapshot "$WORK/$name.h0"
    c0=$(cpu_ticks)
    s0=$(stack_ticks)
    l0=$(pid_ticks "$LG_PID")
    m0=$(machine_ticks)
    t0=$(date +%s.%N)
    sleep "$duration"
    hist_snapshot "$WORK/$name.h1"
    c1=$(cpu_ticks)
    s1=$(stack_ticks)
    l1=$(pid_ticks "$LG_PID")
    m1=$(machine_ticks)
    t1=$(date +%s.%N)
    rt1=$(round_trips)
    loadgen_wait
    if [[ ! -s $WORK/$name.loadgen.json ]]; then
        scenario_failed "$name" "ow-loadgen wrote no result (exit $LG_RC)"
        return 0
    fi
    local hist rss tck
    hist=$(hist_json "$WORK/$name.h0" "$WORK/$name.h1")
    rss=$(rss_json)
    tck=$(getconf CLK_TCK)
    jq -n --arg name "$name" --argjson replicas "$replicas" --slurpfile lg "$WORK/$name.loadgen.json" \
        --argjson hist "$hist" --argjson rss "$rss" --argjson c0 "$c0" --argjson c1 "$c1" \
        --argjson tck "$tck" --argjson t0 "$t0" --argjson t1 "$t1" --argjson rc "$LG_RC" \
        --argjson rt0 "[${rt0// /,}]" --argjson rt1 "[${rt1// /,}]" \
        --argjson s0 "[${s0// /,}]" --argjson s1 "[${s1// /,}]" \
        --argjson l0 "$l0" --argjson l1 "$l1" --argjson m0 "[${m0// /,}]" --argjson m1 "[${m1// /,}]" '
        ($hist.n) as $n | (($c1 - $c0) / $tck) as $cpu |
        {scenario: $name, replicas: $replicas, loadgen_exit: $rc, loadgen: $lg[0],
         worker_processing: $hist,
         worker_cpu: {seconds: $cpu, interval_s: ($t1 - $t0), intents: $n,
                      cores_busy: (if $t1 > $t0 then $cpu / ($t1 - $t0) else null end),
                      us_per_intent: (if $n > 0 then $cpu * 1e6 / $n else null end),
                      what: "utime+stime of the worker processes over the steady window / intents their histogram counted in it"},
         loadgen_cpu_seconds: (($l1 - $l0) / $tck),
         stack_cpu_seconds: {workers: $cpu, postgres: (($s1[0] - $s0[0]) / $tck), redis: (($s1[1] - $s0[1]) / $tck),
             kafka_dev_broker: (($s1[2] - $s0[2]) / $tck), alpaca_sim: (($s1[3] - $s0[3]) / $tck),
             loadgen: (($l1 - $l0) / $tck), interval_s: ($t1 - $t0)},
         calls_per_intent: (if $n > 0 then {postgres_transactions: (($rt1[0] - $rt0[0]) / $n),
             redis_commands: (($rt1[1] - $rt0[1]) / $n), alpaca_trading_requests: (($rt1[2] - $rt0[2]) / $n),
             what: "stack-wide totals over the steady window (pg_stat_database, Redis INFO, /_sim/stats) / intents"} else null end),
         machine_busy_fraction: (if $m1[1] > $m0[1] then ($m1[0] - $m0[0]) / ($m1[1] - $m0[1]) else null end),
         worker_memory: $rss}' >"$WORK/$name.json"
    local rej
    rej=$(jq '.loadgen.consumer.rejected' "$WORK/$name.json")
    if [[ $rej != 0 ]]; then
        say "WARNING: $name: $rej rejections in a throughput run: $(jq -c '.loadgen.consumer.non_fill_outcomes' "$WORK/$name.json")"
    fi
}

scenario_throughput() {
    local r first=1
    env_lifted
    for r in "${TP_REPLICAS[@]}"; do
        if ((first)); then stack_fresh "$r"; first=0; else workers_restart "$r"; fi
        run_load "throughput-$r" "$r" "$TP_WARMUP" "$TP_DURATION" --rate max --window "$TP_WINDOW" \
            --drain-timeout 60
        if ((PROFILE_S > 0)); then profile_run "throughput-$r"; fi
    done
}

# profile_run NAME: a run of its own under the same load, after NAME's
# (BENCH_PROFILE_S), whose profile goes into NAME's result as .profile.
profile_run() {
    local name=$1 profile
    [[ -s $WORK/$name.json ]] || return 0
    say "scenario $name: profiling the workers for $PROFILE_S s (perf)"
    loadgen_bg "$WORK/$name.prof.json" --warmup 2 --duration "$((PROFILE_S + 2))" \
        --bots "$BOTS" --users "$USERS" --rate max --window "$TP_WINDOW" --drain-timeout 60 ||
        return 0
    sleep 2
    profile=$(profile_workers "$name" "$PROFILE_S")
    loadgen_wait
    jq --argjson p "$profile" '.profile = $p' "$WORK/$name.json" >"$WORK/$name.json.tmp" &&
        mv "$WORK/$name.json.tmp" "$WORK/$name.json"
}

scenario_latency() {
    env_lifted
    if [[ -s $STATE/kafka.bootstrap ]]; then
        if [[ $(head -n1 "$STATE/workers" 2>/dev/null) != "$LAT_REPLICAS" ]]; then
            workers_restart "$LAT_REPLICAS"
        fi
    else
        stack_fresh "$LAT_REPLICAS"
    fi
    run_load "latency-$LAT_RATE" "$LAT_REPLICAS" "$LAT_WARMUP" "$LAT_DURATION" --rate "$LAT_RATE" \
        --drain-timeout 60
}

# sim_fill_times OUT: "order_id<TAB>filled_at" of every order the simulator
# filled, from its REST listing (closed orders, oldest first, 500 a page).
sim_fill_times() {
    local out=$1 after="" page n hdr="$WORK/sim.headers"
    : >"$out"
    # The keys go in a file, not on a command line that ps shows.
    (umask 077 && printf 'APCA-API-KEY-ID: %s\nAPCA-API-SECRET-KEY: %s\n' \
        "$ALPACA_API_KEY_ID" "$ALPACA_API_SECRET_KEY" >"$hdr")
    while :; do
        page=$(curl -fsS --max-time 20 -H "@$hdr" \
            "$SIM/v2/orders?status=closed&limit=500&direction=asc${after:+&after=$after}") || {
            rm -f "$hdr"
            return 1
        }
        jq -r '.[] | select(.status == "filled") | [.id, .filled_at] | @tsv' <<<"$page" >>"$out"
        n=$(jq length <<<"$page")
        ((n < 500)) && break
        after=$(jq -r '.[-1].submitted_at' <<<"$page")
    done
    rm -f "$hdr"
}

# sim_fill_json LOADGEN-FILLS SIM-FILLS T0 T1: the simulator's fill time ->
# the fill event read back, over the fills ow-loadgen read of the orders the
# simulator filled within the steady window T0..T1 (Unix seconds) (percentiles,
# ms).  The window, as for the stages: the warm-up's first fills wait for the
# reader's partitions to be assigned, which is ow-loadgen starting, not the
# stack.
sim_fill_json() {
    jq -n --rawfile lg "$1" --rawfile sim "$2" --argjson t0 "$3" --argjson t1 "$4" '
        def us: (.[0:19] + "Z" | fromdateiso8601) * 1000000
                + ((.[20:26] + "000000")[0:6] | tonumber);
        ($sim | split("\n") | map(select(length > 0) | split("\t") | {(.[0]): (.[1] | us)}) | add // {}) as $all
        | ($all | with_entries(select(.value >= $t0 * 1000000 and .value <= $t1 * 1000000))) as $at
        | ($lg | split("\n") | map(select(length > 0) | split("\t"))) as $read
        | [$read[] | select($at[.[0]] != null) | ((.[1] | tonumber) - $at[.[0]]) / 1000] | sort as $d
        | ($d | length) as $n
        | def pct(p): if $n > 0 then $d[((p * ($n - 1)) + 0.5 | floor)] else null end;
        {what: "fill event read back (ow-loadgen) - the order'"'"'s filled_at at the simulator, every order the simulator filled in the steady window",
         n: $n, unmatched: ([$read[] | select($all[.[0]] == null)] | length),
         outside_window: ([$read[] | select($all[.[0]] != null and $at[.[0]] == null)] | length),
         p50_ms: pct(0.5), p90_ms: pct(0.9), p99_ms: pct(0.99), max_ms: (if $n > 0 then $d[-1] else null end)}'
}

# run_realtime RATE: one realtime run on the running 1-replica stack.
run_realtime() {
    local rate=$1 name=realtime-$1
    say "scenario $name: 1 replica, $rate intents/s for $RT_DURATION s"
    # The load generator stands for bots using the project's client
    # libraries, whose producers send each intent at once (linger.ms 0; its
    # own default, 5 ms, batches for the throughput runs).
    if ! KAFKA_PRODUCER_LINGER_MS=0 loadgen_bg "$WORK/$name.loadgen.json" --rate "$rate" --warmup "$RT_WARMUP" \
        --duration "$RT_DURATION" --bots 1000 --users 10 --drain-timeout 30 \
        --fills-out "$WORK/$name.fills"; then
        scenario_failed "$name" "ow-loadgen did not start"
        return 0
    fi
    sleep "$RT_WARMUP"
    local t0 t1 s0 s1
    scrape_workers "$WORK/$name.m0"
    s0=$(curl -fsS --max-time 5 "$SIM/_sim/stats" | jq '.trading_requests // 0' || echo null)
    t0=$(date +%s.%N)
    sleep "$RT_DURATION"
    scrape_workers "$WORK/$name.m1"
    s1=$(curl -fsS --max-time 5 "$SIM/_sim/stats" | jq '.trading_requests // 0' || echo null)
    t1=$(date +%s.%N)
    loadgen_wait
    if [[ ! -s $WORK/$name.loadgen.json ]]; then
        scenario_failed "$name" "ow-loadgen wrote no result (exit $LG_RC)"
        return 0
    fi
    local stages simfill
    stages=$(awk -f "$REPO/bench/stages.awk" "$WORK/$name.m0" "$WORK/$name.m1")
    if sim_fill_times "$WORK/$name.simfills"; then
        simfill=$(sim_fill_json "$WORK/$name.fills" "$WORK/$name.simfills" "$t0" "$t1")
    else
        simfill=null
        say "$name: the simulator's orders could not be listed"
    fi
    jq -n --arg name "$name" --argjson rate "$rate" --slurpfile lg "$WORK/$name.loadgen.json" \
        --argjson st "$stages" --argjson simfill "$simfill" --argjson t0 "$t0" --argjson t1 "$t1" \
        --argjson s0 "$s0" --argjson s1 "$s1" --argjson rc "$LG_RC" '
        (($t1 - $t0) / 60) as $min
        | ($st.alpaca_calls) as $c
        | ([$c | to_entries[] | select(.key | IN("order_lookup", "order_list", "cancel", "account",
              "positions", "clock")) | .value] | add // 0) as $other
        | {scenario: $name, replicas: 1, rate: $rate, loadgen_exit: $rc, loadgen: $lg[0],
           publish_to_accepted: $lg[0].latency_created_to_accepted,
           publish_to_fill: $lg[0].latency_created_to_fill,
           sim_fill_to_fill: $simfill,
           result_hop_accepted: $lg[0].result_hop_accepted, result_hop_fill: $lg[0].result_hop_fill,
           stages: $st.stages,
           alpaca_calls_in_window: $c, window_s: ($t1 - $t0),
           trading_calls_not_placements_per_min: (if $min > 0 then $other / $min else null end),
           sim_trading_requests_not_placements_per_min:
               (if $min > 0 and ($s1 | type) == "number" then ($s1 - $s0 - ($c.place_order // 0)) / $min else null end),
           what: "stages and calls: deltas of the worker'"'"'s /metrics over the steady window; trading calls not placements: order_lookup, order_list, cancel, account, positions, clock (the data API'"'"'s quote and bars apart); the simulator'"'"'s count (trading_requests less the placements) as a cross-check"}' \
        >"$WORK/$name.json"
}

scenario_realtime() {
    local rate
    env_realtime
    stack_fresh 1
    for rate in "${RT_RATES[@]}"; do run_realtime "$rate"; done
}

scenario_backlog() {
    local name=backlog
    env_lifted
    stack_fresh 0
    say "scenario backlog: publishing $BACKLOG intents with the workers stopped"
    if ! "$LOADGEN" --produce-only --count "$BACKLOG" --bots 1000 --users 100 \
        --json "$WORK/$name.produce.json" 2>>"$WORK/loadgen.log"; then
        tail -n 5 "$WORK/loadgen.log" >&2
        scenario_failed "$name" "publishing the backlog failed"
        return 0
    fi
    local tag
    tag=$(jq -r .run_tag "$WORK/$name.produce.json")
    if ! loadgen_bg "$WORK/$name.loadgen.json" --consume-only --expect "$BACKLOG" --tag "$tag" \
        --drain-timeout 60; then
        scenario_failed "$name" "ow-loadgen (consumer) did not start"
        return 0
    fi
    local t0 t1
    t0=$(date +%s.%N)
    workers_restart "$BACKLOG_REPLICAS"
    # Sample the memory every second while draining (capped at DRAIN_MAX).
    : >"$WORK/$name.rss"
    local deadline=$((SECONDS + DRAIN_MAX))
    while kill -0 "$LG_PID" 2>/dev/null; do
        rss_json | jq -c --arg t "$(date +%s)" '{t: ($t | tonumber), w: .}' >>"$WORK/$name.rss"
        if ((SECONDS >= deadline)); then
            say "backlog: drain cap of $DRAIN_MAX s reached; stopping the reader"
            kill -TERM "$LG_PID" 2>/dev/null || true
            break
        fi
        sleep 1
    done
    loadgen_wait
    t1=$(date +%s.%N)
    if [[ ! -s $WORK/$name.loadgen.json ]]; then
        scenario_failed "$name" "ow-loadgen wrote no result (exit $LG_RC)"
        return 0
    fi
    local rss
    rss=$(rss_json)
    jq -n --argjson n "$BACKLOG" --argjson replicas "$BACKLOG_REPLICAS" \
        --slurpfile prod "$WORK/$name.produce.json" --slurpfile lg "$WORK/$name.loadgen.json" \
        --argjson rss "$rss" --slurpfile samples <(jq -s . "$WORK/$name.rss") \
        --argjson t0 "$t0" --argjson t1 "$t1" --argjson cap "$DRAIN_MAX" '
        ($lg[0].consumer) as $c |
        {scenario: "backlog", replicas: $replicas, backlog: $n, drain_cap_s: $cap,
         producer: $prod[0].producer, loadgen: $lg[0],
         drained: $c.filled, outcomes: $c.terminal, rejected: $c.rejected, complete: $c.complete,
         drain_seconds_from_start: ($c.last_outcome_s),
         drain_rate_per_s: (if ($c.last_outcome_s // 0) > 0 then $c.filled / $c.last_outcome_s else null end),
         drain_rate_steady_per_s: $c.outcome_rate_per_s,
         worker_memory: $rss,
         peak_rss_kb_per_replica: ([$samples[0][] .w[] | {(.replica): .vmhwm_kb}] | add // {}),
         what: "drained: intents filled (rejections apart, in rejected); drain rate: filled intents / seconds from the workers start (reader start) to the last outcome; steady: every outcome between the first and the last outcome"}' \
        >"$WORK/$name.json"
}

scenario_budget() {
    local name=budget
    env_budget
    stack_fresh "$BUDGET_REPLICAS"
    local total=$((BUDGET_SECONDS * BUDGET_RATE))
    say "scenario budget: $BUDGET_REPLICAS replicas, $BUDGET_CALLS calls per $BUDGET_PERIOD_MS ms, $BUDGET_RATE intents/s for $BUDGET_SECONDS s"
    : >"$WORK/$name.samples"
    if ! loadgen_bg "$WORK/$name.loadgen.json" --rate "$BUDGET_RATE" --warmup 0 \
        --duration "$BUDGET_SECONDS" --bots "$BUDGET_BOTS" --users "$BUDGET_USERS" --drain-timeout 3; then
        scenario_failed "$name" "ow-loadgen did not start"
        return 0
    fi
    local end=$((SECONDS + BUDGET_SECONDS + 2))
    hist_budget_snapshot "$WORK/$name.b0"
    while ((SECONDS < end)) && kill -0 "$LG_PID" 2>/dev/null; do
        curl -fsS --max-time 2 "$SIM/_sim/stats" 2>/dev/null |
            jq -c --arg t "$(date +%s.%N)" '{t: ($t | tonumber), calls: .trading_requests,
                r429: .responses_429, maxp: .max_requests_in_any_period}' >>"$WORK/$name.samples" || true
        sleep 1
    done
    hist_budget_snapshot "$WORK/$name.b1"
    loadgen_wait
    if [[ ! -s $WORK/$name.loadgen.json || ! -s $WORK/$name.samples ]]; then
        scenario_failed "$name" "no loadgen result or no simulator samples (exit $LG_RC)"
        return 0
    fi
    local stats
    stats=$(curl -fsS --max-time 5 "$SIM/_sim/stats" || echo '{}')
    jq -n --argjson replicas "$BUDGET_REPLICAS" --argjson calls "$BUDGET_CALLS" \
        --argjson period "$BUDGET_PERIOD_MS" --argjson secs "$BUDGET_SECONDS" --argjson rate "$BUDGET_RATE" \
        --argjson offered "$total" --argjson reserve "${ALPACA_BUDGET_RESERVE_PCT:-10}" \
        --slurpfile lg "$WORK/$name.loadgen.json" --slurpfile s <(jq -s . "$WORK/$name.samples") \
        --argjson stats "$stats" --slurpfile bw <(cat "$WORK/$name.b1" 2>/dev/null || echo null) '
        ($s[0]) as $s | ($s[0].t) as $t0 |
        # calls in each full period since the first sample, nearest samples
        ([range(0; (($s[-1].t - $t0) * 1000 / $period) | floor)] | map(. as $k |
            ($s | map(select(.t >= $t0 + $k * $period / 1000)) | .[0]) as $a |
            ($s | map(select(.t >= $t0 + ($k + 1) * $period / 1000)) | .[0]) as $b |
            {period: ($k + 1), calls: ($b.calls - $a.calls), responses_429: ($b.r429 - $a.r429),
             seconds: ($b.t - $a.t)})) as $per |
        {scenario: "budget", replicas: $replicas, calls_per_period_limit: $calls, period_ms: $period,
         reserve_pct: $reserve, bots_share: ($calls - (($calls * $reserve) / 100 | floor)),
         run_seconds: $secs, offered_per_s: $rate, offered_intents: $offered,
         calls_per_full_period: $per,
         min_calls_in_a_full_period: ([$per[].calls] | min),
         responses_429: ($s[-1].r429 - $s[0].r429),
         responses_429_total: $stats.responses_429,
         max_requests_in_any_period: $stats.max_requests_in_any_period,
         sim_trading_requests_total: $stats.trading_requests,
         accepted: $lg[0].consumer.accepted, terminal: $lg[0].consumer.terminal,
         filled: $lg[0].consumer.filled, rejected: $lg[0].consumer.rejected,
         pending_at_end: $lg[0].consumer.pending,
         oldest_waiting_intent_age_ms: $lg[0].consumer.oldest_unaccepted_age_ms,
         longest_wait_to_accepted_ms: $lg[0].latency_created_to_accepted.max_ms_all_intents,
         worker_budget_wait: $bw[0],
         loadgen: $lg[0],
         what: "calls: trading API requests the simulator counted (/_sim/stats trading_requests, sampled each second) in each full period from the start of the load; oldest waiting: age at the end of the run of the oldest intent not yet accepted; longest wait: max created_at -> accepted read back"}' \
        >"$WORK/$name.json"
}

# The priority scenario: the budget scaled tenfold, workers and simulator.
env_priority() {
    export BOT_TRADES_PER_MIN=1000000 USER_TRADES_PER_MIN=1000000
    export ALPACA_CALLS_PER_MIN=200 RATE_PERIOD_MS=6000 INTENT_MAX_AGE_MS=3600000 LOG_LEVEL=warn
    unset SIM_FILL_ON_SUBMIT SIM_PARTIAL_FILL_RATE DEV_KAFKA_PARTITIONS WORKER_MAX_IN_FLIGHT
}

scenario_priority() {
    local name=priority
    env_priority
    stack_fresh 3
    say "scenario priority: 3 replicas, 200 calls per 6000 ms; ${PRIO_ARGS[*]}"
    if ! /usr/bin/python3 "$REPO/bench/priority.py" --sim "$SIM" "${PRIO_ARGS[@]}" \
        >"$WORK/$name.probe.json" 2>"$WORK/$name.err" || ! jq -e '.user_to_accepted' \
        "$WORK/$name.probe.json" >/dev/null 2>&1; then
        tail -n 20 "$WORK/$name.err" >&2
        scenario_failed "$name" "bench/priority.py produced no result"
        return 0
    fi
    scrape_workers "$WORK/$name.metrics"
    jq -n --slurpfile p "$WORK/$name.probe.json" --argjson w "$(budget_waits "$WORK/$name.metrics")" \
        --arg args "${PRIO_ARGS[*]}" '
        {scenario: "priority", replicas: 3, calls_per_period_limit: 200, period_ms: 6000,
         probe_args: $args, budget_wait_by_priority: $w} + $p[0]' >"$WORK/$name.json"
}

# budget_waits METRICS: per priority, the grants and the p50/p99/max of
# order_worker_alpaca_budget_wait_seconds (upper bucket bounds, ms), summed
# over the replicas' scrapes.
budget_waits() {
    awk '
        /^order_worker_alpaca_budget_wait_seconds_bucket/ {
            match($0, /priority="[^"]*"/); p = substr($0, RSTART + 10, RLENGTH - 11)
            match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
            b[p, le] += $NF; les[le] = 1; ps[p] = 1
        }
        /^order_worker_alpaca_budget_wait_seconds_count/ {
            match($0, /priority="[^"]*"/); c[substr($0, RSTART + 10, RLENGTH - 11)] += $NF
        }
        END {
            k = 0
            for (le in les) if (le != "+Inf") { v[++k] = le + 0; key[le + 0] = le }
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            printf "{"; sep = ""
            for (p in ps) {
                printf "%s\"%s\":{\"grants\":%d", sep, p, c[p]; sep = ","
                split("0.5 0.99 1", q, " "); split("p50_ms p99_ms max_ms", nm, " ")
                for (x = 1; x <= 3; x++) {
                    out = "null"
                    if (c[p] > 0) {
                        out = "\">60000\""
                        for (i = 1; i <= k; i++) if (b[p, key[v[i]]] >= q[x] * c[p]) { out = v[i] * 1000; break }
                    }
                    printf ",\"%s\":%s", nm[x], out
                }
                printf "}"
            }
            print "}"
        }
    ' "$1"
}

# The workers' budget wait histogram (max bucket reached), summed.
hist_budget_snapshot() {
    scrape_workers "$1.raw"
    awk '
        /^order_worker_alpaca_budget_wait_seconds_bucket/ {
            match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
            b[le] += $NF; seen[le] = 1
        }
        /^order_worker_alpaca_budget_wait_seconds_count/ { c += $NF }
        END {
            k = 0
            for (le in seen) if (le != "+Inf") { les[++k] = le + 0; key[le + 0] = le }
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (les[j] < les[i]) { t = les[i]; les[i] = les[j]; les[j] = t }
            mx = "null"
            for (i = 1; i <= k; i++) if (b[key[les[i]]] >= c && c > 0) { mx = les[i]; break }
            if (c > 0 && mx == "null") mx = "\">60\""
            printf "{\"waits\":%d,\"max_wait_s_bucket\":%s,\"what\":\"order_worker_alpaca_budget_wait_seconds over the run: upper bound of the bucket holding the longest wait\"}\n", c + 0, mx
        }
    ' "$1.raw" >"$1"
}

# The ceiling scenario: nothing but ow-ceiling talks to the stack.
env_ceiling() {
    unset BOT_TRADES_PER_MIN USER_TRADES_PER_MIN ALPACA_CALLS_PER_MIN
    export RATE_PERIOD_MS=60000 INTENT_MAX_AGE_MS=3600000 LOG_LEVEL=warn
}

# run_ceiling MODE CONNECTIONS: one ow-ceiling run (ledger or quota) on the
# running stack; writes $WORK/ceiling-MODE-CONNECTIONS.json.
run_ceiling() {
    local mode=$1 c=$2 name=ceiling-$1-$2 rt0 rt1 m0 m1 rc=0
    local -a url=(--database-url "$DATABASE_URL")
    [[ $mode == quota ]] && url=(--redis-url "$REDIS_URL")
    say "scenario ceiling: ow-ceiling $mode, $c connection(s), batch $CEIL_BATCH, $CEIL_DURATION s"
    rt0=$(round_trips)
    m0=$(machine_ticks)
    "$CEILING" "$mode" "${url[@]}" --connections "$c" --batch "$CEIL_BATCH" \
        --duration "$CEIL_DURATION" --json "$WORK/$name.raw.json" 2>>"$WORK/ceiling.log" || rc=$?
    m1=$(machine_ticks)
    sleep 1 # the backends' statistics reach pg_stat_database as they end
    rt1=$(round_trips)
    if ((rc != 0)) || [[ ! -s $WORK/$name.raw.json ]]; then
        tail -n 5 "$WORK/ceiling.log" >&2
        scenario_failed "$name" "ow-ceiling $mode exited $rc"
        return 0
    fi
    jq --argjson rt0 "[${rt0// /,}]" --argjson rt1 "[${rt1// /,}]" \
        --argjson m0 "[${m0// /,}]" --argjson m1 "[${m1// /,}]" --arg mode "$mode" '
        (if $mode == "ledger" then 0 else 1 end) as $k
        | {connections: .config.connections, intents_per_s, intents,
           server_us_per_intent: .server.us_per_intent, server_cores_busy: .server.cores_busy,
           tool_us_per_intent: .tool_cpu.us_per_intent,
           calls: (.calls | map_values({p50_ms, p99_ms})),
           (if $k == 0 then "postgres_transactions_per_intent" else "redis_commands_per_intent" end):
               (if .intents > 0 then ($rt1[$k] - $rt0[$k]) / .intents else null end),
           machine_busy_fraction: (if $m1[1] > $m0[1] then ($m1[0] - $m0[0]) / ($m1[1] - $m0[1]) else null end),
           report: .}' "$WORK/$name.raw.json" >"$WORK/$name.json"
}

scenario_ceiling() {
    local mode c
    if [[ ! -x $CEILING ]]; then
        scenario_failed ceiling "$CEILING is missing (compose/dev build)"
        return 0
    fi
    env_ceiling
    stack_fresh 0
    for mode in ledger quota; do
        for c in "${CEIL_CONNECTIONS[@]}"; do run_ceiling "$mode" "$c"; done
    done
    local files=("$WORK"/ceiling-ledger-*[0-9].json "$WORK"/ceiling-quota-*[0-9].json)
    [[ -e ${files[0]} ]] || return 0
    jq -s --argjson batch "$CEIL_BATCH" --argjson secs "$CEIL_DURATION" '
        {scenario: "ceiling", batch: $batch, duration_s: $secs,
         ledger: (map(select(.report.mode == "ledger")) | sort_by(.connections)),
         quota: (map(select(.report.mode == "quota")) | sort_by(.connections)),
         what: "ow-ceiling (bench/ceiling) on a stack without workers: the worker'"'"'s ledger calls alone against its PostgreSQL, then its Redis calls alone against its Redis; intents/s over the run, the server'"'"'s CPU per intent (/proc), its transactions or commands per intent (pg_stat_database, INFO), the machine'"'"'s busy fraction (/proc/stat)"}' \
        "${files[@]}" >"$WORK/ceiling.json"
}

# ---------------------------------------------------------------- report

machine_json() {
    local cpu mem pgv redisv hiredisv libpqv commit dirty
    cpu=$(awk -F: '/^model name/ {sub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)
    mem=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    pgv=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    pgv=$("$pgv/postgres" --version 2>/dev/null || echo unknown)
    redisv=$(redis-server --version 2>/dev/null | head -n1 || echo unknown)
    hiredisv=$(pkg-config --modversion hiredis 2>/dev/null || echo unknown)
    libpqv=$(pkg-config --modversion libpq 2>/dev/null || echo unknown)
    commit=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | grep -cv ' bench/results/' || true)
    jq -n --arg uname "$(uname -a)" --arg cpu "$cpu" --argjson ncpu "$(nproc)" --argjson mem "$mem" \
        --arg pg "$pgv" --arg redis "$redisv" --arg hiredis "$hiredisv" --arg libpq "$libpqv" \
        --arg rdkafka "$("$LOADGEN" --version)" --arg commit "$commit" --argjson dirty "$dirty" \
        --arg gcc "$(gcc --version 2>/dev/null | head -n1)" '
        {uname: $uname, cpu_model: $cpu, cpus: $ncpu, mem_total_kb: $mem,
         versions: {loadgen_libs: $rdkafka, hiredis: $hiredis, libpq: $libpq, postgresql: $pg,
                    redis_server: $redis, compiler: $gcc, git_commit: $commit,
                    git_uncommitted_changes: $dirty}}'
}

write_report() {
    local f files=()
    for f in throughput-1 throughput-2 "latency-$LAT_RATE" "${RT_RATES[@]/#/realtime-}" backlog budget priority \
        ceiling; do
        [[ -s $WORK/$f.json ]] && files+=("$WORK/$f.json")
    done
    local cmd="compose/dev bench${ARGS[*]:+ ${ARGS[*]}}" v
    for v in BENCH_DRAIN_MAX_S BENCH_MAX_IN_FLIGHT BENCH_BOTS BENCH_USERS BENCH_CEILING_BATCH; do
        if [[ -n ${!v:-} ]]; then cmd="$v=${!v} $cmd"; fi
    done
    local ports="DEV_PG_PORT=$DEV_PG_PORT DEV_REDIS_PORT=$DEV_REDIS_PORT DEV_SIM_PORT=$DEV_SIM_PORT DEV_ADMIN_PORT=$DEV_ADMIN_PORT"
    jq -n --arg date "$STARTED" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cmd "$cmd" \
        --arg ports "$ports" --argjson quick "$QUICK" --argjson machine "$(machine_json)" \
        --argjson failed "$(printf '%s\n' "${FAILED_SCENARIOS[@]}" | jq -R 'select(length > 0)' | jq -s .)" \
        --slurpfile sc <(if ((${#files[@]})); then cat "${files[@]}"; fi) '
        {date: $date, finished: $finished, command: $cmd, ports: $ports, quick: ($quick == 1),
         machine: $machine, failed_scenarios: $failed,
         scenarios: ($sc | map({(.scenario): .}) | add // {})}' >"$OUT/$STAMP.json"
    jq -r -f "$REPO/bench/table.jq" "$OUT/$STAMP.json" >"$OUT/$STAMP.md"
    cp "$OUT/$STAMP.json" "$OUT/latest.json"
    cp "$OUT/$STAMP.md" "$OUT/latest.md"
    say "results: $OUT/latest.json, $OUT/latest.md (and $STAMP.*)"
    cat "$OUT/latest.md"
}

# ---------------------------------------------------------------- main

want() { [[ -z $ONLY || ,$ONLY, == *",$1,"* ]]; }

say "state $STATE, ports pg $DEV_PG_PORT redis $DEV_REDIS_PORT sim $DEV_SIM_PORT admin $DEV_ADMIN_PORT"
if want throughput; then scenario_throughput; fi
if want latency; then scenario_latency; fi
if want realtime; then scenario_realtime; fi
if want backlog; then scenario_backlog; fi
if want budget; then scenario_budget; fi
if want priority; then scenario_priority; fi
if want ceiling; then scenario_ceiling; fi
write_report
if ((${#FAILED_SCENARIOS[@]} > 0)); then
    die "scenarios without numbers: ${FAILED_SCENARIOS[*]}"
fi
# Every scenario asked for must have produced its file.
for f in "${TP_REPLICAS[@]/#/throughput-}" "latency-$LAT_RATE" "${RT_RATES[@]/#/realtime-}" backlog budget priority \
    ceiling; do
    case $f in throughput-*) w=throughput ;; latency-*) w=latency ;; realtime-*) w=realtime ;; *) w=$f ;; esac
    want "$w" || continue
    [[ -s $WORK/$f.json ]] || die "scenario $f produced no result"
done
say "done"
