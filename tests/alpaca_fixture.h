/* alpaca_fixture.h -- what test_alpaca.c (against the simulator) and
 * test_alpaca_canned.c (against a canned server) share: the keys
 * tests/test_alpaca.sh puts in the environment, the client's config for a
 * server, the check that an error carries no key, and EXPECT_RESULT, which
 * prints the result expected and the one that came with its error; and
 * main's run of the tests with a client.
 *
 * Header-only (static inline), like unit.h: each test program is one file. */
#ifndef ALPACA_FIXTURE_H
#define ALPACA_FIXTURE_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alpaca.h"
#include "unit.h"

/* ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY (fixture_keys). */
static const char *key_id, *secret_key;

/* Reads the keys from the environment; 0, or -1 if either is missing. */
static inline int fixture_keys(void) {
    key_id = getenv("ALPACA_API_KEY_ID");
    secret_key = getenv("ALPACA_API_SECRET_KEY");
    return key_id && key_id[0] && secret_key && secret_key[0] ? 0 : -1;
}

/* A client config for the trading API at base and the data API at data,
 * with the environment's key id and the secret given. */
static inline void make_config(config_t *cfg, const char *base, const char *data,
                               const char *secret, int64_t timeout_ms) {
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->alpaca_base_url, sizeof(cfg->alpaca_base_url), "%s", base);
    snprintf(cfg->alpaca_data_url, sizeof(cfg->alpaca_data_url), "%s", data);
    snprintf(cfg->alpaca_key_id, sizeof(cfg->alpaca_key_id), "%s", key_id);
    snprintf(cfg->alpaca_secret_key, sizeof(cfg->alpaca_secret_key), "%s", secret);
    snprintf(cfg->alpaca_feed, sizeof(cfg->alpaca_feed), "iex");
    cfg->alpaca_timeout_ms = timeout_ms;
    cfg->alpaca_connect_timeout_ms = 1000;
}

/* An error never carries the keys. */
static inline int no_secret(const alpaca_error_t *e) {
    return strstr(e->message, secret_key) == NULL && strstr(e->message, key_id) == NULL;
}

static inline const char *result_name(alpaca_result_t r) {
    static const char *const names[] = {"OK",           "REJECTED",     "DUPLICATE",
                                        "NOT_FOUND",    "RATE_LIMITED", "UNAUTHORIZED",
                                        "TRANSIENT",    "BREAKER_OPEN", "NO_BUDGET"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "(unknown)";
}

/* The call's result is want; the message names both, and the call's error
 * (e, which it filled) when it did not succeed. */
static inline int expect_result(alpaca_result_t got, alpaca_result_t want, const alpaca_error_t *e,
                                const char *what, const char *file, int line) {
    char detail[320] = "";
    if (got != ALPACA_OK)
        snprintf(detail, sizeof(detail), ": HTTP %ld, code %ld, \"%s\"", e->http_status, e->code,
                 e->message);
    return unit_check(got == want, file, line, "%s (expected ALPACA_%s, got ALPACA_%s%s)", what,
                      result_name(want), result_name(got), detail);
}
#define EXPECT_RESULT(call, want, e) \
    expect_result((call), (want), (e), #call, __FILE__, __LINE__)

/* Runs the tests with *client a client of base (the trading API) and data
 * (the data API) under the keys of the environment: unit_main's status, or
 * 1 if the client could not be made. */
static inline int fixture_run(const unit_test_t *tests, int argc, char **argv, const char *base,
                              const char *data, alpaca_t **client) {
    config_t cfg;
    int rc = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    make_config(&cfg, base, data, secret_key, 2000);
    *client = alpaca_new(&cfg);
    if (*client)
        rc = unit_main(tests, argc, argv);
    else
        printf("FAIL: alpaca_new failed\n");
    alpaca_free(*client);
    *client = NULL;
    curl_global_cleanup();
    return rc;
}

#endif
