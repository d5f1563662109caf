/* server.c -- libmicrohttpd glue: bodies in, replies out (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "control.h"
#include "reply.h"
#include "request.h"

#define SERVER_MAX_BODY (64 * 1024)

struct server {
    struct MHD_Daemon *daemon;
    sim_t *sim;
};

typedef struct server_body {
    char *data;
    size_t len;
    size_t cap;
    int too_large;
} server_body_t;

const char *request_query(const request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *request_header(const request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static int server_append(server_body_t *b, const char *data, size_t len)
{
    if (b->too_large || b->len + len > SERVER_MAX_BODY) {
        b->too_large = 1;
        return 0;
    }
    if (b->len + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 1024;
        while (ncap < b->len + len + 1)
            ncap *= 2;
        char *nd = realloc(b->data, ncap);
        if (nd == NULL)
            return -1;
        b->data = nd;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static enum MHD_Result server_send(struct MHD_Connection *conn, reply_t *r)
{
    char *text = NULL;
    size_t len = 0;
    if (r->body) {
        /* 15 significant digits print market-data prices exactly
         * (189.12, not 189.12000000000001). */
        text = json_dumps(r->body, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (text == NULL)
            return MHD_NO;
        len = strlen(text);
    }
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    if (text)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=utf-8");
    if (r->has_ratelimit) {
        char v[32];
        snprintf(v, sizeof(v), "%d", r->rl_limit);
        MHD_add_response_header(resp, "X-Ratelimit-Limit", v);
        snprintf(v, sizeof(v), "%d", r->rl_remaining);
        MHD_add_response_header(resp, "X-Ratelimit-Remaining", v);
        snprintf(v, sizeof(v), "%lld", (long long)r->rl_reset);
        MHD_add_response_header(resp, "X-Ratelimit-Reset", v);
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result server_on_request(void *cls, struct MHD_Connection *conn,
                                         const char *url, const char *method,
                                         const char *version, const char *upload_data,
                                         size_t *upload_data_size, void **con_cls)
{
    (void)version;
    server_t *srv = cls;
    server_body_t *body = *con_cls;
    if (body == NULL) {
        body = calloc(1, sizeof(*body));
        if (body == NULL)
            return MHD_NO;
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (server_append(body, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }

    request_t req = {conn, method, url, body->data, body->len};
    reply_t r;
    reply_init(&r);
    if (body->too_large)
        reply_error(&r, 413, 0, "request body too large");
    else if (strncmp(url, "/v2/", 4) == 0)
        api_handle(srv->sim, &req, &r);
    else if (strncmp(url, "/_sim/", 6) == 0)
        control_handle(srv->sim, &req, &r);
    else
        reply_error(&r, 404, 0, "not found");

    enum MHD_Result rc = r.drop ? MHD_NO : server_send(conn, &r);
    reply_clear(&r);
    return rc;
}

static void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    server_body_t *body = *con_cls;
    if (body) {
        free(body->data);
        free(body);
        *con_cls = NULL;
    }
}

server_t *server_start(sim_t *sim, char *err, size_t errlen)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *addr;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL;
    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    if (inet_pton(AF_INET, sim->cfg.host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)sim->cfg.port);
        addr = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, sim->cfg.host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)sim->cfg.port);
        addr = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "--host %s is not an IPv4 or IPv6 address", sim->cfg.host);
        return NULL;
    }
    server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->sim = sim;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)sim->cfg.port, NULL, NULL, server_on_request, srv,
        MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d (%s)", sim->cfg.host, sim->cfg.port,
                 errno ? strerror(errno) : "libmicrohttpd refused the settings");
        free(srv);
        return NULL;
    }
    return srv;
}

void server_stop(server_t *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
