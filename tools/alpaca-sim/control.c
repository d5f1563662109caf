/* control.c -- the /_sim/ route table and its handlers (see control.h). */
#include "control.h"

#include <stdio.h>
#include <string.h>

#include "respond.h"
#include "router.h"
#include "stream.h"
#include "timefmt.h"

static void control_stats(void *ctx, const request_t *req, const router_match_t *m,
                          reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    if (!strcmp(req->method, "POST"))  /* the peaks start again from now */
        atomic_store(&sim->stats.order_posts_peak, atomic_load(&sim->stats.order_posts_now));
    json_t *j = json_object();
    stats_add_json(&sim->stats, j);
    json_object_set_new(j, "max_requests_in_any_period",
                        json_integer(ratelimit_max_in_period(&sim->ratelimit)));
    json_object_set_new(j, "rate_limit", json_integer(sim->cfg.calls_per_min));
    json_object_set_new(j, "rate_period_ms", json_integer(sim->cfg.rate_period_ms));
    book_add_stats(sim->book, j);
    stream_add_stats(sim->stream, j);
    json_object_set_new(j, "faults", faults_to_json(&sim->faults, timefmt_mono_ms()));
    respond_ok(out, j);
}

static void control_get_faults(void *ctx, const request_t *req, const router_match_t *m,
                               reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    (void)m;
    respond_ok(out, faults_to_json(&sim->faults, timefmt_mono_ms()));
}

static void control_set_faults(void *ctx, const request_t *req, const router_match_t *m,
                               reply_t *out)
{
    sim_t *sim = ctx;
    json_t *body = respond_read_body(req, out);
    if (body == NULL)
        return;
    faults_settings_t s;
    char err[160];
    int rc = faults_parse(body, &s, err, sizeof(err));
    json_decref(body);
    if (rc != 0) {
        respond_failf(out, APIERR_BAD_REQUEST, "%s", err);
        return;
    }
    faults_set(&sim->faults, &s, timefmt_mono_ms());
    stream_apply_faults(sim->stream, &s);
    control_get_faults(ctx, req, m, out);
}

static void control_get_quotes(void *ctx, const request_t *req, const router_match_t *m,
                               reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    (void)m;
    respond_ok(out, book_get_quotes(sim->book));
}

static void control_set_quotes(void *ctx, const request_t *req, const router_match_t *m,
                               reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    json_t *body = respond_read_body(req, out);
    if (body == NULL)
        return;
    apierr_t err;
    int updated = book_set_quotes(sim->book, body, &err);
    json_decref(body);
    if (updated < 0) {
        respond_error(out, &err);
        return;
    }
    json_t *j = json_object();
    json_object_set_new(j, "updated", json_integer(updated));
    respond_ok(out, j);
}

static void control_reset(void *ctx, const request_t *req, const router_match_t *m,
                          reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    (void)m;
    sim_reset(sim);
    stream_reset(sim->stream);
    json_t *j = json_object();
    json_object_set_new(j, "reset", json_true());
    respond_ok(out, j);
}

static void control_health(void *ctx, const request_t *req, const router_match_t *m,
                           reply_t *out)
{
    (void)ctx;
    (void)req;
    (void)m;
    json_t *j = json_object();
    json_object_set_new(j, "status", json_string("ok"));
    respond_ok(out, j);
}

static json_t *control_settings_json(const book_settings_t *s)
{
    json_t *j = json_object();
    json_object_set_new(j, "partial_fill_rate", json_real(s->partial_fill_rate));
    json_object_set_new(j, "quote_walk", json_boolean(s->quote_walk));
    json_object_set_new(j, "tick_ms", json_integer(s->tick_ms));
    json_object_set_new(j, "fill_on_submit", json_boolean(s->fill_on_submit));
    return j;
}

/* Applies a POST /_sim/config body onto s.  Returns 0, or -1 with out
 * answered (400). */
static int control_parse_settings(const json_t *body, book_settings_t *s, reply_t *out)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(body)) {
        respond_failf(out, APIERR_BAD_REQUEST, "body must be a JSON object");
        return -1;
    }
    json_object_foreach((json_t *)body, key, v) {
        if (strcmp(key, "partial_fill_rate") == 0) {
            double r = json_number_value(v);
            if (!json_is_number(v) || !(r >= 0.0 && r <= 1.0)) {
                respond_failf(out, APIERR_BAD_REQUEST,
                              "partial_fill_rate must be a number from 0 to 1");
                return -1;
            }
            s->partial_fill_rate = r;
        } else if (strcmp(key, "quote_walk") == 0 || strcmp(key, "fill_on_submit") == 0) {
            if (!json_is_boolean(v)) {
                respond_failf(out, APIERR_BAD_REQUEST, "%s must be a boolean", key);
                return -1;
            }
            if (strcmp(key, "quote_walk") == 0)
                s->quote_walk = json_is_true(v);
            else
                s->fill_on_submit = json_is_true(v);
        } else if (strcmp(key, "tick_ms") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 60000) {
                respond_failf(out, APIERR_BAD_REQUEST, "tick_ms must be an integer from 0 to 60000");
                return -1;
            }
            s->tick_ms = json_integer_value(v);
        } else {
            respond_failf(out, APIERR_BAD_REQUEST, "unknown field %.40s", key);
            return -1;
        }
    }
    return 0;
}

