#!/usr/bin/env bash
# test_sim_stream.sh -- black-box tests of the simulator's trade_updates
# websocket (tools/alpaca-sim/stream.c, docs/simulator.md), through
# tests/wsclient.py.
#
# usage: tests/test_sim_stream.sh path/to/alpaca-sim
#
# Starts its own simulators on free loopback ports 20000-29999: one with
# keys, manual ticks (SIM_TICK_MS=0) and fixed quotes, where every event is
# provoked by a request and a tick; one with --stream-frames text; one under
# the leak checker (LeakSanitizer on an ASan build, else valgrind) that gets
# SIGTERM with stream connections open.  Each case is a section below:
# the handshake and its refusals; bad keys; listen before authenticating;
# binary frames by default; an order's new, partial fills and fill in order,
# each execution's qty and price adding up to the order's cumulative
# filled_qty and filled_avg_price, the last order object equal to the REST
# API's; pending_cancel then canceled; an ioc's cancel; expiry at the
# session's close; text frames with the option; ping, fragments, oversized,
# unmasked and malformed messages; stream_drop (closed without a close
# frame, the events of the gap never replayed); stream_silent_ms (no event,
# pong or answer for the window on the connections open when it was set,
# then everything again; a connection opened meanwhile is not silent); the
# stream_* counters, reset, and the REST counters left alone; a clean
# shutdown with connections open.  Stops at the first failed check.  Needs
# curl, jq and python3.
set -euo pipefail

BIN=${1:?usage: $0 path/to/alpaca-sim}
[ -x "$BIN" ] || { echo "not executable: $BIN" >&2; exit 2; }
for tool in curl jq python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

KEY=stream-key-id
SECRET=stream-secret-key
unset ALPACA_API_KEY_ID ALPACA_API_SECRET_KEY ALPACA_CALLS_PER_MIN RATE_PERIOD_MS \
    SIM_TICK_MS SIM_PARTIAL_FILL_RATE SIM_FILL_ON_SUBMIT SIM_QUOTE_WALK SIM_STREAM_FRAMES
WORK=$(mktemp -d)
PASSED=0
SIM_BIN=$BIN
SIM_ARGS=(--seed 7)
KEEP_AS=alpaca_sim_stream
# shellcheck source=tests/simlib.sh
source "$HERE/simlib.sh"
# shellcheck source=tests/simcheck.sh
source "$HERE/simcheck.sh"
sims_failed() { fail "could not start $1"; }
WS_PIDS=()
cleanup() {
    local pid
    for pid in "${WS_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    sims_exit
}
trap cleanup EXIT

# ws NAME [STEP...] [--seconds S ...]: a wsclient.py on the simulator at
# BASE in the background, its JSON lines in WORK/NAME.out; sets WS_PID.
ws() {
    local name=$1
    shift
    python3 "$HERE/wsclient.py" "ws://${BASE#http://}/stream" "$@" >"$WORK/$name.out" 2>&1 &
    WS_PID=$!
    WS_PIDS+=("$WS_PID")
}

# ws_has NAME FILTER: some line of NAME's output satisfies the jq FILTER.
ws_has() { jq -e -s "any(.[]; $2)" "$WORK/$1.out" >/dev/null 2>&1; }

# ws_wait NAME FILTER [SECONDS]: waits (5 s by default) until ws_has.
ws_wait() {
    local i
    for ((i = 0; i < ${3:-5} * 20; i++)); do
        ws_has "$1" "$2" && return 0
        sleep 0.05
    done
    return 1
}

# ws_end PID: waits for a client to end by itself (10 s at most).
ws_end() {
    local i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
        sleep 0.05
    done
    kill "$1" 2>/dev/null || true
    return 1
}

# events NAME [ORDER_ID]: the trade_updates data of NAME's output, one per
# line (only ORDER_ID's when given).
events() {
    jq -c --arg id "${2:-}" 'select(.msg.stream? == "trade_updates") | .msg.data
        | select($id == "" or .order.id == $id)' "$WORK/$1.out"
}

# listening NAME [STEP...]: a client that authenticates and listens, and
# the wait until it is (its ping every 200 ms keeps nothing alive: it is
# there to be answered).
listening() {
    local name=$1
    shift
    ws "$name" "auth:$KEY:$SECRET" listen:trade_updates "$@" --seconds 30
    ws_wait "$name" '.msg.stream? == "listening"' || fail "$name: no listening answer"
}

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'

