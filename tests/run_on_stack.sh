#!/usr/bin/env bash
# tests/run_on_stack.sh PROGRAM [ARGS...] -- a C test that needs the stack's
# Redis or PostgreSQL (quota_redis, ledger_postgres, auth_unit), run with the
# settings of its test stack in its environment (stack_test, tests/lib.sh).
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test "$(basename "$1")"
rm -rf "$WORK"
exec "$@"
