#!/usr/bin/env bash
# producers/demo.sh -- the order-worker demo (what `compose/dev demo` runs).
#
# Owns: sending the sample intents of producers/samples/ through intentctl,
# filled in with fresh intent_ids, bot ids and timestamps (so the demo can run
# again and again against the same stack: quotas count per bot per minute),
# waiting for their outcomes on the result topics, showing them as a table, and
# checking that every kind of outcome the samples exist to show did appear:
# fills (market by quantity, market by notional, a marketable limit, a user
# intent), an order filled in several partial fills, a limit order that rests
# until the demo moves the simulator's quote below it, the rejections
# validation_failed, quota_exceeded and expired, and a message dead-lettered to
# orders.dlq.  While it runs, the simulator fills every order in parts, one
# step every 1.5 s (/_sim/config); the previous settings are restored at the end.
#
# Needs the stack's environment (KAFKA_BROKERS; ALPACA_SIM_URL for the quote
# of the limit sample) and build/bin/intentctl.  Exit 0 when every expected
# outcome was seen within DEMO_TIMEOUT_MS (default 60000), 1 otherwise.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SAMPLES="$REPO/producers/samples"
INTENTCTL=${INTENTCTL:-${DEV_BUILD_DIR:-$REPO/build}/bin/intentctl}
TIMEOUT_MS=${DEMO_TIMEOUT_MS:-60000}
QUOTA=${BOT_TRADES_PER_MIN:-10}
TOPIC_BOT=${TOPIC_INTENTS_BOT:-orders.intents.bot}
TOPIC_DLQ_NAME=${TOPIC_DLQ:-orders.dlq}

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[[ -x $INTENTCTL ]] || die "$INTENTCTL is missing: build first (compose/dev build)"
[[ -n ${KAFKA_BROKERS:-} ]] || die "KAFKA_BROKERS is not set: run me via 'compose/dev demo' or eval \"\$(compose/dev env)\""
if ! [[ $QUOTA =~ ^[0-9]+$ ]] || ((QUOTA < 1 || QUOTA > 50)); then
    die "BOT_TRADES_PER_MIN=$QUOTA: the quota sample needs a quota between 1 and 50"
fi
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-demo.XXXXXX")
SIM_CONFIG=""
# shellcheck disable=SC2317 # run by the EXIT trap
restore_sim() {
    if [[ -n $SIM_CONFIG ]]; then
        curl -fsS --max-time 5 -X POST -H 'Content-Type: application/json' \
            --data "$SIM_CONFIG" "$ALPACA_SIM_URL/_sim/config" >/dev/null || true
    fi
    rm -rf "$WORK"
}
trap restore_sim EXIT

RUN=$(od -An -tx1 -N3 /dev/urandom | tr -d ' \n')
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
FIVE_MIN_AGO=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.%3NZ)
START_MS=$(($(date +%s%N) / 1000000))

[[ -n ${ALPACA_SIM_URL:-} ]] || die "ALPACA_SIM_URL is not set: the demo moves the simulator's quotes"
sim_post() { # PATH JSON
    curl -fsS --max-time 5 -X POST -H 'Content-Type: application/json' --data "$2" \
        "$ALPACA_SIM_URL$1" >/dev/null || die "the simulator refused POST $1"
}
# ask SYMBOL [DOLLARS]: the simulator's ask for SYMBOL, plus DOLLARS (whole).
ask() {
    local a
    a=$(curl -fsS --max-time 5 "$ALPACA_SIM_URL/_sim/quotes" | jq -r --arg s "$1" '.[$s].ask // empty')
    [[ $a =~ ^([0-9]+)\.([0-9]+)$ ]] || die "no quote for $1 at the simulator"
    printf '%d.%s\n' "$((BASH_REMATCH[1] + ${2:-0}))" "${BASH_REMATCH[2]}"
}
# The marketable limit: one dollar above AAPL's ask.  The resting limit: five
# dollars below IBM's ask, so only a move of the quote fills it.
LIMIT=$(ask AAPL 1)
RESTING=$(ask IBM -5)
# Every fill in parts, and the simulator's engine slowed to one step every
# 1.5 s, so that the parts of an order are far enough apart for the worker's
# follower (which polls Alpaca, as it must) to see each one.
SIM_CONFIG=$(curl -fsS --max-time 5 "$ALPACA_SIM_URL/_sim/config" |
    jq -c '{partial_fill_rate, tick_ms} | select(.partial_fill_rate != null and .tick_ms != null)')
[[ -n $SIM_CONFIG ]] || die "the simulator has no /_sim/config"
sim_post /_sim/config '{"partial_fill_rate":1,"tick_ms":1500}'

