#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_parallel_posts.sh -- a lane's batch sends its orders to Alpaca
# together (ALPACA_PARALLEL_POSTS), through the stack of `compose/dev test`.
#
# Two replicas with one bot lane each (WORKER_CONCURRENCY=1), the simulator
# answering every request 300 ms late (fault latency_ms), 24 intents of 24
# bots sent at once: each lane takes them in batches.  The simulator counts
# the order POSTs it is answering at once (order_posts_peak_in_flight):
#   [1] ALPACA_PARALLEL_POSTS=1: at most 2 (one per lane: one by one);
#   [2] ALPACA_PARALLEL_POSTS=8: more than 2 (a lane had several in flight);
# and in both runs every intent fills, one order each (nothing sent twice).
# The figure is a count, not a time: nothing here depends on the machine's
# speed.
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test parallel_posts
save_settings WORKER_CONCURRENCY ALPACA_PARALLEL_POSTS INTENT_MAX_AGE_MS

undo() {
    sim POST /_sim/faults '{}' >/dev/null || printf '  FAIL  clearing the faults\n'
    restore_settings
    restore_workers 2
}
trap test_exit EXIT

say "== order-worker: a batch's orders in flight together (run $RUN) =="

run() { # run N-PARALLEL: the 24 intents, the peak, one order each
    local par=$1
    export WORKER_CONCURRENCY=1 ALPACA_PARALLEL_POSTS=$par INTENT_MAX_AGE_MS=120000
    restore_workers 2
    sim POST /_sim/faults '{}' >/dev/null
    sim POST /_sim/stats '{}' >/dev/null || die "cannot start the simulator's peaks again"
    sim POST /_sim/faults '{"latency_ms": 300}' >/dev/null || die "cannot set latency_ms"
    : >"$WORK/p$par.jsonl"
    local i
    for ((i = 0; i < 24; i++)); do
        gen_intents "$WORK/p$par.jsonl" 1 --bot "pp-$RUN-$par-$i" --user u1 --symbol AAPL \
            --side buy --qty 0.01
    done
    jq -r .intent_id "$WORK/p$par.jsonl" >"$WORK/p$par.ids"
    local before
    before=$(sim_orders)
    send_lines "$WORK/p$par.jsonl"
    wait_terminal "$WORK/p$par.ids" 90000 || bad "parallel $par: 24 outcomes within 90 s"
    sim POST /_sim/faults '{}' >/dev/null
    snapshot "$WORK/p$par.events" "$WORK/p$par.ids"
    expect_eq "parallel $par: 24 fills" 24 \
        "$(jqe -s '[.[] | select(._topic == $fills and .type == "fill")] | unique_by(.intent_id) | length' "$WORK/p$par.events")"
    expect_eq "parallel $par: 24 orders at the simulator, one per intent" "$((before + 24))" \
        "$(sim_orders)"
    PEAK=$(sim_stat order_posts_peak_in_flight)
    say "        (ALPACA_PARALLEL_POSTS=$par: at most $PEAK order POSTs in flight at once)"
}

say "[1] ALPACA_PARALLEL_POSTS=1: one POST at a time per lane"
run 1
if ((PEAK <= 2)); then ok "parallel 1: at most one POST per lane at once ($PEAK)"; else
    bad "parallel 1: at most 2 POSTs in flight (2 lanes), saw $PEAK"
fi

say "[2] ALPACA_PARALLEL_POSTS=8: a batch's POSTs together"
run 8
if ((PEAK > 2)); then ok "parallel 8: a lane had several POSTs in flight ($PEAK at once)"; else
    bad "parallel 8: more than 2 POSTs in flight at once (2 lanes), saw $PEAK"
fi
