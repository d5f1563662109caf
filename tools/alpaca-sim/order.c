/* order.c -- order request validation, the stop rule and Order object
 * rendering (see order.h).  Stateless: nothing here touches the book. */
#include "order.h"

#include <stdio.h>
#include <string.h>

#include "simtime.h"

/* Bounds that keep every product and sum far from integer overflow (with
 * ORDER_MAX_QTY, order.h). */
#define ORDER_MAX_NOTIONAL (1000000000LL * 100LL)    /* $1e9 */
#define ORDER_MAX_PRICE (10000000LL * 10000LL)        /* $1e7 */

static const char *const order_side_names[] = {"buy", "sell"};
static const char *const order_type_names[] = {"market", "limit", "stop", "stop_limit"};
static const char *const order_tif_names[] = {"day", "gtc", "opg", "cls", "ioc", "fok"};
static const char *const order_status_names[] = {
    "accepted", "new", "partially_filled", "pending_cancel",
    "filled", "canceled", "expired", "rejected"};

const char *order_status_name(order_status_t s)
{
    return order_status_names[s];
}

int order_is_open(const order_t *o)
{
    return o->status == STATUS_ACCEPTED || o->status == STATUS_NEW ||
           o->status == STATUS_PARTIALLY_FILLED || o->status == STATUS_PENDING_CANCEL;
}

int64_t order_remaining_qty(const order_t *o)
{
    return o->req.has_qty ? o->req.qty - o->filled_qty : 0;
}

fx_money_t order_avg_price_e9(const order_t *o)
{
    /* value (1e-13) / qty (1e-9) = price (1e-4); x 1e5 gives 1e-9. */
    fx_money_t num = o->filled_value * 100000;
    fx_money_t avg = num / o->filled_qty;
    if ((num % o->filled_qty) * 2 >= o->filled_qty)
        avg++;
    return avg;
}

int order_id_valid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36)
        return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
            continue;
        }
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Index of s in names, or -1. */
static int order_lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* Field present and not JSON null. */
static const json_t *order_field(const json_t *body, const char *name)
{
    const json_t *v = json_object_get(body, name);
    return json_is_null(v) ? NULL : v;
}

/* Reads an enumerated string field.  Returns the index, or -1 with err set. */
static int order_enum_field(const json_t *body, const char *name, const char *const *names,
                            int n, const char *invalid_msg, apierr_t *err)
{
    const json_t *v = order_field(body, name);
    if (v == NULL) {
        apierr_setf(err, APIERR_INVALID, "%s is required", name);
        return -1;
    }
    int i = json_is_string(v) ? order_lookup(json_string_value(v), names, n) : -1;
    if (i < 0)
        apierr_setf(err, APIERR_INVALID, "%s", invalid_msg);
    return i;
}

/* Reads a positive decimal field with at most max_decimals fraction digits
 * into units of 10^-max_decimals.  Returns 0 or -1 with err set. */
static int order_amount_field(const json_t *v, const char *name, int max_decimals,
                              int64_t *out, apierr_t *err)
{
    char text[FX_TEXT_MAX];
    int is_number;
    if (fx_json_text(v, text, sizeof(text), &is_number) != 0) {
        apierr_setf(err, APIERR_INVALID, "invalid %s", name);
        return -1;
    }
    switch (fx_parse(text, max_decimals, is_number, out)) {
    case FX_OK:
        break;
    case FX_PRECISION:
        apierr_setf(err, APIERR_INVALID, "%s must have at most %d decimal places", name,
                    max_decimals);
        return -1;
    default:
        apierr_setf(err, APIERR_INVALID, "invalid %s", name);
        return -1;
    }
    if (*out <= 0) {
        apierr_setf(err, APIERR_INVALID, "%s must be > 0", name);
        return -1;
    }
    return 0;
}

/* Prices: at most 2 decimals from $1.00 up, at most 4 below (sub-penny
 * rule); stored in 1e-4 units. */
