#!/usr/bin/env bash
# tests/test_compose.sh -- static checks of the Docker Compose deployment
# (compose/docker-compose.yml, compose/.env.example, compose/init-secrets,
# compose/prometheus/prometheus.yml).
#
# No Docker engine is needed: `docker-compose config` validates and renders the
# file (Debian's docker-compose 1.29) for the default and every profile, and
# docker-compose's own code says which services `up` starts under each
# (tests/compose_walkthrough.py up_services).  The rendered YAML is then
# inspected with Python (python3-yaml, a dependency of docker-compose).  The
# image's build is replayed by tests/image_replay.py (test image_build), the
# walk-through of docs/deployment.md by test compose_walkthrough.  Run from
# anywhere: bash tests/test_compose.sh
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
# docker-compose prefers the shell's variables to the env file: run with
# none of the file's names set (the suite exports the local stack's).
while IFS='=' read -r name _; do
    if [[ $name =~ ^[A-Z_][A-Z0-9_]*$ ]]; then unset "$name"; fi
done <compose/.env.example
for name in $(compgen -e); do
    case $name in
        KAFKA_* | REDIS_* | DATABASE_* | ADMIN_* | ALPACA_* | TOPIC_* | BOT_* | USER_* | RATE_* | \
            INTENT_* | BREAKER_* | WORKER_* | QUOTE_* | BARS_* | QUOTA_* | RISK_* | TRADING_* | \
            RECONCILE_* | FOLLOW_* | ACCOUNT_* | PUBLISH_* | LOG_* | REPLICA_* | SIGNING_* | \
            COMPOSE_* | POSTGRES_*) unset "$name" ;;
    esac
done

BIN=${DEV_BUILD_DIR:-$REPO/build}/bin

pass=0
fail=0
ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$1"; }
bad() { fail=$((fail + 1)); printf 'FAIL %s\n' "$1"; }
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
    printf '%d passed, %d failed\n' "$pass" "$fail"
    ((fail == 0))
}

for tool in docker-compose promtool; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "test_compose: $tool is not installed (compose/dev install installs it)" >&2
        bad "$tool is installed"
        finish
        exit 1
    fi
done
if ! /usr/bin/python3 -c 'import yaml, compose' 2>/dev/null; then
    bad "Debian's python3 has yaml and compose (docker-compose's own packages)"
    finish
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy of compose/, set up as the walk-through does: .env from the example,
# secrets from init-secrets (the repository's own compose/ is left alone).
cp -r compose "$tmp/compose"
rm -rf "$tmp/compose/secrets" "$tmp/compose/.env"
C=$tmp/compose
cp "$C/.env.example" "$C/.env"
(cd "$C" && ./init-secrets >/dev/null)

dc() { (cd "$C" && docker-compose "$@"); }

# ---------------------------------------------------------------- init-secrets
check "init-secrets: secrets/ is mode 700" test "$(stat -c %a "$C/secrets")" = 700
bad_modes=$(find "$C/secrets" -type f ! -perm 644)
check "init-secrets: every file is 644 (the containers' users read them)" test -z "$bad_modes"
for f in redis_password postgres_password postgres_worker_password sim/api_key_id \
    sim/api_secret_key; do
    check "init-secrets: $f has a random value" test "$(wc -c <"$C/secrets/$f")" -ge 33
done
check "init-secrets: the three passwords differ" \
    test "$(sort -u "$C/secrets/redis_password" "$C/secrets/postgres_password" \
        "$C/secrets/postgres_worker_password" | wc -l)" -eq 3
sums=$(cd "$C" && find secrets -type f -exec sha256sum {} + | sort)
(cd "$C" && ./init-secrets >/dev/null)
check "init-secrets: a second run changes nothing" \
    test "$sums" = "$(cd "$C" && find secrets -type f -exec sha256sum {} + | sort)"
check "init-secrets: shellcheck clean" shellcheck -s sh compose/init-secrets \
    compose/postgres-init/10-worker-role.sh

