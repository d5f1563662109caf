/* apierr.h -- every error the simulator answers: Alpaca's codes, the HTTP
 * status of each and their fixed messages, named once.
 *
 * Alpaca's trading API puts an 8-digit code in its error bodies: the HTTP
 * status, then a number within it (40010000 a body it cannot read,
 * 40010001 an invalid field, 42210000 a request it understood but refuses).
 * Its market data API, and this simulator's control API, answer with a
 * message alone.  The model (book, orders, account, quotes, bars) reports
 * a failure as an apierr_t; respond.c turns it into the reply, so the
 * model never builds HTTP answers and no code or status is written twice.
 *
 * The error body is a JSON object of "code" (when the kind has one),
 * "message" and the extra fields, in the alphabetical order of their
 * names, as Alpaca prints them ({"buying_power":...,"code":...,
 * "cost_basis":...,"message":...}). */
#ifndef APIERR_H
#define APIERR_H

#include <stdarg.h>
#include <stddef.h>

/* Alpaca's codes. */
#define APIERR_CODE_BODY_FORMAT 40010000L     /* the body is not a JSON object */
#define APIERR_CODE_INVALID 40010001L         /* a field is missing or invalid */
#define APIERR_CODE_UNAUTHORIZED 40110000L
#define APIERR_CODE_FORBIDDEN 40310000L       /* the account may not (buying power, gate) */
#define APIERR_CODE_NOT_FOUND 40410000L
#define APIERR_CODE_METHOD 40510000L
#define APIERR_CODE_UNPROCESSABLE 42210000L   /* sub-penny, stop side, not cancelable */
#define APIERR_CODE_RATE_LIMITED 42910000L
#define APIERR_CODE_INTERNAL 50010000L

typedef enum {
    /* Trading API, with Alpaca's code. */
    APIERR_BODY_FORMAT = 0,    /* 400 40010000 "request body format is invalid" */
    APIERR_INVALID,            /* 422 40010001, message per case */
    APIERR_UNKNOWN_ASSET,      /* 422 40010001 "asset not found" */
    APIERR_UNAUTHORIZED,       /* 401 40110000 "request is not authorized" */
    APIERR_FORBIDDEN,          /* 403 40310000, message per case */
    APIERR_NOT_FOUND,          /* 404 40410000, message per case */
    APIERR_ORDER_NOT_FOUND,    /* 404 40410000 "order not found" */
    APIERR_METHOD_NOT_ALLOWED, /* 405 40510000 "method not allowed" */
    APIERR_UNPROCESSABLE,      /* 422 42210000, message per case */
    APIERR_RATE_LIMITED,       /* 429 42910000 "rate limit exceeded" */
    APIERR_INTERNAL,           /* 500 50010000 "internal server error" */
    /* Without a code: the market data API, the control API, the server. */
    APIERR_BAD_REQUEST,        /* 400, message per case */
    APIERR_BAD_VALUE,          /* 422, message per case */
    APIERR_NO_SUCH_SYMBOL,     /* 404, message per case (market data) */
    APIERR_NO_ROUTE,           /* 404 "not found" */
    APIERR_NO_METHOD,          /* 405 "method not allowed" (control API) */
    APIERR_TOO_LARGE,          /* 413 "request body too large" */
    APIERR_OUT_OF_MEMORY,      /* 500 "out of memory" (control API) */
    APIERR_UPGRADE_REQUIRED,   /* 426, message per case (/stream without a websocket) */
    APIERR_KIND_COUNT
} apierr_kind_t;

#define APIERR_MESSAGE_MAX 512
#define APIERR_FIELDS_MAX 2
#define APIERR_VALUE_MAX 64

/* An extra member of the error body, a decimal text. */
typedef struct apierr_field {
    const char *name;          /* a string literal */
    char value[APIERR_VALUE_MAX];
} apierr_field_t;

typedef struct apierr {
    int status;                /* HTTP status */
    long code;                 /* Alpaca's code, 0 for none */
    char message[APIERR_MESSAGE_MAX];
    size_t nfields;
    apierr_field_t fields[APIERR_FIELDS_MAX];
} apierr_t;

/* Sets e to kind with the kind's own message ("" for kinds whose message
 * is per case: use apierr_setf). */
void apierr_set(apierr_t *e, apierr_kind_t kind);
/* Sets e to kind with a formatted message. */
void apierr_setf(apierr_t *e, apierr_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* apierr_setf with a va_list. */
void apierr_vsetf(apierr_t *e, apierr_kind_t kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* An injected failure (faults.h) with HTTP status 400..599: code
 * status x 100000 + 10000 (50310000 for 503) and the status's message. */
void apierr_set_injected(apierr_t *e, int status);
/* Adds a member to the body (at most APIERR_FIELDS_MAX). */
void apierr_add_field(apierr_t *e, const char *name, const char *value);

#endif
