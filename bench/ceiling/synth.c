/* synth.c -- the synthetic intents and broker orders of ow-ceiling (see
 * synth.h).
 *
 * Owns: the bytes of a bot's intent and of the broker's answer for its
 * filled market order.  Why: the ledger's statements must see what they see
 * in production, byte for byte in shape and size (the message as received
 * is stored, the order's JSON too), and both go through the worker's own
 * parsers, so that a field the worker starts to read or store is read and
 * stored here as well.  The intent is ow-loadgen's market buy of qty 1 with
 * a small meta object, as bots send; the order is the object Alpaca (and
 * tools/alpaca-sim) returns, every field present. */
#include "synth.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "timefmt.h"

static const char *const SYMBOLS[] = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "SPY",
                                      "QQQ"};
#define N_SYMBOLS (sizeof(SYMBOLS) / sizeof(SYMBOLS[0]))

void synth_bot_id(uint32_t tag, uint32_t seq, int bots, char *out, size_t outlen) {
    snprintf(out, outlen, "cl-%08" PRIx32 "-%u", tag, seq % (uint32_t)bots);
}

int synth_intent_make(synth_intent_t *s, const config_t *cfg, uint32_t tag, uint32_t seq,
                      int bots, uint64_t *rng, char *err, size_t errlen) {
    char id[37], created[40];
    ids_make(tag, seq, rng, id);
    timefmt_format_rfc3339(timefmt_now_ms(), created, sizeof(created));
    synth_bot_id(tag, seq, bots, s->key, sizeof(s->key));
    int n = snprintf(s->body, sizeof(s->body),
                     "{\"intent_id\":\"%s\",\"bot_id\":\"%s\",\"user_id\":\"cl-user-%u\","
                     "\"symbol\":\"%s\",\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\","
                     "\"time_in_force\":\"day\",\"created_at\":\"%s\","
                     "\"meta\":{\"strategy\":\"ceiling\",\"signal\":%u}}",
                     id, s->key, seq % 1000u, SYMBOLS[seq % N_SYMBOLS], created, seq);
    s->len = (size_t)n;
    s->from = (origin_t){cfg->topic_bot, (int32_t)(seq % 64), (int64_t)seq, s->key,
                         strlen(s->key)};
    intent_verdict_t v;
    intent_decode(s->body, s->len, INTENT_SOURCE_BOT, cfg->intent_max_age_ms, &s->in, &v);
    if (v.status != INTENT_VALID) {
        snprintf(err, errlen, "the worker's validator refused a synthetic intent: %s%s%s",
                 v.n_errors ? v.errors[0].field : v.detail, v.n_errors ? ": " : "",
                 v.n_errors ? v.errors[0].message : "");
        intent_free(&s->in);
        return -1;
    }
    return 0;
}

void synth_intent_free(synth_intent_t *s) { intent_free(&s->in); }

int synth_order_filled(const intent_t *in, uint64_t *rng, alpaca_order_t *o, char *err,
                       size_t errlen) {
    char cid[64], now[40], body[1600];
    uint64_t a = ids_rng_next(rng), b = ids_rng_next(rng);
    intent_client_order_id(in, cid, sizeof(cid));
    timefmt_format_rfc3339(timefmt_now_ms(), now, sizeof(now));
    int n = snprintf(
        body, sizeof(body),
        "{\"id\":\"%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64 "-%012" PRIx64 "\","
        "\"client_order_id\":\"%s\",\"created_at\":\"%s\",\"updated_at\":\"%s\","
        "\"submitted_at\":\"%s\",\"filled_at\":\"%s\",\"expired_at\":null,\"canceled_at\":null,"
        "\"failed_at\":null,\"replaced_at\":null,\"replaced_by\":null,\"replaces\":null,"
        "\"asset_id\":\"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415\",\"symbol\":\"%s\","
        "\"asset_class\":\"us_equity\",\"notional\":null,\"qty\":\"%s\",\"filled_qty\":\"%s\","
        "\"filled_avg_price\":\"%" PRIu64 ".%02" PRIu64 "\",\"order_class\":\"\","
        "\"order_type\":\"market\",\"type\":\"market\",\"side\":\"%s\","
        "\"position_intent\":\"buy_to_open\",\"time_in_force\":\"%s\",\"limit_price\":null,"
        "\"stop_price\":null,\"status\":\"filled\",\"extended_hours\":false,\"legs\":null,"
        "\"trail_percent\":null,\"trail_price\":null,\"hwm\":null}",
        a >> 32, (a >> 16) & 0xFFFF, (a >> 4) & 0xFFF, b & 0xFFF, (uint64_t)((b >> 12) & 0xFFFFFFFFFFFFULL),
        cid, now, now, now, now, in->symbol, in->qty.text, in->qty.text, 100 + (a % 400),
        b % 100, in->side, in->time_in_force);
    const char *bad = NULL;
    if (n <= 0 || (size_t)n >= sizeof(body) ||
        alpaca_parse_order(body, (size_t)n, o, &bad) < 0) {
        snprintf(err, errlen, "the worker's parser refused a synthetic order: %s",
                 bad ? bad : "too long");
        return -1;
    }
    return 0;
}
