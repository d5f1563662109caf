/* alpaca_internal.h -- what alpaca.c shares with alpaca_batch.c: the
 * client's state and the halves of one call, so that several calls can be
 * driven together by a libcurl multi handle and still be prepared,
 * classified, counted and guarded exactly as a single call is.  Not part of
 * the client's interface (alpaca.h). */
#ifndef ALPACA_INTERNAL_H
#define ALPACA_INTERNAL_H

#include <curl/curl.h>

#include "alpaca.h"

typedef enum { API_TRADING, API_DATA } api_t;

struct alpaca {
    CURL *curl;
    const config_t *cfg;
    struct curl_slist *headers;
    char *body;                /* last answer, NUL terminated */
    size_t body_len, body_cap;
    int body_too_large;
    const char *upload;        /* POST body being sent, and how much was */
    size_t upload_len, upload_pos;
    alpaca_ratelimit_t answer_rl;  /* X-Ratelimit-* of the answer being read */
    alpaca_ratelimit_t last_rl;    /* ... of the last trading API answer */
    long answer_status;            /* HTTP status of the last answer, 0: none */
    circuits_t *circuits;          /* NULL: no breakers */
    budget_t *budget;              /* NULL: unpaced */
    budget_priority_t prio;        /* the call context (alpaca_set_call_context) */
    int64_t deadline_mono_ms;
    const atomic_int *abandon;
    int prepaid;                   /* a token is held for the next trading
                                      call (alpaca_set_prepaid) */
};

/* Sets a's handle up for method on url (NULL: the URL could not be built)
 * with body for POST, and clears the last answer.  0, or -1 with err. */
int alpaca_perform_setup(alpaca_t *a, const char *method, const char *url,
                         const char *path_for_errors, const char *body, alpaca_error_t *err);
/* Classifies the answer of a's finished transfer (rc: libcurl's result):
 * status first, then message. */
alpaca_result_t alpaca_perform_finish(alpaca_t *a, api_t api, const char *method,
                                      const char *path_for_errors, CURLcode rc,
                                      alpaca_error_t *err);
/* The breaker that guards a call, from its method and path. */
circuit_op_t alpaca_op_of(const char *method, const char *path);
/* A call not sent (ALPACA_BREAKER_OPEN or ALPACA_NO_BUDGET): err and the
 * metrics say why; returns r. */
alpaca_result_t alpaca_not_sent(circuit_op_t op, const char *method, const char *path,
                                alpaca_result_t r, alpaca_error_t *err);
/* A finished call's outcome to its breaker and the metrics. */
void alpaca_record_call(alpaca_t *a, circuit_op_t op, alpaca_result_t r, double took_s);
/* The order in a's answer, when r is ALPACA_OK (else r). */
alpaca_result_t alpaca_order_answer(alpaca_t *a, alpaca_result_t r, alpaca_order_t *out,
                                    alpaca_error_t *err);
/* POST /v2/orders's body for the intent (malloc'd; NULL without memory). */
char *alpaca_order_body(const intent_t *in, const char *client_order_id);

#endif
