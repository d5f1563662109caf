# bench/stages.awk -- where the time went, from two scrapes of the workers'
# /metrics (bench/run.sh, the realtime scenario).
#
# Usage: awk -f bench/stages.awk BEFORE.prom AFTER.prom
#
# Owns: turning the deltas of order_worker_stage_seconds{path,stage} between
# two scrapes into one JSON object per stage (observations, mean, and the
# 50th, 90th and 99th percentiles as the upper bound of the bucket that holds
# them: bucket resolution), and the deltas of
# order_worker_alpaca_requests_total{operation,status} into calls per
# operation.  Why: a latency figure is explained stage by stage, and the
# trading API calls not spent on placements are counted by operation, from
# the same two instants as the figure.  Series of every replica scraped into
# one file are summed.
#
# Output (one line of JSON):
#   {"stages": {"intake": {"kafka_in": {"n":..,"mean_ms":..,"p50_ms":..,
#    "p90_ms":..,"p99_ms":..}, ...}, "follow": {...}},
#    "alpaca_calls": {"place_order": N, "order_list": N, ...}}

function label(s, name,    m) {
    if (match(s, name "=\"[^\"]*\"")) return substr(s, RSTART + length(name) + 2, RLENGTH - length(name) - 3)
    return ""
}

# sign: -1 for the first file (before), +1 for the second (after).
{ sign = (FNR == NR) ? -1 : 1 }

/^order_worker_stage_seconds_bucket\{/ {
    k = label($1, "path") SUBSEP label($1, "stage")
    le = label($1, "le")
    if (le == "+Inf") next
    bucket[k, le] += sign * $NF
    les[le] = 1
    keys[k] = 1
    next
}
/^order_worker_stage_seconds_sum\{/ {
    k = label($1, "path") SUBSEP label($1, "stage")
    sum[k] += sign * $NF
    keys[k] = 1
    next
}
/^order_worker_stage_seconds_count\{/ {
    k = label($1, "path") SUBSEP label($1, "stage")
    count[k] += sign * $NF
    keys[k] = 1
    next
}
/^order_worker_alpaca_requests_total\{/ {
    calls[label($1, "operation")] += sign * $NF
    next
}

# The upper bound (ms) of the bucket holding quantile q of stage k.
function quantile(k, q,    i, n) {
    n = count[k]
    for (i = 1; i <= nle; i++)
        if (bucket[k, sorted[i]] >= q * n) return sorted[i] * 1000
    return "\">60000\""
}

END {
    # the bounds as scraped (text, the buckets' keys), in numeric order
    nle = 0
    for (le in les) sorted[++nle] = le
    for (i = 1; i <= nle; i++)
        for (j = i + 1; j <= nle; j++)
            if (sorted[j] + 0 < sorted[i] + 0) { t = sorted[i]; sorted[i] = sorted[j]; sorted[j] = t }
    printf "{\"stages\":{"
    np = 0
    split("intake follow", paths, " ")
    for (p = 1; p <= 2; p++) {
        printf "%s\"%s\":{", (np++ ? "," : ""), paths[p]
        ns = 0
        for (k in keys) {
            split(k, ps, SUBSEP)
            if (ps[1] != paths[p] || count[k] <= 0) continue
            printf "%s\"%s\":{\"n\":%d,\"mean_ms\":%.3f,\"p50_ms\":%s,\"p90_ms\":%s,\"p99_ms\":%s}",
                (ns++ ? "," : ""), ps[2], count[k], sum[k] * 1000 / count[k],
                quantile(k, 0.5), quantile(k, 0.9), quantile(k, 0.99)
        }
        printf "}"
    }
    printf "},\"alpaca_calls\":{"
    nc = 0
    for (op in calls) if (op != "" && calls[op] > 0) printf "%s\"%s\":%d", (nc++ ? "," : ""), op, calls[op]
    printf "}}\n"
}