# ------------------------------------------------------------- the simulator
start_sim main ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET ALPACA_CALLS_PER_MIN=100000 \
    SIM_TICK_MS=0 SIM_QUOTE_WALK=0 SIM_PARTIAL_FILL_RATE=0
BASE="http://127.0.0.1:$PORT"
expect "start line names the frames" grep -q "stream frames binary" "$WORK/main.log"

# --- the handshake
STATUS=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$BASE/stream")
expect "plain GET /stream -> 426" status_is 426
expect "426 names the websocket" jq -e '.message | test("websocket")' "$WORK/body"
expect "426 carries Upgrade: websocket" [ "$(header Upgrade)" = websocket ]
expect "426 carries Sec-WebSocket-Version: 13" [ "$(header Sec-WebSocket-Version)" = 13 ]
STATUS=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X POST "$BASE/stream")
expect "POST /stream -> 405" status_is 405
STATUS=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -H 'Upgrade: websocket' \
    -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: short' \
    "$BASE/stream")
expect "bad Sec-WebSocket-Key -> 400" status_is 400
STATUS=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -H 'Upgrade: websocket' \
    -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 8' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$BASE/stream")
expect "Sec-WebSocket-Version 8 -> 426" status_is 426
# curl stops at the 101: the status line and the RFC 6455 sample key's answer.
STATUS=$(curl -s -m 2 -o /dev/null -D "$WORK/headers" -w '%{http_code}' -H 'Upgrade: websocket' \
    -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$BASE/stream") || true
expect "upgrade -> 101" status_is 101
expect "Sec-WebSocket-Accept of the RFC's sample" \
    [ "$(header Sec-WebSocket-Accept)" = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ]
expect "101 carries Connection: Upgrade" [ "$(header Connection)" = Upgrade ]
STATUS=

REST_BEFORE=$(simstat requests_total)

# --- bad keys: unauthorized, then a close 1008 and the end
ws badkeys "auth:$KEY:wrong" --seconds 5
ws_end "$WS_PID" || fail "badkeys: the server did not end the connection"
expect "bad keys -> unauthorized" ws_has badkeys '.msg == {"stream":"authorization",
    "data":{"status":"unauthorized","action":"authenticate"}}'
expect "bad keys -> close 1008" ws_has badkeys '.type == "close" and .code == 1008'
expect "bad keys -> connection ended" ws_has badkeys '.type == "eof" or .type == "reset"'
expect "bad keys counted" [ "$(simstat stream_unauthorized)" = 1 ]

# --- listen before authenticating: refused, the connection stays usable
ws early listen:trade_updates wait:authorization "auth:$KEY:$SECRET" sleep:200 \
    listen:trade_updates wait:listening --seconds 1
ws_end "$WS_PID" || fail "early: client did not end"
expect "listen before auth -> unauthorized listen" ws_has early '.msg == {"stream":"authorization",
    "data":{"status":"unauthorized","action":"listen"}}'
expect "then authenticate -> authorized" ws_has early '.msg == {"stream":"authorization",
    "data":{"status":"authorized","action":"authenticate"}}'
expect "then listen -> listening" ws_has early '.msg == {"stream":"listening",
    "data":{"streams":["trade_updates"]}}'
expect "the client's close was answered" ws_has early '.type == "close" and .code == 1000'
expect "the stream is not the REST API: requests_total unchanged" \
    [ "$(simstat requests_total),$(simstat max_requests_in_any_period)" = "$REST_BEFORE,0" ]

# --- an order's new, partial fills and fill, in order
listening fills
FILLS_PID=$WS_PID
expect "stream_connections counts the open one" [ "$(simstat stream_connections)" = 1 ]
expect "stream_listening counts it" [ "$(simstat stream_listening)" = 1 ]
anon POST /_sim/config '{"partial_fill_rate":1}'
order '{"symbol":"AAPL","qty":"100","side":"buy","type":"market","time_in_force":"day"}'
PART=$OID
ASK=18912
for i in $(seq 1 60); do
    tick
    call GET "/v2/orders/$PART"
    [ "$(jqb .status)" = filled ] && break
    ASK=$((ASK + 1))
    anon POST /_sim/quotes "{\"AAPL\":{\"bid\":\"$(((ASK - 2) / 100)).$(printf %02d $(((ASK - 2) % 100)))\",\"ask\":\"$((ASK / 100)).$(printf %02d $((ASK % 100)))\"}}"
