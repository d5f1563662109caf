/* stats.c -- atomic request counters (see stats.h). */
#include "stats.h"

static void stats_put(json_t *obj, const char *name, unsigned long long v)
{
    json_object_set_new(obj, name, json_integer((json_int_t)v));
}

void stats_reset(stats_t *s)
{
    atomic_store(&s->requests_total, 0);
    atomic_store(&s->trading_requests, 0);
    atomic_store(&s->order_posts, 0);
    atomic_store(&s->order_posts_peak, 0);
    atomic_store(&s->data_requests, 0);
    atomic_store(&s->control_requests, 0);
    atomic_store(&s->responses_2xx, 0);
    atomic_store(&s->responses_4xx, 0);
    atomic_store(&s->responses_5xx, 0);
    atomic_store(&s->responses_401, 0);
    atomic_store(&s->responses_429, 0);
    atomic_store(&s->fault_errors, 0);
    atomic_store(&s->fault_outage_errors, 0);
    atomic_store(&s->fault_hangs, 0);
    atomic_store(&s->fault_drops, 0);
    /* hanging_now is not a history: requests still hanging stay counted. */
}

void stats_count_status(stats_t *s, int status)
{
    if (status < 300)
        atomic_fetch_add(&s->responses_2xx, 1);
    else if (status < 500)
        atomic_fetch_add(&s->responses_4xx, 1);
    else
        atomic_fetch_add(&s->responses_5xx, 1);
}

void stats_add_json(stats_t *s, json_t *obj)
{
    stats_put(obj, "requests_total", atomic_load(&s->requests_total));
    stats_put(obj, "trading_requests", atomic_load(&s->trading_requests));
    stats_put(obj, "order_posts", atomic_load(&s->order_posts));
    stats_put(obj, "order_posts_peak_in_flight", atomic_load(&s->order_posts_peak));
    stats_put(obj, "data_requests", atomic_load(&s->data_requests));
    stats_put(obj, "control_requests", atomic_load(&s->control_requests));
    stats_put(obj, "responses_2xx", atomic_load(&s->responses_2xx));
    stats_put(obj, "responses_4xx", atomic_load(&s->responses_4xx));
    stats_put(obj, "responses_5xx", atomic_load(&s->responses_5xx));
    stats_put(obj, "responses_401", atomic_load(&s->responses_401));
    stats_put(obj, "responses_429", atomic_load(&s->responses_429));
    stats_put(obj, "fault_errors", atomic_load(&s->fault_errors));
    stats_put(obj, "fault_outage_errors", atomic_load(&s->fault_outage_errors));
    stats_put(obj, "fault_hangs", atomic_load(&s->fault_hangs));
    stats_put(obj, "fault_drops", atomic_load(&s->fault_drops));
    json_object_set_new(obj, "hanging_now", json_integer(atomic_load(&s->hanging_now)));
}