static int order_price_field(const json_t *v, const char *name, int64_t *out, apierr_t *err)
{
    char text[FX_TEXT_MAX];
    int is_number;
    int64_t e9;
    if (fx_json_text(v, text, sizeof(text), &is_number) != 0) {
        apierr_setf(err, APIERR_INVALID, "invalid %s", name);
        return -1;
    }
    fx_status_t st = fx_parse(text, 9, is_number, &e9);
    if (st == FX_SYNTAX || st == FX_RANGE) {
        apierr_setf(err, APIERR_INVALID, "invalid %s", name);
        return -1;
    }
    if (st == FX_OK && e9 <= 0) {
        apierr_setf(err, APIERR_INVALID, "%s must be > 0", name);
        return -1;
    }
    int64_t step = (st == FX_OK && e9 >= 1000000000) ? 10000000 : 100000;
    if (st == FX_PRECISION || e9 % step != 0) {
        apierr_setf(err, APIERR_UNPROCESSABLE,
                    "invalid %s %s. sub-penny increment does not fulfill minimum "
                    "pricing criteria",
                    name, text);
        return -1;
    }
    *out = e9 / 100000;
    if (*out > ORDER_MAX_PRICE) {
        apierr_setf(err, APIERR_INVALID, "%s is too large", name);
        return -1;
    }
    return 0;
}

/* symbol: a string that may name an asset (the book checks that it does). */
static int order_parse_symbol(const json_t *body, order_request_t *req, apierr_t *err)
{
    const json_t *v = order_field(body, "symbol");
    if (v == NULL) {
        apierr_setf(err, APIERR_INVALID, "symbol is required");
        return -1;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= sizeof(req->symbol)) {
        if (json_is_string(v))
            apierr_set(err, APIERR_UNKNOWN_ASSET);
        else
            apierr_setf(err, APIERR_INVALID, "invalid symbol");
        return -1;
    }
    snprintf(req->symbol, sizeof(req->symbol), "%s", json_string_value(v));
    return 0;
}

/* qty or notional, exactly one. */
static int order_parse_amount(const json_t *body, order_request_t *req, apierr_t *err)
{
    const json_t *qty = order_field(body, "qty"), *notional = order_field(body, "notional");
    if (qty == NULL && notional == NULL) {
        apierr_setf(err, APIERR_INVALID, "qty is required");
        return -1;
    }
    if (qty != NULL && notional != NULL) {
        apierr_setf(err, APIERR_INVALID, "only one of qty or notional can be specified");
        return -1;
    }
    if (qty != NULL) {
        if (order_amount_field(qty, "qty", FX_QTY_SCALE, &req->qty, err) != 0)
            return -1;
        req->has_qty = 1;
        return 0;
    }
    if (order_amount_field(notional, "notional", 2, &req->notional, err) != 0)
        return -1;
    req->has_notional = 1;
    return 0;
}

int order_check_size(const order_request_t *req, int64_t price, apierr_t *err)
{
    if (req->has_qty && req->qty > ORDER_MAX_QTY) {
        apierr_setf(err, APIERR_INVALID, "qty is too large");
        return -1;
    }
    if (req->has_notional &&
        (req->notional > ORDER_MAX_NOTIONAL || price <= 0 ||
         fx_notional_qty(req->notional, price) > ORDER_MAX_QTY)) {
        apierr_setf(err, APIERR_INVALID, "notional is too large");
        return -1;
    }
    return 0;
}

/* side, type and time_in_force, and what a notional order allows. */
static int order_parse_kind(const json_t *body, order_request_t *req, apierr_t *err)
{
    int i = order_enum_field(body, "side", order_side_names, 2, "invalid side", err);
    if (i < 0)
        return -1;
    req->side = (order_side_t)i;
    const json_t *v = order_field(body, "type");
    if (v != NULL && json_is_string(v) && strcmp(json_string_value(v), "trailing_stop") == 0) {
        apierr_setf(err, APIERR_INVALID, "trailing_stop orders are not supported by alpaca-sim");
        return -1;
    }
    i = order_enum_field(body, "type", order_type_names, 4, "invalid order type", err);
    if (i < 0)
        return -1;
    req->type = (order_type_t)i;
    i = order_enum_field(body, "time_in_force", order_tif_names, 6, "invalid time_in_force", err);
    if (i < 0)
        return -1;
    req->tif = (order_tif_t)i;
    if (req->has_notional && req->type != ORDER_MARKET) {
        apierr_setf(err, APIERR_INVALID, "notional orders must be market orders");
        return -1;
    }
    if (req->has_notional && req->notional < 100) {
        apierr_setf(err, APIERR_INVALID, "notional must be >= 1");
        return -1;
    }
    return 0;
}

