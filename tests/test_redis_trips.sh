#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_redis_trips.sh -- the round trips to Redis an intent costs,
# through the stack of `compose/dev test`:
#   [1] a batch's quota decisions in one round trip: 120 intents of 120 bots
#       published while the workers are stopped reach them in batches; the
#       workers' quota round trips (order_worker_redis_round_trips_total
#       {use="quota"}) are at most a quarter of the intents, their quota and
#       budget round trips together under half of them, and Redis ran
#       fewer than 1.5 scripts per intent (before: two round trips and two
#       scripts per intent, one for its quota, one for its token); every
#       intent fills, and every bot's quota shows exactly one trade used;
#   [2] a redelivered batch is never charged twice: 40 intents (40 bots, 2
#       trades a period each) meet replicas that exit as soon as a batch's
#       quotas are charged, before anything of them is recorded
#       (WORKER_FAILPOINT=after_quota); brought back without it, the
#       replicas find the decisions of the batch again: every intent fills
#       and every bot has used one trade of its two, not two;
#   [3] the Alpaca budget's blocks of tokens: a fresh simulator and an empty
#       shared log, 200 calls per 10 min (bots may use 180: blocks while the
#       log holds at most 90); 40 intents far from the ceiling are paid
#       mostly with blocks (fewer budget round trips than tokens), then 80
#       more take the log past 90, from where tokens are granted one by one
#       (blocks spent at most 90 tokens; at least 30 came one by one).  After
#       each, the log counts at least the calls the simulator saw and at most
#       the unspent tokens of the blocks still held (and calls in flight)
#       more, and once the replicas have stopped (giving back what they
#       held), exactly those; no 429; every intent filled.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test redis_trips
CHANGED=0

