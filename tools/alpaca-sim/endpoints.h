/* endpoints.h -- the /v2 paths: their route table and handlers.
 *
 * Trading API: /v2/account, /v2/clock, /v2/orders (POST, GET),
 * /v2/orders:by_client_order_id, /v2/orders/{id} (GET, DELETE),
 * /v2/positions, /v2/positions/{symbol}, /v2/assets/{symbol}.  Market data
 * API: /v2/stocks/quotes/latest, /v2/stocks/{symbol}/bars,
 * /v2/stocks/{symbol}/quotes/latest.  Each handler reads the path
 * parameters and the query, calls the model (book.h, bars.h) and answers
 * with respond.h.  An unknown path is 404 {"message":"not found"}, a known
 * one with another method 405 with Alpaca's code. */
#ifndef ENDPOINTS_H
#define ENDPOINTS_H

#include "reply.h"
#include "request.h"
#include "sim.h"

/* Answers a /v2 request that passed api.c's edge (keys, limit, faults). */
void endpoints_route(sim_t *sim, const request_t *req, reply_t *out);

#endif
