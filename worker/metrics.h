/* metrics.h -- the process's Prometheus metrics: counters, gauges and
 * histograms, each family declared once in metrics.c with its help text and
 * label names, rendered by admin.c on GET /metrics.
 *
 * Every function is thread-safe and usable before metrics_free() from any
 * thread; label values are passed in the order the family declares them
 * (NULL for a family with fewer labels). */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    /* intake */
    M_INTENTS_CONSUMED,      /* counter {topic} */
    M_INTENT_SECONDS,        /* histogram {topic}: consumed -> first durable outcome */
    M_INTENTS_SETTLED,       /* counter {path}: batch or single */
    M_IN_FLIGHT,             /* gauge */
    M_PARTITIONS_ASSIGNED,   /* gauge */
    M_PARTITIONS_PAUSED,     /* gauge */
    M_CONSUMER_LAG,          /* gauge {topic, partition} */
    /* publishing */
    M_EVENTS_PUBLISHED,      /* counter {topic, type} */
    M_OUTCOMES,              /* counter {type, reason} */
    M_DEAD_LETTERS,          /* counter {reason} */
    /* where the time goes */
    M_STAGE_SECONDS,         /* histogram {path, stage}: see metrics_stage() */
    /* Alpaca */
    M_ALPACA_REQUESTS,       /* counter {operation, status} */
    M_ALPACA_SECONDS,        /* histogram {operation} */
    M_BREAKER_STATE,         /* gauge {operation, state} */
    M_BREAKER_TRANSITIONS,   /* counter {operation, to} */
    M_BUDGET_USED,           /* gauge: calls in the shared window at the last grant */
    M_BUDGET_LIMIT,          /* gauge */
    M_BUDGET_GRANTS,         /* counter {priority} */
    M_BUDGET_WAIT_SECONDS,   /* histogram {priority} */
    M_BUDGET_TIMEOUTS,       /* counter {priority} */
    M_BUDGET_LEASES,         /* counter: blocks of tokens leased to this replica */
    M_BUDGET_LEASED_TOKENS,  /* counter {fate}: spent, returned */
    M_CACHE_REQUESTS,        /* counter {kind, result} */
    /* the trade_updates stream (tradestream.h) */
    M_STREAM_LISTENING,      /* gauge: 1 listening, 0 not */
    M_STREAM_EVENTS,         /* counter {event} */
    M_STREAM_CONNECTS,       /* counter {result} */
    M_STREAM_QUEUE_DROPPED,  /* counter */
    /* following accepted orders (fills.c) */
    M_FOLLOW_MODE,           /* gauge {mode}: stream, poll, standby */
    M_FOLLOW_RECONCILES,     /* counter {why} */
    M_FOLLOW_SETTLED,        /* counter */
    M_OPERATOR_CANCELS,      /* counter {result}: operators' cancels' DELETEs (cancel_sender.c) */
    /* positions: the ledger's against Alpaca's (positions_check.c) */
    M_POSITION_MISMATCH,     /* gauge {symbol}: Alpaca's qty - the ledger's */
    M_POSITION_CHECKS,       /* counter {result}: ok, failed */
    /* quotas */
    M_QUOTA_REFUSALS,        /* counter {subject} */
    /* Redis */
    M_REDIS_ROUND_TRIPS,     /* counter {use}: quota, budget */
    /* who may trade */
    M_UNAUTHORIZED,          /* counter {why} */
    /* readiness, refreshed by admin.c at every scrape */
    M_READY,                 /* gauge: 1 when /readyz would answer 200 */
    M_READY_CHECK,           /* gauge {check}: 1 ok, 0 failing */
    M_COUNT
} metric_t;

/* Adds v to a counter (or a gauge). */
void metrics_add(metric_t m, double v, const char *l1, const char *l2);

/* Sets a gauge. */
void metrics_set(metric_t m, double v, const char *l1, const char *l2);

/* Records one observation (seconds) in a histogram. */
void metrics_observe(metric_t m, double v, const char *l1, const char *l2);

/* Records n observations of the same value (a batch's shared step, felt by
 * each of its n intents). */
void metrics_observe_n(metric_t m, double v, int n, const char *l1, const char *l2);

/* The stage histogram (order_worker_stage_seconds): n observations of the
 * time from since_mono_us (timefmt_mono_us()) to now, for stage of path
 * ("intake": an intent's way to its first outcome; "follow": an order's
 * events to their publication). */
void metrics_stage(const char *path, const char *stage, int64_t since_mono_us, int n);

/* Forgets every series of a family (gauges rebuilt from a fresh snapshot,
 * like the consumer lag of the partitions assigned now). */
void metrics_clear(metric_t m);

/* The whole registry in Prometheus text format 0.0.4: a malloc'd string
 * (*len its length), or NULL without memory. */
char *metrics_render(size_t *len);

/* Frees every series (at exit). */
void metrics_free(void);

#endif
