#!/usr/bin/env bash
# test_sim.sh -- black-box tests of tools/alpaca-sim, the local Alpaca simulator.
#
# usage: tests/test_sim.sh path/to/alpaca-sim
#
# Starts its own simulators on free loopback ports 20000-29999: one with a
# large rate limit, fill-on-submit and no quote walk for the shape checks of
# every endpoint; one with manual ticks (SIM_TICK_MS=0) for the paper
# trading behaviour step by step (asynchronous and partial fills, stops,
# cancels, the session, account rules, bars); two to check that the quote
# walk is the same for a seed; one with the default settings (engine
# ticking every 100 ms); one with ALPACA_CALLS_PER_MIN=50 and
# RATE_PERIOD_MS=2000 for the 429 checks; one for the shutdown checks
# (SIGTERM with a request hanging: exit 0, at once, everything freed),
# whose leak check is LeakSanitizer's on an ASan build (compose/dev test's
# build-san/) and valgrind's on a plain build when valgrind is installed.
# Stops at the first failed check with a message.  Needs curl and jq.
# SKIP_VALGRIND=1 runs the shutdown checks of a plain build without valgrind
# (no leak check then).
set -euo pipefail

BIN=${1:?usage: $0 path/to/alpaca-sim}
[ -x "$BIN" ] || { echo "not executable: $BIN" >&2; exit 2; }
for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

KEY=test-key-id
SECRET=test-secret-key
# The simulators started here get exactly the settings each check gives them:
# nothing from the stack's environment (compose/dev test exports its keys and
# limits, which would make the walk/bars instances answer 401).
unset ALPACA_API_KEY_ID ALPACA_API_SECRET_KEY ALPACA_CALLS_PER_MIN RATE_PERIOD_MS \
    SIM_TICK_MS SIM_PARTIAL_FILL_RATE SIM_FILL_ON_SUBMIT SIM_QUOTE_WALK
WORK=$(mktemp -d)
PASSED=0
SIM_BIN=$BIN
SIM_ARGS=(--seed 42)
KEEP_AS=alpaca_sim
# shellcheck source=tests/simlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/simlib.sh"
# shellcheck source=tests/simcheck.sh
source "$(dirname "${BASH_SOURCE[0]}")/simcheck.sh"
sims_failed() { fail "could not start $1"; }
trap sims_exit EXIT


UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'
ORDER_KEYS='["id","client_order_id","created_at","updated_at","submitted_at","filled_at",
 "expired_at","canceled_at","failed_at","replaced_at","replaced_by","replaces","asset_id",
 "symbol","asset_class","notional","qty","filled_qty","filled_avg_price","order_class",
 "order_type","type","side","time_in_force","limit_price","stop_price","status",
 "extended_hours","legs","trail_percent","trail_price","hwm"]'

order_shape_ok() {
    jq -e --argjson keys "$ORDER_KEYS" --arg uuid "$UUID_RE" --arg t "$TIME_RE" '
        . as $o
        | ($keys | all(. as $k | $o | has($k)))
        and (.id | test($uuid))
        and (.created_at | test($t)) and (.submitted_at | test($t)) and (.updated_at | test($t))
        and (.filled_qty | type == "string")
        and (.asset_class == "us_equity")
        and (.extended_hours | type == "boolean")
        and (.replaced_by == null) and (.legs == null) and (.hwm == null)' \
        "$WORK/body" >/dev/null
}

# ---------------------------------------------------------------- command line

"$BIN" --help >"$WORK/help" 2>&1 || fail "--help exits non-zero"
expect "--help prints usage" grep -q -- "--port" "$WORK/help"
rc=0
"$BIN" >/dev/null 2>&1 || rc=$?
expect "no --port exits 2" [ "$rc" = 2 ]

# ------------------------------------------------------------- main simulator

# Fill-on-submit and fixed quotes: the answers of this part are exact.
start_sim main ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET ALPACA_CALLS_PER_MIN=100000 \
    SIM_FILL_ON_SUBMIT=1 SIM_QUOTE_WALK=0
BASE="http://127.0.0.1:$PORT"
MAIN_PID=$SIM_PID
expect "start line logged" grep -q "listening on 127.0.0.1:$PORT" "$WORK/main.log"
expect "secret never logged" bash -c "! grep -q '$SECRET\|$KEY' '$WORK/main.log'"

# --- auth
anon GET /v2/account
expect "no keys -> 401" status_is 401
expect "401 body" body_is '{"code":40110000,"message":"request is not authorized"}'
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "APCA-API-KEY-ID: $KEY" \
    -H "APCA-API-SECRET-KEY: wrong" "$BASE/v2/account")
expect "wrong secret -> 401" status_is 401
expect "401 body has no secret" bash -c "! grep -q '$SECRET' '$WORK/body'"
anon GET /_sim/stats
expect "/_sim needs no auth" status_is 200

# --- account
call GET /v2/account
expect "account 200" status_is 200
expect "account status ACTIVE" field_is .status ACTIVE
expect "account cash 100000" field_is .cash 100000
expect "account buying_power 100000" field_is .buying_power 100000
expect "account equity 100000" field_is .equity 100000
expect "account portfolio_value" field_is .portfolio_value 100000
expect "account currency" field_is .currency USD
expect "account id uuid" jq -e --arg r "$UUID_RE" '.id | test($r)' "$WORK/body"
expect "account flags" jq -e '.trading_blocked == false and .account_blocked == false
    and .trade_suspended_by_user == false and .shorting_enabled == true' "$WORK/body"
expect "account decimals are strings" jq -e '[.cash,.buying_power,.equity,.multiplier,
    .portfolio_value,.long_market_value,.short_market_value] | all(type == "string")' "$WORK/body"
expect "account number + created_at" jq -e --arg t "$TIME_RE" \
    '(.account_number | length > 0) and (.created_at | test($t))' "$WORK/body"
expect "X-Ratelimit-Limit header" [ "$(header X-Ratelimit-Limit)" = 100000 ]
expect "X-Ratelimit-Remaining header" [ -n "$(header X-Ratelimit-Remaining)" ]
expect "X-Ratelimit-Reset is epoch seconds" \
    [ "$(header X-Ratelimit-Reset)" -ge "$(date +%s)" ]

# --- clock
call GET /v2/clock
expect "clock 200" status_is 200
expect "clock shape" jq -e --arg t "$TIME_RE" '.is_open == true and (.timestamp | test($t))
    and (.next_open | test($t)) and (.next_close | test($t))' "$WORK/body"

# --- market data
call GET '/v2/stocks/AAPL/quotes/latest?feed=iex'
expect "latest quote 200" status_is 200
expect "latest quote shape" jq -e --arg t "$TIME_RE" '.symbol == "AAPL" and .quote.ap == 189.12
    and .quote.bp == 189.1 and (.quote.ap | type == "number") and .quote.ax == "V"
    and .quote.bx == "V" and (.quote.as | type == "number") and (.quote.bs | type == "number")
    and .quote.c == ["R"] and .quote.z == "C" and (.quote.t | test($t))' "$WORK/body"