/* limit_price or stop_price: required when the type wants it, refused
 * otherwise (allowed_for names the types in the message). */
static int order_parse_price(const json_t *body, const char *name, int wanted,
                             const char *allowed_for, int64_t *out, int *has, apierr_t *err)
{
    const json_t *v = order_field(body, name);
    if (wanted && v == NULL) {
        apierr_setf(err, APIERR_INVALID, "%s is required", name);
        return -1;
    }
    if (!wanted && v != NULL) {
        apierr_setf(err, APIERR_INVALID, "%s is only allowed for %s orders", name, allowed_for);
        return -1;
    }
    if (v != NULL) {
        if (order_price_field(v, name, out, err) != 0)
            return -1;
        *has = 1;
    }
    return 0;
}

/* extended_hours and the types and time in force it allows. */
static int order_parse_extended(const json_t *body, order_request_t *req, apierr_t *err)
{
    const json_t *v = order_field(body, "extended_hours");
    if (v != NULL) {
        if (!json_is_boolean(v)) {
            apierr_setf(err, APIERR_INVALID, "invalid extended_hours");
            return -1;
        }
        req->extended_hours = json_is_true(v);
    }
    if (req->extended_hours && req->type != ORDER_LIMIT) {
        apierr_setf(err, APIERR_INVALID, "only type=\"limit\" is allowed for extended hours orders");
        return -1;
    }
    if (req->extended_hours && req->tif != TIF_DAY) {
        apierr_setf(err, APIERR_INVALID,
                    "only time_in_force=\"day\" is allowed for extended hours orders");
        return -1;
    }
    return 0;
}

/* order_class (simple only) and client_order_id. */
static int order_parse_ids(const json_t *body, order_request_t *req, apierr_t *err)
{
    const json_t *v = order_field(body, "order_class");
    if (v != NULL) {
        if (!json_is_string(v)) {
            apierr_setf(err, APIERR_INVALID, "invalid order_class");
            return -1;
        }
        const char *oc = json_string_value(v);
        if (strcmp(oc, "") != 0 && strcmp(oc, "simple") != 0) {
            apierr_setf(err, APIERR_INVALID, "order_class %s is not supported by alpaca-sim",
                        strlen(oc) > 32 ? "(given)" : oc);
            return -1;
        }
    }
    v = order_field(body, "client_order_id");
    if (v != NULL) {
        if (!json_is_string(v)) {
            apierr_setf(err, APIERR_INVALID, "invalid client_order_id");
            return -1;
        }
        if (json_string_length(v) > ORDER_CLIENT_ID_MAX) {
            apierr_setf(err, APIERR_INVALID, "client_order_id must be no more than %d characters",
                        ORDER_CLIENT_ID_MAX);
            return -1;
        }
        snprintf(req->client_order_id, sizeof(req->client_order_id), "%s", json_string_value(v));
    }
    return 0;
}

int order_parse_request(const json_t *body, order_request_t *req, apierr_t *err)
{
    memset(req, 0, sizeof(*req));
    if (!json_is_object(body)) {
        apierr_set(err, APIERR_BODY_FORMAT);
        return -1;
    }
    /* In Alpaca's order: the first rule broken is the one answered. */
    int wants_limit, wants_stop;
    if (order_parse_symbol(body, req, err) != 0 || order_parse_amount(body, req, err) != 0 ||
        order_parse_kind(body, req, err) != 0)
        return -1;
    wants_limit = req->type == ORDER_LIMIT || req->type == ORDER_STOP_LIMIT;
    wants_stop = req->type == ORDER_STOP || req->type == ORDER_STOP_LIMIT;
    if (order_parse_price(body, "limit_price", wants_limit, "limit and stop_limit",
                          &req->limit_price, &req->has_limit, err) != 0 ||
        order_parse_price(body, "stop_price", wants_stop, "stop and stop_limit", &req->stop_price,
                          &req->has_stop, err) != 0 ||
        order_parse_extended(body, req, err) != 0 || order_parse_ids(body, req, err) != 0)
        return -1;
    return 0;
}