# rcli ARGS...: redis-cli on the stack's Redis (REDIS_URL: redis://[user]:password@host:port/db),
# the password passed in the environment, never on a command line.
rcli() {
    [[ $REDIS_URL =~ ^redis://(([^:@]*):([^@]*)@)?([^:/]+)(:([0-9]+))?(/([0-9]+))?$ ]] ||
        die "REDIS_URL is not redis://[user]:password@host:port/db"
    local -a user=()
    if [[ -n ${BASH_REMATCH[2]} ]]; then user=(--user "${BASH_REMATCH[2]}"); fi
    REDISCLI_AUTH=${BASH_REMATCH[3]} redis-cli --no-auth-warning -h "${BASH_REMATCH[4]}" \
        -p "${BASH_REMATCH[6]:-6379}" -n "${BASH_REMATCH[8]:-0}" "${user[@]}" "$@"
}

# workers N [FAILPOINT]: every worker again, N of them, with the settings
# exported now (WORKER_FAILPOINT as given); a failure to start is fatal,
# unless a failpoint is set (a replica may die before it is counted ready).
workers() {
    local rc=0
    WORKER_FAILPOINT=${2:-} timeout 180 "$DEV" --state "$STATE" workers-restart "$1" \
        >"$WORK/restart.log" 2>&1 || rc=$?
    if ((rc != 0)) && [[ -z ${2:-} ]]; then
        sed 's/^/        | /' "$WORK/restart.log"
        die "workers-restart $1 failed"
    fi
}

# simulator: the simulator again, with the limits exported now.
simulator() {
    {
        "$DEV" --state "$STATE" stop alpaca-sim && "$DEV" --state "$STATE" start alpaca-sim
    } >"$WORK/sim.log" 2>&1 || {
        sed 's/^/        | /' "$WORK/sim.log"
        die "could not restart the simulator"
    }
}

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    if ((CHANGED)); then
        say "-- restoring the simulator and two workers with their usual settings"
        unset ALPACA_CALLS_PER_MIN RATE_PERIOD_MS BOT_TRADES_PER_MIN USER_TRADES_PER_MIN \
            INTENT_MAX_AGE_MS WORKER_CONCURRENCY
        "$DEV" --state "$STATE" stop alpaca-sim >/dev/null 2>&1
        "$DEV" --state "$STATE" start alpaca-sim >/dev/null 2>&1 ||
            { printf '  FAIL  restarting the simulator\n'; FAILED=$((FAILED + 1)); }
        restore_workers 2
    fi
}
trap test_exit EXIT

# batch_of NAME COUNT: COUNT intents of COUNT bots (NAME-RUN-i), 0.1 share
# each, in $WORK/NAME.jsonl, their ids in $WORK/NAME.ids.
batch_of() {
    : >"$WORK/$1.jsonl"
    local i
    for i in $(seq 1 "$2"); do
        gen_intents "$WORK/$1.jsonl" 1 --bot "$1-$RUN-$i" --user "u-$RUN" --symbol AAPL \
            --side buy --qty 0.1
    done
    jq -r '.intent_id' "$WORK/$1.jsonl" >"$WORK/$1.ids"
}

# all_filled NAME: every intent of NAME filled, one fill each.
all_filled() {
    local n
    n=$(wc -l <"$WORK/$1.ids")
    wait_terminal "$WORK/$1.ids" 120000 || bad "$1: every intent finished within 120 s"
    snapshot "$WORK/$1.events" "$WORK/$1.ids"
    expect_eq "$1: all $n filled" "$n" \
        "$(jq -rs '[.[] | select(.type == "fill") | .intent_id] | unique | length' "$WORK/$1.events")"
}

# used_by NAME COUNT WANT: every bot NAME-RUN-1..COUNT has used WANT trades
# of its quota (intentctl quota, with the limits exported now).
used_by() {
    local i got
    : >"$WORK/$1.used"
    for i in $(seq 1 "$2"); do
        got=$("$IC" quota bot "$1-$RUN-$i" --json | jq -r '.used') || got="unreadable"
        [[ $got == "$3" ]] || printf '%s-%s-%s used %s\n' "$1" "$RUN" "$i" "$got" >>"$WORK/$1.used"
    done
    expect_empty "$1: every bot's quota shows $3 trade(s) used" "$WORK/$1.used"
}

# scripts: the scripts Redis has run (EVALSHA and EVAL, INFO commandstats).
scripts() {
    rcli INFO commandstats | tr -d '\r' |
        awk -F'[:=,]' '$1 == "cmdstat_evalsha" || $1 == "cmdstat_eval" { n += $3 } END { print n + 0 }'
}

say "== order-worker: round trips to Redis (run $RUN) =="

say ""
say "[1] a batch's quota decisions in one round trip"
# The budget and the simulator's limit lifted: nothing waits for a token,
# so every batch goes its fast path whole.
# A period of 10 minutes: one trade of two stays visible in a bot's quota
# for 5 minutes (GCRA), and nothing leaves the budget's log in this test.
export ALPACA_CALLS_PER_MIN=100000 RATE_PERIOD_MS=600000 BOT_TRADES_PER_MIN=2 \
    USER_TRADES_PER_MIN=100000 INTENT_MAX_AGE_MS=600000 WORKER_CONCURRENCY=2
CHANGED=1
simulator
workers 0
batch_of rq 120
send_lines "$WORK/rq.jsonl"
s0=$(scripts)
workers 2
all_filled rq
s1=$(scripts)
trips=$(worker_metric 'order_worker_redis_round_trips_total{use="quota"}')
btrips=$(worker_metric 'order_worker_redis_round_trips_total{use="budget"}')
batched=$(worker_metric 'order_worker_intents_settled_total{path="batch"}')
say "        120 intents ($batched settled in batches): $trips quota and $btrips budget round trips; Redis ran $((s1 - s0)) scripts"
if ((trips >= 1 && trips <= 30)); then ok "at most 30 quota round trips for 120 intents ($trips)"; else
    bad "at most 30 quota round trips for 120 intents ($trips)"
fi
if ((trips + btrips < 60)); then ok "quota and budget round trips under half the intents ($((trips + btrips)))"; else
    bad "quota and budget round trips under half the intents ($((trips + btrips)))"
fi
if ((s1 - s0 < 180)); then ok "Redis ran fewer than 1.5 scripts per intent ($((s1 - s0)) for 120)"; else
    bad "Redis ran fewer than 1.5 scripts per intent ($((s1 - s0)) for 120)"
fi
used_by rq 120 1

say ""
say "[2] a batch redelivered after a crash between its quotas and the ledger"
workers 0
batch_of rd 40
send_lines "$WORK/rd.jsonl"
workers 2 after_quota
died=$(failpoint_hit 60)
if [[ -n $died ]]; then ok "a replica died right after charging a batch ($(basename "$died" .log))"; else
    bad "a replica died right after charging a batch within 60 s"
fi
charged=$(rcli --scan --pattern "ow:quota:{bot:rd-$RUN-*}:intent:*" | wc -l)
if ((charged >= 2)); then ok "Redis holds the decisions charged before the crash ($charged)"; else
    bad "Redis holds the decisions charged before the crash ($charged)"
fi
workers 2
all_filled rd
used_by rd 40 1

say ""
say "[3] blocks of tokens far from the ceiling, one token per call near it"
export ALPACA_CALLS_PER_MIN=200 BOT_TRADES_PER_MIN=100000
workers 0
"$DEV" --state "$STATE" stop alpaca-sim >"$WORK/sim.log" 2>&1 || die "could not stop the simulator"
rcli DEL ow:budget:calls ow:budget:waiters ow:budget:seen ow:budget:blocked_until >/dev/null
"$DEV" --state "$STATE" start alpaca-sim >>"$WORK/sim.log" 2>&1 || die "could not start the simulator"
workers 2
# exact WHAT: the shared log against the simulator's count (read first: a
# call made between the two reads is in both).
exact() {
    local made counted
    made=$(sim_stat trading_requests)
    counted=$("$IC" quota alpaca --json | jq -r '.used')
    say "        $1: the simulator saw $made trading calls, the log counts $counted"
    if ((counted >= made)); then ok "$1: the log counts every call made ($counted >= $made)"; else
        bad "$1: the log counts every call made ($counted >= $made)"
    fi
    # Unspent tokens of the blocks still held (7 a replica at most) and a
    # few calls in flight.
    if ((counted <= made + 20)); then ok "$1: and no more than the blocks still held ($counted <= $made + 20)"; else
        bad "$1: and no more than the blocks still held ($counted <= $made + 20)"
    fi
    COUNTED=$counted
}
batch_of far 40
send_lines "$WORK/far.jsonl"
all_filled far
exact "far from the ceiling"
leases=$(worker_metric order_worker_alpaca_budget_leases_total)
spent=$(worker_metric 'order_worker_alpaca_budget_leased_tokens_total{fate="spent"}')
btrips=$(worker_metric 'order_worker_redis_round_trips_total{use="budget"}')
say "        $leases blocks, $spent of their tokens spent, $btrips budget round trips"
if ((leases >= 1 && spent >= 20)); then ok "most calls were paid with blocks ($spent tokens of $leases blocks)"; else
    bad "most calls were paid with blocks ($spent tokens of $leases blocks)"
fi
if ((btrips < spent)); then ok "fewer budget round trips than tokens spent ($btrips < $spent)"; else
    bad "fewer budget round trips than tokens spent ($btrips < $spent)"
fi
batch_of near 80
send_lines "$WORK/near.jsonl"
all_filled near
exact "past half the bots' share"
spent=$(worker_metric 'order_worker_alpaca_budget_leased_tokens_total{fate="spent"}')
grants=0
for p in cancel user bot follow; do
    grants=$((grants + $(worker_metric "order_worker_alpaca_budget_grants_total{priority=\"$p\"}")))
done
say "        $grants tokens granted, $spent of them from blocks"
if ((COUNTED > 90)); then ok "the log went past the blocks' ceiling of 90 ($COUNTED)"; else
    bad "the log went past the blocks' ceiling of 90 ($COUNTED)"
fi
if ((spent <= 90 && grants - spent >= 30)); then ok "past it, tokens came one by one ($((grants - spent)); blocks: $spent <= 90)"; else
    bad "past it, tokens came one by one ($((grants - spent)); blocks: $spent <= 90)"
fi
expect_eq "no 429 from the simulator" 0 "$(sim_stat responses_429)"
# Stopped, the replicas give their blocks' unspent tokens back at once.
workers 0
made=$(sim_stat trading_requests)
expect_eq "the replicas stopped: the log counts exactly the calls made" "$made" \
    "$("$IC" quota alpaca --json | jq -r '.used')"