expect "quote prints exact decimals" grep -q '"ap":189.12,' "$WORK/body"
expect "market data carries no trading rate headers" [ -z "$(header X-Ratelimit-Limit)" ]
call GET '/v2/stocks/ZZZZ/quotes/latest?feed=iex'
expect "unknown symbol quote 404" status_is 404
call GET '/v2/stocks/aapl/quotes/latest?feed=iex'
expect "invalid symbol quote 422" status_is 422
call GET '/v2/stocks/quotes/latest?symbols=AAPL,MSFT&feed=iex'
expect "multi quotes" jq -e '(.quotes | keys) == ["AAPL","MSFT"]' "$WORK/body"
for s in AAPL MSFT TSLA NVDA AMZN GOOGL META SPY QQQ AMD NFLX IBM BRK.B; do
    call GET "/v2/stocks/$s/quotes/latest?feed=iex"
    expect "built-in quote $s" jq -e '.quote.ap > .quote.bp and .quote.bp > 1
        and (.quote.ap - .quote.bp) <= 0.0200001' "$WORK/body"
done

# --- market order, exact decimals
call POST /v2/orders '{"symbol":"AAPL","qty":"1.5","side":"buy","type":"market","time_in_force":"day","client_order_id":"c-1"}'
expect "market order 200" status_is 200
expect "market order shape" order_shape_ok
expect "market order filled" field_is .status filled
expect "market order filled_qty" field_is .filled_qty 1.5
expect "market order avg price exact" field_is .filled_avg_price 189.12
expect "market order qty string" jq -e '.qty == "1.5" and .notional == null
    and .type == "market" and .order_type == "market" and .side == "buy"
    and .time_in_force == "day" and .limit_price == null and .stop_price == null
    and .client_order_id == "c-1" and .symbol == "AAPL"' "$WORK/body"
expect "market order filled_at" jq -e --arg t "$TIME_RE" '.filled_at | test($t)' "$WORK/body"
ORDER1=$(jqb .id)
call GET /v2/account
expect "cash fell by 1.5 x 189.12" field_is .cash 99716.32
call GET /v2/positions/AAPL
expect "position 200" status_is 200
expect "position fields" jq -e '.symbol == "AAPL" and .qty == "1.5" and .side == "long"
    and .avg_entry_price == "189.12" and .cost_basis == "283.68" and .asset_class == "us_equity"
    and ([.market_value,.unrealized_pl,.current_price,.qty_available] | all(type == "string"))' \
    "$WORK/body"

# --- notional order
call POST /v2/orders '{"symbol":"MSFT","notional":"1000","side":"buy","type":"market","time_in_force":"day"}'
expect "notional order 200" status_is 200
expect "notional order filled, qty rounded down to 9 places" jq -e '.status == "filled"
    and .notional == "1000" and .qty == null and .filled_qty == "2.408361832"
    and .filled_avg_price == "415.22"' "$WORK/body"
expect "generated client_order_id" jq -e --arg r "$UUID_RE" '.client_order_id | test($r)' "$WORK/body"

# --- limit orders (numbers accepted, marketable fills at the quote)
call POST /v2/orders '{"symbol":"TSLA","qty":2,"side":"buy","type":"limit","limit_price":250.5,"time_in_force":"gtc"}'
expect "marketable limit 200" status_is 200
expect "marketable limit fills at ask" jq -e '.status == "filled" and .qty == "2"
    and .limit_price == "250.5" and .filled_avg_price == "245.52" and .time_in_force == "gtc"' \
    "$WORK/body"
call POST /v2/orders '{"symbol":"AAPL","qty":"0.5","side":"sell","type":"limit","limit_price":"189.00","time_in_force":"day"}'
expect "marketable sell limit fills at bid" jq -e '.status == "filled" and .filled_avg_price == "189.1"' \
    "$WORK/body"
call POST /v2/orders '{"symbol":"NVDA","qty":"3","side":"buy","type":"limit","limit_price":"100.00","time_in_force":"day","client_order_id":"rest-1"}'
expect "resting limit 200" status_is 200
expect "resting limit stays new" jq -e '.status == "new" and .filled_qty == "0"
    and .filled_avg_price == null and .filled_at == null and .limit_price == "100"' "$WORK/body"
RESTING=$(jqb .id)
call POST /v2/orders '{"symbol":"NVDA","qty":"1","side":"buy","type":"stop","stop_price":"130","time_in_force":"day"}'
expect "stop order stays new" jq -e '.status == "new" and .stop_price == "130" and .limit_price == null' \
    "$WORK/body"
STOP=$(jqb .id)
call POST /v2/orders '{"symbol":"NVDA","qty":"1","side":"buy","type":"limit","limit_price":"100","time_in_force":"ioc"}'
expect "unmarketable ioc is canceled" jq -e '.status == "canceled" and .canceled_at != null' \
    "$WORK/body"

# --- lookups
call GET "/v2/orders/$ORDER1"
expect "get by id 200" status_is 200
expect "get by id same order" jq -e --arg id "$ORDER1" '.id == $id and .status == "filled"' \
    "$WORK/body"
call GET "/v2/orders/00000000-0000-4000-8000-000000000000"
expect "unknown order 404" status_is 404
expect "unknown order body" body_is '{"code":40410000,"message":"order not found"}'
call GET "/v2/orders/not-a-uuid"
expect "non-uuid order id 422" status_is 422
call GET "/v2/orders:by_client_order_id?client_order_id=c-1"
expect "by client id 200" status_is 200
expect "by client id same order" jq -e --arg id "$ORDER1" '.id == $id' "$WORK/body"
call GET "/v2/orders:by_client_order_id?client_order_id=nope"
expect "unknown client id 404" status_is 404
expect "unknown client id body" body_is '{"code":40410000,"message":"order not found"}'

# --- lists
call GET /v2/orders
expect "list default open" jq -e 'length == 2 and all(.status == "new")' "$WORK/body"
call GET '/v2/orders?status=closed&limit=500'
expect "list closed" jq -e 'length == 5 and all(.status != "new")' "$WORK/body"
call GET '/v2/orders?status=all&limit=2&direction=asc'
expect "list limit + asc" jq -e --arg id "$ORDER1" 'length == 2 and .[0].id == $id' "$WORK/body"
call GET '/v2/orders?status=all'
expect "list desc by default" jq -e '.[0].submitted_at > .[-1].submitted_at' "$WORK/body"
call GET '/v2/orders?status=all&symbols=TSLA,MSFT'
expect "list symbols filter" jq -e 'length == 2 and all(.symbol == "TSLA" or .symbol == "MSFT")' \
    "$WORK/body"
call GET '/v2/orders?status=all&after=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z'
expect "list after/until" jq -e 'length == 0' "$WORK/body"
call GET '/v2/orders?status=bogus'
expect "list bad status 422" status_is 422

# --- cancel
call DELETE "/v2/orders/$STOP"
expect "cancel 204" status_is 204
expect "cancel has no body" [ ! -s "$WORK/body" ]
poll_order "$STOP" '.status == "canceled"'
expect "canceled order (at the next tick)" jq -e '.status == "canceled" and .canceled_at != null' "$WORK/body"
call DELETE "/v2/orders/$STOP"
expect "cancel canceled 422" status_is 422
expect "cancel canceled body" body_is '{"code":42210000,"message":"order is already in \"canceled\" state"}'
call DELETE "/v2/orders/$ORDER1"
expect "cancel filled 422" status_is 422
call DELETE "/v2/orders/00000000-0000-4000-8000-000000000000"
expect "cancel unknown 404" status_is 404

