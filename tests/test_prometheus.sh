#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_prometheus.sh -- the alert rules and the local Prometheus.
#
#   1. compose/prometheus/alerts.yml passes `promtool check rules`, and its
#      unit tests (alerts.test.yml) pass `promtool test rules`; every alert of
#      the file has a test where it fires and one where it does not.
#   2. On the stack of `compose/dev test`: `compose/dev start prometheus`
#      (what `up --prometheus` does) starts Debian's Prometheus with those
#      rules; every running replica is a target and is up; the rule group
#      is evaluated with every rule healthy; a message that is not JSON,
#      sent to an intent topic, fires OrderWorkerDeadLetters with its reason.
# Prometheus is stopped again at the end.  Every wait is bounded; the last
# line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test prometheus
RULES=$ROOT/compose/prometheus/alerts.yml
TESTS=$ROOT/compose/prometheus/alerts.test.yml

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    "$DEV" --state "$STATE" stop prometheus >/dev/null 2>&1
}
trap test_exit EXIT

# ---------------------------------------------------------------- 1. the rules
if promtool check rules "$RULES" >"$WORK/check.out" 2>&1; then ok "promtool check rules alerts.yml"
else bad "promtool check rules alerts.yml" "$WORK/check.out"; fi
if (cd "$(dirname "$TESTS")" && promtool test rules "$(basename "$TESTS")") >"$WORK/test.out" 2>&1; then
    ok "promtool test rules alerts.test.yml"
else bad "promtool test rules alerts.test.yml" "$WORK/test.out"; fi
/usr/bin/python3 - "$RULES" "$TESTS" >"$WORK/cover.out" <<'PY' || true
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
fires, quiet = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
for a in alerts:
    print("%s %s" % ("ok" if a in fires and a in quiet else "FAIL", a))
print("count %d" % len(alerts))
PY
while read -r verdict name; do
    case $verdict in
        ok) ok "$name: a test fires it, another does not" ;;
        FAIL) bad "$name: a test fires it, another does not" ;;
        count) if ((name >= 10)); then ok "$name alerts in alerts.yml"; else
            bad "only $name alerts in alerts.yml"; fi ;;
    esac
done <"$WORK/cover.out"

# ---------------------------------------------------------------- 2. live
"$DEV" --state "$STATE" start prometheus >"$WORK/start.log" 2>&1 ||
    { sed 's/^/        | /' "$WORK/start.log"; die "compose/dev start prometheus failed"; }
PROM_PORT=$(sed -n 's/^PROM_PORT=//p' "$STATE/ports")
PROM="http://127.0.0.1:$PROM_PORT"
ok "compose/dev start prometheus: Prometheus on $PROM"

# The replicas that run now: their admin ports.
want=$(for f in "$STATE"/pids/worker-*.pid; do
    [[ -e $f ]] || continue
    w=$(basename "$f" .pid)
    printf '127.0.0.1:%s\n' "$((DEV_ADMIN_BASE_PORT + ${w#worker-}))"
done | sort)
[[ -n $want ]] || die "no worker runs"
up=""
for _ in $(seq 1 60); do
    curl -fsS "$PROM/api/v1/targets" >"$WORK/targets.json" 2>/dev/null || true
    up=$(jq -r '.data.activeTargets[] | select(.labels.job == "order-worker" and .health == "up")
        | .labels.instance' "$WORK/targets.json" 2>/dev/null | sort)
    [[ $up == "$want" ]] && break
    sleep 0.5
done
expect_eq "every running replica is a target, up ($(wc -l <<<"$want") of them)" "$want" "$up"

for _ in $(seq 1 60); do
    curl -fsS "$PROM/api/v1/rules" >"$WORK/rules.json" 2>/dev/null || true
    n=$(jq '[.data.groups[] | select(.name == "order-worker") | .rules[]
        | select(.health == "ok" and .lastEvaluation > "2000")] | length' "$WORK/rules.json" 2>/dev/null || echo 0)
    total=$(jq '[.data.groups[] | select(.name == "order-worker") | .rules[]] | length' \
        "$WORK/rules.json" 2>/dev/null || echo -1)
    ((n > 0 && n == total)) && break
    sleep 0.5
done
expect_eq "the rules of alerts.yml are evaluated, every one healthy" "$total" "$n"

# A message that is not JSON goes to the DLQ; the alert watching the DLQ fires.
key="prom-$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')"
printf 'this is not json\n' | "$IC" send --raw --key "$key" >/dev/null 2>"$WORK/send.err" ||
    { sed 's/^/        | /' "$WORK/send.err"; die "intentctl send --raw failed"; }
state=""
for _ in $(seq 1 120); do
    state=$(curl -fsS "$PROM/api/v1/alerts" 2>/dev/null | jq -r '.data.alerts[]
        | select(.labels.alertname == "OrderWorkerDeadLetters" and .labels.reason == "not_json")
        | .state' 2>/dev/null | head -n1)
    [[ $state == firing ]] && break
    sleep 0.5
done
expect_eq "a not-JSON message fires OrderWorkerDeadLetters{reason=\"not_json\"}" firing "$state"
