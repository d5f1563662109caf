# bench/table.jq -- the markdown table of a bench/run.sh result (latest.md).
#
# Owns: turning the result JSON into the README's table (figure, measured,
# target, met?) with the date, command, machine and versions above it.  Why:
# one place decides what the table says, for both the full and the --quick
# run (--quick shows its numbers but never judges them: "met?" is n/a).

def num(d): if type == "number" then (. * pow(10; d) | round) / pow(10; d) else "n/a" end;
def int_sep: if type == "number" then (round | tostring | gsub("(?<=\\d)(?=(\\d{3})+$)"; ",")) else "n/a" end;
def mb: if type == "number" then (. / 1024 | num(1) | tostring) + " MB" else "n/a" end;
def met($quick; ok): if $quick then "n/a (quick)" elif ok == null then "n/a" elif ok then "yes" else "**no**" end;
# " (rejections: R /s)" of a load generator's throughput, when it has any.
# "p50 / p90 / p99 / max ms" of a latency object.
def pcts: if . == null then "n/a" else "\(.p50_ms | num(1)) / \(.p90_ms | num(1)) / \(.p99_ms | num(1)) / \(.max_ms | num(1)) ms" end;
# One realtime run's rows: its figures against the targets for its rate.
def realtime_rows($quick; $t):
  .rate as $r
  | "| publish -> `accepted` read back, \($r)/s, 1 replica: p50 / p90 / p99 / max | \(.publish_to_accepted | pcts) | p99 <= \($t.acc) ms | \(met($quick; .publish_to_accepted.p99_ms >= 0 and .publish_to_accepted.p99_ms <= $t.acc)) |",
    "| publish -> `fill` read back, \($r)/s | \(.publish_to_fill | pcts) | p99 <= \($t.fill) ms | \(met($quick; .publish_to_fill.p99_ms >= 0 and .publish_to_fill.p99_ms <= $t.fill)) |",
    "| simulator's fill -> `fill` read back, \($r)/s | \(.sim_fill_to_fill | pcts) | p99 <= \($t.sim) ms | \(met($quick; .sim_fill_to_fill != null and .sim_fill_to_fill.p99_ms <= $t.sim)) |",
    "| trading API calls per minute not spent on placements, \($r)/s (simulator's count) | \(.trading_calls_not_placements_per_min | num(1)) (\(.sim_trading_requests_not_placements_per_min | num(1))) | <= 5 | \(met($quick; .trading_calls_not_placements_per_min != null and .trading_calls_not_placements_per_min <= 5)) |";
# The per-stage breakdown of the realtime runs, one row per stage.
def stage_table($runs):
  if ($runs | length) == 0 then empty else
  "",
  "Where the time goes in the realtime runs (order_worker_stage_seconds over the steady window; mean, and p50 / p99 as bucket bounds), and each result event's hop on its topic (ow-loadgen: read back - the event's Kafka timestamp):",
  "",
  "| stage | " + ([$runs[] | "\(.rate)/s: n, mean, p50 / p99"] | join(" | ")) + " |",
  "|---|" + ([$runs[] | "---"] | join("|")) + "|",
  (([$runs[] | .stages | to_entries[] | .key as $p | .value | keys[] | "\($p) \(.)"] | unique) as $names
   | ["intake kafka_in", "intake lane_wait", "intake decode", "intake ledger_record", "intake risk",
      "intake quota", "intake submitting", "intake post", "intake outcome_commit", "intake produce_ack",
      "follow stream_in", "follow event_wait", "follow lock", "follow outcome_commit",
      "follow produce_ack", "follow poll"] as $order
   | ($order + ($names - $order)) | .[] | select(IN($names[])) | . as $n | split(" ") as [$p, $s]
   | "| \($n) | " + ([$runs[] | .stages[$p][$s] | if . == null then "--" else "\(.n), \(.mean_ms | num(2)), \(.p50_ms) / \(.p99_ms) ms" end] | join(" | ")) + " |"),
  "| result topic hop, `accepted` | " + ([$runs[] | .result_hop_accepted | "\(.n), p50 / p99 \(.p50_ms | num(1)) / \(.p99_ms | num(1)) ms"] | join(" | ")) + " |",
  "| result topic hop, `fill` | " + ([$runs[] | .result_hop_fill | "\(.n), p50 / p99 \(.p50_ms | num(1)) / \(.p99_ms | num(1)) ms"] | join(" | ")) + " |"
  end;
