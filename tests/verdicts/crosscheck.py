#!/usr/bin/env python3
"""tests/verdicts/crosscheck.py -- three validators, one verdict per intent.

usage: crosscheck.py CASES NAME=COMMAND... [--expect-disagreement]

CASES is the output of cases.py.  Each NAME=COMMAND is a validator run once
per source: COMMAND with " --source bot" or " --source user" appended (a
shell command line), fed the cases' lines of that source on stdin, one per
line, answering one JSON line per input, in order:
    {"valid": true}  or  {"valid": false, "fields": [...], ...}
The worker's own validator is given as NAME "worker" with the special
COMMAND "intentctl:PATH" (intentctl send --dry-run --json --stdin, whose
output this script turns into the same shape).

A case passes when every validator gives the same valid/invalid verdict and,
for a case that breaks a named field, every validator names that field.
Prints a line per failing case (what each said) and a summary; the last
line is "N passed, M failed".  Exit 0 when all passed, 1 otherwise.
A validator may exit 0 or 1 (1: some line refused, as intentctl does).  With
--expect-disagreement the exit status is inverted (the self-check: a
validator that accepts everything must be caught). Why: docs/testing.md,
"The intent verdicts"."""
import json
import shlex
import subprocess
import sys

TOPICS = {"bot": "orders.intents.bot", "user": "orders.intents.user"}


def run_validator(command, source, lines):
    """The verdicts of one validator for the lines of one source."""
    text = "".join(l + "\n" for l in lines)
    if command.startswith("intentctl:"):
        argv = [command[len("intentctl:"):], "send", "--dry-run", "--json", "--stdin",
                "--topic", TOPICS[source]]
        p = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=120)
        out = [l for l in p.stdout.splitlines() if l.strip()]
        verdicts = [{"valid": True} for _ in lines]
        refused = 0
        for l in out:
            try:
                j = json.loads(l)
            except ValueError:
                continue
            if isinstance(j, dict) and j.get("status") == "refused" and isinstance(j.get("line"), int):
                k = j["line"] - 1
                if 0 <= k < len(lines):
                    verdicts[k] = {"valid": False,
                                   "fields": [e["field"] for e in j.get("errors", [])],
                                   "reason": j.get("reason")}
                    refused += 1
        if len(out) != len(lines):
            raise RuntimeError(f"intentctl answered {len(out)} lines for {len(lines)} "
                               f"({source}): {p.stderr.strip()[-300:]}")
        return verdicts
    argv = shlex.split(command) + ["--source", source]
    p = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=120)
    out = [l for l in p.stdout.splitlines() if l.strip()]
    # 0, or 1 when some line was refused (as intentctl): both answered.
    if p.returncode not in (0, 1) or len(out) != len(lines):
        raise RuntimeError(f"{command} exited {p.returncode} with {len(out)} lines for "
                           f"{len(lines)} ({source}): {p.stderr.strip()[-300:]}")
    return [json.loads(l) for l in out]


def main(argv):
    expect_disagreement = "--expect-disagreement" in argv
    argv = [a for a in argv if a != "--expect-disagreement"]
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        cases = [json.loads(l) for l in f if l.strip()]
    validators = []
    for a in argv[2:]:
        name, _, command = a.partition("=")
        validators.append((name, command))
    # verdicts[name][i] for case i
    verdicts = {name: [None] * len(cases) for name, _ in validators}
    for source in ("bot", "user"):
        idx = [i for i, c in enumerate(cases) if c["source"] == source]
        lines = [cases[i]["line"] for i in idx]
        for name, command in validators:
            try:
                got = run_validator(command, source, lines)
            except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as e:
                print(f"  FAIL  {name} could not be run: {e}")
                print("0 passed, 1 failed")
                return 0 if expect_disagreement else 1
            for k, i in enumerate(idx):
                verdicts[name][i] = got[k]
    passed = failed = 0
    for i, c in enumerate(cases):
        said = {name: verdicts[name][i] for name, _ in validators}
        valid = {name: bool(v.get("valid")) for name, v in said.items()}
        problems = []
        if len(set(valid.values())) > 1:
            problems.append("verdicts differ")
        if c.get("field"):
            for name, v in said.items():
                if v.get("valid"):
                    problems.append(f"{name} accepts it")
                elif c["field"] not in (v.get("fields") or []):
                    problems.append(f"{name} does not name {c['field']}")
        if problems:
            failed += 1
            print(f"  FAIL  {c['source']:4} {c['name']}: {'; '.join(problems)}")
            for name, v in said.items():
                print(f"          {name:7} {json.dumps(v)[:300]}")
        else:
            passed += 1
    n_valid = sum(1 for i in range(len(cases)) if verdicts[validators[0][0]][i].get("valid"))
    print(f"  {len(cases)} cases ({n_valid} valid, {len(cases) - n_valid} invalid) through "
          f"{', '.join(n for n, _ in validators)}")
    print(f"{passed} passed, {failed} failed")
    if expect_disagreement:
        return 0 if failed > 0 else 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