# --- /_sim/quotes fills resting marketable orders
anon POST /_sim/quotes '{"NVDA":{"bid":"99.98","ask":"99.99"},"XYZ":{"bid":"10.5","ask":"10.52"}}'
expect "set quotes 200" status_is 200
expect "set quotes answer" jq -e '.updated == 2' "$WORK/body"
poll_order "$RESTING" '.status == "filled"'
expect "resting order filled at new ask at the next tick" jq -e '.status == "filled" and .filled_avg_price == "99.99"
    and .filled_qty == "3"' "$WORK/body"
call GET '/v2/stocks/XYZ/quotes/latest?feed=iex'
expect "added symbol has a quote" jq -e '.quote.bp == 10.5 and .quote.ap == 10.52' "$WORK/body"
anon POST /_sim/quotes '{"AAPL":{"bid":"190","ask":"189"}}'
expect "crossed quote refused" status_is 400
anon POST /_sim/quotes 'not json'
expect "bad quotes json 400" status_is 400

# --- validation
call POST /v2/orders '{"symbol":"AAPL","qty":"1.5","side":"buy","type":"market","time_in_force":"day","client_order_id":"c-1"}'
expect "duplicate client_order_id 422" status_is 422
expect "duplicate body" body_is '{"code":40010001,"message":"client_order_id must be unique"}'
expect "duplicate counted" [ "$(simstat duplicate_client_order_ids)" = 1 ]
call POST /v2/orders '{"symbol":"AAPL","side":"buy","type":"market","time_in_force":"day"}'
expect "missing qty 422" status_is 422
expect "missing qty body" body_is '{"code":40010001,"message":"qty is required"}'
call POST /v2/orders '{"symbol":"AAPL","qty":"1","notional":"10","side":"buy","type":"market","time_in_force":"day"}'
expect "qty and notional 422" jq -e '.code == 40010001' "$WORK/body"
expect "qty and notional status" status_is 422
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"buy","type":"limit","time_in_force":"day"}'
expect "limit without price 422" status_is 422
expect "limit without price body" body_is '{"code":40010001,"message":"limit_price is required"}'
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"buy","type":"stop_limit","limit_price":"180","time_in_force":"day"}'
expect "stop_limit without stop 422" status_is 422
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"buy","type":"limit","limit_price":"290.123","time_in_force":"day"}'
expect "sub-penny 422" status_is 422
expect "sub-penny body" body_is '{"code":42210000,"message":"invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria"}'
call POST /v2/orders '{"symbol":"XYZ","qty":"1","side":"buy","type":"limit","limit_price":"0.5123","time_in_force":"day"}'
expect "4 decimals below \$1 ok" status_is 200
call POST /v2/orders '{"symbol":"NOPE","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
expect "unknown symbol 422" status_is 422
expect "unknown symbol body" body_is '{"code":40010001,"message":"asset not found"}'
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"up","type":"market","time_in_force":"day"}'
expect "bad side 422" status_is 422
call POST /v2/orders '{"symbol":"AAPL","qty":"-1","side":"buy","type":"market","time_in_force":"day"}'
expect "negative qty 422" status_is 422
call POST /v2/orders '{"symbol":"AAPL","qty":"0.0000000001","side":"buy","type":"market","time_in_force":"day"}'
expect "10 decimal qty 422" status_is 422
LONG_ID=$(printf 'x%.0s' $(seq 1 49))
call POST /v2/orders "{\"symbol\":\"AAPL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"market\",\"time_in_force\":\"day\",\"client_order_id\":\"$LONG_ID\"}"
expect "49-char client_order_id 422" status_is 422
expect "49-char client_order_id code" jq -e '.code == 40010001' "$WORK/body"
call POST /v2/orders "{\"symbol\":\"AAPL\",\"qty\":\"1\",\"side\":\"buy\",\"type\":\"market\",\"time_in_force\":\"day\",\"client_order_id\":\"${LONG_ID:1}\"}"
expect "48-char client_order_id ok" status_is 200
call POST /v2/orders '{"symbol":"AAPL",'
expect "bad json 400" status_is 400
expect "bad json body" body_is '{"code":40010000,"message":"request body format is invalid"}'

# --- buying power
call POST /v2/orders '{"symbol":"AAPL","qty":"10000","side":"buy","type":"market","time_in_force":"day"}'
expect "insufficient buying power 403" status_is 403
expect "403 body" jq -e '.code == 40310000 and .message == "insufficient buying power"
    and .cost_basis == "1891200" and (.buying_power | type == "string")' "$WORK/body"
expect "403 key order" grep -q '^{"buying_power":"[0-9.]*","code":40310000,"cost_basis":"1891200","message":"insufficient buying power"}$' "$WORK/body"

# --- shorting
call POST /v2/orders '{"symbol":"IBM","qty":"3","side":"sell","type":"market","time_in_force":"day"}'
expect "short sell filled" jq -e '.status == "filled" and .filled_avg_price == "185.7"' "$WORK/body"
call GET /v2/positions/IBM
expect "short position" jq -e '.qty == "-3" and .side == "short"' "$WORK/body"
call GET /v2/positions
expect "positions list" jq -e 'type == "array" and (map(.symbol) | sort) == ["AAPL","IBM","MSFT","NVDA","TSLA"]' \
    "$WORK/body"
# A short sale holds buying power like a buy: beyond it, 403 whatever its
# size, and a size rule (400) only for what the account could pay for.
call POST /v2/orders '{"symbol":"IBM","qty":"100000","side":"sell","type":"market","time_in_force":"day"}'
expect "short sale beyond buying power 403" status_is 403
expect "short sale 403 body" jq -e '.code == 40310000 and .message == "insufficient buying power"
    and .cost_basis == "18570000"' "$WORK/body"
call POST /v2/orders '{"symbol":"AAPL","qty":"100000000","side":"buy","type":"market","time_in_force":"day"}'
expect "a buy of 1e8 shares: 403 insufficient buying power, not a size rule" jq -e \
    '.code == 40310000 and .message == "insufficient buying power"' "$WORK/body"
call POST /v2/orders '{"symbol":"AAPL","notional":"5000000000","side":"buy","type":"market","time_in_force":"day"}'
expect "a \$5e9 notional buy: 403 insufficient buying power" jq -e \
    '.code == 40310000 and .message == "insufficient buying power"' "$WORK/body"
call GET /v2/positions/AMD
expect "no position 404" status_is 404
expect "no position body" jq -e '.code == 40410000' "$WORK/body"

# --- assets, unknown paths, methods
call GET /v2/assets/AAPL
expect "asset" jq -e '.symbol == "AAPL" and .tradable == true and .fractionable == true' "$WORK/body"
call GET /v2/nope
expect "unknown /v2 path 404" status_is 404
expect "unknown path body" body_is '{"message":"not found"}'
anon GET /nope
expect "unknown path 404" status_is 404
expect "unknown path body (root)" body_is '{"message":"not found"}'
call PUT /v2/account
expect "wrong method 405" status_is 405

