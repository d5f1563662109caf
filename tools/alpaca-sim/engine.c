/* engine.c -- the thread that ticks the order book (see engine.h). */
#include "engine.h"

#define ENGINE_IDLE_MS 100 /* how often a paused engine looks at tick_ms again */

static void *engine_main(void *arg)
{
    engine_t *e = arg;
    for (;;) {
        book_settings_t s;
        book_get_settings(e->sim->book, &s);
        if (sim_sleep_ms(e->sim, s.tick_ms > 0 ? s.tick_ms : ENGINE_IDLE_MS))
            break;
        if (s.tick_ms > 0)
            book_tick(e->sim->book);
    }
    return NULL;
}

int engine_start(engine_t *e, sim_t *sim)
{
    e->sim = sim;
    e->running = pthread_create(&e->thread, NULL, engine_main, e) == 0;
    return e->running ? 0 : -1;
}

void engine_join(engine_t *e)
{
    if (e->running)
        pthread_join(e->thread, NULL);
    e->running = 0;
}