# ---------------------------------------------------------------- config, every profile
# profile_env NAME: a copy of .env for a way of running the stack.
profile_env() {
    case $1 in
        sim) cp "$C/.env.example" "$C/.env" ;; # COMPOSE_PROFILES=sim
        paper)
            mkdir -p "$C/secrets/alpaca"
            printf 'PKTEST\n' >"$C/secrets/alpaca/api_key_id"
            printf 'paper-secret-test\n' >"$C/secrets/alpaca/api_secret_key"
            sed -e 's|^ALPACA_BASE_URL=.*|ALPACA_BASE_URL=https://paper-api.alpaca.markets|' \
                -e 's|^ALPACA_DATA_URL=.*|ALPACA_DATA_URL=https://data.alpaca.markets|' \
                -e 's|^ALPACA_KEYS_DIR=.*|ALPACA_KEYS_DIR=./secrets/alpaca|' \
                -e 's|^COMPOSE_PROFILES=.*|COMPOSE_PROFILES=|' \
                -e 's|^WORKER_REPLICAS=.*|WORKER_REPLICAS=5|' "$C/.env.example" >"$C/.env"
            ;;
    esac
}
for way in sim paper; do
    profile_env "$way"
    for flags in "" "--profile sim" "--profile ops" "--profile sim --profile ops"; do
        # shellcheck disable=SC2086 # flags are words
        if dc $flags config -q 2>"$tmp/config.err"; then
            ok "config -q ($way .env${flags:+, $flags})"
        else
            bad "config -q ($way .env${flags:+, $flags}): $(cat "$tmp/config.err")"
        fi
        if grep -qi warn "$tmp/config.err"; then bad "config warns: $(cat "$tmp/config.err")"; fi
    done
done