# --- stats
anon GET /_sim/stats
expect "stats fields" jq -e '[.orders_created, .duplicate_client_order_ids, .requests_total,
    .responses_429, .max_requests_in_any_period] | all(type == "number")' "$WORK/body"
expect "orders_created counts created orders" field_is .orders_created 10
expect "requests_total counted" jq -e '.requests_total > 50' "$WORK/body"

# --- faults
anon POST /_sim/faults '{"error_rate":1}'
expect "set faults 200" status_is 200
call GET /v2/account
expect "error_rate 1 -> 503" status_is 503
expect "503 body" jq -e '.code == 50310000 and (.message | type == "string")' "$WORK/body"
anon POST /_sim/faults '{"error_rate":1,"error_status":500}'
call GET /v2/account
expect "error_status 500" status_is 500
anon POST /_sim/faults '{}'
call GET /v2/account
expect "faults cleared" status_is 200

CREATED=$(simstat orders_created)
anon POST /_sim/faults '{"drop_response_rate":1}'
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day","client_order_id":"dropped-1"}'
expect "dropped answer: curl gets no response" [ "$STATUS" = curl-exit-52 ]
expect "dropped answer: order was created" [ "$(simstat orders_created)" = $((CREATED + 1)) ]
call GET /v2/account
expect "drop applies only to POST /v2/orders" status_is 200
anon POST /_sim/faults '{}'
call GET "/v2/orders:by_client_order_id?client_order_id=dropped-1"
expect "dropped order can be found" jq -e '.status == "filled"' "$WORK/body"
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day","client_order_id":"dropped-1"}'
expect "retry of dropped order is a duplicate" status_is 422

anon POST /_sim/faults '{"outage_ms":400}'
call GET /v2/account
expect "outage -> 503" status_is 503
sleep 0.5
call GET /v2/account
expect "outage over" status_is 200

anon POST /_sim/faults '{"latency_ms":300}'
T0=$(date +%s%N)
call GET /v2/clock
T1=$(date +%s%N)
expect "latency applied" [ $(((T1 - T0) / 1000000)) -ge 290 ]
expect "latency answer ok" status_is 200

anon POST /_sim/faults '{"hang_rate":1}'
curl -s -m 3 -o /dev/null -H "APCA-API-KEY-ID: $KEY" -H "APCA-API-SECRET-KEY: $SECRET" \
    "$BASE/v2/account" &
HANG_CURL=$!
sleep 0.3
expect "hang counted" [ "$(simstat hanging_now)" -ge 1 ]
T0=$(date +%s%N)
anon GET /_sim/stats
T1=$(date +%s%N)
expect "a hanging request does not block others" [ $(((T1 - T0) / 1000000)) -lt 500 ]
rc=0
wait "$HANG_CURL" || rc=$?
expect "hanging request never answered (curl timeout)" [ "$rc" = 28 ]
anon POST /_sim/faults '{"hang_rate":2}'
expect "bad fault rate 400" status_is 400
anon POST /_sim/faults '{"eror_rate":1}'
expect "unknown fault field 400" status_is 400
anon POST /_sim/faults '{}'
call GET /v2/account
expect "hang cleared" status_is 200

# --- reset
anon POST /_sim/reset
expect "reset 200" status_is 200
call GET /v2/account
expect "reset restores cash" jq -e '.cash == "100000" and .equity == "100000"' "$WORK/body"
call GET /v2/positions
expect "reset forgets positions" jq -e 'length == 0' "$WORK/body"
call GET '/v2/orders?status=all'
expect "reset forgets orders" jq -e 'length == 0' "$WORK/body"
call GET "/v2/orders:by_client_order_id?client_order_id=c-1"
expect "reset forgets client ids" status_is 404
call GET '/v2/stocks/NVDA/quotes/latest'
expect "reset restores quotes" jq -e '.quote.ap == 120.41' "$WORK/body"
expect "reset zeroes stats" [ "$(simstat orders_created),$(simstat duplicate_client_order_ids)" = "0,0" ]

stop_sim "$MAIN_PID" "$WORK/main.log"
expect "SIGTERM exits 0 (rc=$rc)" [ "$rc" = 0 ]
expect "stop line logged" grep -q "stopped" "$WORK/main.log"

# ------------------------------------------------------- paper trading, by tick
# Manual ticks (SIM_TICK_MS=0) and fixed quotes: every step is observable.

start_sim paper ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET ALPACA_CALLS_PER_MIN=100000 \
    SIM_TICK_MS=0 SIM_QUOTE_WALK=0
BASE="http://127.0.0.1:$PORT"
PAPER_PID=$SIM_PID

anon GET /_sim/config
expect "config from the environment" body_is '{"partial_fill_rate":0.1,"quote_walk":false,"tick_ms":0,"fill_on_submit":false}'
anon POST /_sim/config '{"partial_fill_rate":0}'
expect "config set" jq -e '.partial_fill_rate == 0 and .tick_ms == 0' "$WORK/body"
anon POST /_sim/config '{"partial_fill_rate":1.5}'
expect "config rate out of range 400" status_is 400
anon POST /_sim/config '{"tick_msx":1}'
expect "config unknown field 400" status_is 400

# --- clock
call GET /v2/clock
expect "clock open by default" jq -e --arg t "$TIME_RE" '.is_open == true
    and (.timestamp | test($t)) and (.next_open | test($t)) and (.next_close | test($t))
    and (keys == ["is_open","next_close","next_open","timestamp"])' "$WORK/body"

# --- market order: accepted, then filled at the next tick
order '{"symbol":"AAPL","qty":"2","side":"buy","type":"market","time_in_force":"day"}'
expect "async market order 200" status_is 200
expect "async market order shape" order_shape_ok
expect "POST answers accepted, nothing filled" jq -e '.status == "accepted" and .filled_qty == "0"
    and .filled_avg_price == null and .filled_at == null' "$WORK/body"
MKT=$OID
call GET "/v2/orders/$MKT"
expect "still accepted before a tick" field_is .status accepted
tick
call GET "/v2/orders/$MKT"
expect "filled at the tick, at the ask" jq -e --arg t "$TIME_RE" '.status == "filled"
    and .filled_qty == "2" and .filled_avg_price == "189.12" and (.filled_at | test($t))
    and .updated_at >= .created_at' "$WORK/body"
call GET /v2/account
expect "cash fell at the fill" field_is .cash 99621.76

# --- partial fills (partial_fill_rate 1): the ask rises a cent per tick
anon POST /_sim/config '{"partial_fill_rate":1}'
order '{"symbol":"AAPL","qty":"100","side":"buy","type":"market","time_in_force":"day"}'
PART=$OID
PREV=0
VALUE=0          # sum of fill qty x price in cents
SEEN_PARTIAL=0
GROWS=1
ASK=18912
for i in $(seq 1 40); do
    tick
    call GET "/v2/orders/$PART"
    ST=$(jqb .status)
    FQ=$(jqb .filled_qty)
    [ "$ST" = partially_filled ] && SEEN_PARTIAL=1
    if [ "$FQ" -le "$PREV" ] && [ "$ST" != filled ]; then GROWS=0; fi
    VALUE=$((VALUE + (FQ - PREV) * ASK))
    PREV=$FQ
    [ "$ST" = filled ] && break
    ASK=$((ASK + 1))
    anon POST /_sim/quotes "{\"AAPL\":{\"bid\":\"$(((ASK - 2) / 100)).$(printf %02d $(((ASK - 2) % 100)))\",\"ask\":\"$((ASK / 100)).$(printf %02d $((ASK % 100)))\"}}"
