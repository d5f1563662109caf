/* alpaca_parse.h -- Alpaca's answers: what they hold, and reading them.
 *
 * The pure half of the Alpaca client (alpaca.h): the answers' types and
 * what the client's calls do with an answer's bytes, with no I/O and no
 * state, so that tests and fuzzers reach every parser without a server.
 * body is len bytes (not necessarily NUL-terminated).  Each parser returns
 * 0, or -1 with *bad naming what is wrong (a static string; the calls
 * report it as ALPACA_TRANSIENT "unreadable ... in answer") and *out left
 * empty (nothing to free). */
#ifndef ALPACA_PARSE_H
#define ALPACA_PARSE_H

#include <stddef.h>
#include <stdint.h>

typedef struct alpaca_error {
    long http_status;      /* 0 when no answer arrived */
    long code;             /* Alpaca's 8-digit code, 0 if none */
    char message[256];     /* the broker's message, or what failed locally */
    int64_t retry_at_ms;   /* for 429: wall-clock ms when the limit resets */
} alpaca_error_t;

typedef struct alpaca_order {
    char id[64];
    char client_order_id[64];
    char status[32];
    char symbol[24];
    char side[8];
    char type[16];
    char time_in_force[8];
    char qty[48];             /* empty when null */
    char notional[48];
    char filled_qty[48];      /* "0" when none */
    char filled_avg_price[48];/* empty when null */
    char limit_price[48];
    char stop_price[48];
    char created_at[48];
    char updated_at[48];
    char filled_at[48];
    char submitted_at[48];
    char canceled_at[48];
    char expired_at[48];
    char failed_at[48];
    char order_class[16];
    int extended_hours;
    char *raw;                /* the order object as received (malloc'd JSON) */
} alpaca_order_t;

/* Frees o->raw (the rest of the struct is plain storage). */
void alpaca_order_clear(alpaca_order_t *o);
/* Frees a list of orders (NULL: nothing). */
void alpaca_orders_free(alpaca_order_t *orders, size_t n);

/* 1 if the order status is final at the broker (filled, canceled, expired,
 * rejected, replaced). */
int alpaca_status_is_terminal(const char *status);

typedef struct alpaca_account {
    char id[64];
    char account_number[64];
    char status[32];           /* ACTIVE, ACCOUNT_UPDATED, ... */
    char currency[8];
    char buying_power[48];
    char regt_buying_power[48];
    char non_marginable_buying_power[48];
    char cash[48];
    char equity[48];
    char last_equity[48];
    char portfolio_value[48];
    char long_market_value[48];
    char short_market_value[48];
    char multiplier[8];
    int trading_blocked;
    int account_blocked;
    int trade_suspended_by_user;
    int shorting_enabled;
} alpaca_account_t;

/* Whether orders may be placed: status ACTIVE and no block.  When not,
 * why is written to reason. */
int alpaca_account_can_trade(const alpaca_account_t *acc, char *reason,
                             size_t reason_len);

/* A latest quote (data API).  Prices as exact decimal text ("189.12"); "0"
 * when Alpaca sends 0. */
typedef struct alpaca_quote {
    char symbol[24];
    char t[48];          /* quote time, RFC 3339 as sent */
    char ask[32], bid[32];
    long long ask_size, bid_size;
    char ask_exchange[8], bid_exchange[8];
} alpaca_quote_t;

/* A bar (data API). */
typedef struct alpaca_bar {
    char t[48];
    char o[32], h[32], l[32], c[32], vw[32];
    long long v, n;
} alpaca_bar_t;

/* A position. */
typedef struct alpaca_position {
    char symbol[24];
    char asset_id[64];
    char side[8];              /* long | short */
    char qty[48];              /* signed: negative when short */
    char qty_available[48];
    char avg_entry_price[48];
    char market_value[48];
    char cost_basis[48];
    char current_price[48];
    char unrealized_pl[48];
} alpaca_position_t;

typedef struct alpaca_clock {
    int is_open;
    char timestamp[48], next_open[48], next_close[48];
} alpaca_clock_t;

/* What an answer said of the rate limit (X-Ratelimit-*); -1 where the
 * header was absent. */
typedef struct alpaca_ratelimit {
    long long limit, remaining, reset_epoch_s;
} alpaca_ratelimit_t;

/* One order object (POST /v2/orders, GET /v2/orders/{id}, by client id);
 * free out with alpaca_order_clear(). */
int alpaca_parse_order(const char *body, size_t len, alpaca_order_t *out,
                       const char **bad);
/* One order object already parsed by jansson (a json_t *), as above;
 * text (len bytes) is the object as it came, kept compact as the order's
 * raw text (NULL: jansson's rendering of j). */
struct json_t;
int alpaca_parse_order_json(struct json_t *j, const char *text, size_t len,
                            alpaca_order_t *out, const char **bad);
/* An array of orders (GET /v2/orders); free with alpaca_orders_free(). */
int alpaca_parse_orders(const char *body, size_t len, alpaca_order_t **out,
                        size_t *n, const char **bad);
int alpaca_parse_account(const char *body, size_t len, alpaca_account_t *out,
                         const char **bad);
/* An array of positions; *out malloc'd (free()). */
int alpaca_parse_positions(const char *body, size_t len, alpaca_position_t **out,
                           size_t *n, const char **bad);
int alpaca_parse_clock(const char *body, size_t len, alpaca_clock_t *out,
                       const char **bad);
/* symbol (may be NULL) names the quote when the answer does not. */
int alpaca_parse_quote(const char *body, size_t len, const char *symbol,
                       alpaca_quote_t *out, const char **bad);
/* One page of bars, appended to *bars (*n bars used of *cap allocated;
 * start from NULL, 0, 0 and free(*bars) when done, whatever the result).
 * *next_token is the page's next_page_token (malloc'd), or NULL on the last
 * page. */
int alpaca_parse_bars_page(const char *body, size_t len, alpaca_bar_t **bars,
                           size_t *n, size_t *cap, char **next_token,
                           const char **bad);
/* An error answer: fills http_status, code and message ({"code": N,
 * "message": "..."}, or "HTTP <status>" when the body says nothing). */
void alpaca_parse_error(const char *body, size_t len, long http_status,
                        alpaca_error_t *err);
/* One header line of an answer: a status line ("HTTP/...") resets *rl to
 * -1s; X-Ratelimit-Limit, -Remaining and -Reset (case-insensitive, integer
 * values) are stored; anything else is ignored. */
void alpaca_parse_header(const char *line, size_t len, alpaca_ratelimit_t *rl);

#endif
