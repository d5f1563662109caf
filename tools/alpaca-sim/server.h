/* server.h -- the HTTP server (libmicrohttpd) in front of api.c and control.c.
 *
 * One thread per connection: a request sleeping for an injected latency or
 * hang holds only its own connection, never the others.  Bodies are read
 * whole (at most 64 KiB) before the handler runs. */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

#include "sim.h"

typedef struct server server_t;

/* Listens on sim->cfg.host:port.  Returns NULL with a message in err. */
server_t *server_start(sim_t *sim, char *err, size_t errlen);
/* Stops listening and waits for every connection thread; call
 * sim_begin_stop() first so that sleeping requests wake up. */
void server_stop(server_t *srv);

#endif