done
expect "partially_filled observed" [ "$SEEN_PARTIAL" = 1 ]
expect "filled_qty grows at every partial fill" [ "$GROWS" = 1 ]
expect "ends filled with filled_qty == qty" jq -e '.status == "filled" and .filled_qty == "100"' "$WORK/body"
expect "several fills, all at different prices" [ "$ASK" -gt 18913 ]
# Exact average: value (cents) / qty, 9 decimals, half up (order.h).
NUM=$((VALUE * 10000000 * 2 / 100))
AVG9=$(((NUM + 1) / 2))
AVG_TXT=$(printf '%d.%09d' $((AVG9 / 1000000000)) $((AVG9 % 1000000000)) | sed 's/0*$//; s/\.$//')
expect "filled_avg_price is the exact weighted average ($AVG_TXT)" field_is .filled_avg_price "$AVG_TXT"
expect "partial_fills counted" [ "$(simstat partial_fills)" -ge 1 ]
anon POST /_sim/quotes '{"AAPL":{"bid":"189.10","ask":"189.12"}}'

# --- fractional quantity: partial pieces keep 9 decimals, end exact
order '{"symbol":"MSFT","qty":"1.5","side":"buy","type":"market","time_in_force":"day"}'
FRAC=$OID
tick 200
call GET "/v2/orders/$FRAC"
expect "fractional order filled in partials" jq -e '.status == "filled" and .filled_qty == "1.5"
    and .filled_avg_price == "415.22"' "$WORK/body"

# --- notional order with partials
order '{"symbol":"MSFT","notional":"1000","side":"buy","type":"market","time_in_force":"day"}'
NOTL=$OID
tick
call GET "/v2/orders/$NOTL"
expect "notional partial fill" jq -e '.status == "partially_filled" and (.filled_qty | tonumber) > 0
    and (.filled_qty | tonumber) < 2.4084' "$WORK/body"
tick 100
call GET "/v2/orders/$NOTL"
expect "notional ends filled, qty <= notional/price (9 places, down)" jq -e '.status == "filled"
    and .notional == "1000" and .qty == null and (.filled_qty | tonumber) <= 2.408361832
    and (.filled_qty | tonumber) > 2.4083 and .filled_avg_price == "415.22"' "$WORK/body"

# --- ioc and fok
order '{"symbol":"AAPL","qty":"10","side":"buy","type":"market","time_in_force":"fok"}'
FOK=$OID
tick
call GET "/v2/orders/$FOK"
expect "fok fills completely at once" jq -e '.status == "filled" and .filled_qty == "10"' "$WORK/body"
order '{"symbol":"AAPL","qty":"10","side":"buy","type":"market","time_in_force":"ioc"}'
IOC=$OID
tick
call GET "/v2/orders/$IOC"
expect "ioc fills part, cancels the rest" jq -e '.status == "canceled" and .canceled_at != null
    and (.filled_qty | tonumber) >= 2 and (.filled_qty | tonumber) <= 8' "$WORK/body"
order '{"symbol":"AAPL","qty":"1","side":"buy","type":"limit","limit_price":"100","time_in_force":"fok"}'
tick
call GET "/v2/orders/$OID"
expect "unmarketable fok canceled" jq -e '.status == "canceled" and .filled_qty == "0"' "$WORK/body"
anon POST /_sim/config '{"partial_fill_rate":0}'

# --- a resting limit fills when /_sim/quotes crosses it (at the next tick)
order '{"symbol":"NVDA","qty":"3","side":"buy","type":"limit","limit_price":"119","time_in_force":"day"}'
LIM=$OID
tick
call GET "/v2/orders/$LIM"
expect "limit rests as new" jq -e '.status == "new" and .filled_qty == "0"' "$WORK/body"
anon POST /_sim/quotes '{"NVDA":{"bid":"118.90","ask":"118.95"}}'
call GET "/v2/orders/$LIM"
expect "not filled before the tick" field_is .status new
tick
call GET "/v2/orders/$LIM"
expect "limit filled at the ask" jq -e '.status == "filled" and .filled_avg_price == "118.95"' "$WORK/body"
order '{"symbol":"NVDA","qty":"3","side":"sell","type":"limit","limit_price":"119.5","time_in_force":"gtc"}'
SLIM=$OID
tick
expect "sell limit rests" [ "$(curl -s -H "APCA-API-KEY-ID: $KEY" -H "APCA-API-SECRET-KEY: $SECRET" "$BASE/v2/orders/$SLIM" | jq -r .status)" = new ]
anon POST /_sim/quotes '{"NVDA":{"bid":"119.60","ask":"119.62"}}'
tick
call GET "/v2/orders/$SLIM"
expect "sell limit filled at the bid" jq -e '.status == "filled" and .filled_avg_price == "119.6"' "$WORK/body"

# --- stops
order '{"symbol":"AMD","qty":"1","side":"buy","type":"stop","stop_price":"150","time_in_force":"day"}'
expect "buy stop below the ask 422" status_is 422
expect "buy stop below the ask body" body_is '{"code":42210000,"market_price":"160.27","message":"stop price must be greater than current price","stop_price":"150"}'
order '{"symbol":"AMD","qty":"2","side":"buy","type":"stop","stop_price":"161","time_in_force":"day"}'
STP=$OID
tick
call GET "/v2/orders/$STP"
expect "stop waits" jq -e '.status == "new" and .filled_qty == "0"' "$WORK/body"
anon POST /_sim/quotes '{"AMD":{"bid":"161.03","ask":"161.05"}}'
tick
call GET "/v2/orders/$STP"
expect "buy stop triggered at ask >= stop, filled like market" jq -e '.status == "filled"
    and .filled_avg_price == "161.05" and .stop_price == "161" and .type == "stop"' "$WORK/body"
order '{"symbol":"IBM","qty":"2","side":"sell","type":"stop_limit","stop_price":"180","limit_price":"179.5","time_in_force":"gtc"}'
SL=$OID
anon POST /_sim/quotes '{"IBM":{"bid":"179.00","ask":"179.02"}}'
tick
call GET "/v2/orders/$SL"
expect "stop_limit triggered but limit not reached" jq -e '.status == "new" and .filled_qty == "0"' "$WORK/body"
anon POST /_sim/quotes '{"IBM":{"bid":"179.60","ask":"179.62"}}'
tick
call GET "/v2/orders/$SL"
expect "stop_limit fills as a limit at the bid" jq -e '.status == "filled" and .filled_avg_price == "179.6"' "$WORK/body"
call GET /v2/positions/IBM
expect "short position from the sell" jq -e '.qty == "-2" and .side == "short"' "$WORK/body"