/* GET answers the settings; POST changes them first. */
static void control_config(void *ctx, const request_t *req, const router_match_t *m,
                           reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    book_settings_t s;
    book_get_settings(sim->book, &s);
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = respond_read_body(req, out);
        if (body == NULL)
            return;
        int rc = control_parse_settings(body, &s, out);
        json_decref(body);
        if (rc != 0)
            return;
        book_set_settings(sim->book, &s);
    }
    respond_ok(out, control_settings_json(&s));
}

static void control_get_market(void *ctx, const request_t *req, const router_match_t *m,
                               reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    (void)m;
    json_t *j = json_object();
    json_object_set_new(j, "open", json_boolean(book_market_is_open(sim->book)));
    respond_ok(out, j);
}

/* POST /_sim/market {"open": bool}: answers {"open", "expired"}. */
static void control_set_market(void *ctx, const request_t *req, const router_match_t *m,
                               reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    json_t *body = respond_read_body(req, out);
    if (body == NULL)
        return;
    json_t *open = json_object_get(body, "open");
    if (!json_is_object(body) || !json_is_boolean(open) || json_object_size(body) != 1) {
        respond_failf(out, APIERR_BAD_REQUEST, "body must be {\"open\": true|false}");
    } else {
        int is_open = json_is_true(open);
        long expired = book_set_market_open(sim->book, is_open);
        json_t *j = json_object();
        json_object_set_new(j, "open", json_boolean(is_open));
        json_object_set_new(j, "expired", json_integer(expired));
        respond_ok(out, j);
    }
    json_decref(body);
}

/* POST /_sim/account: answers the Account as GET /v2/account does. */
static void control_account(void *ctx, const request_t *req, const router_match_t *m,
                            reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    json_t *body = respond_read_body(req, out);
    if (body == NULL)
        return;
    account_update_t u;
    char err[160];
    int rc = account_parse_update(body, &u, err, sizeof(err));
    json_decref(body);
    if (rc != 0) {
        respond_failf(out, APIERR_BAD_REQUEST, "%s", err);
        return;
    }
    book_update_account(sim->book, &u);
    respond_ok(out, book_account(sim->book));
}

/* POST /_sim/tick [{"count": N}]: runs N engine ticks now (default 1). */
static void control_tick(void *ctx, const request_t *req, const router_match_t *m,
                         reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    json_int_t count = 1;
    if (req->body && req->body_len > 0) {
        json_t *body = respond_read_body(req, out);
        if (body == NULL)
            return;
        json_t *c = json_object_get(body, "count");
        if (c)
            count = json_is_integer(c) ? json_integer_value(c) : -1;
        json_decref(body);
        if (count < 1 || count > 100000) {
            respond_failf(out, APIERR_BAD_REQUEST, "count must be an integer from 1 to 100000");
            return;
        }
    }
    for (json_int_t i = 0; i < count; i++)
        book_tick(sim->book);
    json_t *j = json_object();
    json_object_set_new(j, "ticks", json_integer(count));
    respond_ok(out, j);
}

static const route_t control_routes[] = {
    {"GET", "/_sim/stats", control_stats},
    {"POST", "/_sim/stats", control_stats},
    {"GET", "/_sim/faults", control_get_faults},
    {"POST", "/_sim/faults", control_set_faults},
    {"GET", "/_sim/quotes", control_get_quotes},
    {"POST", "/_sim/quotes", control_set_quotes},
    {"POST", "/_sim/reset", control_reset},
    {"GET", "/_sim/config", control_config},
    {"POST", "/_sim/config", control_config},
    {"GET", "/_sim/market", control_get_market},
    {"POST", "/_sim/market", control_set_market},
    {"POST", "/_sim/account", control_account},
    {"POST", "/_sim/tick", control_tick},
    {"GET", "/_sim/health", control_health},
};

void control_handle(sim_t *sim, const request_t *req, reply_t *out)
{
    atomic_fetch_add(&sim->stats.control_requests, 1);
    size_t n = sizeof(control_routes) / sizeof(control_routes[0]);
    switch (router_dispatch(control_routes, n, sim, req, out)) {
    case ROUTER_HANDLED:
        break;
    case ROUTER_NO_METHOD:
        respond_fail(out, APIERR_NO_METHOD);
        break;
    case ROUTER_NO_PATH:
        respond_fail(out, APIERR_NO_ROUTE);
        break;
    }
}
