/* stream.h -- Alpaca's trade_updates websocket, at /stream on the REST
 * API's port (docs/simulator.md#the-trade_updates-stream).
 *
 * The hub: the handshake of GET /stream, every open connection with its
 * state (authorized, listening, silent), the order events the book reports
 * (book_set_observer) turned into messages and sent to each connection
 * listening, the stream faults (faults.h) and the stream's counters.  Each
 * connection runs on its own HTTP connection thread (server.c upgrades it)
 * and sends only what it is given, in order; the book's thread never writes
 * to a socket, so a slow client holds up nobody but itself.
 *
 * Protocol (JSON in binary frames, or text frames with --stream-frames
 * text; the client may send either):
 *   -> {"action":"authenticate","data":{"key_id":K,"secret_key":S}}
 *   <- {"stream":"authorization","data":{"status":"authorized"|"unauthorized",
 *                                        "action":"authenticate"}}
 *      (unauthorized: then a close frame 1008, and the connection ends)
 *   -> {"action":"listen","data":{"streams":["trade_updates"]}}
 *   <- {"stream":"listening","data":{"streams":["trade_updates"]}}  ([] to stop)
 *      before authenticating: {"stream":"authorization","data":{"status":
 *      "unauthorized","action":"listen"}}, and the connection stays open
 *   <- {"stream":"trade_updates","data":{"event":E,"order":{...},
 *      "position_qty":Q,"timestamp":T}} with, on fill and partial_fill,
 *      "execution_id", "price" and "qty" of that execution
 *   anything else -> {"stream":"error","data":{"error_message":...}}
 * Pings get pongs; a close gets a close; no replay: a connection gets the
 * events that happen while it listens, nothing from before. */
#ifndef STREAM_H
#define STREAM_H

#include <jansson.h>

#include "faults.h"
#include "reply.h"
#include "request.h"
#include "sim.h"

typedef struct stream stream_t;

/* A hub for sim: it observes sim->book and sets sim->stream.  Returns
 * NULL when out of memory. */
stream_t *stream_create(sim_t *sim);
/* GET /stream: 101 handing the connection to the hub, or 405, 426 (not a
 * websocket handshake, or not version 13) or 400 (a handshake without a
 * valid key or Connection: Upgrade).  s NULL: 404. */
void stream_handle(stream_t *s, const request_t *req, reply_t *out);
/* POST /_sim/faults: stream_drop closes every open connection; every open
 * connection is silent for stream_silent_ms from now (0: no longer). */
void stream_apply_faults(stream_t *s, const faults_settings_t *f);
/* POST /_sim/reset: zeroes the counters and ends every silence; the
 * connections stay open, authorized and listening. */
void stream_reset(stream_t *s);
/* Adds the stream_* counters to stats. */
void stream_add_stats(stream_t *s, json_t *stats);
/* Shutdown: sends each connection a close frame (1001) if it can without
 * waiting, ends them all and waits for their threads to leave the hub;
 * later upgrades end at once.  Before server_stop. */
void stream_stop(stream_t *s);
/* Stops observing the book and frees the hub; after stream_stop,
 * server_stop and the engine's end. */
void stream_destroy(stream_t *s);

#endif