# --- asynchronous cancel, buying power held and released
call GET /v2/account
BP0=$(jqb .buying_power)
order '{"symbol":"MSFT","qty":"10","side":"buy","type":"limit","limit_price":"400","time_in_force":"day"}'
CXL=$OID
call GET /v2/account
expect "open buy limit holds limit x qty of buying power" \
    [ "$(jq -n --arg a "$BP0" --arg b "$(jqb .buying_power)" '($a|tonumber) - ($b|tonumber) | . * 100 | round')" = 400000 ]
tick
call DELETE "/v2/orders/$CXL"
expect "cancel 204" status_is 204
expect "cancel 204 has no body" [ ! -s "$WORK/body" ]
call GET "/v2/orders/$CXL"
expect "pending_cancel until the tick" jq -e '.status == "pending_cancel" and .canceled_at == null' "$WORK/body"
call GET '/v2/orders?status=open'
expect "pending_cancel is open" jq -e --arg id "$CXL" 'any(.id == $id)' "$WORK/body"
tick
call GET "/v2/orders/$CXL"
expect "canceled at the tick" jq -e --arg t "$TIME_RE" '.status == "canceled" and (.canceled_at | test($t))' "$WORK/body"
call GET /v2/account
expect "buying power released on cancel" field_is .buying_power "$BP0"
call DELETE "/v2/orders/$CXL"
expect "cancel canceled 422" body_is '{"code":42210000,"message":"order is already in \"canceled\" state"}'
call DELETE "/v2/orders/$MKT"
expect "cancel filled 422" status_is 422
expect "cancel filled body" body_is '{"code":42210000,"message":"order is already in \"filled\" state"}'
call DELETE "/v2/orders/00000000-0000-4000-8000-000000000001"
expect "cancel unknown 404" status_is 404
# a fill wins the race with a pending cancel
order '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
call DELETE "/v2/orders/$OID"
tick
call GET "/v2/orders/$OID"
expect "pending_cancel order may still fill at the tick" field_is .status filled

# --- market session: close expires day orders, not gtc
order '{"symbol":"TSLA","qty":"1","side":"buy","type":"limit","limit_price":"200","time_in_force":"day"}'
DAY=$OID
order '{"symbol":"TSLA","qty":"1","side":"buy","type":"limit","limit_price":"201","time_in_force":"gtc"}'
GTC=$OID
tick
anon POST /_sim/market '{"open":false}'
expect "market closed" jq -e '.open == false and .expired == 1' "$WORK/body"
call GET /v2/clock
expect "clock closed" field_is .is_open false
call GET "/v2/orders/$DAY"
expect "day order expired" jq -e --arg t "$TIME_RE" '.status == "expired" and (.expired_at | test($t))' "$WORK/body"
call GET "/v2/orders/$GTC"
expect "gtc order stays" jq -e '.status == "new" and .expired_at == null' "$WORK/body"
order '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
QUEUED=$OID
tick 3
call GET "/v2/orders/$QUEUED"
expect "closed: accepted and waiting" jq -e '.status == "accepted" and .filled_qty == "0"' "$WORK/body"
anon POST /_sim/market '{"open":true}'
tick
call GET "/v2/orders/$QUEUED"
expect "reopened: fills" field_is .status filled
expect "expirations counted" [ "$(simstat expirations)" = 1 ]
anon POST /_sim/market '{"open":"no"}'
expect "bad market body 400" status_is 400

# --- positions and sells
call GET /v2/positions/AAPL
AAPL_QTY=$(jqb .qty)
expect "positions shape" jq -e '(keys | sort) == (["asset_id","symbol","exchange","asset_class",
    "asset_marginable","avg_entry_price","qty","qty_available","side","market_value","cost_basis",
    "unrealized_pl","unrealized_plpc","unrealized_intraday_pl","unrealized_intraday_plpc",
    "current_price","lastday_price","change_today"] | sort)
    and ([.avg_entry_price,.qty,.qty_available,.market_value,.cost_basis,.unrealized_pl,
    .current_price] | all(type == "string")) and .side == "long" and .current_price == "189.11"
    and .asset_marginable == true' "$WORK/body"
HOLD=$((AAPL_QTY - 4))
order "{\"symbol\":\"AAPL\",\"qty\":\"$HOLD\",\"side\":\"sell\",\"type\":\"limit\",\"limit_price\":\"500\",\"time_in_force\":\"gtc\"}"
expect "resting sell 200" status_is 200
call GET /v2/positions/AAPL
expect "qty_available less the open sell" jq -e --arg q "$AAPL_QTY" '.qty == $q and .qty_available == "4"' "$WORK/body"
order '{"symbol":"AAPL","qty":"10","side":"sell","type":"market","time_in_force":"day"}'
expect "selling more than available 403" status_is 403
expect "selling more than available body" body_is '{"code":40310000,"message":"insufficient qty available for order (requested: 10, available: 4)"}'
order '{"symbol":"GOOGL","qty":"0.5","side":"sell","type":"market","time_in_force":"day"}'
expect "fractional short 403" status_is 403
expect "fractional short body" body_is '{"code":40310000,"message":"fractional orders are not allowed to short"}'
order '{"symbol":"GOOGL","qty":"1","side":"sell","type":"market","time_in_force":"day"}'
expect "whole short sale allowed" status_is 200

# --- account flags
anon POST /_sim/account '{"shorting_enabled":false}'
expect "account update answers the account" jq -e '.shorting_enabled == false' "$WORK/body"
order '{"symbol":"META","qty":"1","side":"sell","type":"market","time_in_force":"day"}'
expect "no shorting 403" body_is '{"code":40310000,"message":"account is not allowed to short"}'
anon POST /_sim/account '{"trading_blocked":true}'
call GET /v2/account
expect "account shows trading_blocked" jq -e '.trading_blocked == true and .status == "ACTIVE"' "$WORK/body"
order '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
expect "blocked account 403" status_is 403
expect "blocked account body" body_is '{"code":40310000,"message":"account is not authorized to trade"}'
anon POST /_sim/account '{"trading_blocked":false,"account_blocked":true}'
order '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
expect "account_blocked 403" body_is '{"code":40310000,"message":"account is not authorized to trade"}'
anon POST /_sim/account '{"account_blocked":false,"status":"ACCOUNT_UPDATED","cash":"5000"}'
call GET /v2/account
expect "account status and cash set" jq -e '.status == "ACCOUNT_UPDATED" and .cash == "5000"
    and .account_blocked == false' "$WORK/body"
anon POST /_sim/account '{"cash":"12.345"}'
expect "bad cash 400" status_is 400
anon POST /_sim/account '{"blocked":true}'
expect "unknown account field 400" status_is 400

# --- list orders
call GET '/v2/orders?status=all&direction=asc&limit=3'
expect "list asc from the first order" jq -e --arg id "$MKT" 'length == 3 and .[0].id == $id
    and .[0].submitted_at < .[1].submitted_at' "$WORK/body"
AFTER=$(jq -r '.[1].submitted_at' "$WORK/body")
call GET "/v2/orders?status=all&direction=asc&limit=500&after=$AFTER"
expect "after is exclusive, by submitted_at" jq -e --arg a "$AFTER" 'length > 0
    and all(.submitted_at > $a) and .[0].id != null' "$WORK/body"
