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
    } else if (strcmp(u, "/_sim/health") == 0 && get) {
        json_t *j = json_object();
        json_object_set_new(j, "status", json_string("ok"));
        reply_json(out, 200, j);
    } else if (strcmp(u, "/_sim/stats") == 0 || strcmp(u, "/_sim/faults") == 0 ||
               strcmp(u, "/_sim/quotes") == 0 || strcmp(u, "/_sim/reset") == 0 ||
               strcmp(u, "/_sim/health") == 0) {
        reply_error(out, 405, 0, "method not allowed");
    } else {
        reply_error(out, 404, 0, "not found");
    }
}
