/* control.h -- the simulator's own control API under /_sim/ (contract
 * section 6): stats, faults, quotes, reset, health, and for the paper
 * trading behaviour config (GET|POST: partial_fill_rate, quote_walk,
 * tick_ms, fill_on_submit), market (POST {"open":bool}: the session),
 * account (POST: flags and cash, see account.h) and tick (POST
 * {"count":N}: run engine ticks now, for tests with tick_ms 0).  No authentication, no
 * rate limit, no faults: tests must always be able to steer the simulator.
 * The trade_updates stream's part: its faults (stream_drop,
 * stream_silent_ms), its counters in stats, and reset, which ends its
 * silences and zeroes its counters but keeps its connections (stream.h). */
#ifndef CONTROL_H
#define CONTROL_H

#include "reply.h"
#include "request.h"
#include "sim.h"

void control_handle(sim_t *sim, const request_t *req, reply_t *out);

#endif