# CPU per intent of each process of the stack over a throughput run's steady
# window (utime + stime / the intents the workers' histogram counted).
def cpu_row:
  .worker_cpu.intents as $n
  | "| \(.scenario): CPU per intent (us): workers / PostgreSQL / Redis / dev broker / simulator / load generator | " +
    ([.stack_cpu_seconds | .workers, .postgres, .redis, .kafka_dev_broker, .alpaca_sim, .loadgen
      | if $n > 0 then (. * 1e6 / $n | num(0) | tostring) else "n/a" end] | join(" / ")) + " | -- | -- |";
# BENCH_PROFILE_S: the workers' system calls, context switches and top
# symbols per intent, in a profiling run after the measured one.
def profile_rows:
  .profile as $p
  | "| \(.scenario): per intent, in a profiling run of \($p.seconds) s after it (perf stat): system calls / context switches | \($p.syscalls_per_intent | num(1)) / \($p.context_switches_per_intent | num(1)) | -- | -- |",
    "| \(.scenario): the workers' top symbols (perf record, self) | \([$p.top[:8][] | "\(.pct)% \(.sym)"] | join("; ")) | -- | -- |";
# The fleet's ceiling: one row per ow-ceiling run, PostgreSQL's then Redis's.
def ceiling_table($c):
  if $c == null then empty else
  "",
  "The fleet's ceiling (ow-ceiling on a stack without workers, batches of \($c.batch), \($c.duration_s) s a run): the worker's ledger calls alone against PostgreSQL, then its Redis calls alone against Redis; the server's CPU from /proc, the machine's busy fraction from /proc/stat:",
  "",
  "| server, connections | intents/s | server CPU per intent | server cores busy | machine busy | transactions (PostgreSQL) or commands (Redis) per intent | calls p50 / p99 |",
  "|---|---|---|---|---|---|---|",
  (($c.ledger[] | . + {srv: "PostgreSQL"}), ($c.quota[] | . + {srv: "Redis"})
   | "| \(.srv), \(.connections) | \(.intents_per_s | int_sep) | \(.server_us_per_intent | num(0)) us | \(.server_cores_busy | num(2)) | \(.machine_busy_fraction | num(2)) | \((.postgres_transactions_per_intent // .redis_commands_per_intent) | num(2)) | \(.calls | to_entries | map("\(.key) \(.value.p50_ms | num(2)) / \(.value.p99_ms | num(2)) ms") | join("; ")) |")
  end;
def rejections: if (.rejections_per_s | type) == "number" then " (rejections: \(.rejections_per_s | num(1)) /s)" else " (rejections: n/a)" end;

