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
/* 1 if key_id and secret (either may be NULL) are the simulator's keys,
 * or when it requires none; compared in constant time.  The REST API's
 * check, and the trade_updates stream's (stream.c). */
int api_keys_valid(const sim_t *sim, const char *key_id, const char *secret);

#endif
