/* api.c -- /v2 authentication, rate limit, faults and counters (see api.h). */
#include "api.h"

#include <string.h>

#include "endpoints.h"
#include "respond.h"
#include "timefmt.h"

#define HANG_MS 60000

/* Compares without stopping at the first difference (no timing hint). */
static int api_secret_equal(const char *given, const char *want)
{
    if (given == NULL)
        return 0;
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = (unsigned char)(gl != wl);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}

int api_keys_valid(const sim_t *sim, const char *key_id, const char *secret)
{
    if (!sim->cfg.auth_required)
        return 1;
    return api_secret_equal(key_id, sim->cfg.key_id) &
           api_secret_equal(secret, sim->cfg.secret_key);
}

static int api_is_order_post(const request_t *req)
{
    return strcmp(req->method, "POST") == 0 && strcmp(req->path, "/v2/orders") == 0;
}

/* Answers kind's error and counts its status. */
static void api_refuse(sim_t *sim, reply_t *out, apierr_kind_t kind)
{
    respond_fail(out, kind);
    stats_count_status(&sim->stats, out->status);
}

/* Takes a trading request from key's budget and adds the X-Ratelimit-*
 * headers.  Returns 0 if it may go on, else -1 with out answered. */
static int api_take_budget(sim_t *sim, const char *key, reply_t *out)
{
    ratelimit_info_t info;
    int ok = ratelimit_take(&sim->ratelimit, key ? key : "", timefmt_mono_ms(), &info);
    if (ok < 0) {
        api_refuse(sim, out, APIERR_INTERNAL);
        return -1;
    }
    reply_header_int(out, "X-Ratelimit-Limit", info.limit);
    reply_header_int(out, "X-Ratelimit-Remaining", info.remaining);
    reply_header_int(out, "X-Ratelimit-Reset", info.reset_epoch_s);
    if (!ok) {
        atomic_fetch_add(&sim->stats.responses_429, 1);
        api_refuse(sim, out, APIERR_RATE_LIMITED);
        return -1;
    }
    return 0;
}

/* Applies the injected faults before the route.  Returns 0 if the request
 * goes on, else -1 with out answered or dropped. */
static int api_inject(sim_t *sim, const faults_plan_t *plan, reply_t *out)
{
    stats_t *st = &sim->stats;
    if (plan->hang) {
        atomic_fetch_add(&st->fault_hangs, 1);
        atomic_fetch_add(&st->hanging_now, 1);
        sim_sleep_ms(sim, HANG_MS);
        atomic_fetch_sub(&st->hanging_now, 1);
        out->drop = 1;
        return -1;
    }
    if (plan->latency_ms > 0)
        sim_sleep_ms(sim, plan->latency_ms);
    if (plan->fail_status) {
        apierr_t err;
        atomic_fetch_add(plan->outage ? &st->fault_outage_errors : &st->fault_errors, 1);
        apierr_set_injected(&err, plan->fail_status);
        respond_error(out, &err);
        stats_count_status(st, out->status);
        return -1;
    }
    return 0;
}

static void api_route(sim_t *sim, const request_t *req, reply_t *out);

/* Counts the request; an order POST is also counted in flight while it is
 * answered (order_posts_peak_in_flight: how many a client had going at
 * once). */
void api_handle(sim_t *sim, const request_t *req, reply_t *out)
{
    stats_t *st = &sim->stats;
    int is_data = strncmp(req->path, "/v2/stocks/", 11) == 0;
    atomic_fetch_add(&st->requests_total, 1);
    atomic_fetch_add(is_data ? &st->data_requests : &st->trading_requests, 1);
    if (!api_is_order_post(req)) {
        api_route(sim, req, out);
        return;
    }
    atomic_fetch_add(&st->order_posts, 1);
    unsigned long long now = atomic_fetch_add(&st->order_posts_now, 1) + 1;
    unsigned long long peak = atomic_load(&st->order_posts_peak);
    while (now > peak && !atomic_compare_exchange_weak(&st->order_posts_peak, &peak, now)) {
    }
    api_route(sim, req, out);
    atomic_fetch_sub(&st->order_posts_now, 1);
}

static void api_route(sim_t *sim, const request_t *req, reply_t *out)
{
    stats_t *st = &sim->stats;
    int is_data = strncmp(req->path, "/v2/stocks/", 11) == 0;

    const char *key = request_header(req, "APCA-API-KEY-ID");
    if (!api_keys_valid(sim, key, request_header(req, "APCA-API-SECRET-KEY"))) {
        atomic_fetch_add(&st->responses_401, 1);
        api_refuse(sim, out, APIERR_UNAUTHORIZED);
        return;
    }
    if (!is_data && api_take_budget(sim, key, out) != 0)
        return;
    faults_plan_t plan;
    faults_plan(&sim->faults, timefmt_mono_ms(), &plan);
    if (api_inject(sim, &plan, out) != 0)
        return;

    endpoints_route(sim, req, out);
    if (plan.drop && out->status == 200 && api_is_order_post(req)) {
        atomic_fetch_add(&st->fault_drops, 1);
        out->drop = 1;
        return;
    }
    stats_count_status(st, out->status);
}
