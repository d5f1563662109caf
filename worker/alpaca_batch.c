/* alpaca_batch.c -- placements in flight together (see alpaca.h).
 *
 * A lane's batch moves its new intents into "submitting" together; this
 * sends their POST /v2/orders together too, so that the batch waits for one
 * round trip to the broker instead of one per order.  It owns a libcurl
 * multi handle and one client (alpaca_t) per order in flight; the multi
 * handle keeps their connections alive from batch to batch and multiplexes
 * them over one HTTP/2 connection where the server speaks it
 * (CURLOPT_PIPEWAIT: a request waits for a connection that can carry it
 * rather than opening another).
 *
 * Nothing about a single order changes: each POST is prepared, classified,
 * counted and guarded by its breaker by the same code as
 * alpaca_place_order (alpaca_internal.h), its body cannot be resent by
 * libcurl behind the caller's back (the upload does not rewind), and each
 * client's answer lands in its own buffer.  The budget's tokens are the
 * caller's: it takes one per order before it calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alpaca_internal.h"

struct alpaca_batch {
    CURLM *multi;
    alpaca_t **c;   /* max clients: the i-th order of a call uses c[i] */
    int max;
    char *url;      /* POST /v2/orders's, built once */
};

alpaca_batch_t *alpaca_batch_new(const config_t *cfg, int max, circuits_t *circuits,
                                 budget_t *budget) {
    alpaca_batch_t *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->max = max < 1 ? 1 : max;
    b->multi = curl_multi_init();
    b->c = calloc((size_t)b->max, sizeof(*b->c));
    size_t ulen = strlen(cfg->alpaca_base_url) + sizeof("/v2/orders");
    b->url = malloc(ulen);
    if (b->url) snprintf(b->url, ulen, "%s/v2/orders", cfg->alpaca_base_url);
    if (!b->multi || !b->c || !b->url) {
        alpaca_batch_free(b);
        return NULL;
    }
    curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)b->max);
    for (int i = 0; i < b->max; i++) {
        b->c[i] = alpaca_new(cfg);
        if (!b->c[i]) {
            alpaca_batch_free(b);
            return NULL;
        }
        alpaca_set_circuits(b->c[i], circuits);
        alpaca_set_budget(b->c[i], budget);
        curl_easy_setopt(b->c[i]->curl, CURLOPT_PIPEWAIT, 1L);
    }
    return b;
}

void alpaca_batch_free(alpaca_batch_t *b) {
    if (!b) return;
    for (int i = 0; b->c && i < b->max; i++) alpaca_free(b->c[i]);
    free(b->c);
    free(b->url);
    if (b->multi) curl_multi_cleanup(b->multi);
    free(b);
}

int alpaca_batch_max(const alpaca_batch_t *b) { return b->max; }

/* Runs the transfers added to the multi handle until none is left; each
 * one's result in rc[] (by client; one that never finished keeps what the
 * caller put there). */
static void run_all(alpaca_batch_t *b, const int *sent, int n, CURLcode *rc) {
    int running = 1;
    while (running) {
        if (curl_multi_perform(b->multi, &running) != CURLM_OK) break;
        if (running && curl_multi_poll(b->multi, NULL, 0, 1000, NULL) != CURLM_OK) break;
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(b->multi, &left)))
        for (int i = 0; msg->msg == CURLMSG_DONE && i < n; i++)
            if (sent[i] && b->c[i]->curl == msg->easy_handle) rc[i] = msg->data.result;
}

void alpaca_batch_place(alpaca_batch_t *b, const intent_t *const *in, const char *const *cids,
                        int n, alpaca_order_t *out, alpaca_error_t *err,
                        alpaca_result_t *res) {
    char *body[ALPACA_BATCH_MAX] = {0};
    int sent[ALPACA_BATCH_MAX] = {0};
    CURLcode rc[ALPACA_BATCH_MAX];
    if (n > b->max) n = b->max;
    if (n > ALPACA_BATCH_MAX) n = ALPACA_BATCH_MAX;
    for (int i = 0; i < n; i++) {
        alpaca_t *a = b->c[i];
        memset(&out[i], 0, sizeof(out[i]));
        rc[i] = CURLE_SEND_ERROR;  /* not finished: its outcome is unknown */
        if (a->circuits && !circuits_allow(a->circuits, OP_PLACE)) {
            res[i] = alpaca_not_sent(OP_PLACE, "POST", "/v2/orders", ALPACA_BREAKER_OPEN,
                                     &err[i]);
            continue;
        }
        body[i] = alpaca_order_body(in[i], cids[i]);
        if (alpaca_perform_setup(a, "POST", body[i] ? b->url : NULL, "/v2/orders", body[i],
                                 &err[i]) < 0 ||
            curl_multi_add_handle(b->multi, a->curl) != CURLM_OK) {
            if (!err[i].message[0])
                snprintf(err[i].message, sizeof(err[i].message), "POST /v2/orders: %s",
                         "cannot start the request");
            res[i] = ALPACA_TRANSIENT;
            alpaca_record_call(a, OP_PLACE, res[i], 0);
            continue;
        }
        sent[i] = 1;
    }
    run_all(b, sent, n, rc);
    for (int i = 0; i < n; i++) {
        if (!sent[i]) continue;
        alpaca_t *a = b->c[i];
        curl_multi_remove_handle(b->multi, a->curl);
        double took = 0;
        curl_easy_getinfo(a->curl, CURLINFO_TOTAL_TIME, &took);
        alpaca_result_t r = alpaca_perform_finish(a, API_TRADING, "POST", "/v2/orders", rc[i],
                                                  &err[i]);
        alpaca_record_call(a, OP_PLACE, r, took);
        if (a->budget)
            budget_observe(a->budget, a->last_rl.remaining, a->last_rl.reset_epoch_s,
                           r == ALPACA_RATE_LIMITED);
        res[i] = alpaca_order_answer(a, r, &out[i], &err[i]);
    }
    for (int i = 0; i < n; i++) free(body[i]);
}
