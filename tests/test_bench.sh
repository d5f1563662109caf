#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_bench.sh -- `compose/dev bench --quick` still works (never how
# fast): run inside `compose/dev test`, it brings up a stack of its own (state
# dir .dev-bench-ctest, ports of its own, so nothing collides),
# runs every scenario tiny, and must leave bench/results/quick/latest.json and
# latest.md with numbers for each scenario: throughput (fills/s, and
# rejections/s apart), latency (loadgen and
# the workers' histogram), CPU, memory, backlog drain, budget periods, the
# priority run (users' and cancels' times under a bot flood), the fleet's
# ceiling (ow-ceiling: the ledger's and Redis's calls alone).  The
# checker is also run on a copy of the result with the budget scenario and a
# throughput figure removed, and must refuse it (the negative check).  The
# bench stack is torn down at the end whatever happens; the logs and secrets
# of each of its stacks, and the run's own logs, are kept in the test
# stack's kept/ for tests/test_secrets.sh (BENCH_KEEP_DIR).
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

ROOT=${ORDER_WORKER_ROOT:?ORDER_WORKER_ROOT is not set (run via compose/dev test)}
DEV=${DEV_SCRIPT:-$ROOT/compose/dev}
PASSED=0 FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-bench.XXXXXX")
STATE="$ROOT/.dev-bench-ctest"
OUT="$ROOT/bench/results/quick"

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Ports of its own, beside the test stacks' (compose/dev bench's defaults + 50).
export DEV_PG_PORT=63482 DEV_REDIS_PORT=63429 DEV_SIM_PORT=63130 DEV_ADMIN_PORT=63150

# Each bench stack's logs and secrets, for tests/test_secrets.sh (bench/run.sh).
export BENCH_KEEP_DIR="${DEV_KEPT_DIR:-$WORK/kept}/bench_quick"
rm -rf "$BENCH_KEEP_DIR"

port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    timeout 120 "$DEV" --state "$STATE" down --purge --keep "$BENCH_KEEP_DIR/stack-left" >/dev/null 2>&1
    keep_logs bench_quick-run "$STATE.work"
    rm -rf "$STATE.work"
}
trap test_exit EXIT

