#!/usr/bin/env bash
# tests/test_compose.sh -- static checks of the Docker Compose deployment
# (compose/docker-compose.yml, compose/Dockerfile, compose/.env.example).
#
# No Docker engine is needed: `docker-compose config` validates and renders the
# file (Debian's docker-compose 1.29); the rendered YAML is then inspected with
# python3-yaml (a dependency of docker-compose).  Run from anywhere:
#   bash tests/test_compose.sh
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
        KAFKA_* | REDIS_* | DATABASE_* | ALPACA_* | TOPIC_* | BOT_* | USER_* | RATE_* | INTENT_* | \
            BREAKER_* | WORKER_* | QUOTE_* | BARS_* | QUOTA_* | RISK_* | TRADING_* | RECONCILE_* | \
            FOLLOW_* | ACCOUNT_* | PUBLISH_* | LOG_* | REPLICA_*) unset "$name" ;;
    esac
done

COMPOSE_FILE=compose/docker-compose.yml
ENV_EXAMPLE=compose/.env.example
DOCKERFILE=compose/Dockerfile
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

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "test_compose: docker-compose is not installed;" \
        "install it with: apt-get install -y docker-compose (compose/dev install does)" >&2
    bad "docker-compose is installed"
    finish
    exit 1
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "test_compose: python3-yaml is missing (a dependency of docker-compose)" >&2
    bad "python3-yaml is installed"
    finish
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

dc() { docker-compose --env-file "$1" -f "$COMPOSE_FILE" "${@:2}"; }

# ---------------------------------------------------------------- the file is valid
if dc "$ENV_EXAMPLE" config -q 2>"$tmp/config.err"; then
    ok "config -q with $ENV_EXAMPLE"
else
    bad "config -q with $ENV_EXAMPLE: $(cat "$tmp/config.err")"
fi
if grep -qi warn "$tmp/config.err"; then
    bad "config prints warnings: $(cat "$tmp/config.err")"
else
    ok "config prints no warning (every variable set in $ENV_EXAMPLE)"
fi
dc "$ENV_EXAMPLE" config >"$tmp/config.yml" 2>/dev/null || true

services=$(dc "$ENV_EXAMPLE" config --services 2>/dev/null || true)
for s in kafka kafka-init redis postgres alpaca-sim migrate worker; do
    check "service $s exists" grep -qx -- "$s" <<<"$services"
done

# ---------------------------------------------------------------- every variable documented
# shellcheck disable=SC2016 # a literal ${ in the pattern
used=$(grep -o '\${[A-Za-z_][A-Za-z0-9_]*' "$COMPOSE_FILE" | cut -c3- | sort -u)
documented=$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$ENV_EXAMPLE" | sort -u)
missing=$(comm -23 <(printf '%s\n' "$used") <(printf '%s\n' "$documented"))
if [[ -z $missing ]]; then
    ok "every variable of the compose file is in $ENV_EXAMPLE"
else
    bad "variables missing from $ENV_EXAMPLE: $(tr '\n' ' ' <<<"$missing")"
fi

# Secrets are mandatory: without them config fails and names the variable.
grep -v '^REDIS_PASSWORD=' "$ENV_EXAMPLE" >"$tmp/no-redis.env"
if dc "$tmp/no-redis.env" config -q >/dev/null 2>"$tmp/err"; then
    bad "config without REDIS_PASSWORD fails"
else
    check "config without REDIS_PASSWORD fails naming it" grep -q REDIS_PASSWORD "$tmp/err"
fi

# ---------------------------------------------------------------- the rendered configuration
# One assertion per line: "ok|FAIL <text>", computed from `config` output.
python3 - "$tmp/config.yml" "$tmp/paper.yml" >"$tmp/asserts" <<'PY' || true
import sys, yaml

cfg = yaml.safe_load(open(sys.argv[1])) or {}
svc = cfg.get("services", {})

def check(name, cond):
    print(("ok " if cond else "FAIL ") + name)

def get(*path, default=None):
    node = svc
    for p in path:
        if not isinstance(node, dict) or p not in node:
            return default
        node = node[p]
    return node

def cond(service, dep):
    return get(service, "depends_on", dep, "condition")

def entry(service):
    e = get(service, "entrypoint", default=[]) or []
    return e if isinstance(e, list) else e.split()