.quick as $quick
| .scenarios as $s
| ($s | to_entries | map(select(.key | startswith("latency-"))) | .[0].value) as $lat
| ($s["throughput-1"]) as $t1
| ($s["throughput-2"]) as $t2
| ([$s | to_entries[] | select(.key | startswith("realtime-")) | .value] | sort_by(.rate)) as $rt
| $s.backlog as $b
| $s.budget as $bu
| $s.priority as $pr
| $s.ceiling as $ce
| [
  "Benchmark results\(if $quick then " (quick: tiny sizes; it only checks that every scenario works)" else "" end)",
  "",
  "- date: \(.date) (finished \(.finished))",
  "- command: `\(.command)` (\(.ports))",
  "- machine: \(.machine.cpu_model), \(.machine.cpus) CPUs, \(.machine.mem_total_kb / 1048576 | num(1)) GiB; `\(.machine.uname)`",
  "- versions: \(.machine.versions.loadgen_libs); hiredis \(.machine.versions.hiredis); libpq \(.machine.versions.libpq); \(.machine.versions.postgresql); \(.machine.versions.redis_server); commit \(.machine.versions.git_commit[0:12])\(if .machine.versions.git_uncommitted_changes > 0 then " (+ uncommitted changes)" else "" end)",
  (if (.failed_scenarios | length) > 0 then "- **scenarios without numbers: \(.failed_scenarios | join(", "))**" else empty end),
  "",
  "| figure | measured | target | met? |",
  "|---|---|---|---|",
  (if $t1 then "| sustained throughput, 1 replica (fills/s over \($t1.loadgen.config.duration_s) s after \($t1.loadgen.config.warmup_s) s warm-up; rejections apart) | \($t1.loadgen.throughput.intents_per_s | int_sep) /s\($t1.loadgen.throughput | rejections) | -- | -- |" else empty end),
  (if $t2 then "| sustained throughput, 2 replicas (fills/s) | \($t2.loadgen.throughput.intents_per_s | int_sep) /s\($t2.loadgen.throughput | rejections) | >= 5,000 /s | \(met($quick; $t2.loadgen.throughput.intents_per_s >= 5000)) |" else empty end),
  ($t1, $t2 | select(.) | cpu_row),
  ($t1, $t2 | select(.) | select(.profile) | profile_rows),
  (if $lat then
    ($lat.loadgen.latency_created_to_accepted) as $l
    | ($lat.worker_processing) as $w
    | "| fills/s at a fixed offered \($lat.loadgen.config.rate) intents/s (\($lat.replicas) replica\(if $lat.replicas == 1 then "" else "s" end)) | \($lat.loadgen.throughput.intents_per_s | num(0)) /s\($lat.loadgen.throughput | rejections) | -- | -- |",
      "| created_at -> `accepted` read back, p50 / p90 / p99 / max\(if ($lat.loadgen.throughput.intents_per_s // 0) < 0.95 * ($lat.loadgen.config.rate | numbers) then " (the offered load is above what the workers complete: these are mostly queueing)" else "" end) | \($l.p50_ms | num(1)) / \($l.p90_ms | num(1)) / \($l.p99_ms | num(1)) / \($l.max_ms | num(1)) ms | p99 <= 25 ms | \(met($quick; $l.p99_ms >= 0 and $l.p99_ms <= 25)) |",
      "| consume -> outcome in the worker (histogram, bucket bounds), p50 / p90 / p99 | <= \($w.p50_ms) / <= \($w.p90_ms) / <= \($w.p99_ms) ms | p99 <= 5 ms | \(met($quick; ($w.p99_ms | type) == "number" and $w.p99_ms <= 5)) |",
      "| worker CPU per intent (user + system) | \($lat.worker_cpu.us_per_intent | num(0)) us | <= 50 us | \(met($quick; $lat.worker_cpu.us_per_intent != null and $lat.worker_cpu.us_per_intent <= 50)) |",
      "| worker peak RSS at that load, per replica | \([$lat.worker_memory[].vmhwm_kb | mb] | join(" / ")) | -- | -- |"
   else empty end),
  ($rt[] | realtime_rows($quick; if .rate <= 20 then {acc: 25, fill: 150, sim: 20} else {acc: 50, fill: 250, sim: 50} end)),
  (if $b then
      "| peak RSS per replica, \($b.backlog | int_sep) intents backlog | \([$b.peak_rss_kb_per_replica[] | mb] | join(" / ")) | <= 64 MB | \(met($quick; [$b.peak_rss_kb_per_replica[]] | length > 0 and max <= 65536)) |",
      "| backlog drain rate, fills/s (\($b.replicas) replica\(if $b.replicas == 1 then "" else "s" end); \($b.drained | int_sep) of \($b.backlog | int_sep) filled\(if ($b.rejected // 0) > 0 then ", \($b.rejected | int_sep) rejected" else "" end)\(if $b.complete then "" else ", capped at \($b.drain_cap_s) s" end)) | \($b.drain_rate_per_s | num(0)) /s | -- | -- |",
      "| load generator's own send rate (publishing the backlog) | \($b.producer.send_rate_per_s | int_sep) /s | above the throughput | \(met($quick; $b.producer.send_rate_per_s > (($t2 // $t1).loadgen.throughput.intents_per_s // 0))) |"
   else empty end),
  (if $bu then
      "| budget run (\($bu.replicas) replicas, \($bu.calls_per_period_limit) calls / \($bu.period_ms / 1000) s, \($bu.offered_per_s) intents/s offered for \($bu.run_seconds) s): trading API calls in each full period | \([$bu.calls_per_full_period[].calls] | map(tostring) | join(", ")) | >= \(($bu.bots_share // $bu.calls_per_period_limit) * 0.975 | floor) each (97.5% of the bots' share, \($bu.bots_share // $bu.calls_per_period_limit): \($bu.reserve_pct // 0)% is kept for users and cancels) | \(met($quick; ($bu.calls_per_full_period | length) > 0 and $bu.min_calls_in_a_full_period >= (($bu.bots_share // $bu.calls_per_period_limit) * 0.975 | floor))) |",
      "| budget run: responses_429 (max requests in any period: \($bu.max_requests_in_any_period)) | \($bu.responses_429) | 0 | \(met($quick; $bu.responses_429 == 0)) |",
      "| budget run: oldest waiting intent at the end (longest wait to `accepted`: \($bu.longest_wait_to_accepted_ms / 1000 | num(1)) s) | \(if $bu.oldest_waiting_intent_age_ms >= 0 then "\($bu.oldest_waiting_intent_age_ms / 1000 | num(1)) s" else "none waiting" end) | -- | -- |"
   else empty end),
  (if $pr then
      "| priority run (\($pr.replicas) replicas, \($pr.calls_per_period_limit) calls / \($pr.period_ms / 1000) s; \($pr.flood_intents) bot intents flooding): user intent published -> `accepted` read back, p50 / p99 / max (\($pr.user_to_accepted.n) of \($pr.user_to_accepted.n + $pr.user_missing)) | \($pr.user_to_accepted.p50_ms // "-") / \($pr.user_to_accepted.p99_ms // "-") / \($pr.user_to_accepted.max_ms // "-") ms | p99 <= 2,000 ms | \(met($quick; $pr.user_missing == 0 and ($pr.user_to_accepted.p99_ms // 1e9) <= 2000)) |",
      "| priority run: cancel request published -> its outcome read back, p50 / p99 / max (\($pr.cancel_outcomes | to_entries | map("\(.value) \(.key)") | join(", "))) | \($pr.cancel_to_outcome.p50_ms // "-") / \($pr.cancel_to_outcome.p99_ms // "-") / \($pr.cancel_to_outcome.max_ms // "-") ms | p99 <= 2,000 ms | \(met($quick; $pr.cancel_missing == 0 and ($pr.cancel_to_outcome.p99_ms // 1e9) <= 2000)) |",
      "| priority run: budget wait p99 by priority (cancel / user / bot) | \($pr.budget_wait_by_priority.cancel.p99_ms // "-") / \($pr.budget_wait_by_priority.user.p99_ms // "-") / \($pr.budget_wait_by_priority.bot.p99_ms // "-") ms (bucket bounds) | -- | -- |",
      "| priority run: flood intents accepted by the end of the probes | \($pr.flood_accepted_by_end) of \($pr.flood_intents) | -- | -- |"
   else empty end),
  (if $ce then
      "| the fleet's ceiling: intents/s one PostgreSQL serves the ledger's calls alone / one Redis the quotas' and the budget's, the best run of the ceiling table below (ow-ceiling) | \([$ce.ledger[].intents_per_s] | max | int_sep) /s / \([$ce.quota[].intents_per_s] | max | int_sep) /s | -- | -- |"
   else empty end),
  stage_table($rt),
  ceiling_table($ce),
  "",
  "How each figure is measured: see bench/run.sh (header), bench/loadgen/ and bench/ceiling/ (the design comment of each file); the raw numbers are in the JSON file of the same name."
  ]
| .[]
