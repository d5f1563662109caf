# tests/simcheck.sh -- the checks and calls of the simulator's own tests
# (tests/test_sim.sh, tests/test_sim_stream.sh).  Sourced after simlib.sh,
# not run.  The caller sets KEY and SECRET (the keys of `call`), WORK,
# BASE (the simulator at hand, http://127.0.0.1:PORT), BIN (the alpaca-sim
# binary) and PASSED=0.  Every check goes through expect: the first that
# fails stops the test with a message and "N passed, 1 failed".
# shellcheck shell=bash

fail() {
    echo "FAIL: $*" >&2
    if [ -n "${STATUS:-}" ]; then
        echo "  last response: HTTP $STATUS $(head -c 600 "$WORK/body" 2>/dev/null)" >&2
    fi
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

pass() { PASSED=$((PASSED + 1)); }

# expect DESCRIPTION COMMAND...: passes if the command succeeds.
expect() {
    local desc=$1
    shift
    if "$@" >/dev/null; then pass; else fail "$desc"; fi
}

# call METHOD PATH [BODY] [more curl args] -- as the authorised client.
# Sets STATUS; the body is in $WORK/body, headers in $WORK/headers.
call() {
    local method=$1 path=$2 body=${3:-}
    shift $(($# < 3 ? $# : 3))
    local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method"
        -H "APCA-API-KEY-ID: $KEY" -H "APCA-API-SECRET-KEY: $SECRET")
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    STATUS=$(curl "${args[@]}" "$@" "$BASE$path") || STATUS="curl-exit-$?"
}

# anon METHOD PATH [BODY] -- without keys (control API, 401 checks).
anon() {
    local method=$1 path=$2 body=${3:-}
    local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method")
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    STATUS=$(curl "${args[@]}" "$BASE$path") || STATUS="curl-exit-$?"
}

# jqb FILTER -- evaluates a jq filter on the last body.
jqb() { jq -r "$@" "$WORK/body"; }

# status_is CODE -- the last status was CODE.
status_is() { [ "$STATUS" = "$1" ]; }

# body_is JSON -- the last body equals JSON (compact, same key order).
body_is() { [ "$(jq -c . "$WORK/body")" = "$(jq -c . <<<"$1")" ]; }

# field_is FILTER VALUE -- jq -r FILTER of the last body is VALUE.
field_is() { [ "$(jqb "$1")" = "$2" ]; }

header() { tr -d '\r' <"$WORK/headers" | awk -v h="$(echo "$1" | tr 'A-Z' 'a-z')" \
    'BEGIN{FS=": "} tolower($1)==h {print $2}'; }

simstat() { curl -s "$BASE/_sim/stats" | jq -r ".$1"; }

# poll_order ID JQ_TEST -- GETs the order until JQ_TEST holds, at most 5 s;
# the last answer stays in $WORK/body (the caller's expect judges it).
poll_order() {
    local i
    for i in $(seq 1 50); do
        call GET "/v2/orders/$1"
        if jq -e "$2" "$WORK/body" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 0
}

# tick [N] -- runs N engine ticks now (simulators with SIM_TICK_MS=0).
tick() { curl -s -o /dev/null -X POST "$BASE/_sim/tick" -d "{\"count\":${1:-1}}"; }

# stop_sim PID LOG -- SIGTERM to the simulator PID and waits; sets rc to
# its exit status.  When that is not 0, prints what a checker said about
# PID: the end of LOG (its stderr, where LeakSanitizer writes when nothing
# else is asked) and its report files, in DEV_SANITIZER_DIR (compose/dev
# test sends them there) or $WORK/asan.* (the shutdown checks').
stop_sim() {
    rc=0
    kill -TERM "$1"
    wait "$1" || rc=$?
    if [ "$rc" != 0 ]; then
        tail -n 40 "$2" >&2
        cat "${DEV_SANITIZER_DIR:-$WORK}"/*."$1" "$WORK"/asan.*"$1" 2>/dev/null | head -n 60 >&2 || true
    fi
}

# order JSON -- POST /v2/orders; sets OID to the new order's id.
order() { call POST /v2/orders "$1"; OID=$(jqb '.id // empty'); }

# leak_checker: sets CHECKER and WRAP (the command line to run BIN under)
# from the binary: on an ASan build LeakSanitizer runs at exit and a leak
# makes the exit status non-zero and writes a report (to $WORK/asan.*);
# valgrind cannot run an ASan build, so on a plain one valgrind checks, when
# it is installed (SKIP_VALGRIND=1: no leak check then).
leak_checker() {
    if readelf -d "$BIN" 2>/dev/null | grep -c 'libasan' >/dev/null; then
        CHECKER=asan
        WRAP=()
    elif [ "${SKIP_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null; then
        CHECKER=valgrind
        WRAP=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99)
    else
        CHECKER="no leak check"
        WRAP=()
    fi
}

# start_checked NAME [ENV=VALUE...] [-- ARGS...]: a simulator under the leak
# checker (leak_checker) on a random port, its stderr in WORK/NAME.log;
# waits for /_sim/health (valgrind is slow to start).  Sets PORT and SIM_PID.
start_checked() {
    local name=$1 i env=() args=()
    shift
    while (($# > 0)) && [ "$1" != -- ]; do env+=("$1"); shift; done
    (($# > 0)) && shift
    args=("$@")
    leak_checker
    PORT=$((20000 + RANDOM % 10000))
    # Later ASAN_OPTIONS win: leaks are checked whatever the caller set, and
    # the report lands where the test reads it (valgrind's goes to the log).
    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:log_path=$WORK/asan" \
        "${env[@]}" "${WRAP[@]}" "$BIN" --port "$PORT" "${args[@]}" 2>"$WORK/$name.log" &
    SIM_PID=$!
    SIM_PIDS+=("$SIM_PID")
    for i in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/_sim/health" && return 0
        sleep 0.1
    done
    fail "could not start $name under $CHECKER"
}

# expect_clean_stop PID NAME WHAT: SIGTERM to a simulator start_checked
# started: it exits 0 within 10 s, logs its stop line, and its checker
# reports nothing.
expect_clean_stop() {
    local pid=$1 name=$2 what=$3 t0 t1
    t0=$(date +%s)
    stop_sim "$pid" "$WORK/$name.log"
    t1=$(date +%s)
    expect "$CHECKER: clean exit 0 $what (rc=$rc)" [ "$rc" = 0 ]
    expect "$CHECKER: the stop does not wait ($((t1 - t0)) s)" [ $((t1 - t0)) -lt 10 ]
    expect "$CHECKER: stop line logged" grep -q "stopped (SIGTERM)" "$WORK/$name.log"
    expect "$CHECKER: no errors reported" bash -c "! grep -q '==[0-9]*==' '$WORK/$name.log' &&
        ! compgen -G '$WORK/asan.*' >/dev/null"
    echo "$name: shutdown checked with: $CHECKER" >&2
}