# kafka: KRaft single node
env = get("kafka", "environment", default={}) or {}
check("kafka image apache/kafka:3.7.0", get("kafka", "image") == "apache/kafka:3.7.0")
check("kafka KRaft roles broker,controller", env.get("KAFKA_PROCESS_ROLES") == "broker,controller")
check("kafka node id set", str(env.get("KAFKA_NODE_ID", "")) != "")
check("kafka listeners", env.get("KAFKA_LISTENERS") == "PLAINTEXT://:9092,CONTROLLER://:9093")
check("kafka advertised PLAINTEXT://kafka:9092", env.get("KAFKA_ADVERTISED_LISTENERS") == "PLAINTEXT://kafka:9092")
check("kafka quorum voters", "@kafka:9093" in str(env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")))
check("kafka offsets topic replication 1", str(env.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR")) == "1")
check("kafka auto-create off", str(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")).lower() == "false")
check("kafka healthcheck uses kafka-topics.sh --list",
      "kafka-topics.sh" in " ".join(get("kafka", "healthcheck", "test", default=[])) and
      "--list" in " ".join(get("kafka", "healthcheck", "test", default=[])))

# kafka-init: the five topics, 6 partitions, after kafka is healthy, once
init = " ".join(get("kafka-init", "command", default=[]) or [])
for t in ["orders.intents.bot", "orders.intents.user", "orders.fills", "orders.rejections", "orders.dlq"]:
    check("kafka-init creates " + t, t in init)
check("kafka-init: 6 partitions", "--partitions 6" in init)
check("kafka-init waits for kafka healthy", cond("kafka-init", "kafka") == "service_healthy")
check("kafka-init restart no", get("kafka-init", "restart") == "no")

# redis, postgres
rcmd = get("redis", "command", default=[]) or []
check("redis image redis:7", get("redis", "image") == "redis:7")
check("redis --requirepass", "--requirepass" in rcmd)
check("redis --appendonly yes", "--appendonly" in rcmd and "yes" in rcmd)
check("redis has a volume", bool(get("redis", "volumes")))
check("redis healthcheck via REDISCLI_AUTH",
      "REDISCLI_AUTH" in (get("redis", "environment", default={}) or {}) and
      "ping" in " ".join(get("redis", "healthcheck", "test", default=[])))
check("postgres image postgres:15", get("postgres", "image") == "postgres:15")
penv = get("postgres", "environment", default={}) or {}
check("postgres user/password/db set",
      all(penv.get(k) for k in ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"]))
check("postgres has a volume", bool(get("postgres", "volumes")))
check("postgres healthcheck pg_isready",
      "pg_isready" in " ".join(get("postgres", "healthcheck", "test", default=[])))

# the built image
for s in ["alpaca-sim", "migrate", "worker"]:
    b = get(s, "build", default={}) or {}
    check(s + " built from compose/Dockerfile", b.get("dockerfile") == "compose/Dockerfile")
check("alpaca-sim listens on 0.0.0.0:8080",
      entry("alpaca-sim")[:1] == ["alpaca-sim"] and "0.0.0.0" in entry("alpaca-sim")
      and "8080" in entry("alpaca-sim"))
check("alpaca-sim has a healthcheck", bool(get("alpaca-sim", "healthcheck", "test")))
check("migrate runs `migrate`", get("migrate", "command") == ["migrate"])
check("migrate waits for postgres healthy", cond("migrate", "postgres") == "service_healthy")
check("migrate restart no", get("migrate", "restart") == "no")
check("migrate has DATABASE_URL",
      str((get("migrate", "environment", default={}) or {}).get("DATABASE_URL", "")).startswith("postgresql://"))
menv = get("migrate", "environment", default={}) or {}
check("migrate migrates as the owner (ADMIN_DATABASE_URL) and grants DATABASE_URL's role",
      str(menv.get("ADMIN_DATABASE_URL", "")).startswith("postgresql://")
      and menv.get("ADMIN_DATABASE_URL") != menv.get("DATABASE_URL"))
check("the workers never get the owner's URL",
      "ADMIN_DATABASE_URL" not in (get("worker", "environment", default={}) or {}))
check("postgres makes the workers' role at first start",
      any(str(v).endswith(":/docker-entrypoint-initdb.d:ro") for v in get("postgres", "volumes", default=[])))

# worker
wenv = get("worker", "environment", default={}) or {}
check("worker KAFKA_BROKERS=kafka:9092", wenv.get("KAFKA_BROKERS") == "kafka:9092")
check("worker REDIS_URL points at redis", str(wenv.get("REDIS_URL", "")).startswith("redis://:")
      and str(wenv.get("REDIS_URL", "")).endswith("@redis:6379/0"))
check("worker DATABASE_URL points at postgres", "@postgres:5432/" in str(wenv.get("DATABASE_URL", "")))
check("worker ALPACA_BASE_URL defaults to the simulator", wenv.get("ALPACA_BASE_URL") == "http://alpaca-sim:8080")
check("worker ALPACA_DATA_URL defaults to the simulator", wenv.get("ALPACA_DATA_URL") == "http://alpaca-sim:8080")
check("worker has Alpaca keys", bool(wenv.get("ALPACA_API_KEY_ID")) and bool(wenv.get("ALPACA_API_SECRET_KEY")))
check("worker waits for kafka-init to complete", cond("worker", "kafka-init") == "service_completed_successfully")
check("worker waits for migrate to complete", cond("worker", "migrate") == "service_completed_successfully")
check("worker waits for redis healthy", cond("worker", "redis") == "service_healthy")
check("worker waits for postgres healthy", cond("worker", "postgres") == "service_healthy")
check("worker waits for alpaca-sim", cond("worker", "alpaca-sim") in ("service_started", "service_healthy"))
check("worker replicas 3", get("worker", "deploy", "replicas") == 3)
check("worker restart unless-stopped", get("worker", "restart") == "unless-stopped")
check("worker admin endpoint on every interface of its container", wenv.get("ADMIN_ADDR") == "0.0.0.0")
check("worker admin port 9464 exposed", str(wenv.get("ADMIN_PORT")) == "9464"
      and "9464" in [str(p) for p in (get("worker", "expose", default=[]) or [])])
check("worker health check asks /readyz on its admin port",
      "/readyz" in " ".join(get("worker", "healthcheck", "test", default=[]) or [])
      and "9464" in " ".join(get("worker", "healthcheck", "test", default=[]) or []))
with open(sys.argv[2], "w") as f:
    for k, v in sorted(wenv.items()):
        f.write("%s=%s\n" % (k, v))
PY
while read -r verdict text; do
    if [[ $verdict == ok ]]; then ok "$text"; else bad "$text"; fi
done <"$tmp/asserts"
check "rendered configuration inspected" test -s "$tmp/asserts"

# Real paper trading: the URLs of .env reach the workers.
sed -e 's|^ALPACA_BASE_URL=.*|ALPACA_BASE_URL=https://paper-api.alpaca.markets|' \
    -e 's|^ALPACA_DATA_URL=.*|ALPACA_DATA_URL=https://data.alpaca.markets|' \
    -e 's|^WORKER_REPLICAS=.*|WORKER_REPLICAS=5|' "$ENV_EXAMPLE" >"$tmp/paper.env"
dc "$tmp/paper.env" config >"$tmp/paper-config.yml" 2>/dev/null || true
check "ALPACA_BASE_URL overridable (paper trading)" \
    grep -q 'ALPACA_BASE_URL: https://paper-api.alpaca.markets' "$tmp/paper-config.yml"
check "ALPACA_DATA_URL overridable (paper trading)" \
    grep -q 'ALPACA_DATA_URL: https://data.alpaca.markets' "$tmp/paper-config.yml"
check "WORKER_REPLICAS overridable" grep -q 'replicas: 5' "$tmp/paper-config.yml"

# Every worker setting of `order-worker --help` can be set from .env
# (except the per-replica REPLICA_ID, the test-only WORKER_FAILPOINT and the
# owner's ADMIN_DATABASE_URL, which only migrate gets).
if [[ -x $BIN/order-worker ]]; then
    settings=$("$BIN/order-worker" --help 2>&1 |
        sed -n 's/^  \([A-Z][A-Z0-9_]*\) .*/\1/p' | grep -vx -e REPLICA_ID -e WORKER_FAILPOINT -e ADMIN_DATABASE_URL || true)
    absent=""
    for s in $settings; do
        grep -q "^$s=" "$tmp/paper.yml" || absent+="$s "
    done
    if [[ -n $settings && -z $absent ]]; then
        ok "every setting of order-worker --help reaches the workers"
    else
        bad "settings not passed to the workers: ${absent:-(none found in --help)}"
    fi
else
    echo "skip: $BIN/order-worker not built (settings coverage not checked)"
fi

# ---------------------------------------------------------------- the Dockerfile
check "Dockerfile: two stages on debian:bookworm-slim" \
    test "$(grep -c '^FROM debian:bookworm-slim' "$DOCKERFILE")" -eq 2
check "Dockerfile: Release CMake build" grep -q 'CMAKE_BUILD_TYPE=Release' "$DOCKERFILE"
for d in CMakeLists.txt worker/ producers/ tools/ tests/ schemas/; do
    check "Dockerfile copies $d" grep -Eq "^COPY ${d//./\\.} " "$DOCKERFILE"
done
check "Dockerfile: no COPY of the whole context" bash -c "! grep -Eq '^COPY \\.( |/ )' '$DOCKERFILE'"
for b in order-worker intentctl alpaca-sim kafka-dev-broker; do
    check "Dockerfile installs $b" grep -q "build/bin/$b" "$DOCKERFILE"
done
for p in librdkafka1 libhiredis0.14 libpq5 libcurl4 libjansson4 libmicrohttpd12 libssl3 ca-certificates; do
    check "Dockerfile runtime installs $p" grep -q -- "$p" "$DOCKERFILE"
done
check "Dockerfile: non-root USER" grep -Eq '^USER [1-9][0-9]*' "$DOCKERFILE"
check "Dockerfile: ENTRYPOINT [\"order-worker\"]" grep -qx 'ENTRYPOINT \["order-worker"\]' "$DOCKERFILE"

finish
