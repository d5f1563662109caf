/* server.c -- libmicrohttpd glue: requests in, replies out (see server.h).
 *
 * Owns the translation between libmicrohttpd and request.h / reply.h, and
 * nothing else: a connection's request_t is made when its headers have
 * arrived (query arguments and headers copied), fills with the body, is
 * handed to the handler once complete, and is freed when libmicrohttpd
 * says the request is over.  A reply that upgrades becomes libmicrohttpd's
 * upgrade response; its run() gets the socket on the connection's thread
 * (libmicrohttpd lets that thread block in thread-per-connection mode),
 * and the socket goes back to libmicrohttpd to be closed when it returns. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct server {
    struct MHD_Daemon *daemon;
    server_handler_fn handler;
    void *ctx;
};

/* Copies each query argument or header into the request. */
static enum MHD_Result server_copy_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    request_t *req = cls;
    int rc = kind == MHD_HEADER_KIND ? request_add_header(req, key, value)
                                     : request_add_query(req, key, value);
    return rc == 0 ? MHD_YES : MHD_NO;
}

/* A request for conn, with its query and headers; NULL when out of memory. */
static request_t *server_new_request(struct MHD_Connection *conn, const char *method,
                                     const char *url)
{
    request_t *req = malloc(sizeof(*req));
    if (req == NULL)
        return NULL;
    request_init(req, method, url);
    int nq = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, server_copy_value, req);
    int nh = MHD_get_connection_values(conn, MHD_HEADER_KIND, server_copy_value, req);
    if (nq < 0 || nh < 0 || req->npairs != (size_t)nq + (size_t)nh) {
        request_free(req);
        free(req);
        return NULL;
    }
    return req;
}

/* libmicrohttpd's upgrade handler: the connection is the reply's run()'s
 * until it returns. */
static void server_on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                              const char *extra_in, size_t extra_in_size, MHD_socket sock,
                              struct MHD_UpgradeResponseHandle *urh)
{
    const reply_upgrade_t *up = cls;
    (void)conn;
    (void)con_cls;
    up->run(up->ctx, sock, extra_in, extra_in_size);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* Switches protocols: 101 and the reply's headers (libmicrohttpd adds
 * Connection: Upgrade itself). */
static enum MHD_Result server_upgrade(struct MHD_Connection *conn, reply_t *r)
{
    struct MHD_Response *resp = MHD_create_response_for_upgrade(server_on_upgrade,
                                                                (void *)r->upgrade);
    if (resp == NULL)
        return MHD_NO;
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result server_send(struct MHD_Connection *conn, reply_t *r)
{
    if (r->upgrade)
        return server_upgrade(conn, r);
    char *text = NULL;
    size_t len = 0;
    if (r->body) {
        /* 15 significant digits print a real as the decimal it stands
         * for (189.12, not 189.12000000000001): fx_json_price_number. */
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
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
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
    request_t *req = *con_cls;
    if (req == NULL) {
        req = server_new_request(conn, method, url);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (request_append_body(req, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }

    req->method = method;
    req->path = url;
    reply_t r;
    reply_init(&r);
    srv->handler(srv->ctx, req, &r);
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
    request_t *req = *con_cls;
    if (req) {
        request_free(req);
        free(req);
        *con_cls = NULL;
    }
}

server_t *server_start(const char *host, int port, server_handler_fn handler, void *ctx,
                       char *err, size_t errlen)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *addr;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL | MHD_ALLOW_UPGRADE;
    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        addr = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        addr = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "--host %s is not an IPv4 or IPv6 address", host);
        return NULL;
    }
    server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->handler = handler;
    srv->ctx = ctx;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, server_on_request, srv,
        MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d (%s)", host, port,
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
