#!/usr/bin/env bash
# tests/test_verdicts.sh -- the worker, the Python client and the TypeScript
# client give every intent the same verdict.  A unit test: it needs the
# build (intentctl), python3 with Debian's python3-jsonschema, and the
# TypeScript package built (compose/dev build), no stack.
#
#   [1] the cases (tests/verdicts/cases.py): every sample of
#       producers/samples/ and every intent example of schemas/asyncapi.yaml,
#       and a valid bot and user intent broken one rule at a time (each rule
#       worker/intent.c checks), plus two unreadable messages;
#   [2] each case through the worker's own validator (intentctl send
#       --dry-run --json), the Python client's (python3 -m orderbot.check)
#       and the TypeScript client's (dist/bin/intent-check.js): the same
#       verdict from all three, and for a case that breaks a field, that
#       field named by all three (tests/verdicts/crosscheck.py);
#   [3] the self-check: a validator that accepts everything, put beside the
#       worker's, is caught (so [2] can fail).
# The last line is "N passed, M failed"; exits 1 on any failure.
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=${ORDER_WORKER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
BIN=${DEV_BUILD_DIR:-$ROOT/build}/bin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-verdicts.XXXXXX")
PASSED=0 FAILED=0
trap test_exit EXIT
V=$ROOT/tests/verdicts
TS_CHECK=$ROOT/producers/typescript/dist/bin/intent-check.js

[[ -x $BIN/intentctl ]] || die "$BIN/intentctl is missing: compose/dev build"
[[ -f $TS_CHECK ]] || die "$TS_CHECK is missing: compose/dev build (it builds the TypeScript package)"
python3 -c 'import jsonschema' 2>/dev/null || die "python3-jsonschema is missing (compose/dev install)"

say "== the intent verdicts: worker, Python client, TypeScript client =="
say "[1] the cases"
python3 "$V/cases.py" >"$WORK/cases.ndjson" || die "tests/verdicts/cases.py failed"
n=$(wc -l <"$WORK/cases.ndjson")
if ((n >= 100)); then ok "$n cases"; else bad "only $n cases"; fi

say "[2] three validators, one verdict"
if PYTHONPATH=$ROOT/producers/python python3 "$V/crosscheck.py" "$WORK/cases.ndjson" \
    "worker=intentctl:$BIN/intentctl" \
    "python=python3 -m orderbot.check" \
    "typescript=node $TS_CHECK" >"$WORK/cross.out" 2>&1; then
    ok "$(tail -n 1 "$WORK/cross.out") ($(tail -n 2 "$WORK/cross.out" | head -n 1 | sed 's/^ *//'))"
else
    bad "the validators disagree" "$WORK/cross.out"
fi

say "[3] the self-check: a validator that accepts everything is caught"
printf 'import sys\nfor _ in sys.stdin:\n    print("{\\"valid\\": true}")\n' >"$WORK/accept_all.py"
if python3 "$V/crosscheck.py" "$WORK/cases.ndjson" "worker=intentctl:$BIN/intentctl" \
    "accept_all=python3 $WORK/accept_all.py" --expect-disagreement >"$WORK/self.out" 2>&1; then
    ok "caught: $(tail -n 1 "$WORK/self.out")"
else
    bad "a validator that accepts everything was not caught" "$WORK/self.out"
fi