# The samples: name, template, how it is sent, what it should become.
#   intent: checked by intentctl, then sent; burst: QUOTA+2 copies from one bot;
#   raw: sent byte for byte, unchecked (the worker does the checking).
SAMPLE_ROWS=(
    "market-qty|01-market-qty.json|intent|fill"
    "market-notional|02-market-notional.json|intent|fill"
    "limit-marketable|03-limit-marketable.json|intent|fill"
    "user-market|04-user-market.json|intent|fill"
    "quota-burst|05-quota-burst.json|burst|${QUOTA} fill + 2 quota_exceeded"
    "expired|06-expired.json|intent|expired"
    "validation-failed|07-validation-failed.json|raw|validation_failed"
    "not-json|08-not-json.txt|raw|dlq"
    "partial-fills|09-partial-fills.json|intent|partial fills, then fill"
    "limit-after-move|10-limit-resting.json|intent|fill after the quote moves"
)

uuid() { cat /proc/sys/kernel/random/uuid; }

# Fills a template's placeholders; prints the intent as one JSON line.
fill_template() {
    local file=$1 bot=$2 user=$3
    jq -c --arg id "$(uuid)" --arg bot "$bot" --arg user "$user" --arg now "$NOW" \
        --arg old "$FIVE_MIN_AGO" --arg limit "$LIMIT" --arg resting "$RESTING" '
        walk(if . == "@INTENT_ID" then $id
             elif . == "@BOT_ID" then $bot
             elif . == "@USER_ID" then $user
             elif . == "@NOW" then $now
             elif . == "@FIVE_MIN_AGO" then $old
             elif . == "@MARKETABLE_LIMIT" then $limit
             elif . == "@RESTING_LIMIT" then $resting
             else . end)' "$file"
}

printf '\n== order-worker demo (run %s) ==\n\n' "$RUN"
printf 'Kafka:  %s\n' "$KAFKA_BROKERS"
printf 'Quota:  %s trades per bot per minute (BOT_TRADES_PER_MIN)\n\n' "$QUOTA"
printf 'Sending the samples of producers/samples/ with %s:\n\n' "${INTENTCTL#"$REPO"/}"