done
call GET "/v2/orders/$PART"
cp "$WORK/body" "$WORK/rest_order.json"
expect "the order filled through REST" field_is .status filled
ws_wait fills "(.msg.data.event? == \"fill\") and .msg.data.order.id == \"$PART\"" ||
    fail "no fill event for $PART"
events fills "$PART" >"$WORK/part.events"
expect "binary frames by default" jq -e -s 'all(.[]; .type == "binary" or .type == "open")' \
    "$WORK/fills.out"
expect "first new, then partial fills, last fill" jq -e -s 'map(.event) as $e
    | $e[0] == "new" and $e[-1] == "fill" and ($e | length) >= 3
    and ($e[1:-1] | all(. == "partial_fill"))' "$WORK/part.events"
expect "per-execution qty adds up to the cumulative filled_qty" jq -e -s '
    [foreach (.[] | select(.event | test("fill"))) as $f (0; . + ($f.qty | tonumber);
        . == ($f.order.filled_qty | tonumber))] | all' "$WORK/part.events"
expect "the executions add up to the order" jq -e -s '
    [.[] | select(.event | test("fill")) | .qty | tonumber] | add == 100' "$WORK/part.events"
expect "filled_avg_price is the average of the executions' prices" jq -e -s '
    [.[] | select(.event | test("fill"))] as $f
    | (($f | map((.qty | tonumber) * (.price | tonumber)) | add) / 100) as $avg
    | ($f[-1].order.filled_avg_price | tonumber) - $avg | fabs < 0.000001' "$WORK/part.events"
expect "position_qty follows the fills" jq -e -s '
    [foreach (.[] | select(.event | test("fill"))) as $f (0; . + ($f.qty | tonumber);
        . == ($f.position_qty | tonumber))] | all' "$WORK/part.events"
expect "statuses: new, partially_filled, filled" jq -e -s '
    .[0].order.status == "new" and .[-1].order.status == "filled"
    and (.[1:-1] | all(.order.status == "partially_filled"))' "$WORK/part.events"
expect "fills carry a unique execution_id, strings for numbers, a timestamp" jq -e -s \
    --arg u "$UUID_RE" --arg t "$TIME_RE" '
    [.[] | select(.event | test("fill"))] as $f
    | ($f | all((.execution_id | test($u)) and (.qty | type == "string")
        and (.price | type == "string") and (.position_qty | type == "string")))
    and ($f | map(.execution_id) | unique | length) == ($f | length)
    and all(.[]; .timestamp | test($t))' "$WORK/part.events"
expect "new carries no execution fields" jq -e -s '.[0] | has("qty") or has("price")
    or has("execution_id") | not' "$WORK/part.events"
expect "the fill's order is the REST API's order" [ "$(tail -n 1 "$WORK/part.events" | jq -cS .order)" \
    = "$(jq -cS . "$WORK/rest_order.json")" ]
anon POST /_sim/config '{"partial_fill_rate":0}'
anon POST /_sim/quotes '{"AAPL":{"bid":"189.10","ask":"189.12"}}'

# --- cancel: pending_cancel, then canceled
order '{"symbol":"NVDA","qty":"2","side":"buy","type":"limit","limit_price":"100","time_in_force":"gtc"}'
CXL=$OID
tick
call DELETE "/v2/orders/$CXL"
expect "cancel 204" status_is 204
tick
ws_wait fills "(.msg.data.event? == \"canceled\") and .msg.data.order.id == \"$CXL\"" ||
    fail "no canceled event for $CXL"
expect "cancel: new, pending_cancel, canceled" [ "$(events fills "$CXL" | jq -r .event | paste -sd,)" \
    = new,pending_cancel,canceled ]
