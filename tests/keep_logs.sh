#!/usr/bin/env bash
# tests/keep_logs.sh NAME DIR -- keeps what a test's scratch folder holds of
# its processes' output, for tests/test_secrets.sh.
#
# Under `compose/dev test` (DEV_KEPT_DIR set), copies every file of DIR
# (recursively, paths kept) that holds what a worker or a tool printed, by the
# suite's naming: *.log, *.err, *.out (a process's output), *.json, *.events,
# *.sent (the JSON a tool printed: API answers, event snapshots, intentctl's
# reports) to $DEV_KEPT_DIR/NAME/logs/.  Outside a suite run it does
# nothing.  Why: the tests delete their scratch folders at the end, and
# test_secrets, the suite's last test, must read every log of the run.
# Nothing under a folder named secrets is copied, and no symbolic link.
set -euo pipefail

name=${1:?usage: tests/keep_logs.sh NAME DIR}
dir=${2:?usage: tests/keep_logs.sh NAME DIR}
[[ -n ${DEV_KEPT_DIR:-} && -d $dir ]] || exit 0
[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || { echo "keep_logs: bad name '$name'" >&2; exit 2; }
dest="$DEV_KEPT_DIR/$name/logs"
mkdir -p "$dest"
cd "$dir"
find . -type f \( -name '*.log' -o -name '*.err' -o -name '*.out' -o -name '*.json' \
    -o -name '*.events' -o -name '*.sent' \) -not -path '*/secrets/*' \
    -exec cp --parents -t "$dest" -- {} +
