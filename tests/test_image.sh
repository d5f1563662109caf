#!/usr/bin/env bash
# tests/test_image.sh -- compose/Dockerfile's build stage replayed without a
# container engine (tests/image_replay.py): the build context through
# .dockerignore, the COPY lines into an empty directory, the build RUN, the
# packages each stage installs checked against what the build read and what
# the programs load, and every program's --help.
set -euo pipefail
ROOT=${ORDER_WORKER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
exec python3 "$ROOT/tests/image_replay.py" --context "$ROOT" --dockerfile compose/Dockerfile
