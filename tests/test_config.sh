#!/usr/bin/env bash
# test_config.sh BIN -- bad configuration stops order-worker at start with a
# message naming the setting, and --help lists every setting with its default.
set -uo pipefail
bin=$1
passed=0 failed=0
good=(KAFKA_BROKERS=127.0.0.1:1 REDIS_URL=redis://127.0.0.1:1 DATABASE_URL=postgresql://x@127.0.0.1:1/x
      ALPACA_BASE_URL=http://127.0.0.1:1 ALPACA_DATA_URL=http://127.0.0.1:1
      ALPACA_API_KEY_ID=k ALPACA_API_SECRET_KEY=topsecret-value)
# The sanitizers' settings survive env -i, so that their reports land in
# compose/dev test's report files.
san=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
  if [[ -n ${!v:-} ]]; then san+=("$v=${!v}"); fi
done

# expect NAME: the worker, run with the good settings plus "$@", exits 2 and
# its error names NAME.
expect() {
  local name=$1; shift
  local out rc
  out=$(env -i PATH="$PATH" "${san[@]}" "${good[@]}" "$@" "$bin" run 2>&1); rc=$?
  if [[ $rc -eq 2 && $out == *"$name"* && $out != *topsecret-value* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL: $* -> rc=$rc, output: $out"
  fi
}

for v in KAFKA_BROKERS REDIS_URL DATABASE_URL ALPACA_BASE_URL ALPACA_DATA_URL \
         ALPACA_API_KEY_ID ALPACA_API_SECRET_KEY; do
  expect "$v" "$v="
done
expect BOT_TRADES_PER_MIN BOT_TRADES_PER_MIN=ten
expect BOT_TRADES_PER_MIN BOT_TRADES_PER_MIN=0
expect USER_TRADES_PER_MIN USER_TRADES_PER_MIN=-3
expect RATE_PERIOD_MS RATE_PERIOD_MS=1.5
expect INTENT_MAX_AGE_MS INTENT_MAX_AGE_MS=soon
expect BREAKER_FAILURE_RATE BREAKER_FAILURE_RATE=1.5
expect WORKER_CONCURRENCY WORKER_CONCURRENCY=100000
expect LOG_LEVEL LOG_LEVEL=verbose
expect REDIS_URL REDIS_URL=localhost:6379
expect ALPACA_FEED ALPACA_FEED=nasdaq
expect RISK_MAX_NOTIONAL RISK_MAX_NOTIONAL=lots
expect RISK_PRICE_COLLAR_PCT RISK_PRICE_COLLAR_PCT=-5
expect QUOTA_REDIS_DOWN_MODE QUOTA_REDIS_DOWN_MODE=maybe
expect BREAKER_MIN_CALLS BREAKER_MIN_CALLS=0
expect LOG_FORMAT LOG_FORMAT=xml
expect ADMIN_PORT ADMIN_PORT=70000
expect ADMIN_PORT ADMIN_PORT=http
expect ADMIN_ADDR ADMIN_ADDR=localhost
expect KAFKA_STATS_INTERVAL_MS KAFKA_STATS_INTERVAL_MS=0

# The trade_updates stream: its URL is ws:// or wss:// (or derived from an
# http(s) ALPACA_BASE_URL), its intervals are bounded, the backoff's cap is
# at least its start, and a URL with a user in it is not repeated.
expect ALPACA_STREAM ALPACA_STREAM=maybe
expect ALPACA_STREAM_URL ALPACA_STREAM_URL=http://127.0.0.1:1/stream
expect ALPACA_STREAM_URL ALPACA_STREAM_URL=wss://
expect ALPACA_STREAM_URL ALPACA_STREAM_URL=ws://127.0.0.1:99999/stream
expect ALPACA_STREAM_URL ALPACA_STREAM_URL=stream.example
expect ALPACA_STREAM_URL ALPACA_BASE_URL=ftp://127.0.0.1:1
expect ALPACA_STREAM_URL ALPACA_STREAM_URL=wss://user:topsecret-value@127.0.0.1:1/stream
expect ALPACA_STREAM_PING_MS ALPACA_STREAM_PING_MS=50
expect ALPACA_STREAM_PING_MS ALPACA_STREAM_PING_MS=often
expect ALPACA_STREAM_BACKOFF_MS ALPACA_STREAM_BACKOFF_MS=0
expect ALPACA_STREAM_BACKOFF_MAX_MS ALPACA_STREAM_BACKOFF_MAX_MS=4000000
expect ALPACA_STREAM_BACKOFF_MAX_MS ALPACA_STREAM_BACKOFF_MS=2000 ALPACA_STREAM_BACKOFF_MAX_MS=1000
expect ALPACA_STREAM_BACKOFF_MS ALPACA_STREAM_BACKOFF_MS=2000 ALPACA_STREAM_BACKOFF_MAX_MS=1000

expect INTENT_SIGNING INTENT_SIGNING=maybe
expect USER_TOPIC_SIGNER "USER_TOPIC_SIGNER=the backend"
expect KAFKA_SECURITY_PROTOCOL KAFKA_SECURITY_PROTOCOL=tls
expect KAFKA_SASL_MECHANISM KAFKA_SASL_MECHANISM=PLAIN
expect DATABASE_SSLMODE DATABASE_SSLMODE=always
expect DATABASE_SSLMODE DATABASE_SSLMODE=require "DATABASE_URL=postgresql://x@127.0.0.1:1/x?sslmode=disable"

# librdkafka properties by name: an unknown property, a bad value, or one
# the worker sets for correctness stops it, naming the variable.
expect KAFKA_CONSUMER_FETCH_WAIT_MAXMS KAFKA_CONSUMER_FETCH_WAIT_MAXMS=10
expect KAFKA_CONSUMER_FETCH_WAIT_MAX_MS KAFKA_CONSUMER_FETCH_WAIT_MAX_MS=soon
expect KAFKA_PRODUCER_LINGER_MS KAFKA_PRODUCER_LINGER_MS=-1
expect KAFKA_CONSUMER_ENABLE_AUTO_OFFSET_STORE KAFKA_CONSUMER_ENABLE_AUTO_OFFSET_STORE=true
expect KAFKA_CONSUMER_GROUP_ID KAFKA_CONSUMER_GROUP_ID=other
expect KAFKA_PRODUCER_ENABLE_IDEMPOTENCE KAFKA_PRODUCER_ENABLE_IDEMPOTENCE=false
expect KAFKA_PRODUCER_SASL_PASSWORD KAFKA_PRODUCER_SASL_PASSWORD=topsecret-value
expect KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS=10000
expect KAFKA_CONSUMER_ISOLATION_LEVEL KAFKA_CONSUMER_ISOLATION_LEVEL=read_uncommitted
expect KAFKA_CONSUMER_GROUP_INSTANCE_ID KAFKA_CONSUMER_GROUP_INSTANCE_ID=shared
expect KAFKA_CONSUMER_AUTO_COMMIT_ENABLE KAFKA_CONSUMER_AUTO_COMMIT_ENABLE=false
expect KAFKA_PRODUCER_PARTITIONER KAFKA_PRODUCER_PARTITIONER=random
expect KAFKA_PRODUCER_REQUEST_REQUIRED_ACKS KAFKA_PRODUCER_REQUEST_REQUIRED_ACKS=1

# Secrets from files (NAME_FILE): never both, the file must be readable, and
# neither the value nor the file's content is ever printed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'topsecret-value\n' >"$tmp/secret"
expect ALPACA_API_SECRET_KEY ALPACA_API_SECRET_KEY_FILE="$tmp/secret"
expect ALPACA_API_SECRET_KEY_FILE ALPACA_API_SECRET_KEY= ALPACA_API_SECRET_KEY_FILE="$tmp/missing"
head -c 5000 /dev/zero | tr '\0' x >"$tmp/big"
expect ALPACA_API_SECRET_KEY_FILE ALPACA_API_SECRET_KEY= ALPACA_API_SECRET_KEY_FILE="$tmp/big"
# A URL taken from a file is used (migrate reaches for its port 1), and its
# password stays unprinted.
printf 'postgresql://u:topsecret-value@127.0.0.1:1/x\n' >"$tmp/url"
out=$(env -i PATH="$PATH" DATABASE_URL_FILE="$tmp/url" "$bin" migrate 2>&1); rc=$?
if [[ $rc -eq 1 && $out == *'port 1 failed'* && $out != *topsecret-value* ]]; then
  passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL: DATABASE_URL_FILE -> rc=$rc, output: $out"; fi

# Passwords apart from their URLs (REDIS_PASSWORD, DATABASE_PASSWORD and
# their _FILE forms, how Docker secrets arrive): never together with a
# password in the URL, and the password is used (migrate logs in with it:
# a refused login, not a missing password) without being printed.
expect REDIS_PASSWORD REDIS_PASSWORD=topsecret-value REDIS_URL=redis://:other@127.0.0.1:1
expect DATABASE_PASSWORD DATABASE_PASSWORD_FILE="$tmp/secret" \
  DATABASE_URL=postgresql://x:other@127.0.0.1:1/x
printf 'postgresql://u@127.0.0.1:1/x\n' >"$tmp/url"
out=$(env -i PATH="$PATH" DATABASE_URL_FILE="$tmp/url" DATABASE_PASSWORD_FILE="$tmp/secret" \
  "$bin" migrate 2>&1); rc=$?
if [[ $rc -eq 1 && $out == *'port 1 failed'* && $out != *topsecret-value* ]]; then
  passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL: DATABASE_PASSWORD_FILE -> rc=$rc, output: $out"; fi
# On the test stack's ledger: both URLs without their passwords, each
# password from a file; `migrate` (as the owner, granting the workers' role,
# whose login it checks) works, and a wrong password is refused.
pw_re='^postgresql://([^:]+):([^@]+)@(.*)$'
if [[ ${DATABASE_URL:-} =~ $pw_re ]]; then
  w_url="postgresql://${BASH_REMATCH[1]}@${BASH_REMATCH[3]}" w_pw=${BASH_REMATCH[2]}
  [[ ${ADMIN_DATABASE_URL:-} =~ $pw_re ]]
  a_url="postgresql://${BASH_REMATCH[1]}@${BASH_REMATCH[3]}" a_pw=${BASH_REMATCH[2]}
  printf '%s\n' "$w_pw" >"$tmp/w_pw"
  printf '%s\n' "$a_pw" >"$tmp/a_pw"
  out=$(env -i PATH="$PATH" "${san[@]}" DATABASE_URL="$w_url" DATABASE_PASSWORD_FILE="$tmp/w_pw" \
    ADMIN_DATABASE_URL="$a_url" ADMIN_DATABASE_PASSWORD_FILE="$tmp/a_pw" "$bin" migrate 2>&1); rc=$?
  if [[ $rc -eq 0 && $out == *migrated* && $out != *"$w_pw"* && $out != *"$a_pw"* ]]; then
    passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL: migrate with *_PASSWORD_FILE -> rc=$rc, output: $out"; fi
  # A password with characters that must be percent-encoded in a URL.
  printf 'no/such pass@word?\n' >"$tmp/w_pw"
  out=$(env -i PATH="$PATH" "${san[@]}" DATABASE_URL="$w_url" DATABASE_PASSWORD_FILE="$tmp/w_pw" \
    ADMIN_DATABASE_URL="$a_url" ADMIN_DATABASE_PASSWORD_FILE="$tmp/a_pw" "$bin" migrate 2>&1); rc=$?
  if [[ $rc -eq 1 && $out == *'password authentication failed'* && $out != *'no/such'* ]]; then
    passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL: a wrong DATABASE_PASSWORD -> rc=$rc, output: $out"; fi
fi

# Kafka's TLS settings reach librdkafka: a CA file that does not exist stops
# the worker at start, naming librdkafka's setting (needs the test stack's
# ledger, which the worker checks first).
if [[ -n ${DATABASE_URL:-} && -n ${KAFKA_BROKERS:-} ]]; then
  out=$(KAFKA_SECURITY_PROTOCOL=ssl KAFKA_SSL_CA_LOCATION="$tmp/no-ca.pem" ADMIN_PORT=0 \
        timeout 30 "$bin" run 2>&1); rc=$?
  if [[ $rc -eq 1 && $out == *ssl.ca.location* ]]; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL: KAFKA_SSL_CA_LOCATION -> rc=$rc, output: $out"; fi
fi

# Unknown command: usage error.
out=$("$bin" frobnicate 2>&1); rc=$?
if [[ $rc -eq 2 && $out == *"unknown command"* ]]; then passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL: unknown command -> $rc: $out"; fi

# --help lists every setting the worker reads, with defaults.
help=$("$bin" --help)
for v in KAFKA_BROKERS REDIS_URL DATABASE_URL ALPACA_BASE_URL ALPACA_DATA_URL ALPACA_API_KEY_ID \
         ALPACA_API_SECRET_KEY BOT_TRADES_PER_MIN USER_TRADES_PER_MIN ALPACA_CALLS_PER_MIN \
         RATE_PERIOD_MS INTENT_MAX_AGE_MS BREAKER_FAILURE_RATE BREAKER_OPEN_MS WORKER_CONCURRENCY \
         ALPACA_STREAM ALPACA_STREAM_URL ALPACA_STREAM_PING_MS ALPACA_STREAM_BACKOFF_MS \
         ALPACA_STREAM_BACKOFF_MAX_MS; do
  if [[ $help == *"$v"* ]]; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL: --help does not list $v"; fi
done
if [[ $help == *"default: 60000"* ]]; then passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL: --help shows no defaults"; fi

# SIGTERM while the worker still waits for the ledger at start (a listener
# that accepts and answers nothing for 2 s): the worker ends through its own
# exit path (start_failed, 1), not by the signal's default action (143),
# which skips the sanitizers' leak check.
dir=$(mktemp -d)
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); time.sleep(2); c.close()
' >"$dir/port" &
listener=$!
for _ in $(seq 1 50); do [[ -s $dir/port ]] && break; sleep 0.1; done
env -i PATH="$PATH" "${san[@]}" "${good[@]}" DATABASE_URL="postgresql://x@127.0.0.1:$(cat "$dir/port")/x" "$bin" run >/dev/null 2>&1 &
worker=$!
sleep 0.5
kill -TERM "$worker"
rc=0; wait "$worker" || rc=$?
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null
rm -rf "$dir"
if [[ $rc -eq 1 ]]; then passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL: SIGTERM while connecting to the ledger -> rc=$rc (want 1)"; fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
