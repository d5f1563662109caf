/* admin.c -- the admin HTTP endpoint (see admin.h).
 *
 * Owns the listening socket and the answers of /metrics, /healthz and
 * /readyz.  Why a separate port per replica: Prometheus scrapes every
 * replica on its own, and an orchestrator probes each one; none of this may
 * share a port with anything that trades.  libmicrohttpd serves it from one
 * internal thread, so probe functions are never called concurrently; a slow
 * check (PostgreSQL unreachable) delays only the next scrape.  A scrape of
 * /metrics runs the readiness probe too (order_worker_ready). */
#include "admin.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"

struct admin {
    struct MHD_Daemon *daemon;
    admin_probe_fn probe;
    void *ud;
    char replica[128];
};

void admin_report_add(admin_report_t *r, const char *name, int ok, const char *fmt, ...) {
    if (r->n >= ADMIN_MAX_CHECKS) return;
    snprintf(r->check[r->n].name, sizeof(r->check[r->n].name), "%s", name);
    r->check[r->n].ok = ok;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->check[r->n].detail, sizeof(r->check[r->n].detail), fmt, ap);
    va_end(ap);
    r->n++;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status,
                                 const char *type, char *body, size_t len) {
    struct MHD_Response *resp =
        body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
                                  const char *message) {
    char *body = NULL;
    int n = asprintf(&body, "{\"error\":\"%s\"}\n", message);
    return send_text(conn, status, "application/json", n < 0 ? NULL : body,
                     n < 0 ? 0 : (size_t)n);
}

/* /healthz and /readyz: the probe's checks as JSON; 200 when all are ok. */
static enum MHD_Result send_probe(admin_t *a, struct MHD_Connection *conn,
                                  admin_probe_t which) {
    admin_report_t r;
    memset(&r, 0, sizeof(r));
    a->probe(a->ud, which, &r);
    int all_ok = 1;
    json_t *checks = json_object();
    for (int i = 0; i < r.n; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "ok", json_boolean(r.check[i].ok));
        json_object_set_new(c, "detail", json_string(r.check[i].detail));
        json_object_set_new(checks, r.check[i].name, c);
        if (!r.check[i].ok) all_ok = 0;
    }
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(which == ADMIN_PROBE_LIVE
                                                     ? (all_ok ? "alive" : "stuck")
                                                     : (all_ok ? "ready" : "not_ready")));
    json_object_set_new(o, "replica", json_string(a->replica));
    json_object_set_new(o, "checks", checks);
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!body) return send_error(conn, 500, "out of memory");
    size_t n = strlen(body);
    char *nl = realloc(body, n + 2);
    if (nl) {
        body = nl;
        body[n++] = '\n';
        body[n] = '\0';
    }
    return send_text(conn, all_ok ? 200 : 503, "application/json", body, n);
}

/* order_worker_ready and order_worker_ready_check{check}: the readiness
 * probe's verdicts as metrics, so that alerts ("no replica ready", "ledger
 * down") see what /readyz sees, computed at the scrape like /readyz is. */
static void refresh_readiness(admin_t *a) {
    admin_report_t r;
    memset(&r, 0, sizeof(r));
    a->probe(a->ud, ADMIN_PROBE_READY, &r);
    int all_ok = 1;
    metrics_clear(M_READY_CHECK);
    for (int i = 0; i < r.n; i++) {
        metrics_set(M_READY_CHECK, r.check[i].ok ? 1 : 0, r.check[i].name, NULL);
        if (!r.check[i].ok) all_ok = 0;
    }
    metrics_set(M_READY, all_ok, NULL, NULL);
}

/* libmicrohttpd's own messages (a failed bind, ...) become log lines. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    log_msg(LOG_WARN, "admin_http", NULL, "%s", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    (void)upload_data;
    admin_t *a = cls;
    /* First call of a request: only headers so far.  Bodies are not wanted. */
    if (*con_cls == NULL) {
        *con_cls = a;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(conn, 405, "only GET");
    if (!strcmp(url, "/metrics")) {
        refresh_readiness(a);
        size_t len = 0;
        char *text = metrics_render(&len);
        if (!text) return send_error(conn, 500, "out of memory");
        return send_text(conn, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    }
    if (!strcmp(url, "/healthz")) return send_probe(a, conn, ADMIN_PROBE_LIVE);
    if (!strcmp(url, "/readyz")) return send_probe(a, conn, ADMIN_PROBE_READY);
    return send_error(conn, 404, "not found: try /metrics, /healthz or /readyz");
}

admin_t *admin_start(const config_t *cfg, admin_probe_fn probe, void *ud, char *err,
                     size_t errlen) {
    err[0] = '\0';
    if (cfg->admin_port == 0) return NULL;
    admin_t *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->probe = probe;
    a->ud = ud;
    snprintf(a->replica, sizeof(a->replica), "%s", cfg->replica_id);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->admin_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->admin_port);
    } else if (inet_pton(AF_INET6, cfg->admin_addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->admin_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "ADMIN_ADDR \"%s\" is not an IP address", cfg->admin_addr);
        free(a);
        return NULL;
    }
    a->daemon = MHD_start_daemon(flags, (uint16_t)cfg->admin_port, NULL, NULL, on_request, a,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                                 MHD_OPTION_END);
    if (!a->daemon) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d (ADMIN_ADDR, ADMIN_PORT): the port is taken or "
                 "the address is not this host's",
                 cfg->admin_addr, cfg->admin_port);
        free(a);
        return NULL;
    }
    log_msg(LOG_INFO, "admin_listening", NULL, "GET /metrics /healthz /readyz on %s:%d",
            cfg->admin_addr, cfg->admin_port);
    return a;
}

void admin_stop(admin_t *a) {
    if (!a) return;
    MHD_stop_daemon(a->daemon);
    free(a);
}