: >"$WORK/ids"
for row in "${SAMPLE_ROWS[@]}"; do
    IFS='|' read -r name file how _ <<<"$row"
    bot="demo-$RUN-$name"
    user="demo-$RUN-bob"
    lines="$WORK/$name.jsonl"
    : >"$lines"
    count=1
    if [[ $how == burst ]]; then count=$((QUOTA + 2)); fi
    if [[ $file == *.json ]]; then
        for ((i = 0; i < count; i++)); do fill_template "$SAMPLES/$file" "$bot" "$user" >>"$lines"; done
        jq -r '.intent_id' "$lines" >"$WORK/$name.ids"
    else
        cp "$SAMPLES/$file" "$lines"
        printf '%s\n' "$bot" >"$WORK/$name.ids" # a DLQ message is known by its key
    fi
    cat "$WORK/$name.ids" >>"$WORK/ids"

    rc=0
    if [[ $how == raw ]]; then
        "$INTENTCTL" send --raw --key "$bot" --topic "$TOPIC_BOT" --json <"$lines" \
            >"$WORK/$name.sent" 2>"$WORK/$name.err" || rc=$?
    else
        "$INTENTCTL" send --stdin --json <"$lines" >"$WORK/$name.sent" 2>"$WORK/$name.err" || rc=$?
    fi
    if ((rc != 0)); then
        cat "$WORK/$name.err" >&2
        die "intentctl send failed for sample $name (exit $rc)"
    fi
    where=$(jq -r 'select(.status == "sent") | "\(.topic) [\(.partition)]"' "$WORK/$name.sent" | sort -u | paste -sd, -)
    what=$(head -n1 "$lines" | cut -c1-60)
    if [[ $file == *.json ]]; then
        what=$(jq -r '[.symbol, .side, .type, (if .qty then "qty \(.qty)" else "$\(.notional)" end),
                       (if .limit_price then "limit \(.limit_price)" else empty end)] | join(" ")' \
            <(head -n1 "$lines"))
    fi
    if ((count > 1)); then what="$count x $what"; fi
    if ((${#what} > 34)); then what="${what:0:31}..."; fi
    printf '  %-18s %-34s -> %s\n' "$name" "$what" "$where"
    while IFS= read -r note; do printf '  %-18s (intentctl: %s)\n' "" "$note"; done <"$WORK/$name.err"
done

# The resting limit waits for the price: once it is accepted, move IBM's
# quote below the limit and let the follower see the fill.
resting_id=$(cat "$WORK/limit-after-move.ids")
printf '\nWaiting for the resting IBM limit (%s) to be accepted...\n' "$RESTING"
"$INTENTCTL" tail --from-beginning --json --intents "$WORK/limit-after-move.ids" --count 1 \
    --timeout 30000 >"$WORK/resting.jsonl" 2>/dev/null || die "the resting limit $resting_id was not accepted within 30 s"
new_ask=$(ask IBM -6)
new_bid=$(ask IBM -7)
printf 'Moving IBM down: bid %s, ask %s (the limit is %s)\n' "$new_bid" "$new_ask" "$RESTING"
sim_post /_sim/quotes "{\"IBM\":{\"bid\":\"$new_bid\",\"ask\":\"$new_ask\"}}"

total=$(wc -l <"$WORK/ids")
printf '\nWaiting up to %s s for the outcomes of %s messages on the result topics...\n' \
    "$((TIMEOUT_MS / 1000))" "$total"
tail_rc=0
"$INTENTCTL" tail --from-beginning --json --intents "$WORK/ids" --until-terminal all \
    --timeout "$TIMEOUT_MS" >"$WORK/events.jsonl" 2>"$WORK/tail.err" || tail_rc=$?
if ((tail_rc == 3 || tail_rc == 2)); then
    cat "$WORK/tail.err" >&2
    die "intentctl tail failed (exit $tail_rc)"
fi
# A moment more, so late duplicates or stray events would show too.
sleep 1
jq -s '.' "$WORK/events.jsonl" >"$WORK/events.json"

# One line per id: KIND<TAB>DETAIL, from the events of that id.
outcome() {
    jq -r --arg id "$1" --arg dlq "$TOPIC_DLQ_NAME" '
        [.[] | select(.intent_id == $id or (._topic == $dlq and ._key == $id))] as $ev
        | ($ev | map(select(._topic == $dlq)) | first) as $d
        | ($ev | map(select(._topic != $dlq and .reason != null)) | first) as $r
        | ($ev | map(select(.type == "fill" or .type == "canceled" or .type == "expired")) | first) as $f
        | ($ev | map(select(.type == "accepted")) | first) as $a
        | ($ev | map(select(.type == "partial_fill")) | length) as $p
        | if $d then
            "dlq\tdead-lettered (\($d._headers["x-dlq-reason"] // "?")) from \($d._headers["x-dlq-topic"] // "?") [\($d._headers["x-dlq-partition"] // "?")] @\($d._headers["x-dlq-offset"] // "?")"
          elif $r then
            "\($r.reason)\t\($r.reason): \($r.message)"
            + (if $r.retry_after_ms != null then " (retry_after_ms \($r.retry_after_ms))" else "" end)
            + (if ($r.errors // []) | length > 0
               then " [" + ([$r.errors[] | "\(.field): \(.message)"] | join("; ")) + "]" else "" end)
          elif $f then
            "\($f.type)\t\(if $a then "accepted -> " else "" end)"
            + (if $p > 0 then "\($p) partial fill\(if $p > 1 then "s" else "" end) -> " else "" end)
            + "\($f.type) \($f.filled_qty // "?") @ \($f.filled_avg_price // "?")"
            + (if $f.type == "fill" and $p > 0 then " (last \($f.last_fill_qty) @ \($f.last_fill_price))" else "" end)
          elif $a then "accepted\taccepted, no fill yet"
          else "none\tno outcome yet" end' "$WORK/events.json"
}

printf '\n%-18s  %-26s  %s\n' "SAMPLE" "EXPECTED" "OUTCOME"
printf '%-18s  %-26s  %s\n' "------" "--------" "-------"
declare -A KIND=()
: >"$WORK/burst.rows"
for row in "${SAMPLE_ROWS[@]}"; do
    IFS='|' read -r name _ how expect <<<"$row"
    n=0 fills=0 quota=0 other=0 first=""
    while IFS= read -r id; do
        kind=none detail="no outcome"
        IFS=$'\t' read -r kind detail < <(outcome "$id") || true
        n=$((n + 1))
        case $kind in
            fill) fills=$((fills + 1)) ;;
            quota_exceeded) quota=$((quota + 1)) ;;
            *) other=$((other + 1)) ;;
        esac
        if [[ $how == burst ]]; then
            # the burst shows one summary row, then each intent that was not filled
            if [[ $kind != fill ]]; then
                printf '%-18s  %-26s  #%d %s\n' "" "" "$n" "$detail" >>"$WORK/burst.rows"
            fi
        else
            first=$kind
            printf '%-18s  %-26s  %s\n' "$name" "$expect" "$detail"
        fi
    done <"$WORK/$name.ids"
    if [[ $how == burst ]]; then
        printf '%-18s  %-26s  %d sent: %d fill, %d quota_exceeded, %d other\n' \
            "$name" "$expect" "$n" "$fills" "$quota" "$other"
        if [[ -s $WORK/burst.rows ]]; then cat "$WORK/burst.rows"; fi
        if ((fills == QUOTA && quota == 2 && other == 0)); then first=ok; else
            first="$fills fill, $quota quota_exceeded, $other other; do the workers run with BOT_TRADES_PER_MIN=$QUOTA?"
        fi
    fi
    KIND[$name]=$first
done

# The checks: every kind of outcome the demo exists to show.
missing=()
expect_kind() { # NAME KIND WHAT
    if [[ ${KIND[$1]:-} != "$2" ]]; then missing+=("$3 (sample $1 ended as '${KIND[$1]:-none}')"); fi
}
expect_kind market-qty fill "a fill of a market order by quantity"
expect_kind market-notional fill "a fill of a market order by notional"
expect_kind limit-marketable fill "a fill of a marketable limit buy"
expect_kind user-market fill "a fill of a user-topic intent"
expect_kind validation-failed validation_failed "a validation_failed rejection"
expect_kind expired expired "an expired rejection"
expect_kind not-json dlq "a message on $TOPIC_DLQ_NAME"
expect_kind quota-burst ok "$QUOTA fills and 2 quota_exceeded rejections for one bot"
expect_kind partial-fills fill "a fill of an order filled in parts"
expect_kind limit-after-move fill "a fill of the resting limit after the quote moved"
if ! jq -e --rawfile ids "$WORK/partial-fills.ids" '
        any(.[]; .type == "partial_fill" and .intent_id == ($ids | rtrimstr("\n")))' \
        "$WORK/events.json" >/dev/null; then
    missing+=("partial_fill events before the fill of sample partial-fills")
fi
if ! jq -e --rawfile ids "$WORK/validation-failed.ids" '
        any(.[]; .intent_id == ($ids | rtrimstr("\n")) and ((.errors // []) | length) >= 2)' \
        "$WORK/events.json" >/dev/null; then
    missing+=("the errors list of the validation_failed rejection (symbol and qty)")
fi
if ! jq -e --rawfile ids "$WORK/quota-burst.ids" '
        [.[] | select(.reason == "quota_exceeded" and (.intent_id as $i | $ids | contains($i)))]
        | length > 0 and all(.retry_after_ms != null)' "$WORK/events.json" >/dev/null; then
    missing+=("retry_after_ms on the quota_exceeded rejections")
fi

elapsed_ms=$(($(date +%s%N) / 1000000 - START_MS))
elapsed="$((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100))"
printf '\n'
if ((${#missing[@]} == 0)); then
    printf 'demo: OK - all %d kinds of outcome seen (%d messages, %s s).\n' 10 "$total" "$elapsed"
    # What the operators see: the fleet's outcome counters (worker N serves
    # /metrics on the admin base port + N).
    if [[ -n ${DEV_ADMIN_BASE_PORT:-} ]]; then
        printf '\nThe workers'"'"' outcome counters since they started (GET /metrics, summed over replicas):\n'
        for n in 1 2 3 4 5 6 7 8 9; do
            curl -fsS --max-time 5 "http://127.0.0.1:$((DEV_ADMIN_BASE_PORT + n))/metrics" 2>/dev/null || true
        done | awk '/^order_worker_outcomes_total\{/ { v[$1] += $2 }
                    END { for (k in v) printf "  %-74s %d\n", k, v[k] }' | sort
        printf 'Metrics and health: curl http://127.0.0.1:%d/metrics | /healthz | /readyz\n' \
            "$((DEV_ADMIN_BASE_PORT + 1))"
    fi
    printf 'Watch live: %s tail    (or --json; --help for more)\n' "${INTENTCTL#"$REPO"/}"
    exit 0
fi
printf 'demo: FAILED - expected outcomes missing (waited up to %s s):\n' "$((TIMEOUT_MS / 1000))" >&2
for m in "${missing[@]}"; do printf '  - %s\n' "$m" >&2; done
if [[ -s $WORK/tail.err ]]; then sed 's/^/  /' "$WORK/tail.err" >&2; fi
printf 'Check the workers: compose/dev status; compose/dev logs\n' >&2
exit 1