# What `up` starts, as docker-compose's own code chooses (no service may
# depend on one its profiles leave out).
up_set() { # up_set PROFILE...: the sorted services of `up`, or ERROR: ...
    (cd "$C" && /usr/bin/python3 -c '
import sys; sys.path.insert(0, sys.argv[1])
from compose_walkthrough import up_services
try:
    print(" ".join(sorted(up_services(".", sys.argv[2:]))))
except Exception as e:
    print("ERROR: %s" % e)' "$REPO/tests" "$@")
}
base="kafka kafka-init migrate postgres prometheus redis worker"
profile_env sim
expect_set() { # expect_set WHAT EXPECTED PROFILE...
    local got
    got=$(up_set "${@:3}")
    if [[ $got == "$2" ]]; then ok "$1"; else bad "$1: got '$got', want '$2'"; fi
}
expect_set "up (COMPOSE_PROFILES=sim): the stack and the simulator" "alpaca-sim $base"
expect_set "up --profile ops: the stack, ops, no simulator" \
    "kafka kafka-init migrate ops postgres prometheus redis worker" ops
profile_env paper
expect_set "up for Alpaca (no profile): the stack without the simulator, nothing missing" "$base"
# Alpaca's keys are the operator's to put in secrets/alpaca/: without them,
# what `up` reads of the project names the missing file.
rm -f "$C/secrets/alpaca/api_key_id"
up_set >/dev/null 2>"$tmp/err"
check "up for Alpaca without its keys names secrets/alpaca/api_key_id" \
    grep -q 'secrets/alpaca/api_key_id.*should be created' "$tmp/err"

# ---------------------------------------------------------------- every variable documented
# shellcheck disable=SC2016 # a literal ${ in the pattern
used=$(grep -o '\${[A-Za-z_][A-Za-z0-9_]*' compose/docker-compose.yml | cut -c3- | sort -u |
    grep -vx USER)
documented=$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' compose/.env.example | sort -u)
missing=$(comm -23 <(printf '%s\n' "$used") <(printf '%s\n' "$documented"))
if [[ -z $missing ]]; then
    ok "every variable of the compose file is in .env.example"
else
    bad "variables missing from .env.example: $(tr '\n' ' ' <<<"$missing")"
fi
check ".env.example holds no secret" bash -c \
    "! grep -Eiq '^[A-Z_]*(PASSWORD|SECRET|API_KEY)[A-Z_]*=.' compose/.env.example"

# Alpaca's URL must be chosen: without it config fails naming it.
grep -v '^ALPACA_BASE_URL=' compose/.env.example >"$C/.env"
if dc config -q >/dev/null 2>"$tmp/err"; then
    bad "config without ALPACA_BASE_URL fails"
else
    check "config without ALPACA_BASE_URL fails naming it" grep -q ALPACA_BASE_URL "$tmp/err"
fi

# ---------------------------------------------------------------- the rendered configuration
profile_env sim
dc config >"$tmp/sim.yml"
profile_env paper
dc config >"$tmp/paper.yml"
if [[ -x $BIN/order-worker ]]; then
    "$BIN/order-worker" --help 2>&1 | sed -n 's/^  \([A-Z][A-Z0-9_]*\) .*/\1/p' >"$tmp/settings"
else
    bad "$BIN/order-worker is built (its settings are checked against the file)"
    : >"$tmp/settings"
fi
# One assertion per line: "ok|FAIL <text>"; the script's own failure is one too.
if ! /usr/bin/python3 - "$tmp/sim.yml" "$tmp/paper.yml" "$tmp/settings" "$C" >"$tmp/asserts" \
    2>"$tmp/py.err" <<'PY'; then
import re, sys, yaml

sim = yaml.safe_load(open(sys.argv[1]))
paper = yaml.safe_load(open(sys.argv[2]))
settings = [l.strip() for l in open(sys.argv[3]) if l.strip()]
compose_dir = sys.argv[4]

def check(name, cond):
    print(("ok " if cond else "FAIL ") + name)

def svc(cfg, name):
    return cfg["services"].get(name, {})

def env(cfg, name):
    return {k: ("" if v is None else str(v)) for k, v in
            (svc(cfg, name).get("environment") or {}).items()}

def secrets(cfg, name):
    return [s["source"] if isinstance(s, dict) else s for s in svc(cfg, name).get("secrets") or []]

def dep(cfg, name, on):
    d = svc(cfg, name).get("depends_on") or {}
    return (d.get(on) or {}).get("condition") if isinstance(d, dict) else ("listed" if on in d else None)

def joined(v):
    return " ".join(v) if isinstance(v, list) else str(v or "")

# kafka: two listeners, the host's on loopback
k = env(sim, "kafka")
check("kafka: KRaft, broker and controller", k.get("KAFKA_PROCESS_ROLES") == "broker,controller")
check("kafka: listeners INTERNAL :9092, HOST :29092, CONTROLLER :9093",
      k.get("KAFKA_LISTENERS") == "INTERNAL://:9092,HOST://:29092,CONTROLLER://:9093")
check("kafka: advertised kafka:9092 to containers, localhost:29092 to the host",
      k.get("KAFKA_ADVERTISED_LISTENERS") == "INTERNAL://kafka:9092,HOST://localhost:29092")
check("kafka: brokers talk over INTERNAL", k.get("KAFKA_INTER_BROKER_LISTENER_NAME") == "INTERNAL")
check("kafka: the host listener published on 127.0.0.1:29092 only",
      "127.0.0.1:29092:29092/tcp" in (svc(sim, "kafka").get("ports") or []))
check("kafka: no auto-created topics", k.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false")
init = joined(svc(sim, "kafka-init").get("command"))
for t in ["orders.intents.bot", "orders.intents.user", "orders.fills", "orders.rejections", "orders.dlq"]:
    check("kafka-init creates " + t, t in init)
check("kafka-init waits for kafka healthy", dep(sim, "kafka-init", "kafka") == "service_healthy")

# secrets: files, mounted only where listed, never in an environment or a command
top = sim.get("secrets") or {}
for name, s in top.items():
    check("secret %s is a file under compose/secrets/" % name,
          str(s.get("file", "")).startswith(compose_dir + "/secrets/"))
secret_name = re.compile(r"(PASSWORD|SECRET|KEY_ID|API_KEY)")
userinfo_pw = re.compile(r"://[^/@:]*:[^/@]+@")
for name in sim["services"]:
    e = env(sim, name)
    plain = [k for k in e if secret_name.search(k) and not k.endswith("_FILE") and e[k]]
    check("%s: no secret in its environment (%s)" % (name, ", ".join(plain) or "none"), not plain)
    urls = [k for k, v in e.items() if userinfo_pw.search(v)]
    check("%s: no URL with a password (%s)" % (name, ", ".join(urls) or "none"), not urls)
    files = {k: v for k, v in e.items() if k.endswith("_FILE") and v.startswith("/run/secrets/")}
    unmounted = [k for k, v in files.items() if v[len("/run/secrets/"):] not in secrets(sim, name)]
    check("%s: every *_FILE names a secret it mounts (%s)" % (name, ", ".join(unmounted) or "ok"),
          not unmounted)
    for s in top:
        cmd = joined(svc(sim, name).get("command")) + joined(svc(sim, name).get("entrypoint"))
        val = open(top[s]["file"]).read().strip()
        if val:
            check("%s: the value of secret %s is not in its command" % (name, s), val not in cmd)

r = svc(sim, "redis")
check("redis: password from its secret, as configuration on stdin",
      "requirepass $$(cat /run/secrets/redis_password)" in joined(r.get("command"))
      and "redis_password" in secrets(sim, "redis"))
check("redis: append-only file, a volume", "appendonly yes" in joined(r.get("command")) and bool(r.get("volumes")))
check("redis: health check authenticates from the secret",
      "/run/secrets/redis_password" in joined((r.get("healthcheck") or {}).get("test")))
p = env(sim, "postgres")
check("postgres: owner's password from a secret", p.get("POSTGRES_PASSWORD_FILE") == "/run/secrets/postgres_password")
check("postgres: the workers' role made at first start",
      any(":/docker-entrypoint-initdb.d:ro" in str(v) for v in svc(sim, "postgres").get("volumes") or [])
      and p.get("POSTGRES_WORKER_PASSWORD_FILE") == "/run/secrets/postgres_worker_password")

m = env(sim, "migrate")
check("migrate: runs `migrate`", svc(sim, "migrate").get("command") == ["migrate"])
check("migrate: as the owner, granting the workers' role",
      m.get("ADMIN_DATABASE_URL", "").startswith("postgresql://orderworker@")
      and m.get("DATABASE_URL", "").startswith("postgresql://orderworker_app@"))
check("migrate: waits for postgres healthy", dep(sim, "migrate", "postgres") == "service_healthy")

w = env(sim, "worker")
check("worker: KAFKA_BROKERS=kafka:9092", w.get("KAFKA_BROKERS") == "kafka:9092")
check("worker: Redis and ledger passwords from secrets",
      w.get("REDIS_PASSWORD_FILE") == "/run/secrets/redis_password"
      and w.get("DATABASE_PASSWORD_FILE") == "/run/secrets/postgres_worker_password")
check("worker: its own role, never the owner's (no ADMIN_DATABASE_*, no postgres_password)",
      not any(k.startswith("ADMIN_DATABASE") for k in w)
      and "postgres_password" not in secrets(sim, "worker")
      and w.get("DATABASE_URL", "").startswith("postgresql://orderworker_app@postgres:5432/"))
check("worker: Alpaca keys from secrets",
      w.get("ALPACA_API_KEY_ID_FILE") == "/run/secrets/alpaca_api_key_id"
      and w.get("ALPACA_API_SECRET_KEY_FILE") == "/run/secrets/alpaca_api_secret_key")
check("worker: the simulator's URL with the sim .env", w.get("ALPACA_BASE_URL") == "http://alpaca-sim:8080")
check("worker: does not depend on the simulator", dep(sim, "worker", "alpaca-sim") is None)
for on, cond in (("kafka-init", "service_completed_successfully"), ("migrate", "service_completed_successfully"),
                 ("redis", "service_healthy"), ("postgres", "service_healthy")):
    check("worker: waits for %s (%s)" % (on, cond), dep(sim, "worker", on) == cond)
check("worker: 3 replicas", (svc(sim, "worker").get("deploy") or {}).get("replicas") == 3)
check("worker: admin endpoint on 0.0.0.0:9464, exposed",
      w.get("ADMIN_ADDR") == "0.0.0.0" and w.get("ADMIN_PORT") == "9464"
      and "9464" in [str(x) for x in svc(sim, "worker").get("expose") or []])
check("worker: health check asks /readyz",
      "/readyz" in joined((svc(sim, "worker").get("healthcheck") or {}).get("test")))
check("worker: signing left at its default (required)", w.get("INTENT_SIGNING") == "")
check("worker: stop grace above the default drain (30 s)", svc(sim, "worker").get("stop_grace_period") == "45s")
# every setting of `order-worker --help` can reach the workers, as NAME or NAME_FILE
apart = {"REPLICA_ID", "WORKER_FAILPOINT", "ADMIN_DATABASE_URL", "ADMIN_DATABASE_PASSWORD"}
absent = [s for s in settings if s not in apart and s not in w and s + "_FILE" not in w]
check("every setting of order-worker --help reaches the workers (missing: %s)" % (", ".join(absent) or "none"),
      settings and not absent)

a = svc(sim, "alpaca-sim")
check("alpaca-sim: only under the profile sim", a.get("profiles") == ["sim"])
check("alpaca-sim: its own keys only, never Alpaca's",
      sorted(secrets(sim, "alpaca-sim")) == ["sim_api_key_id", "sim_api_secret_key"])
check("alpaca-sim: listens on 0.0.0.0:8080", "0.0.0.0" in joined(a.get("entrypoint")) and "8080" in joined(a.get("entrypoint")))

o = svc(sim, "ops")
oe = env(sim, "ops")
check("ops: only under the profile ops", o.get("profiles") == ["ops"])
check("ops: is intentctl", o.get("entrypoint") == ["intentctl"])
check("ops: the owner's role", oe.get("ADMIN_DATABASE_URL", "").startswith("postgresql://orderworker@postgres:5432/")
      and oe.get("ADMIN_DATABASE_PASSWORD_FILE") == "/run/secrets/postgres_password")
check("ops: Kafka and Redis", oe.get("KAFKA_BROKERS") == "kafka:9092"
      and oe.get("REDIS_PASSWORD_FILE") == "/run/secrets/redis_password")

pr = svc(sim, "prometheus")
vols = [str(v) for v in pr.get("volumes") or []]
check("prometheus: compose/prometheus/prometheus.yml and alerts.yml mounted",
      any(v.startswith(compose_dir + "/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml") for v in vols)
      and any(v.startswith(compose_dir + "/prometheus/alerts.yml:/etc/prometheus/alerts.yml") for v in vols))
check("prometheus: on 127.0.0.1:9090", "127.0.0.1:9090:9090/tcp" in (pr.get("ports") or []))

# Alpaca itself: its URLs and keys reach the workers, the simulator keeps its own
pw = env(paper, "worker")
check("paper: ALPACA_BASE_URL reaches the workers", pw.get("ALPACA_BASE_URL") == "https://paper-api.alpaca.markets")
check("paper: ALPACA_DATA_URL reaches the workers", pw.get("ALPACA_DATA_URL") == "https://data.alpaca.markets")
check("paper: the workers' keys are secrets/alpaca/*",
      paper["secrets"]["alpaca_api_key_id"]["file"] == compose_dir + "/secrets/alpaca/api_key_id"
      and paper["secrets"]["alpaca_api_secret_key"]["file"] == compose_dir + "/secrets/alpaca/api_secret_key")
check("paper: the simulator's keys stay secrets/sim/*",
      paper["secrets"]["sim_api_key_id"]["file"] == compose_dir + "/secrets/sim/api_key_id")
check("paper: WORKER_REPLICAS overridable", (svc(paper, "worker").get("deploy") or {}).get("replicas") == 5)
PY
    bad "the inspection of the rendered configuration ran to its end: $(tail -n 5 "$tmp/py.err")"
fi
while read -r verdict text; do
    if [[ $verdict == ok ]]; then ok "$text"; else bad "$text"; fi
done <"$tmp/asserts"
check "rendered configuration inspected (over 80 assertions)" test "$(wc -l <"$tmp/asserts")" -gt 80

# ---------------------------------------------------------------- Prometheus' configuration
check "promtool check config compose/prometheus/prometheus.yml" \
    promtool check config compose/prometheus/prometheus.yml

# ---------------------------------------------------------------- the Dockerfile
check "Dockerfile: runtime stage runs as a non-root USER" grep -Eq '^USER [1-9][0-9]*' compose/Dockerfile
check "Dockerfile: ENTRYPOINT [\"order-worker\"]" grep -qx 'ENTRYPOINT \["order-worker"\]' compose/Dockerfile

finish
