/* control.c -- /_sim/ endpoints (see control.h). */
#include "control.h"

#include <stdio.h>
#include <string.h>

#include "timefmt.h"

static json_t *control_body(const request_t *req, reply_t *out)
{
    json_error_t jerr;
    json_t *body = req->body ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
    if (body == NULL)
        reply_error(out, 400, 40010000L, "request body format is invalid");
    return body;
}

static void control_stats(sim_t *sim, reply_t *out)
{
    json_t *j = json_object();
    stats_add_json(&sim->stats, j);
    json_object_set_new(j, "max_requests_in_any_period",
                        json_integer(ratelimit_max_in_period(&sim->ratelimit)));
    json_object_set_new(j, "rate_limit", json_integer(sim->cfg.calls_per_min));
    json_object_set_new(j, "rate_period_ms", json_integer(sim->cfg.rate_period_ms));
    book_add_stats(sim->book, j);
    json_object_set_new(j, "faults", faults_to_json(&sim->faults, timefmt_mono_ms()));
    reply_json(out, 200, j);
}

static void control_faults(sim_t *sim, const request_t *req, reply_t *out)
{
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = control_body(req, out);
        if (body == NULL)
            return;
        faults_settings_t s;
        char err[160];
        int rc = faults_parse(body, &s, err, sizeof(err));
        json_decref(body);
        if (rc != 0) {
            reply_error(out, 400, 0, "%s", err);
            return;
        }
        faults_set(&sim->faults, &s, timefmt_mono_ms());
    }
    reply_json(out, 200, faults_to_json(&sim->faults, timefmt_mono_ms()));
}

static void control_quotes(sim_t *sim, const request_t *req, reply_t *out)
{
    if (strcmp(req->method, "POST") != 0) {
        book_get_quotes(sim->book, out);
        return;
    }
    json_t *body = control_body(req, out);
    if (body == NULL)
        return;
    book_set_quotes(sim->book, body, out);
    json_decref(body);
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

/* Applies a POST /_sim/config body onto s.  Returns 0, or -1 with out set. */
static int control_parse_settings(const json_t *body, book_settings_t *s, reply_t *out)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(body)) {
        reply_error(out, 400, 0, "body must be a JSON object");
        return -1;
    }
    json_object_foreach((json_t *)body, key, v) {
        if (strcmp(key, "partial_fill_rate") == 0) {
            double r = json_number_value(v);
            if (!json_is_number(v) || !(r >= 0.0 && r <= 1.0)) {
                reply_error(out, 400, 0, "partial_fill_rate must be a number from 0 to 1");
                return -1;
            }
            s->partial_fill_rate = r;
        } else if (strcmp(key, "quote_walk") == 0 || strcmp(key, "fill_on_submit") == 0) {
            if (!json_is_boolean(v)) {
                reply_error(out, 400, 0, "%s must be a boolean", key);
                return -1;
            }
            if (strcmp(key, "quote_walk") == 0)
                s->quote_walk = json_is_true(v);
            else
                s->fill_on_submit = json_is_true(v);
        } else if (strcmp(key, "tick_ms") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 60000) {
                reply_error(out, 400, 0, "tick_ms must be an integer from 0 to 60000");
                return -1;
            }
            s->tick_ms = json_integer_value(v);
        } else {
            reply_error(out, 400, 0, "unknown field %.40s", key);
            return -1;
        }
    }
    return 0;
}

static void control_config(sim_t *sim, const request_t *req, reply_t *out)
{
    book_settings_t s;
    book_get_settings(sim->book, &s);
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = control_body(req, out);
        if (body == NULL)
            return;
        int rc = control_parse_settings(body, &s, out);
        json_decref(body);
        if (rc != 0)
            return;
        book_set_settings(sim->book, &s);
    }
    reply_json(out, 200, control_settings_json(&s));
}

/* POST /_sim/market {"open": bool}; GET answers {"open": bool}. */
static void control_market(sim_t *sim, const request_t *req, reply_t *out)
{
    if (strcmp(req->method, "POST") != 0) {
        json_t *j = json_object();
        json_object_set_new(j, "open", json_boolean(book_market_is_open(sim->book)));
        reply_json(out, 200, j);
        return;
    }
    json_t *body = control_body(req, out);
    if (body == NULL)
        return;
    json_t *open = json_object_get(body, "open");
    if (!json_is_object(body) || !json_is_boolean(open) || json_object_size(body) != 1)
        reply_error(out, 400, 0, "body must be {\"open\": true|false}");
    else
        book_set_market_open(sim->book, json_is_true(open), out);
    json_decref(body);
}

static void control_account(sim_t *sim, const request_t *req, reply_t *out)
{
    json_t *body = control_body(req, out);
    if (body == NULL)
        return;
    book_set_account(sim->book, body, out);
    json_decref(body);
}

/* POST /_sim/tick [{"count": N}]: runs N engine ticks now (default 1). */
static void control_tick(sim_t *sim, const request_t *req, reply_t *out)
{
    json_int_t count = 1;
    if (req->body && req->body_len > 0) {
        json_t *body = control_body(req, out);
        if (body == NULL)
            return;
        json_t *c = json_object_get(body, "count");
        if (c)
            count = json_is_integer(c) ? json_integer_value(c) : -1;
        json_decref(body);
        if (count < 1 || count > 100000) {
            reply_error(out, 400, 0, "count must be an integer from 1 to 100000");
            return;
        }
    }
    for (json_int_t i = 0; i < count; i++)
        book_tick(sim->book);
    json_t *j = json_object();
    json_object_set_new(j, "ticks", json_integer(count));
    reply_json(out, 200, j);
}

void control_handle(sim_t *sim, const request_t *req, reply_t *out)
{
    const char *u = req->url;
    int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    atomic_fetch_add(&sim->stats.control_requests, 1);
    if (strcmp(u, "/_sim/stats") == 0 && get) {
        control_stats(sim, out);
    } else if (strcmp(u, "/_sim/faults") == 0 && (get || post)) {
        control_faults(sim, req, out);
    } else if (strcmp(u, "/_sim/quotes") == 0 && (get || post)) {
        control_quotes(sim, req, out);
    } else if (strcmp(u, "/_sim/reset") == 0 && post) {
        sim_reset(sim);
        json_t *j = json_object();
        json_object_set_new(j, "reset", json_true());
        reply_json(out, 200, j);
    } else if (strcmp(u, "/_sim/config") == 0 && (get || post)) {
        control_config(sim, req, out);
    } else if (strcmp(u, "/_sim/market") == 0 && (get || post)) {
        control_market(sim, req, out);
    } else if (strcmp(u, "/_sim/account") == 0 && post) {
        control_account(sim, req, out);
    } else if (strcmp(u, "/_sim/tick") == 0 && post) {
        control_tick(sim, req, out);
    } else if (strcmp(u, "/_sim/health") == 0 && get) {
        json_t *j = json_object();
        json_object_set_new(j, "status", json_string("ok"));
        reply_json(out, 200, j);
    } else if (strcmp(u, "/_sim/stats") == 0 || strcmp(u, "/_sim/faults") == 0 ||
               strcmp(u, "/_sim/quotes") == 0 || strcmp(u, "/_sim/reset") == 0 ||
               strcmp(u, "/_sim/health") == 0 || strcmp(u, "/_sim/config") == 0 ||
               strcmp(u, "/_sim/market") == 0 || strcmp(u, "/_sim/account") == 0 ||
               strcmp(u, "/_sim/tick") == 0) {
        reply_error(out, 405, 0, "method not allowed");
    } else {
        reply_error(out, 404, 0, "not found");
    }
}
