/* readiness.c -- the liveness and readiness checks (see readiness.h).
 *
 * Live: the consumer loop turns every 100 ms; a rebalance may hold it for a
 * drain of DRAIN_MS, so it is stuck only past that and a margin.
 *
 * Ready:
 *   kafka     librdkafka's statistics are recent and a broker connection
 *             is up; before the first statistics (KAFKA_STATS_INTERVAL_MS
 *             after the start), the group's assignment proves a connection;
 *   consumer  the group gave this replica its first assignment (possibly
 *             empty: a group with more replicas than partitions); before
 *             that it consumes nothing, and an orchestrator starting
 *             replicas in turn should wait;
 *   postgres  PQping answers (it needs no credentials and sends none) and
 *             the ledger's last statement did not fail;
 *   redis     PING answers, required only with QUOTA_REDIS_DOWN_MODE=closed;
 *   breakers  not every breaker that has seen calls is open. */
#include "readiness.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "timefmt.h"

void readiness_check_live(const config_t *cfg, const readiness_state_t *s, admin_report_t *r) {
    int64_t limit = cfg->drain_ms + 30000;
    admin_report_add(r, "consumer_loop", s->loop_age_ms <= limit,
                     "last turn %lld ms ago (limit %lld)", (long long)s->loop_age_ms,
                     (long long)limit);
}

static void check_kafka(const config_t *cfg, const readiness_state_t *s, admin_report_t *r) {
    int64_t at = s->stats_at_mono_ms, age = timefmt_mono_ms() - at;
    if (at == 0 && s->ever_assigned)
        admin_report_add(r, "kafka", 1, "group assignment received; no statistics yet");
    else if (at == 0)
        admin_report_add(r, "kafka", 0, "no statistics from librdkafka yet");
    else if (age > 3 * cfg->kafka_stats_ms + 1000)
        admin_report_add(r, "kafka", 0, "statistics are %lld ms old", (long long)age);
    else
        admin_report_add(r, "kafka", s->brokers_up > 0, "%d of %d broker connection(s) up",
                         s->brokers_up, s->brokers_known);
}

static void check_postgres(const config_t *cfg, const readiness_state_t *s,
                           admin_report_t *r) {
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {cfg->database_url, "2", NULL};
    PGPing ping = PQpingParams(keys, vals, 1);
    admin_report_add(r, "postgres", ping == PQPING_OK && !s->ledger_down, "%s%s",
                     ping == PQPING_OK       ? "accepting connections"
                     : ping == PQPING_REJECT ? "rejecting connections"
                     : ping == PQPING_NO_ATTEMPT ? "bad connection parameters"
                                                 : "no response",
                     s->ledger_down ? "; the ledger's last statement failed" : "");
}

static void check_redis(const config_t *cfg, const readiness_state_t *s, admin_report_t *r) {
    char err[256] = "";
    redisReply *rep = s->redis ? redisconn_command(s->redis, err, sizeof(err), "PING") : NULL;
    int redis_ok = rep != NULL;
    if (rep) freeReplyObject(rep);
    int required = cfg->quota_down_mode == 2; /* QUOTA_REDIS_DOWN_MODE=closed */
    admin_report_add(r, "redis", redis_ok || !required, "%s%s",
                     redis_ok ? "PONG" : err[0] ? err : "unreachable",
                     redis_ok   ? ""
                     : required ? " (QUOTA_REDIS_DOWN_MODE=closed: required)"
                                : " (QUOTA_REDIS_DOWN_MODE=local: quotas kept locally)");
}

void readiness_check_ready(const config_t *cfg, const readiness_state_t *s, admin_report_t *r) {
    if (s->draining) admin_report_add(r, "stopping", 0, "draining before exit");
    check_kafka(cfg, s, r);
    if (s->ever_assigned)
        admin_report_add(r, "consumer", 1, "in group %s, %d partition(s) assigned",
                         cfg->kafka_group_id, s->assigned);
    else
        admin_report_add(r, "consumer", 0, "waiting for the group's first assignment");
    check_postgres(cfg, s, r);
    check_redis(cfg, s, r);
    int open = 0, used = 0;
    circuits_open_count(s->circuits, &open, &used);
    admin_report_add(r, "breakers", used == 0 || open < used,
                     "%d of the %d breakers that have seen calls are open", open, used);
}
