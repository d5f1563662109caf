#!/usr/bin/env bash
# tests/fuzz/run.sh -- builds and runs the libFuzzer targets of tests/fuzz/.
#
# usage: tests/fuzz/run.sh SECONDS [TARGET...]
#
# Owns the fuzzing runs of `compose/dev fuzz` (long) and of the ctest test
# fuzz_short (30 s each): configures and builds build-fuzz/ with clang
# (CC=clang, -DORDER_WORKER_FUZZ=ON; a build of its own beside the gcc
# build/, whatever DEV_BUILD_DIR says; FUZZ_BUILD_DIR overrides), then for
# each target (default: all five):
#   1. runs every file of tests/fuzz/regressions/TARGET/ once (crashes found
#      earlier: they must stay fixed);
#   2. fuzzes it for SECONDS (-max_total_time) from a working corpus in
#      build-fuzz/corpus/TARGET/, into which the checked-in seeds of
#      tests/fuzz/corpus/TARGET/ are copied first (libFuzzer adds what it
#      finds there, never to tests/fuzz/corpus/; a local working corpus
#      keeps growing from run to run), with tests/fuzz/dict/TARGET.dict;
#      -timeout=10 -rss_limit_mb=2048, crash inputs in
#      build-fuzz/findings/TARGET/, the log in build-fuzz/logs/TARGET.log.
# Two targets run at a time (the machine has 2 cores).  Prints one line per
# target: executions (libFuzzer's stat::number_of_executed_units), coverage
# (cov/ft of its last status line), corpus size and the result; exits 1 if
# any target crashed, leaked, timed out, ran out of memory, failed a
# regression input, executed no input (no-executions) or did not run for the
# SECONDS asked to libFuzzer's closing "Done N runs in S second(s)"
# (incomplete, short-run); 2 on a usage or build error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
BUILD=${FUZZ_BUILD_DIR:-$REPO/build-fuzz}
ALL_TARGETS=(fuzz_intent fuzz_decimal fuzz_alpaca fuzz_sim_request fuzz_tradestream fuzz_wsframe)
PARALLEL=2

die() { printf 'fuzz: %s\n' "$*" >&2; exit 2; }

# libFuzzer reports crashes itself, to this script's logs: the sanitizer
# settings `compose/dev test` exports for the suite (reports to files, exit
# code 66) are not for the fuzzers.
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

SECONDS_EACH=${1:-}
[[ $SECONDS_EACH =~ ^[0-9]+$ && $SECONDS_EACH -gt 0 ]] ||
    die "usage: tests/fuzz/run.sh SECONDS [TARGET...] (targets: ${ALL_TARGETS[*]})"
