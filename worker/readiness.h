/* readiness.h -- the checks of /healthz and /readyz (admin.h).
 *
 * The consumer (intake.c) knows the state and takes a snapshot of it on
 * each request; the checks here turn it, and the answers of PostgreSQL and
 * Redis to a ping, into the report the admin endpoint sends.  A detail
 * names states, hosts and counts, never a URL or a secret. */
#ifndef READINESS_H
#define READINESS_H

#include <stdint.h>
#include "admin.h"
#include "circuits.h"
#include "config.h"
#include "redisconn.h"

/* What the consumer knows when asked. */
typedef struct readiness_state {
    int64_t loop_age_ms;        /* since the consumer loop's last turn */
    int draining;               /* stopping: finishing what it holds */
    int ever_assigned;          /* the group's first assignment came */
    int assigned;               /* partitions assigned now */
    int64_t stats_at_mono_ms;   /* librdkafka's last statistics, 0: none */
    int brokers_up, brokers_known;
    int ledger_down;            /* the ledger's last statement failed */
    redisconn_t *redis;         /* the checks' own connection; NULL: none */
    circuits_t *circuits;
} readiness_state_t;

/* /healthz: the consumer loop turns (a drain of revoked partitions may hold
 * it for up to DRAIN_MS). */
void readiness_check_live(const config_t *cfg, const readiness_state_t *s, admin_report_t *r);

/* /readyz: kafka, consumer, postgres, redis and breakers (and "stopping"
 * while draining). */
void readiness_check_ready(const config_t *cfg, const readiness_state_t *s, admin_report_t *r);

#endif
