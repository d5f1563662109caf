/* engine.h -- the matching engine's thread.
 *
 * Every tick_ms (a run-time setting, see book.h) it calls book_tick():
 * quotes walk, accepted orders become new, marketable orders fill,
 * pending cancels complete.  With tick_ms 0 it only waits (ticks then come
 * from POST /_sim/tick).  It stops with the simulator (sim_begin_stop). */
#ifndef ENGINE_H
#define ENGINE_H

#include <pthread.h>

#include "sim.h"

typedef struct engine {
    pthread_t thread;
    sim_t *sim;
    int running;
} engine_t;

/* Returns 0, or -1 if the thread cannot start. */
int engine_start(engine_t *e, sim_t *sim);
/* Waits for the thread; call sim_begin_stop() first. */
void engine_join(engine_t *e);

#endif