/* A stop must be on the far side of the market.  Returns 0, or -1 with
 * err set (422, with market_price and stop_price). */
int order_check_stop(const order_request_t *r, const quote_t *q, apierr_t *err)
{
    if (r->type != ORDER_STOP && r->type != ORDER_STOP_LIMIT)
        return 0;
    int buy = r->side == ORDER_BUY;
    int64_t market = buy ? q->ask : q->bid;
    if (buy ? r->stop_price > market : r->stop_price < market)
        return 0;
    char text[FX_TEXT_MAX];
    apierr_setf(err, APIERR_UNPROCESSABLE, "%s",
                buy ? "stop price must be greater than current price"
                    : "stop price must be less than current price");
    apierr_add_field(err, "market_price", fx_format(text, sizeof(text), market, FX_PRICE_SCALE));
    apierr_add_field(err, "stop_price",
                     fx_format(text, sizeof(text), r->stop_price, FX_PRICE_SCALE));
    return -1;
}

static json_t *order_time(int64_t us)
{
    char buf[SIMTIME_LEN];
    return us ? json_string(simtime_rfc3339_us(buf, sizeof(buf), us)) : json_null();
}

json_t *order_to_json(const order_t *o)
{
    const order_request_t *r = &o->req;
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(o->id));
    json_object_set_new(j, "client_order_id", json_string(r->client_order_id));
    json_object_set_new(j, "created_at", order_time(o->created_us));
    json_object_set_new(j, "updated_at", order_time(o->updated_us));
    json_object_set_new(j, "submitted_at", order_time(o->created_us));
    json_object_set_new(j, "filled_at", order_time(o->filled_us));
    json_object_set_new(j, "expired_at", order_time(o->expired_us));
    json_object_set_new(j, "canceled_at", order_time(o->canceled_us));
    json_object_set_new(j, "failed_at", json_null());
    json_object_set_new(j, "replaced_at", json_null());
    json_object_set_new(j, "replaced_by", json_null());
    json_object_set_new(j, "replaces", json_null());
    json_object_set_new(j, "asset_id", json_string(o->asset_id));
    json_object_set_new(j, "symbol", json_string(r->symbol));
    json_object_set_new(j, "asset_class", json_string("us_equity"));
    json_object_set_new(j, "notional", r->has_notional ? fx_json_string(r->notional, 2) : json_null());
    json_object_set_new(j, "qty", r->has_qty ? fx_json_string(r->qty, FX_QTY_SCALE) : json_null());
    json_object_set_new(j, "filled_qty", fx_json_string(o->filled_qty, FX_QTY_SCALE));
    if (o->filled_qty > 0) {
        json_object_set_new(j, "filled_avg_price", fx_json_string(order_avg_price_e9(o), 9));
    } else {
        json_object_set_new(j, "filled_avg_price", json_null());
    }
    json_object_set_new(j, "order_class", json_string(""));
    json_object_set_new(j, "order_type", json_string(order_type_names[r->type]));
    json_object_set_new(j, "type", json_string(order_type_names[r->type]));
    json_object_set_new(j, "side", json_string(order_side_names[r->side]));
    json_object_set_new(j, "position_intent", json_string(o->position_intent));
    json_object_set_new(j, "time_in_force", json_string(order_tif_names[r->tif]));
    json_object_set_new(j, "limit_price",
                        r->has_limit ? fx_json_string(r->limit_price, FX_PRICE_SCALE) : json_null());
    json_object_set_new(j, "stop_price",
                        r->has_stop ? fx_json_string(r->stop_price, FX_PRICE_SCALE) : json_null());
    json_object_set_new(j, "status", json_string(order_status_names[o->status]));
    json_object_set_new(j, "extended_hours", json_boolean(r->extended_hours));
    json_object_set_new(j, "legs", json_null());
    json_object_set_new(j, "trail_percent", json_null());
    json_object_set_new(j, "trail_price", json_null());
    json_object_set_new(j, "hwm", json_null());
    json_object_set_new(j, "expires_at", json_null());
    json_object_set_new(j, "subtag", json_null());
    json_object_set_new(j, "source", json_null());
    return j;
}
