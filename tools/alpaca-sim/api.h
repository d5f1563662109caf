/* api.h -- the edge of the Alpaca side of the simulator: every /v2 path.
 *
 * Trading API and market data API share the port.  api_handle() counts
 * the request, then applies, in order: the key check (401), the trading
 * rate limit (429 and the X-Ratelimit-* headers, trading paths only),
 * injected faults, then the route (endpoints.h).  So a request failed by
 * an injected fault still used rate budget (it reached Alpaca's edge), and
 * a 401 carries no X-Ratelimit-* headers (its key is not known to be
 * real). */
#ifndef API_H
#define API_H

#include "reply.h"
#include "request.h"
#include "sim.h"

void api_handle(sim_t *sim, const request_t *req, reply_t *out);

#endif
