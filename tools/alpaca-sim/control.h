/* control.h -- the simulator's own control API under /_sim/ (contract
 * section 6): stats, faults, quotes, reset, health.  No authentication, no
 * rate limit, no faults: tests must always be able to steer the simulator. */
#ifndef CONTROL_H
#define CONTROL_H

#include "reply.h"
#include "request.h"
#include "sim.h"

void control_handle(sim_t *sim, const request_t *req, reply_t *out);

#endif
