/* app.c -- which API answers a request (see app.h). */
#include "app.h"

#include <string.h>

#include "api.h"
#include "control.h"
#include "respond.h"
#include "stream.h"

void app_handle(void *ctx, const request_t *req, reply_t *out)
{
    sim_t *sim = ctx;
    if (req->too_large)
        respond_fail(out, APIERR_TOO_LARGE);
    else if (strncmp(req->path, "/v2/", 4) == 0)
        api_handle(sim, req, out);
    else if (strcmp(req->path, "/stream") == 0)
        stream_handle(sim->stream, req, out);
    else if (strncmp(req->path, "/_sim/", 6) == 0)
        control_handle(sim, req, out);
    else
        respond_fail(out, APIERR_NO_ROUTE);
}
