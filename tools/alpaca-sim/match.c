/* match.c -- matching rules and seeded fill draws (see match.h).
 * Stateless: the caller (book.c) holds the lock that guards the order. */
#include "match.h"

#include "rng.h"

int match_trigger(order_t *o, const quote_t *q)
{
    if (o->triggered || (o->req.type != ORDER_STOP && o->req.type != ORDER_STOP_LIMIT))
        return 0;
    if (o->req.side == ORDER_BUY ? (q->ask > 0 && q->ask >= o->req.stop_price)
                                 : (q->bid > 0 && q->bid <= o->req.stop_price)) {
        o->triggered = 1;
        return 1;
    }
    return 0;
}

int64_t match_price(const order_t *o, const quote_t *q)
{
    int64_t at = o->req.side == ORDER_BUY ? q->ask : q->bid;
    if (at <= 0)
        return 0;
    order_type_t type = o->req.type;
    if (type == ORDER_STOP || type == ORDER_STOP_LIMIT) {
        if (!o->triggered)
            return 0;
        type = type == ORDER_STOP ? ORDER_MARKET : ORDER_LIMIT;
    }
    if (type == ORDER_MARKET)
        return at;
    if (o->req.side == ORDER_BUY)
        return q->ask <= o->req.limit_price ? at : 0;
    return q->bid >= o->req.limit_price ? at : 0;
}

void match_size(order_t *o, int64_t price, double partial_fill_rate, int allow_partial,
                uint64_t seed, match_fill_t *out)
{
    uint64_t h = rng_hash(seed, o->seq, o->draws++);
    double u = (double)(h >> 11) * (1.0 / 9007199254740992.0);
    int partial = allow_partial && u < partial_fill_rate;
    int64_t per_mille = 200 + (int64_t)(rng_hash(h, 0x5eed, 1) % 601);
    out->partial = 0;
    out->notional = 0;
    if (o->req.has_notional) {
        int64_t left = o->req.notional - o->filled_notional;
        int64_t piece = partial ? (int64_t)((__int128)left * per_mille / 1000) : left;
        if (piece <= 0 || piece >= left)
            piece = left;
        else
            out->partial = 1;
        out->notional = piece;
        out->qty = (int64_t)fx_notional_qty(piece, price);
        return;
    }
    int64_t left = o->req.qty - o->filled_qty;
    int64_t unit = o->req.qty % FX_SHARE == 0 ? FX_SHARE : 1;
    int64_t piece = partial ? (int64_t)((__int128)left * per_mille / 1000) : left;
    piece -= piece % unit;
    if (piece <= 0 || piece >= left)
        piece = left;
    else
        out->partial = 1;
    out->qty = piece;
}
