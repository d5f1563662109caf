/* app.h -- the simulator's one request handler, given to the HTTP server.
 *
 * Sends each request to its API: a body over the limit is answered 413,
 * /v2/... goes to api.c (Alpaca's trading and market data APIs),
 * /stream to stream.c (the trade_updates websocket, outside the REST
 * API's keys, rate limit and faults, as at Alpaca), /_sim/... to
 * control.c (the control API for tests), anything else is 404.  The fuzz
 * target calls it as the server does. */
#ifndef APP_H
#define APP_H

#include "reply.h"
#include "request.h"

/* A server_handler_fn (server.h); ctx is the sim_t. */
void app_handle(void *ctx, const request_t *req, reply_t *out);

#endif
