# orderbot/check.py -- `python3 -m orderbot.check`: the verdict per line.
#
# Owns: the command line of validate.check_bytes, for a test (or a person)
# to compare this package's verdicts with the worker's
# (`intentctl send --dry-run --json --stdin`).  Reads JSON lines from stdin
# (one intent object per line; a trailing CR is dropped and blank lines are
# skipped, as intentctl does) and prints one JSON line per intent:
#   {"valid": true}
#   {"valid": false, "fields": [...], "errors": [{"field", "message"}...],
#    "reason": "validation_failed"}
# fields name the offending top-level fields as the worker does; reason is
# validation_failed, or the DLQ reason of a message that is no intent at all
# (not_json, not_object, too_large, no_intent_id: then fields is empty, as
# the worker lists none, and message says why).  Exit 0 when stdin was read,
# 2 on a usage error.
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from .validate import SOURCES, check_bytes


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m orderbot.check",
                                 description="Check intents (JSON lines on stdin) as the worker "
                                             "would; one JSON verdict per line on stdout.")
    ap.add_argument("--source", choices=SOURCES, default="bot",
                    help="the topic the intents are for: bot (bot_id required) or user "
                         "(bot_id absent); default bot")
    args = ap.parse_args(argv)
    out = sys.stdout
    for line in sys.stdin.buffer:
        if line.endswith(b"\n"):
            line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip(b" \t\r"):
            continue
        out.write(json.dumps(check_bytes(line, args.source).to_json(), ensure_ascii=False) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