shift
TARGETS=("$@")
((${#TARGETS[@]} > 0)) || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "unknown target '$t' (targets: ${ALL_TARGETS[*]})"
done

command -v clang >/dev/null ||
    die "clang is missing: apt-get install clang libclang-rt-14-dev (compose/dev install does it)"

# ---- one run at a time per build dir (logs, results and corpora are shared)
mkdir -p "$BUILD"
exec 8>"$BUILD/.run.lock"
flock -n 8 || die "another tests/fuzz/run.sh is using $BUILD"

# ---- build (quietly; the output only on failure)
log=$BUILD/build.log
{
    if [[ ! -f $BUILD/CMakeCache.txt ]]; then
        CC=clang cmake -S "$REPO" -B "$BUILD" -DORDER_WORKER_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
    fi
    cmake --build "$BUILD" --target fuzzers -j2
} >"$log" 2>&1 || { cat "$log" >&2; die "building the fuzzers failed (log: $log)"; }

# ---- one target: regressions, then the timed run; writes $BUILD/logs/T.result
run_target() {
    local t=$1 bin=$BUILD/fuzz/$1 work=$BUILD/corpus/$1 findings=$BUILD/findings/$1
    local tlog=$BUILD/logs/$1.log result=ok rc=0 dict=() regs=() f
    mkdir -p "$work" "$findings" "$BUILD/logs"
    : >"$tlog"
    if [[ -d $HERE/regressions/$t ]]; then
        for f in "$HERE/regressions/$t"/*; do [[ -f $f ]] && regs+=("$f"); done
    fi
    if ((${#regs[@]} > 0)); then
        echo "== regressions: ${#regs[@]} inputs" >>"$tlog"
        "$bin" -timeout=10 -rss_limit_mb=2048 "${regs[@]}" >>"$tlog" 2>&1 || result=regression-failed
    fi
    if [[ $result == ok ]]; then
        cp -f "$HERE/corpus/$t"/* "$work"/ 2>/dev/null || true
        [[ -f $HERE/dict/$t.dict ]] && dict=(-dict="$HERE/dict/$t.dict")
        echo "== fuzzing for ${SECONDS_EACH}s" >>"$tlog"
        "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" \
            "$work" >>"$tlog" 2>&1 || rc=$?
        if ((rc != 0)); then
            result=crash
            if grep -q 'ERROR: libFuzzer: timeout' "$tlog"; then result=timeout; fi
            if grep -q 'ERROR: libFuzzer: out-of-memory' "$tlog"; then result=out-of-memory; fi
            if grep -q 'ERROR: LeakSanitizer' "$tlog"; then result=leak; fi
        fi
    fi
    local execs cov ft corpus done_s
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tlog" | tail -n 1)
    # A run that ended "fine" must have run, and as long as asked: libFuzzer
    # closes a timed run with "Done N runs in S second(s)" (S >= SECONDS)
    # and its final stats; no executions, or a shorter run, is a failure.
    done_s=$(sed -n 's/^Done [0-9][0-9]* runs in \([0-9][0-9]*\) second.*/\1/p' "$tlog" | tail -n 1)
    if [[ $result == ok ]]; then
        if [[ ! ${execs:-0} =~ ^[0-9]+$ ]] || ((${execs:-0} == 0)); then
            result=no-executions
        elif [[ -z $done_s ]]; then
            result=incomplete
        elif ((done_s < SECONDS_EACH)); then
            result=short-run
        fi
    fi
    cov=$(grep -o 'cov: [0-9]*' "$tlog" | tail -n 1 | cut -d' ' -f2 || true)
    ft=$(grep -o 'ft: [0-9]*' "$tlog" | tail -n 1 | cut -d' ' -f2 || true)
    corpus=$(find "$work" -type f | wc -l)
    printf '%s %s %s %s %s %s\n' "$t" "${execs:-0}" "${cov:-?}" "${ft:-?}" "$corpus" "$result" \
        >"$BUILD/logs/$t.result"
}

echo "fuzz: ${#TARGETS[@]} target(s), ${SECONDS_EACH}s each, $PARALLEL at a time (build: $BUILD)"
running=0
for t in "${TARGETS[@]}"; do
    rm -f "$BUILD/logs/$t.result"
    if ((running >= PARALLEL)); then
        wait -n || true
        running=$((running - 1))
    fi
    run_target "$t" &
    running=$((running + 1))
done
wait || true

failed=()
printf '%-18s %14s %9s %9s %8s  %s\n' target executions coverage features corpus result
for t in "${TARGETS[@]}"; do
    read -r name execs cov ft corpus result <"$BUILD/logs/$t.result" ||
        { name=$t execs=0 cov='?' ft='?' corpus=0 result=no-result; }
    printf '%-18s %14s %9s %9s %8s  %s\n' "$name" "$execs" "$cov" "$ft" "$corpus" "$result"
    [[ $result == ok ]] || failed+=("$t")
done
for t in "${failed[@]}"; do
    echo "--- $t: log $BUILD/logs/$t.log"
    grep -m 3 -E 'ERROR:|runtime error:|invariant failed' "$BUILD/logs/$t.log" | sed 's/^/    /' || true
    case $(awk '{print $6}' "$BUILD/logs/$t.result" 2>/dev/null) in
        no-executions) echo "    the fuzzer executed no input (stat::number_of_executed_units 0 or missing)" ;;
        incomplete) echo "    the timed run did not end as libFuzzer ends one (no \"Done N runs in S second(s)\")" ;;
        short-run) echo "    the timed run lasted $(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$BUILD/logs/$t.log" | tail -n 1) s of the ${SECONDS_EACH} s asked" ;;
    esac
    # The target's own explanation (a line "TARGET: ..." and what follows).
    grep -m 2 -A 2 -E "^$t: " "$BUILD/logs/$t.log" | cut -c1-400 | sed 's/^/    /' || true
    # The input itself, so that a failure seen only in a CI log can be
    # reproduced: base64 -d <<<'...' >tests/fuzz/regressions/TARGET/NAME
    while IFS= read -r f; do
        size=$(stat -c %s "$f")
        echo "    input: $f ($size bytes)"
        if ((size <= 8192)); then echo "    base64: $(base64 -w 0 "$f")"; fi
    done < <(find "$BUILD/findings/$t" -type f -newer "$BUILD/build.log" 2>/dev/null)
done
if ((${#failed[@]} > 0)); then
    echo "fuzz: FAILED: ${failed[*]} (an input that fails: fix, then keep it in tests/fuzz/regressions/TARGET/)"
    exit 1
fi
echo "fuzz: no crash"
