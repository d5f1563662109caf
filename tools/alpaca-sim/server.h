/* server.h -- the HTTP server (libmicrohttpd): requests in, replies out.
 *
 * Knows HTTP only: it reads each request (request.h) whole, body included,
 * hands it to one handler, and sends the reply_t the handler filled
 * (reply.h).  Which paths exist and what they answer is the handler's
 * business (app.c).  One thread per connection: a request sleeping for an
 * injected latency or hang holds only its own connection, never the
 * others; a connection upgraded to another protocol (reply.h) keeps its
 * thread for as long as its reply_upgrade_t's run() goes on. */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

#include "reply.h"
#include "request.h"

typedef struct server server_t;

/* Answers one request: fills out (initialised by the server, status 500). */
typedef void (*server_handler_fn)(void *ctx, const request_t *req, reply_t *out);

/* Listens on host (IPv4 or IPv6 text) and port, calling handler(ctx, ...)
 * from the connection threads.  Returns NULL with a message in err. */
server_t *server_start(const char *host, int port, server_handler_fn handler, void *ctx,
                       char *err, size_t errlen);
/* Stops listening and waits for every connection thread; whatever handler
 * calls sleep must be woken first (sim_begin_stop), and every upgraded
 * connection's run() must have returned (stream_stop). */
void server_stop(server_t *srv);

#endif
