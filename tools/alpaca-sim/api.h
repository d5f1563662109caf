/* api.h -- the Alpaca side of the simulator: every /v2 path.
 *
 * Trading API (/v2/account, /v2/orders..., /v2/positions..., /v2/clock,
 * /v2/assets/...) and market data API (/v2/stocks/...) share the port.
 * api_handle() applies, in order: key check (401), the trading rate limit
 * (429, trading paths only), injected faults, then the route.  So a
 * request failed by an injected fault still used rate budget (it reached
 * Alpaca's edge), and a 401 carries no X-Ratelimit-* headers (its key is
 * not known to be real). */
#ifndef API_H
#define API_H

#include "reply.h"
#include "request.h"
#include "sim.h"

void api_handle(sim_t *sim, const request_t *req, reply_t *out);

#endif