expect "canceled order has canceled_at" [ "$(events fills "$CXL" | tail -n 1 | jq -r '.order.status,
    (.order.canceled_at != null)' | paste -sd,)" = canceled,true ]

# --- ioc that cannot fill: new, then canceled at its first tick
order '{"symbol":"NVDA","qty":"1","side":"buy","type":"limit","limit_price":"100","time_in_force":"ioc"}'
IOC=$OID
tick
ws_wait fills "(.msg.data.event? == \"canceled\") and .msg.data.order.id == \"$IOC\"" ||
    fail "no canceled event for the ioc"
expect "ioc: new, canceled" [ "$(events fills "$IOC" | jq -r .event | paste -sd,)" = new,canceled ]

# --- expiry: a day order when the session closes
order '{"symbol":"NVDA","qty":"1","side":"buy","type":"limit","limit_price":"100","time_in_force":"day"}'
EXP=$OID
tick
anon POST /_sim/market '{"open":false}'
expect "the session closes, one order expired" field_is .expired 1
ws_wait fills "(.msg.data.event? == \"expired\") and .msg.data.order.id == \"$EXP\"" ||
    fail "no expired event"
expect "expired: new, expired, with expired_at and a timestamp" [ "$(events fills "$EXP" |
    jq -r '.event' | paste -sd,)" = new,expired ]
anon POST /_sim/market '{"open":true}'

# --- unsubscribe: listen [] stops the events, the connection stays
ws unsub "auth:$KEY:$SECRET" listen:trade_updates wait:listening listen: sleep:300 --seconds 2
ws_wait unsub '.msg == {"stream":"listening","data":{"streams":[]}}' ||
    fail "unsub: no listening [] answer"
order '{"symbol":"MSFT","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
tick
ws_end "$WS_PID" || true
expect "after listen [] no event" [ -z "$(events unsub)" ]

# --- ping, fragments, malformed and hostile messages
ws proto ping:hello "frag:3:{\"action\":\"authenticate\",\"data\":{\"key_id\":\"$KEY\",\"secret_key\":\"$SECRET\"}}" \
    wait:authorization 'send:not json' wait:error 'sendb:{"action":"dance"}' sleep:200 big:70000 \
    --seconds 5
ws_end "$WS_PID" || fail "proto: the server did not close"
expect "ping -> pong with its data" ws_has proto '.type == "pong" and .data == "hello"'
expect "a ping between fragments is answered" ws_has proto '.type == "pong" and .data == "between"'
expect "a fragmented message is put together" ws_has proto '.msg.data.status? == "authorized"'
expect "invalid JSON -> error" ws_has proto '.msg == {"stream":"error","data":{"error_message":"invalid JSON"}}'
expect "unknown action (binary frame) -> error" ws_has proto '.msg.stream? == "error"
    and (.msg.data.error_message | test("unknown action"))'
expect "a 70000-byte message -> close 1009" ws_has proto '.type == "close" and .code == 1009'
ws unmasked 'unmasked:{"action":"listen"}' --seconds 5
ws_end "$WS_PID" || fail "unmasked: the server did not close"
expect "an unmasked frame -> close 1002" ws_has unmasked '.type == "close" and .code == 1002'

# --- stream_drop: closed without a close frame; the gap is never replayed
listening drop1
D1=$WS_PID
listening drop2
D2=$WS_PID
OPEN=$(simstat stream_connections)
anon POST /_sim/faults '{"stream_drop":true}'
expect "stream_drop answers the faults" jq -e 'has("stream_silent_ms") and (has("stream_drop") | not)' \
    "$WORK/body"
ws_end "$D1" || fail "drop1 still connected"
ws_end "$D2" || fail "drop2 still connected"
ws_end "$FILLS_PID" || fail "fills still connected"
expect "dropped: the connection ended" ws_has drop1 '.type == "eof" or .type == "reset"'
expect "dropped: no close frame" bash -c "! jq -e -s 'any(.[]; .type == \"close\")' '$WORK/drop1.out' >/dev/null"
expect "stream_drops counts every open connection ($OPEN)" [ "$(simstat stream_drops)" = "$OPEN" ]
expect "nothing open after the drop" [ "$(simstat stream_connections),$(simstat stream_listening)" = 0,0 ]
order '{"symbol":"AMD","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
GAP=$OID
tick
listening after_drop
order '{"symbol":"AMD","qty":"2","side":"buy","type":"market","time_in_force":"day"}'
AFTER=$OID
tick
ws_wait after_drop "(.msg.data.event? == \"fill\") and .msg.data.order.id == \"$AFTER\"" ||
    fail "no events after reconnecting"
expect "reconnected: the new order's events" [ "$(events after_drop "$AFTER" | jq -r .event | paste -sd,)" \
    = new,fill ]
expect "reconnected: nothing of the gap" [ -z "$(events after_drop "$GAP")" ]
anon POST /_sim/faults '{}'
sleep 0.2
expect "faults {} drops nothing" [ "$(simstat stream_connections)" = 1 ]
kill "$WS_PID" 2>/dev/null || true

# --- stream_silent_ms: nothing sent for the window, then everything again
listening silent sleep:600 ping:during sleep:1800 ping:after
SILENT_PID=$WS_PID
LOST0=$(simstat stream_events_lost)
T_SILENT=$(date +%s.%N)
anon POST /_sim/faults '{"stream_silent_ms":1500}'
expect "faults show the silence" jq -e '.stream_silent_ms == 1500 and .stream_silent_remaining_ms > 0' \
    "$WORK/body"
order '{"symbol":"META","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
QUIET=$OID
tick
ws meanwhile "auth:$KEY:$SECRET" --seconds 1
ws_end "$WS_PID" || true
expect "a connection opened during the silence is answered" ws_has meanwhile '.msg.data.status? == "authorized"'
sleep 1.7
order '{"symbol":"META","qty":"2","side":"buy","type":"market","time_in_force":"day"}'
LOUD=$OID
tick
ws_wait silent '.type == "pong" and .data == "after"' 4 || fail "no pong after the silence"
ws_wait silent "(.msg.data.event? == \"fill\") and .msg.data.order.id == \"$LOUD\"" ||
    fail "no events after the silence"
kill "$SILENT_PID" 2>/dev/null || true
expect "silence: no pong for the ping sent during it" bash -c "! jq -e -s 'any(.[]; .type == \"pong\" and .data == \"during\")' '$WORK/silent.out' >/dev/null"
expect "silence: its events lost for good" [ -z "$(events silent "$QUIET")" ]
expect "silence: nothing received during the window" jq -e -s --argjson t0 "$T_SILENT" '
    all(.[]; .t < $t0 or .t > $t0 + 1.4)' "$WORK/silent.out"
expect "after the silence: the next order's events" [ "$(events silent "$LOUD" | jq -r .event | paste -sd,)" \
    = new,fill ]
expect "stream_events_lost counts the silenced events" [ "$(simstat stream_events_lost)" -ge $((LOST0 + 2)) ]

# --- counters, reset, and the REST API left alone
anon GET /_sim/stats
expect "stream counters" jq -e '[.stream_connections, .stream_listening, .stream_connections_total,
    .stream_events_sent, .stream_events_lost, .stream_drops, .stream_unauthorized,
    .stream_slow_closes] | all(type == "number")' "$WORK/body"