# check_result FILE: prints what is missing from a quick result (nothing: fine).
check_result() {
    jq -r '
        def number(p; name): if (p | type) == "number" then empty else "no number: \(name)" end;
        .scenarios as $s
        | (if (.failed_scenarios | length) > 0 then "failed scenarios: \(.failed_scenarios)" else empty end),
          (if $s["throughput-1"] == null then "no throughput-1 scenario" else
             number($s["throughput-1"].loadgen.throughput.intents_per_s; "throughput-1 intents/s"),
             number($s["throughput-1"].loadgen.throughput.rejections_per_s; "throughput-1 rejections/s"),
             (if ($s["throughput-1"].loadgen.throughput.intents_per_s // 0) > 0 then empty
              else "throughput-1: no fill in the window" end),
             number($s["throughput-1"].worker_cpu.us_per_intent; "throughput-1 CPU per intent")
           end),
          ([$s | to_entries[] | select(.key | startswith("latency-")) | .value][0]) as $l
          | (if $l == null then "no latency scenario" else
             number($l.loadgen.latency_created_to_accepted.p99_ms; "latency p99"),
             number($l.loadgen.latency_created_to_accepted.max_ms; "latency max"),
             number($l.worker_processing.p99_ms; "worker histogram p99"),
             (if ([$l.worker_memory[].vmhwm_kb] | length > 0 and min > 0) then empty
              else "latency: no worker memory" end)
           end),
          (["realtime-20", "realtime-200"][] as $k | $s[$k] as $r
           | if $r == null then "no \($k) scenario" else
             number($r.publish_to_accepted.p99_ms; "\($k) publish -> accepted p99"),
             number($r.publish_to_fill.p99_ms; "\($k) publish -> fill p99"),
             number($r.sim_fill_to_fill.p99_ms; "\($k) simulator fill -> fill p99"),
             (if ($r.sim_fill_to_fill.unmatched // 1) == 0 then empty
              else "\($k): fills read that the simulator did not list" end),
             number($r.result_hop_fill.p99_ms; "\($k) result hop of fill"),
             number($r.trading_calls_not_placements_per_min; "\($k) calls not placements"),
             (if ($r.stages.intake | keys) | contains(["kafka_in", "lane_wait", "decode",
                  "ledger_record", "quota", "submitting", "post", "outcome_commit", "produce_ack"])
              then empty else "\($k): intake stages missing: \($r.stages.intake | keys)" end),
             (if ($r.stages.follow.outcome_commit.n // 0) > 0 then empty
              else "\($k): no follow stage counted" end)
           end),
          (if $s.backlog == null then "no backlog scenario" else
             (if ($s.backlog.drained // 0) > 0 then empty else "backlog: nothing drained" end),
             number($s.backlog.drain_rate_per_s; "backlog drain rate"),
             (if ([$s.backlog.peak_rss_kb_per_replica[]?] | length > 0 and min > 0) then empty
              else "backlog: no peak RSS" end)
           end),
          (if $s.budget == null then "no budget scenario" else
             (if ($s.budget.calls_per_full_period | length) > 0 then empty
              else "budget: no full period sampled" end),
             number($s.budget.responses_429; "budget responses_429"),
             number($s.budget.max_requests_in_any_period; "budget max_requests_in_any_period")
           end),
          (if $s.priority == null then "no priority scenario" else
             number($s.priority.user_to_accepted.p99_ms; "priority user -> accepted p99"),
             number($s.priority.cancel_to_outcome.p99_ms; "priority cancel -> outcome p99"),
             (if ($s.priority.user_missing // 1) == 0 and ($s.priority.cancel_missing // 1) == 0
              then empty else "priority: a user intent or a cancel without its outcome" end),
             (if ($s.priority.budget_wait_by_priority.cancel.grants // 0) > 0 then empty
              else "priority: no cancel took a budget token" end)
           end),
          (if $s.ceiling == null then "no ceiling scenario" else
             ($s.ceiling.ledger[0]) as $l | ($s.ceiling.quota[0]) as $q
             | number($l.intents_per_s; "ceiling: ledger intents/s"),
               number($l.server_us_per_intent; "ceiling: PostgreSQL CPU per intent"),
               number($l.postgres_transactions_per_intent; "ceiling: PostgreSQL transactions per intent"),
               number($q.intents_per_s; "ceiling: quota intents/s"),
               number($q.server_us_per_intent; "ceiling: Redis CPU per intent")
           end),
          (if (.machine.versions.git_commit // "") == "" then "no git commit" else empty end),
          (if (.command // "") | test("compose/dev bench.* --quick") then empty else "no command" end)
    ' "$1"
}

say "compose/dev bench --quick on ports pg $DEV_PG_PORT redis $DEV_REDIS_PORT sim $DEV_SIM_PORT admin $DEV_ADMIN_PORT"
START=$(date +%s)
rc=0
timeout 270 "$DEV" --state "$STATE" bench --quick >"$WORK/bench.out" 2>"$WORK/bench.err" || rc=$?
ELAPSED=$(($(date +%s) - START))
if ((rc == 0)); then ok "compose/dev bench --quick exits 0 (in $ELAPSED s)"; else
    tail -n 40 "$WORK/bench.err" >"$WORK/tail"
    bad "compose/dev bench --quick exited $rc" "$WORK/tail"
fi

if [[ -s $OUT/latest.json && $(stat -c %Y "$OUT/latest.json") -ge $START ]]; then
    ok "bench/results/quick/latest.json written by this run"
    check_result "$OUT/latest.json" >"$WORK/missing"
    expect_empty "every scenario has its numbers" "$WORK/missing"
    # Negative: the checker refuses a result without the budget scenario and
    # without the throughput figures (fills and rejections), without a
    # realtime run and with one that counted no follower stage, without the
    # ceiling.
    jq 'del(.scenarios.budget) | .scenarios["throughput-1"].loadgen.throughput.intents_per_s = null
        | del(.scenarios["throughput-1"].loadgen.throughput.rejections_per_s)
        | del(.scenarios["realtime-200"]) | .scenarios["realtime-20"].stages.follow = {}
        | del(.scenarios.ceiling)' \
        "$OUT/latest.json" >"$WORK/doctored.json"
    check_result "$WORK/doctored.json" >"$WORK/missing2"
    if grep -q 'no budget scenario' "$WORK/missing2" && grep -q 'throughput-1 intents/s' "$WORK/missing2" &&
        grep -q 'throughput-1 rejections/s' "$WORK/missing2" &&
        grep -q 'no realtime-200 scenario' "$WORK/missing2" &&
        grep -q 'realtime-20: no follow stage counted' "$WORK/missing2" &&
        grep -q 'no ceiling scenario' "$WORK/missing2"; then
        ok "the checker refuses a result missing a scenario and a figure"
    else
        bad "the checker accepted a doctored result" "$WORK/missing2"
    fi
else
    bad "no fresh bench/results/quick/latest.json"
fi

if [[ -s $OUT/latest.md ]] && grep -q '^| figure | measured | target | met? |' "$OUT/latest.md"; then
    rows=$(grep -c '^| ' "$OUT/latest.md" || true)
    if ((rows >= 12)); then ok "latest.md has the table ($rows rows)"; else
        bad "latest.md has only $rows table rows" "$OUT/latest.md"
    fi
else
    bad "bench/results/quick/latest.md has no table"
fi

# The bench stack is gone (run.sh tears it down itself): no state dir, and
# nothing listens on its PostgreSQL or simulator port.
if [[ ! -e $STATE ]] && ! port_open "$DEV_PG_PORT" && ! port_open "$DEV_SIM_PORT"; then
    ok "the bench stack was torn down"
else
    bad "the bench stack still runs after compose/dev bench ($STATE)"
fi
