# producers/python/tests/verdicts.py -- this package's verdicts next to the
# worker's, line by line.
#
# Owns: running `intentctl send --dry-run --json --stdin` (the worker's own
# validator) and `python3 -m orderbot.check` over the same JSON lines and
# returning both verdicts per line as (valid, [fields]), for test_check.py and
# for a person comparing by hand:
#   python3 tests/verdicts.py INTENTCTL < lines.jsonl   (prints disagreements)
# intentctl picks the topic from the line (bot_id present and not null, or not
# an object: the bot topic), so each line is checked here with that source.
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import List, Tuple

Verdict = Tuple[bool, List[str]]


def _jansson_int(text: str) -> int:
    v = int(text)
    if not -2**63 <= v < 2**63:
        raise ValueError("too big integer")
    return v


def _jansson_real(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise ValueError("real number overflow")
    return v


def source_of(line: bytes) -> str:
    """The topic intentctl checks a line for (producers/intentctl/send.c):
    the user topic only for an object without bot_id (or with a null one)
    that jansson reads as it is -- a number an int64 or a double cannot hold
    anywhere makes it the bot topic."""
    try:
        j = json.loads(line, parse_int=_jansson_int, parse_float=_jansson_real)
    except ValueError:
        return "bot"
    if not isinstance(j, dict) or j.get("bot_id") is not None:
        return "bot"
    return "user"


def worker_verdicts(intentctl: str, lines: List[bytes]) -> List[Verdict]:
    """One verdict per line: dry-run prints a valid line back as it was, a
    refused one as {"status":"refused",...,"errors":[...]}."""
    env = dict(os.environ, KAFKA_BROKERS=os.environ.get("KAFKA_BROKERS", "127.0.0.1:1"))
    p = subprocess.run([intentctl, "send", "--dry-run", "--json", "--stdin"],
                       input=b"".join(ln + b"\n" for ln in lines), capture_output=True, env=env,
                       timeout=120)
    outs = p.stdout.split(b"\n")[:len(lines)]
    if len(outs) != len(lines):
        raise RuntimeError(f"intentctl printed {len(outs)} lines for {len(lines)}: {p.stderr!r}")
    verdicts: List[Verdict] = []
    for line, o in zip(lines, outs):
        j = json.loads(o) if o.startswith(b'{"status":"refused"') and o != line else None
        verdicts.append((j is None, [e["field"] for e in j["errors"]] if j else []))
    return verdicts


def package_verdicts(lines: List[bytes], python: str = sys.executable) -> List[Verdict]:
    """One verdict per line from python -m orderbot.check, each line with its
    source (lines of one source checked together)."""
    got: dict[int, Verdict] = {}
    for source in ("bot", "user"):
        idx = [i for i, ln in enumerate(lines) if source_of(ln) == source]
        if not idx:
            continue
        p = subprocess.run([python, "-m", "orderbot.check", "--source", source],
                           input=b"".join(lines[i] + b"\n" for i in idx), capture_output=True,
                           timeout=120, check=True)
        for i, o in zip(idx, p.stdout.splitlines()):
            j = json.loads(o)
            got[i] = (j["valid"], j.get("fields", []))
    return [got[i] for i in range(len(lines))]


if __name__ == "__main__":
    lines = [ln.rstrip(b"\r\n") for ln in sys.stdin.buffer if ln.strip()]
    w, p = worker_verdicts(sys.argv[1], lines), package_verdicts(lines)
    bad = 0
    for line, a, b in zip(lines, w, p):
        if a != b:
            bad += 1
            print(f"worker {a} package {b}: {line[:300]!r}")
    print(f"{len(lines) - bad} of {len(lines)} agree")
    sys.exit(1 if bad else 0)