expect "stream_connections_total counts every connection" jq -e '.stream_connections_total >= 11' "$WORK/body"
expect "stream_events_sent counts the events sent" jq -e '.stream_events_sent >= 12' "$WORK/body"
listening kept
anon POST /_sim/faults '{"stream_silent_ms":60000}'
anon POST /_sim/reset
anon GET /_sim/stats
expect "reset zeroes the stream counters" jq -e '.stream_connections_total == 0
    and .stream_events_sent == 0 and .stream_events_lost == 0 and .stream_drops == 0' "$WORK/body"
expect "reset keeps the connections" jq -e '.stream_connections == 1 and .stream_listening == 1' \
    "$WORK/body"
order '{"symbol":"SPY","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
tick
ws_wait kept "(.msg.data.event? == \"fill\") and .msg.data.order.id == \"$OID\"" ||
    fail "reset: the kept connection gets no events (silence not ended?)"
kill "$WS_PID" 2>/dev/null || true

# ------------------------------------------------------------- text frames
start_sim text ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET SIM_TICK_MS=0 SIM_QUOTE_WALK=0 \
    SIM_FILL_ON_SUBMIT=1
BASE="http://127.0.0.1:$PORT"
expect "the environment's frames when no option" grep -q "stream frames binary" "$WORK/text.log"
SIM_ARGS=(--seed 7 --stream-frames text)
start_sim text2 ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET SIM_TICK_MS=0 SIM_QUOTE_WALK=0 \
    SIM_FILL_ON_SUBMIT=1