N_AFTER=$(jqb length)
call GET '/v2/orders?status=all&limit=500'
expect "after drops exactly the first two" [ "$(jqb length)" = $((N_AFTER + 2)) ]
expect "desc by default" jq -e '.[0].submitted_at > .[-1].submitted_at' "$WORK/body"
call GET '/v2/orders?status=closed&limit=500'
expect "closed list holds no open order" jq -e 'length > 5 and all(.status == "filled" or
    .status == "canceled" or .status == "expired")' "$WORK/body"
call GET '/v2/orders?status=open&nested=true'
expect "open list (nested ignored)" jq -e 'length == 3 and all(.status == "new" or .status == "accepted")
    and all(.legs == null)' "$WORK/body"
call GET "/v2/orders?status=all&until=$AFTER&direction=asc"
expect "until is exclusive" jq -e --arg id "$MKT" 'length == 1 and .[0].id == $id' "$WORK/body"

# --- stats
anon GET /_sim/stats
expect "stats: paper trading counters" jq -e '[.fills, .partial_fills, .cancels, .expirations,
    .ticks] | all(type == "number" and . > 0)' "$WORK/body"
expect "stats: orders_by_status" jq -e '.orders_by_status.filled > 5 and .orders_by_status.expired == 1
    and (.orders_by_status | has("accepted") and has("pending_cancel") and has("partially_filled"))' \
    "$WORK/body"

# --- bars
call GET '/v2/stocks/AAPL/bars?timeframe=1Hour&start=2024-01-02T00:00:00Z&end=2024-01-02T23:59:59Z'
expect "bars 200" status_is 200
expect "no trading rate headers on bars" [ -z "$(header X-Ratelimit-Limit)" ]
expect "bars shape" jq -e '.symbol == "AAPL" and .next_page_token == null and (.bars | length) == 16
    and (.bars | all((keys | sort) == ["c","h","l","n","o","t","v","vw"]
        and ([.o,.h,.l,.c,.vw,.v,.n] | all(type == "number"))
        and .h >= .o and .h >= .c and .l <= .o and .l <= .c and .l > 0))
    and .bars[0].t == "2024-01-02T08:00:00Z" and (.bars[0].o > 150) and (.bars[0].o < 230)' "$WORK/body"
jq -c .bars "$WORK/body" >"$WORK/bars_all"
expect "consecutive bars join" jq -e '[range(1; length) as $i | .[$i].o == .[$i - 1].c] | all' "$WORK/bars_all"
call GET '/v2/stocks/AAPL/bars?timeframe=1Hour&start=2024-01-02T00:00:00Z&end=2024-01-02T23:59:59Z&limit=10'
expect "page 1 has a token" jq -e '(.bars | length) == 10 and (.next_page_token | type == "string")' "$WORK/body"
TOKEN=$(jqb .next_page_token)
jq -c .bars "$WORK/body" >"$WORK/bars_p1"
call GET "/v2/stocks/AAPL/bars?timeframe=1Hour&start=2024-01-02T00:00:00Z&end=2024-01-02T23:59:59Z&limit=10&page_token=$TOKEN"
expect "page 2 is the rest, last page" jq -e '(.bars | length) == 6 and .next_page_token == null' "$WORK/body"
expect "pages join to the whole" [ "$(jq -c -s '.[0] + .[1]' "$WORK/bars_p1" <(jq -c .bars "$WORK/body"))" = "$(cat "$WORK/bars_all")" ]
call GET '/v2/stocks/AAPL/bars?timeframe=1Day&start=2024-01-01T00:00:00Z&end=2024-01-31T00:00:00Z&limit=10000'
expect "daily bars on weekdays at 04:00Z" jq -e '(.bars | length) == 22
    and all(.bars[]; .t | endswith("T04:00:00Z"))' "$WORK/body"
call GET '/v2/stocks/AAPL/bars?timeframe=5Min&start=2024-01-06T00:00:00Z&end=2024-01-07T23:00:00Z'
expect "weekend: no bars" jq -e '.bars == [] and .next_page_token == null' "$WORK/body"
call GET '/v2/stocks/ZZZZ/bars?timeframe=1Min'
expect "unknown symbol: no bars" jq -e '.bars == [] and .symbol == "ZZZZ"' "$WORK/body"
call GET '/v2/stocks/AAPL/bars?timeframe=2Week'
expect "bad timeframe 422" status_is 422
expect "bad timeframe body" body_is '{"message":"invalid timeframe"}'
call GET '/v2/stocks/AAPL/bars?timeframe=1Min&limit=10001'
expect "limit over 10000 422" status_is 422
call GET '/v2/stocks/AAPL/bars?timeframe=1Min&page_token=garbage!'
expect "bad page_token 422" status_is 422
# Found by tests/fuzz/fuzz_sim_request: before 1970 no minute was in session
# (a start in 1011 walked a billion minutes), and a page_token's start at
# the edge of 64 bits overflowed the stepping ("AAPL|1Min|-2^63").
call GET '/v2/stocks/AAPL/bars?timeframe=1Hour&start=1969-12-29T00:00:00Z&end=1969-12-29T23:59:59Z'
expect "bars before 1970" jq -e '(.bars | length) == 16 and .bars[0].t == "1969-12-29T08:00:00Z"' "$WORK/body"
call GET '/v2/stocks/AAPL/bars?timeframe=1Min&page_token=QUFQTHwxTWlufC05MjIzMzcyMDM2ODU0Nzc1ODA4'
expect "page_token beyond year 0000 422" status_is 422
call GET '/v2/stocks/AAPL/bars?timeframe=15Min&start=2024-03-04T00:00:00Z&end=2024-03-05T00:00:00Z&limit=3'
cp "$WORK/body" "$WORK/bars_seed42"

# --- reset restores the account, session and settings
anon POST /_sim/market '{"open":false}'
anon POST /_sim/config '{"partial_fill_rate":0.7}'
anon POST /_sim/reset
call GET /v2/account
expect "reset restores the starting account" jq -e '.status == "ACTIVE" and .cash == "100000"
    and .shorting_enabled == true and .trading_blocked == false and .buying_power == "100000"' "$WORK/body"
call GET /v2/clock
expect "reset reopens the session" field_is .is_open true
anon GET /_sim/config
expect "reset restores the starting settings" jq -e '.partial_fill_rate == 0.1 and .tick_ms == 0' "$WORK/body"
stop_sim "$PAPER_PID" "$WORK/paper.log"
expect "paper sim SIGTERM exits 0 (rc=$rc)" [ "$rc" = 0 ]

# ---------------------------------------------------------- seeded quote walk

