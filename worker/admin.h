/* admin.h -- the replica's admin HTTP endpoint (ADMIN_ADDR:ADMIN_PORT):
 *
 *   GET /metrics   Prometheus text format (metrics.h)
 *   GET /healthz   200 while the process is alive (its consumer loop turns)
 *   GET /readyz    200 when ready to work, 503 otherwise; both with a JSON
 *                  body listing every check (kafka, postgres, redis,
 *                  breakers, consumer) with ok and a detail
 *
 * The checks themselves belong to whoever knows the state (intake.c): the
 * endpoint asks a probe function on each request.  Bodies never contain a
 * secret: details name hosts and states, never URLs with passwords. */
#ifndef ADMIN_H
#define ADMIN_H

#include <stddef.h>
#include "config.h"

#define ADMIN_MAX_CHECKS 8

typedef struct admin_report {
    int n;
    struct {
        char name[32];
        int ok;
        char detail[240];
    } check[ADMIN_MAX_CHECKS];
} admin_report_t;

typedef enum { ADMIN_PROBE_LIVE, ADMIN_PROBE_READY } admin_probe_t;

/* Fills out with the checks of the probe; the endpoint answers 200 when all
 * are ok.  Called from the endpoint's own thread. */
typedef void (*admin_probe_fn)(void *ud, admin_probe_t which, admin_report_t *out);

/* Adds a check to a report (for probe functions). */
void admin_report_add(admin_report_t *r, const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef struct admin admin_t;

/* Starts listening, or returns NULL with err (the port is taken, ...).  With
 * cfg->admin_port 0 returns NULL with err empty: no endpoint wanted. */
admin_t *admin_start(const config_t *cfg, admin_probe_fn probe, void *ud, char *err,
                     size_t errlen);
void admin_stop(admin_t *a);

#endif