BASE="http://127.0.0.1:$PORT"
expect "--stream-frames text logged" grep -q "stream frames text" "$WORK/text2.log"
listening textframes
order '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
expect "fill_on_submit answers filled" field_is .status filled
ws_wait textframes '.msg.data.event? == "fill"' || fail "text: no fill event"
kill "$WS_PID" 2>/dev/null || true
expect "text frames with --stream-frames text" jq -e -s '[.[] | select(.msg)] | length >= 4
    and all(.type == "text")' "$WORK/textframes.out"
expect "fill_on_submit: new then fill, within the POST" [ "$(events textframes | jq -r .event | paste -sd,)" \
    = new,fill ]
# Two events written back to back must not wait for the client's delayed
# ACK (Nagle's algorithm, 40 ms each time): a client that pings, as a
# watchdog does, gets each order's fill within a few ms of its POST.
DELAYS=$(python3 - "$HERE" "$PORT" "$KEY" "$SECRET" <<'PY'
import http.client, json, sys, time
sys.path.insert(0, sys.argv[1])
from wsclient import WSClient
port, key, secret = int(sys.argv[2]), sys.argv[3], sys.argv[4]
ws = WSClient(f"ws://127.0.0.1:{port}/stream")
for msg in ({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}},
            {"action": "listen", "data": {"streams": ["trade_updates"]}}):
    ws.send_text(json.dumps(msg))
    ws.recv_frame()
rest = http.client.HTTPConnection("127.0.0.1", port)
headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
delays = []
for i in range(20):
    t0 = time.perf_counter()
    rest.request("POST", "/v2/orders", json.dumps({"symbol": "AAPL", "qty": "1",
                 "side": "buy" if i % 2 == 0 else "sell", "type": "market",
                 "time_in_force": "day"}), headers)
    rest.getresponse().read()
    while json.loads(ws.recv_frame()[2])["data"].get("event") != "fill":
        pass
    delays.append(round((time.perf_counter() - t0) * 1000))
    ws.send_frame(0x9, "watchdog")
    ws.recv_frame()
print(" ".join(str(d) for d in sorted(delays)))
PY
) || fail "latency: the client failed"
MEDIAN=$(echo "$DELAYS" | awk '{print $10}')
expect "events come without delay (ms from POST to fill: $DELAYS)" [ "$MEDIAN" -lt 20 ]
rc=0
"$BIN" --port 1 --stream-frames json 2>/dev/null || rc=$?
expect "--stream-frames json refused (exit 2)" [ "$rc" = 2 ]
rc=0
SIM_STREAM_FRAMES=xml "$BIN" --port 1 2>/dev/null || rc=$?
expect "SIM_STREAM_FRAMES=xml refused (exit 2)" [ "$rc" = 2 ]
SIM_ARGS=(--seed 7)

# ------------------------------------------------------------------ shutdown
# SIGTERM with connections open (one listening, one silent, one in the
# middle of a fragmented message): exit 0 at once, a close 1001 to the
# ones that are not silent, everything freed.
start_checked shutdown ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET SIM_PARTIAL_FILL_RATE=1
STOP_PID=$SIM_PID
BASE="http://127.0.0.1:$PORT"
listening bye2
B2=$WS_PID
anon POST /_sim/faults '{"stream_silent_ms":60000}'
listening bye1
B1=$WS_PID
order '{"symbol":"AAPL","qty":"10","side":"buy","type":"market","time_in_force":"day"}'
ws_wait bye1 '.msg.data.event? == "fill"' 10 || fail "shutdown run: no fill event"
ws bye3 "auth:$KEY:$SECRET" 'part:{"action"' --seconds 30
ws_wait bye3 '.msg.data.status? == "authorized"' || fail "bye3 not authorized"
B3=$WS_PID
expect_clean_stop "$STOP_PID" shutdown "with stream connections open"
ws_end "$B1" || fail "bye1 still connected after the stop"
ws_end "$B2" || fail "bye2 still connected after the stop"
ws_end "$B3" || fail "bye3 still connected after the stop"
expect "stop: close 1001 to a listening connection" ws_has bye1 '.type == "close" and .code == 1001'
expect "stop: close 1001 in the middle of a message" ws_has bye3 '.type == "close" and .code == 1001'
expect "stop: no close frame to a silent one" bash -c "! jq -e -s 'any(.[]; .type == \"close\")' '$WORK/bye2.out' >/dev/null"
expect "stop: a silent one ends too" ws_has bye2 '.type == "eof" or .type == "reset"'

echo "$PASSED passed, 0 failed"