start_sim walk1 SIM_TICK_MS=0
BASE="http://127.0.0.1:$PORT"
tick 50
curl -s "$BASE/_sim/quotes" >"$WORK/walk1"
call GET '/v2/stocks/AAPL/bars?timeframe=15Min&start=2024-03-04T00:00:00Z&end=2024-03-05T00:00:00Z&limit=3'
expect "bars are the same for the same seed" [ "$(jq -c . "$WORK/body")" = "$(jq -c . "$WORK/bars_seed42")" ]
start_sim walk2 SIM_TICK_MS=0
BASE="http://127.0.0.1:$PORT"
tick 50
curl -s "$BASE/_sim/quotes" >"$WORK/walk2"
expect "the walk is the same for the same seed" [ "$(jq -cS . "$WORK/walk1")" = "$(jq -cS . "$WORK/walk2")" ]
expect "quotes moved" jq -e '.AAPL.ask != "189.12" or .MSFT.ask != "415.22"' "$WORK/walk1"
expect "spread kept" jq -e '(.AAPL.ask | tonumber) - (.AAPL.bid | tonumber) | . * 100 | round == 2' "$WORK/walk1"
expect "prices stay in cents" jq -e '[.[] | .bid, .ask | test("^[0-9]+(\\.[0-9]{1,2})?$")] | all' "$WORK/walk1"
anon POST /_sim/config '{"quote_walk":false}'
tick 5
expect "walk switched off at run time" [ "$(curl -s "$BASE/_sim/quotes" | jq -cS .)" = "$(jq -cS . "$WORK/walk2")" ]

# ------------------------------------------------- default settings, real ticks

start_sim engine
BASE="http://127.0.0.1:$PORT"
anon GET /_sim/config
expect "default config" body_is '{"partial_fill_rate":0.1,"quote_walk":true,"tick_ms":100,"fill_on_submit":false}'
order '{"symbol":"SPY","qty":"5","side":"buy","type":"market","time_in_force":"day"}'
expect "default: POST answers accepted" field_is .status accepted
poll_order "$OID" '.status == "filled"'
expect "default: the engine fills it within 5 s" jq -e '.status == "filled" and .filled_qty == "5"
    and (.filled_avg_price | tonumber) > 500' "$WORK/body"
expect "default: the engine ticks" [ "$(simstat ticks)" -ge 1 ]
anon POST /_sim/config '{"fill_on_submit":true}'
order '{"symbol":"SPY","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
expect "fill_on_submit at run time" field_is .status filled

# ------------------------------------------------------------------ rate limit

start_sim limited ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET \
    ALPACA_CALLS_PER_MIN=50 RATE_PERIOD_MS=2000
BASE="http://127.0.0.1:$PORT"
URLS=()
for i in $(seq 1 60); do URLS+=(-o /dev/null "$BASE/v2/account"); done
curl -s -w '%{http_code}\n' -H "APCA-API-KEY-ID: $KEY" \
    -H "APCA-API-SECRET-KEY: $SECRET" "${URLS[@]}" >"$WORK/codes"
expect "50 accepted in the window" [ "$(grep -c '^200$' "$WORK/codes")" = 50 ]
expect "10 refused with 429" [ "$(grep -c '^429$' "$WORK/codes")" = 10 ]
call GET /v2/account
expect "still limited" status_is 429
expect "429 body" body_is '{"code":42910000,"message":"rate limit exceeded"}'
expect "429 X-Ratelimit-Limit" [ "$(header X-Ratelimit-Limit)" = 50 ]
expect "429 X-Ratelimit-Remaining 0" [ "$(header X-Ratelimit-Remaining)" = 0 ]
expect "429 X-Ratelimit-Reset in the near future" \
    [ "$(header X-Ratelimit-Reset)" -ge "$(date +%s)" -a "$(header X-Ratelimit-Reset)" -le $(($(date +%s) + 3)) ]
call GET '/v2/stocks/AAPL/quotes/latest?feed=iex'
expect "market data not limited by the trading limit" status_is 200
expect "responses_429 counted" [ "$(simstat responses_429)" = 11 ]
expect "max_requests_in_any_period == limit" [ "$(simstat max_requests_in_any_period)" = 50 ]
sleep 2.1
call GET /v2/account
expect "window slides: accepted again" status_is 200
expect "remaining after the window" [ "$(header X-Ratelimit-Remaining)" = 49 ]
expect "max stays at the limit" [ "$(simstat max_requests_in_any_period)" = 50 ]
anon POST /_sim/reset
expect "reset clears the rate log" [ "$(simstat max_requests_in_any_period),$(simstat responses_429)" = "0,0" ]

# ------------------------------------------------------------------ shutdown

# A simulator that has served every kind of request, with one still
# hanging, gets SIGTERM: it must exit 0, without waiting for the hang, and
# free everything (start_checked: under the binary's leak checker).
start_checked shutdown ALPACA_API_KEY_ID=$KEY ALPACA_API_SECRET_KEY=$SECRET SIM_PARTIAL_FILL_RATE=1
STOP_PID=$SIM_PID
BASE="http://127.0.0.1:$PORT"
call POST /v2/orders '{"symbol":"AAPL","qty":"1.5","side":"buy","type":"market","time_in_force":"day"}'
expect "shutdown run: order" status_is 200
call POST /v2/orders '{"symbol":"NVDA","qty":"1","side":"buy","type":"limit","limit_price":"1","time_in_force":"day"}'
call DELETE "/v2/orders/$(jqb .id)"
call POST /v2/orders '{"symbol":"MSFT","qty":"1","side":"buy","type":"limit","limit_price":"1","time_in_force":"gtc"}'
call POST /v2/orders '{"symbol":"MSFT","notional":"100","side":"buy","type":"market","time_in_force":"day"}'
sleep 1
anon POST /_sim/market '{"open":false}'
anon POST /_sim/market '{"open":true}'
anon POST /_sim/account '{"trading_blocked":true}'
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
anon POST /_sim/account '{"trading_blocked":false,"cash":"50000"}'
anon POST /_sim/config '{"tick_ms":20,"quote_walk":true}'
anon POST /_sim/tick '{"count":10}'
call GET '/v2/stocks/AAPL/bars?timeframe=1Min&start=2024-01-02T00:00:00Z&end=2024-01-03T00:00:00Z&limit=50'
call GET "/v2/stocks/AAPL/bars?timeframe=1Min&start=2024-01-02T00:00:00Z&end=2024-01-03T00:00:00Z&limit=50&page_token=$(jqb .next_page_token)"
expect "shutdown run: bars page 2" jq -e '.bars | length == 50' "$WORK/body"
call GET /v2/positions
call GET /v2/account
call GET '/v2/orders?status=all'
call POST /v2/orders '{"bad json'
anon POST /_sim/quotes '{"NEW":{"bid":"1","ask":"1.01"}}'
anon GET /_sim/stats
expect "shutdown run: the engine filled in partials" jq -e '.fills > 1 and .partial_fills > 0' "$WORK/body"
anon POST /_sim/reset
call POST /v2/orders '{"symbol":"AAPL","qty":"3","side":"buy","type":"market","time_in_force":"gtc"}'
sleep 0.5
anon POST /_sim/faults '{"drop_response_rate":1}'
call POST /v2/orders '{"symbol":"AAPL","qty":"1","side":"sell","type":"market","time_in_force":"day"}'
anon POST /_sim/faults '{"hang_rate":1}'
curl -s -m 20 -o /dev/null -H "APCA-API-KEY-ID: $KEY" -H "APCA-API-SECRET-KEY: $SECRET" \
    "$BASE/v2/account" &
sleep 1
expect_clean_stop "$STOP_PID" shutdown "with a request hanging"

echo "$PASSED passed, 0 failed"
