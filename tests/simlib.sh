# tests/simlib.sh -- simulators of a test's own, for the tests that need no
# stack (tests/test_sim.sh, tests/test_alpaca.sh).  Sourced, not run.  The
# caller sets SIM_BIN (the alpaca-sim binary), SIM_ARGS (an array of extra
# arguments, may be empty) and WORK (a scratch folder), and sets
# `trap sims_exit EXIT` after defining sims_failed (what to do when a
# simulator cannot be started).
# shellcheck shell=bash

SIM_PIDS=()

# start_sim NAME [ENV=VALUE...]: a simulator on a random free port (20000 to
# 29999, below Linux's ephemeral ports), its stderr in WORK/NAME.log; waits
# for /_sim/health.  Sets PORT and SIM_PID.  Retries with another port if the
# simulator exits (the port was taken); after ten tries prints its log and
# calls sims_failed NAME.
start_sim() {
    local name=$1 try i
    shift
    for ((try = 0; try < 10; try++)); do
        PORT=$((20000 + RANDOM % 10000))
        env "$@" "$SIM_BIN" --port "$PORT" "${SIM_ARGS[@]}" 2>"$WORK/$name.log" &
        SIM_PID=$!
        for ((i = 0; i < 50; i++)); do
            if curl -s -o /dev/null "http://127.0.0.1:$PORT/_sim/health"; then
                SIM_PIDS+=("$SIM_PID")
                return 0
            fi
            kill -0 "$SIM_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    done
    cat "$WORK/$name.log" >&2
    sims_failed "$name"
}

# sims_exit: the EXIT trap: stops every simulator start_sim started, keeps
# their logs for tests/test_secrets.sh (tests/keep_logs.sh, under the name
# KEEP_AS.<the scratch folder>) and removes WORK; a failure to keep them
# fails the test.
sims_exit() {
    local pid kept=0
    for pid in "${SIM_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${SIM_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash "$(dirname "${BASH_SOURCE[0]}")/keep_logs.sh" "${KEEP_AS:?}.${WORK##*/}" "$WORK" || kept=$?
    rm -rf "$WORK"
    if [ "$kept" -ne 0 ]; then
        echo "FAIL: the logs of $WORK could not be kept for test_secrets" >&2
        exit 1
    fi
}
