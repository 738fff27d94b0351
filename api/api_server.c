/* api_server.c: two libmicrohttpd listeners (HTTPS with optional client certificates, plain HTTP
 * for the public routes), the request state machine and the per-request log line.
 *
 * libmicrohttpd 0.9.75 facts this follows (../shared/notes/MHD.md): an answer queued in the first
 * access-handler call gets "Connection: close", so requests are answered on a later call; epoll
 * with a thread pool is the fast mode (plain HTTP; HTTPS polls, api_listener_start says why); MHD
 * never requires a client certificate, routes check. */
#include <arpa/inet.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/api_ratelimit.h"
#include "api/internal.h"

typedef struct api_listener {
    api_server *srv;
    bool https;
    bool authz_only;     /* serves /v1/authz (and /healthz) without authentication */
    char unix_path[108]; /* a Unix socket we created, removed on stop; "" for TCP */
    int fd;              /* bound before any thread starts; MHD's once d is set, else -1 */
    struct MHD_Daemon *d;
} api_listener;

struct api_server {
    const api_app *app;
    _Atomic(const ca_config *) cfg;
    api_listener https;
    api_listener http;
    api_listener authz_l;
    api_authz *authz;
    atomic_long in_flight;
    atomic_ulong next_id;
    uint32_t id_prefix;
    api_ocsp *ocsp;
    api_crl *crl;
    api_oidc *oidc;
    api_ratelimit *rate_identity; /* token buckets per client identity and per address */
    api_ratelimit *rate_address;
    store_sub *feed;
    pthread_t feed_thread;
    bool feed_running;
    atomic_bool stopping;
    _Atomic(const trust_policy *) trust;
    trust_policy default_trust; /* when the app names none */
    _Atomic(const api_enroll_set *) enroll;
    api_enroll_set first_enroll; /* the app's */
    /* Devices whose score changed, gathered during one feed poll (the feed thread only). */
    char feed_devices[API_FEED_DEVICES_MAX][STORE_NAME_MAX + 1];
    size_t num_feed_devices;
    bool feed_devices_overflow;
};

const api_app *
api_server_app(api_server *s)
{
    return s->app;
}

api_authz *
api_server_authz(api_server *s)
{
    return s->authz;
}

const trust_policy *
api_server_trust_policy(api_server *s)
{
    return atomic_load(&s->trust);
}

void
api_server_set_trust_policy(api_server *s, const trust_policy *p)
{
    atomic_store(&s->trust, p != NULL ? p : &s->default_trust);
    /* Cached answers carry (or lack) the score extension of the old policy. */
    if (s->ocsp != NULL) {
        api_ocsp_clear(s->ocsp);
    }
}

const api_enroll_set *
api_server_enroll(api_server *s)
{
    return atomic_load(&s->enroll);
}

void
api_server_set_enroll(api_server *s, const api_enroll_set *e)
{
    atomic_store(&s->enroll, e != NULL ? e : &s->first_enroll);
}

api_ocsp *
api_server_ocsp(api_server *s)
{
    return s->ocsp;
}

api_crl *
api_server_crl(api_server *s)
{
    return s->crl;
}

api_oidc *
api_server_oidc(api_server *s)
{
    return s->oidc;
}

void
api_server_status_changed(api_server *s, const char *serial_hex)
{
    if (s->ocsp != NULL) {
        api_ocsp_evict_serial_hex(s->ocsp, serial_hex);
    }
    if (s->crl != NULL) {
        api_crl_invalidate(s->crl);
    }
    api_authz_changed(s->authz);
}

void
api_server_set_ocsp_signer(api_server *s, const api_ocsp_signer *signer)
{
    if (s->ocsp != NULL) {
        api_ocsp_set_signer(s->ocsp, signer);
    }
}

static ztca_rc
api_feed_change(void *ctx, const store_change *c)
{
    api_server *s = ctx;
    api_authz_changed(s->authz);
    if (c->kind == STORE_CHANGE_CERT) {
        api_server_status_changed(s, c->subject);
    } else if (c->kind == STORE_CHANGE_TRUST) {
        /* The device's answers carry an old score: evicted after the poll (the store handle is
         * not used from inside the subscription's callback). Without the score extension the
         * answers do not change (holds arrive as certificate changes of their own). */
        if (!api_server_trust_policy(s)->score_extension) {
            return ZTCA_RC_OK;
        }
        bool known = false;
        for (size_t i = 0; i < s->num_feed_devices && !known; i++) {
            known = strcmp(s->feed_devices[i], c->subject) == 0;
        }
        if (!known && s->num_feed_devices < API_FEED_DEVICES_MAX) {
            snprintf(s->feed_devices[s->num_feed_devices++], sizeof(s->feed_devices[0]), "%s",
                     c->subject);
        } else if (!known) {
            s->feed_devices_overflow = true;
        }
    } else if (s->crl != NULL) {
        api_crl_invalidate(s->crl);
    }
    return ZTCA_RC_OK;
}

static ztca_rc
api_feed_evict_cb(void *ctx, const store_cert *c)
{
    api_ocsp_evict_serial_hex(ctx, c->serial);
    return ZTCA_RC_OK;
}

void
api_server_device_changed(api_server *s, const char *device_id)
{
    if (s->ocsp != NULL
        && !ZTCA_IS_OK(
            store_cert_list_by_device(s->app->store, device_id, api_feed_evict_cb, s->ocsp))) {
        api_ocsp_clear(s->ocsp); /* cannot tell which: drop them all */
    }
    if (s->crl != NULL) {
        api_crl_invalidate(s->crl);
    }
    api_authz_changed(s->authz);
}

static void
api_feed_evict_devices(api_server *s)
{
    if (s->ocsp != NULL && s->feed_devices_overflow) {
        api_ocsp_clear(s->ocsp);
    } else if (s->ocsp != NULL) {
        for (size_t i = 0; i < s->num_feed_devices; i++) {
            if (!ZTCA_IS_OK(store_cert_list_by_device(s->app->store, s->feed_devices[i],
                                                      api_feed_evict_cb, s->ocsp))) {
                api_ocsp_clear(s->ocsp); /* cannot tell which: drop them all */
                break;
            }
        }
    }
    s->num_feed_devices = 0;
    s->feed_devices_overflow = false;
    api_authz_changed(s->authz);
}

/* The change feed: every status change committed by any node (or by the CLI on this store)
 * reaches this node's OCSP cache and CRL within one poll (DESIGN.md 4). */
static void *
api_feed_main(void *arg)
{
    api_server *s = arg;
    bool reported = false;
    int64_t next_sweep_ns = 0;
    while (!atomic_load(&s->stopping)) {
        size_t n = 0;
        ztca_rc rc = store_sub_poll(s->feed, 200, api_feed_change, s, &n);
        if (s->num_feed_devices > 0 || s->feed_devices_overflow) {
            api_feed_evict_devices(s);
        }
        /* Expiries and staleness change scores without a new signal (docs/trust.md). */
        int64_t now_ns = api_now_ns();
        if (!s->app->read_only && now_ns >= next_sweep_ns) {
            api_trust_sweep(s);
            next_sweep_ns = now_ns + api_server_trust_policy(s)->sweep_interval * 1000000000LL;
        }
        if (!ZTCA_IS_OK(rc) && !reported) {
            /* Fail static (docs/scaling.md): cached OCSP answers stay good until their
             * nextUpdate and authz answers from memory; the changes made meanwhile are read from
             * the log at the cursor once the store is back, and evict what they concern. */
            ztca_log(ZTCA_LOG_WARN, "event=feed_unavailable what=\"%s\"", ztca_last_what());
            reported = true;
        } else if (ZTCA_IS_OK(rc) && reported) {
            ztca_log(ZTCA_LOG_INFO, "event=feed_restored");
            reported = false;
        }
    }
    return NULL;
}

int64_t
api_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const ca_config *
api_server_config(api_server *s)
{
    return atomic_load(&s->cfg);
}

void
api_server_set_config(api_server *s, const ca_config *cfg)
{
    atomic_store(&s->cfg, cfg);
}

/* Paths are decoded by the router, segment by segment, strictly: the default unescaper would
 * turn "%00" into a NUL that silently truncates the path and "%2F" into a separator. */
static size_t
api_unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void api_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
api_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    msg[strcspn(msg, "\n")] = '\0';
    ztca_log(ZTCA_LOG_DEBUG, "event=mhd msg=\"%s\"", msg);
}

static api_req *
api_req_new(api_listener *l, struct MHD_Connection *conn, const char *method, const char *url)
{
    api_server *s = l->srv;
    api_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->srv = s;
    r->app = s->app;
    r->cfg = api_server_config(s);
    r->conn = conn;
    r->https = l->https;
    r->authz_listener = l->authz_only;
    r->start_ns = api_now_ns();
    r->route_index = -1;
    snprintf(r->id, sizeof(r->id), "%08x%08lx", s->id_prefix,
             (unsigned long)(atomic_fetch_add(&s->next_id, 1) & 0xffffffffUL));
    snprintf(r->method, sizeof(r->method), "%s", method);
    api_route_match(r, method, url);
    atomic_fetch_add(&s->in_flight, 1);
    return r;
}

static void
api_req_free(api_req *r)
{
    if (r == NULL) {
        return;
    }
    if (r->reply != NULL) {
        MHD_destroy_response(r->reply);
    }
    ztca_free_secret(r->body, r->body_cap); /* may hold a token or a key */
    free(r);
}

/* One JSON line per request on stderr: never a secret, never a body. */
/* True when `s` can stand in a JSON string as it is: printable ASCII other than '"' and '\\'. */
static bool
api_log_is_plain(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\') {
            return false;
        }
    }
    return true;
}

/* The line through jansson: for the rare request whose method or peer needs escaping. */
static void
api_log_request_json(api_req *r, const char *route, const char *addr, double ms, bool completed)
{
    json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:s, s:b}", "event", "request",
                             "request_id", r->id, "method", r->method, "route", route, "listener",
                             r->https ? "https" : "http", "status", (json_int_t)r->status,
                             "latency_ms", ms, "remote", addr, "completed", completed);
    if (line == NULL) {
        return;
    }
    if (r->peer.verified) {
        json_object_set_new(line, "peer", json_string(r->peer.uri));
    }
    char *text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(line);
    if (text != NULL) {
        fprintf(stderr, "%s\n", text);
        free(text);
    }
}

/* One JSON line per request on stderr. It is on every request's path, the cached OCSP answer's
 * too, where jansson's pack and dump plus getnameinfo cost a fifth of the server's CPU
 * (docs/performance.md "OCSP"): the common line, whose strings need no escaping, is formatted
 * directly with the same members in the same order; any other goes through jansson. */
static void
api_log_request(api_req *r, enum MHD_RequestTerminationCode toe)
{
    double ms = (double)(api_now_ns() - r->start_ns) / 1e6;
    const char *route = r->route != NULL ? r->route->pattern : "-";
    bool completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    char addr[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        const void *a = NULL;
        if (sa->sa_family == AF_INET) {
            a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        } else if (sa->sa_family == AF_INET6) {
            a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        }
        if (a == NULL || inet_ntop(sa->sa_family, a, addr, sizeof(addr)) == NULL) {
            snprintf(addr, sizeof(addr), "-");
        }
    }
    if (!api_log_is_plain(r->method) || !api_log_is_plain(route)
        || (r->peer.verified && !api_log_is_plain(r->peer.uri))) {
        api_log_request_json(r, route, addr, ms, completed);
        return;
    }
    char line[512 + CA_URL_MAX];
    int n =
        snprintf(line, sizeof(line),
                 "{\"event\":\"request\",\"request_id\":\"%s\",\"method\":\"%s\",\"route\":\"%s\","
                 "\"listener\":\"%s\",\"status\":%d,\"latency_ms\":%.6g,\"remote\":\"%s\","
                 "\"completed\":%s%s%s%s}\n",
                 r->id, r->method, route, r->https ? "https" : "http", (int)r->status, ms, addr,
                 completed ? "true" : "false", r->peer.verified ? ",\"peer\":\"" : "",
                 r->peer.verified ? r->peer.uri : "", r->peer.verified ? "\"" : "");
    if (n > 0 && (size_t)n < sizeof(line)) {
        fwrite(line, 1, (size_t)n, stderr);
    } else {
        api_log_request_json(r, route, addr, ms, completed);
    }
}

static void
api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
    api_listener *l = cls;
    api_req *r = *con_cls;
    (void)conn;
    if (r == NULL) {
        return;
    }
    api_metrics_request(r->route_index, r->status, api_now_ns() - r->start_ns);
    api_log_request(r, toe);
    api_req_free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&l->srv->in_flight, 1);
}

/* HTTPS connections carry an api_conn (api_peer.c) from accept to close. Without one (out of
 * memory) every request checks its chain. */
static void
api_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)conn;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(api_conn));
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        api_conn_free(*socket_context);
        *socket_context = NULL;
    }
}

static enum MHD_Result
api_queue(api_req *r)
{
    if (r->queued) {
        return r->queue_result;
    }
    if (r->reply == NULL) {
        api_reply_problem(r, 500, "internal", "Internal error", "no answer was produced");
    }
    if (r->reply == NULL) {
        return MHD_NO; /* out of memory: drop the connection */
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->reply);
    MHD_destroy_response(r->reply);
    r->reply = NULL;
    return ok;
}

static enum MHD_Result
api_dispatch(api_req *r)
{
    if (r->path_bad) {
        api_reply_problem(r, 400, "bad-path", "Malformed path",
                          "the path has a malformed escape, a control character, an empty, '.' "
                          "or '..' segment, or is too long");
        return api_queue(r);
    }
    if (r->route == NULL) {
        if (r->miss_status == 405) {
            api_reply_problem(r, 405, "method-not-allowed", "Method not allowed", NULL);
        } else {
            api_reply_problem(r, 404, "not-found", "Not found", "no such route");
        }
        return api_queue(r);
    }
    if (r->body_too_large) {
        api_reply_problem(r, 413, "payload-too-large", "Payload too large",
                          "the request body exceeds this route's limit");
        return api_queue(r);
    }
    if (r->app->read_only && !r->route->public_http && r->route->handler != api_h_authz) {
        api_reply_problem(r, 404, "not-served", "Not served here",
                          "this node answers OCSP, CRL and authz only (--role ocsp)");
        return api_queue(r);
    }
    if (r->authz_listener && r->route->handler != api_h_authz
        && r->route->handler != api_h_healthz) {
        api_reply_problem(r, 404, "not-found", "Not found",
                          "this listener serves /v1/authz and /healthz only");
        return api_queue(r);
    }
    if (!r->https && !r->route->public_http && !r->authz_listener) {
        /* Tokens and admin calls never travel in clear text. */
        api_reply_problem(r, 403, "https-required", "HTTPS required",
                          "this route is served on the HTTPS listener only");
        return api_queue(r);
    }
    ztca_rc rc = ZTCA_RC_OK;
    switch (r->route->auth) {
    case API_AUTH_ADMIN:
        rc = api_peer_require(r, "admin");
        break;
    case API_AUTH_CLIENT:
        rc = api_peer_require(r, NULL);
        break;
    case API_AUTH_FEEDER:
        rc = api_peer_require_feeder(r);
        break;
    case API_AUTH_PEP:
        /* The authz listener is reachable only from this host (loopback or a Unix socket whose
         * permissions decide); on HTTPS an enforcement point shows its pep certificate. */
        rc = r->authz_listener ? ZTCA_RC_OK : api_peer_require(r, "pep");
        break;
    case API_AUTH_NONE:
    case API_AUTH_BEARER:
        break;
    }
    if (ZTCA_IS_OK(rc) && api_route_is_rate_limited(r->route)
        && !api_ratelimit_check(r, r->srv->rate_identity, r->srv->rate_address)) {
        return api_queue(r); /* 429 */
    }
    if (ZTCA_IS_OK(rc)) {
        ztca_clear_error();
        rc = r->route->handler(r);
    }
    /* Authentication reads the store too: with the store away it fails without an answer of
     * its own, and that is a 503 like any other store failure, not a 500. */
    if (!ZTCA_IS_OK(rc) && r->reply == NULL) {
        api_reply_error(r, rc);
    }
    return api_queue(r);
}

static enum MHD_Result
api_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    api_listener *l = cls;
    api_req *r = *con_cls;
    (void)version;
    if (r == NULL) {
        r = api_req_new(l, conn, method, url);
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        size_t max = r->route != NULL ? r->route->max_body : 0;
        if (cl != NULL && strtoull(cl, NULL, 10) > max) {
            /* Refused before a byte of the body is read. libmicrohttpd accepts an answer only
             * now or after the whole body (not in between), and closes the connection after
             * this one, which is what an oversized upload deserves. */
            r->body_too_large = true;
            return api_dispatch(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        size_t max = r->route != NULL ? r->route->max_body : 0;
        *upload_data_size = 0;
        if (r->body_too_large || n > max || r->body_len > max - n) {
            /* A chunked body that grew too large: discard the rest, answer 413 at its end. */
            r->body_too_large = true;
            return MHD_YES;
        }
        if (r->body_len + n > r->body_cap) {
            size_t cap = r->body_cap == 0 ? 1024 : r->body_cap;
            while (cap < r->body_len + n) {
                cap *= 2;
            }
            cap = cap > max ? max : cap;
            uint8_t *grown = ztca_malloc(cap);
            if (grown == NULL) {
                return MHD_NO;
            }
            if (r->body != NULL) {
                memcpy(grown, r->body, r->body_len);
                ztca_free_secret(r->body, r->body_cap);
            }
            r->body = grown;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        return MHD_YES;
    }
    if (r->status != 0) {
        return MHD_YES; /* already answered (413 before the body) */
    }
    return api_dispatch(r);
}

/* "ADDR:PORT", "[V6]:PORT" -> a socket address. */
static ztca_rc
api_parse_listen(const char *spec, struct sockaddr_storage *out, socklen_t *out_len, bool *out_v6)
{
    char host[256];
    const char *port;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        ZTCA_ENSURE(end != NULL && end[1] == ':', ZTCA_ERR_BAD_INPUT,
                    "listen address must be ADDR:PORT or [V6ADDR]:PORT");
        ZTCA_ENSURE((size_t)(end - spec - 1) < sizeof(host), ZTCA_ERR_BAD_INPUT,
                    "listen address too long");
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        ZTCA_ENSURE(colon != NULL && (size_t)(colon - spec) < sizeof(host), ZTCA_ERR_BAD_INPUT,
                    "listen address must be ADDR:PORT or [V6ADDR]:PORT");
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        port = colon + 1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    ZTCA_ENSURE(getaddrinfo(host, port, &hints, &res) == 0 && res != NULL, ZTCA_ERR_BAD_INPUT,
                "listen address: unknown host or bad port");
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = res->ai_addrlen;
    *out_v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return ZTCA_RC_OK;
}

static bool
api_is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

/* A listening Unix socket at `path` (a stale socket file from a crash is replaced). */
static ztca_rc
api_unix_listen(api_listener *l, const char *path, int *out_fd)
{
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    ZTCA_ENSURE(path[0] == '/' && strlen(path) < sizeof(un.sun_path)
                    && strlen(path) < sizeof(l->unix_path),
                ZTCA_ERR_BAD_INPUT, "unix socket path must be absolute and short (< 108 bytes)");
    memcpy(un.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ZTCA_ENSURE(fd >= 0, ZTCA_ERR_IO, "cannot create a unix socket");
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    if (bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0 || listen(fd, 512) != 0) {
        close(fd);
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot bind the unix socket (path taken, or no permission)");
    }
    /* Owner and group only: the group decides which proxy may ask (docs/authz.md). */
    chmod(path, 0660);
    memcpy(l->unix_path, path, strlen(path) + 1);
    *out_fd = fd;
    return ZTCA_RC_OK;
}

/* A listening TCP socket, as MHD would make it (SO_REUSEADDR, v6 only for IPv6), but ours: it is
 * bound before the privilege drop and MHD's threads start after it. */
static ztca_rc
api_tcp_listen(const struct sockaddr_storage *sa, socklen_t sa_len, bool v6, int *out_fd)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ZTCA_ENSURE(fd >= 0, ZTCA_ERR_IO, "cannot create a socket");
    int on = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (v6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }
    if (bind(fd, (const struct sockaddr *)sa, sa_len) != 0 || listen(fd, SOMAXCONN) != 0) {
        close(fd);
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot start the listener (address in use, or no permission)");
    }
    *out_fd = fd;
    return ZTCA_RC_OK;
}

static ztca_rc
api_listener_bind(api_listener *l, const char *spec, bool *out_v6)
{
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    *out_v6 = false;
    if (l->authz_only && strncmp(spec, "unix:", 5) == 0) {
        return api_unix_listen(l, spec + 5, &l->fd);
    }
    ZTCA_GUARD(api_parse_listen(spec, &sa, &sa_len, out_v6));
    ZTCA_ENSURE(!l->authz_only || api_is_loopback(&sa), ZTCA_ERR_BAD_INPUT,
                "the authz listener has no authentication: bind it to loopback "
                "(127.0.0.1:PORT, [::1]:PORT) or a Unix socket (unix:/PATH); remote "
                "enforcement points use HTTPS with a pep certificate");
    return api_tcp_listen(&sa, sa_len, *out_v6, &l->fd);
}

unsigned
api_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n <= 0 ? 2 : n > 64 ? 64 : (unsigned)n;
}

static ztca_rc
api_listener_start(api_listener *l, const api_app *app, const api_listen *cfg, bool v6)
{
    unsigned threads = cfg->threads;
    if (threads == 0) {
        threads = api_default_threads();
        /* HTTPS requests wait: for a durable commit, for the signer process. A thread per core
         * left group commit batches of at most 2 on 2 cores, so the disk's sync rate capped
         * issuance (docs/performance.md "Group commit"); HTTP (OCSP, CRL) answers from memory. */
        if (l->https) {
            threads = threads * 4 < 8 ? 8 : threads * 4 > 64 ? 64 : threads * 4;
        }
    }
    /* TURBO: no shutdown() before close and no fcntl round trips on accepted sockets (about
     * +10% of small answers per second, ../shared/notes/MHD.md).
     * HTTPS polls instead: in 0.9.75's epoll mode a connection in its TLS handshake stays on the
     * ready list when GnuTLS's own recv() meets EAGAIN (MHD clears the mark only in its own
     * recv), so its thread spun (epoll_wait(0), recv, a 16 KiB GnuTLS buffer malloc'd and freed)
     * until the client's next flight, or for the whole timeout when a client connected and sent
     * nothing (docs/performance.md "API under load"). poll() waits for what the handshake needs. */
    unsigned flags = (l->https ? MHD_USE_POLL_INTERNAL_THREAD : MHD_USE_EPOLL_INTERNAL_THREAD)
                     | MHD_USE_ITC | MHD_USE_TURBO;
    if (v6) {
        flags |= MHD_USE_IPv6;
    }
    if (l->https) {
        flags |= MHD_USE_TLS;
    }
    /* Options common to both listeners, then the TLS ones (NULL ends the list early for HTTP). */
    l->d = MHD_start_daemon(
        flags, 0, NULL, NULL, api_access, l, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        cfg->connection_limit != 0 ? cfg->connection_limit : API_CONNECTION_LIMIT_DEFAULT,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s != 0 ? cfg->timeout_s : 30u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, API_CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
        api_completed, l, MHD_OPTION_UNESCAPE_CALLBACK, api_unescape_none, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,
        l->https ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, app->tls_key_pem,
        MHD_OPTION_HTTPS_MEM_CERT, app->tls_cert_pem, MHD_OPTION_HTTPS_MEM_TRUST,
        app->tls_trust_pem, MHD_OPTION_HTTPS_PRIORITIES,
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_NOTIFY_CONNECTION, api_conn_notify,
        NULL, MHD_OPTION_END);
    ZTCA_ENSURE(l->d != NULL, ZTCA_ERR_IO,
                "cannot start the listener (address in use, or bad TLS certificate or key)");
    l->fd = -1; /* MHD's now: quiesce hands it back on stop */
    return ZTCA_RC_OK;
}

ztca_rc
api_server_start(api_server **out, const api_app *app, const api_listen *listen)
{
    uint8_t prefix[4];
    ZTCA_ENSURE(listen->https != NULL || listen->http != NULL || listen->authz != NULL,
                ZTCA_ERR_BAD_INPUT, "server: no listener configured");
    api_server *s = calloc(1, sizeof(*s));
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "server: out of memory");
    s->app = app;
    atomic_store(&s->cfg, app->cfg);
    trust_policy_defaults(&s->default_trust);
    atomic_store(&s->trust, app->trust != NULL ? app->trust : &s->default_trust);
    s->first_enroll = (api_enroll_set){ app->tpm_roots, app->pcr_policy, app->enroll };
    atomic_store(&s->enroll, &s->first_enroll);
    s->https.srv = s;
    s->https.https = true;
    s->http.srv = s;
    s->authz_l.srv = s;
    s->authz_l.authz_only = true;
    s->https.fd = s->http.fd = s->authz_l.fd = -1;
#ifdef __GLIBC__
    /* glibc gives threads their own malloc arenas, up to 8 per core, each keeping the memory its
     * requests freed: with the HTTPS pool above, 200 TLS clients grew RSS by 21-27 MB (test_api);
     * the threads share a few arenas instead (docs/performance.md "API under load"). */
    unsigned cpus = api_default_threads();
    mallopt(M_ARENA_MAX, cpus > 2 ? (int)cpus : 2);
#endif
    /* Every listener is bound first, while the process may still be root; then after_bind (the
     * privilege drop); only then does anything start a thread or read a request. */
    bool v6_https = false, v6_http = false, v6_authz = false;
    ztca_rc rc = ZTCA_RC_OK;
    if (listen->https != NULL) {
        rc = api_listener_bind(&s->https, listen->https, &v6_https);
    }
    if (ZTCA_IS_OK(rc) && listen->http != NULL) {
        rc = api_listener_bind(&s->http, listen->http, &v6_http);
    }
    if (ZTCA_IS_OK(rc) && listen->authz != NULL) {
        rc = api_listener_bind(&s->authz_l, listen->authz, &v6_authz);
    }
    if (ZTCA_IS_OK(rc) && listen->after_bind != NULL) {
        rc = listen->after_bind(listen->after_bind_ctx);
    }
    if (ZTCA_IS_OK(ca_rng_bytes(app->rng, prefix, sizeof(prefix)))) {
        s->id_prefix = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16
                       | (uint32_t)prefix[2] << 8 | prefix[3];
    }
    const ca_config *cfg = app->cfg;
    if (ZTCA_IS_OK(rc)) {
        rc = api_oidc_new(&s->oidc, app->store);
    }
    uint8_t seed[API_RATELIMIT_SEED_LEN];
    if (ZTCA_IS_OK(rc)) {
        rc = ca_rng_bytes(app->rng, seed, sizeof(seed));
    }
    if (ZTCA_IS_OK(rc)) {
        rc = api_ratelimit_new(&s->rate_identity, API_RATELIMIT_ENTRIES, seed);
    }
    if (ZTCA_IS_OK(rc)) {
        seed[0] ^= 1; /* the tables need not share placements */
        rc = api_ratelimit_new(&s->rate_address, API_RATELIMIT_ENTRIES, seed);
    }
    if (ZTCA_IS_OK(rc) && app->num_issuer_certs > 0) {
        rc = api_ocsp_new(&s->ocsp, app->store, app->issuer_certs, app->issuer_cert_lens,
                          app->num_issuer_certs, cfg->ocsp_validity, cfg->ocsp_max_age,
                          cfg->ocsp_cache_entries);
        if (ZTCA_IS_OK(rc) && app->ocsp_signer != NULL) {
            api_ocsp_set_signer(s->ocsp, app->ocsp_signer);
        }
        if (ZTCA_IS_OK(rc)) {
            rc =
                api_crl_new(&s->crl, app->store, app->issuer, cfg->crl_validity, cfg->ocsp_max_age);
        }
        if (ZTCA_IS_OK(rc)) {
            rc = api_authz_new(&s->authz, app);
        }
        if (ZTCA_IS_OK(rc)) {
            rc = store_sub_open(&s->feed, app->store, STORE_SUB_FROM_NOW);
        }
        if (ZTCA_IS_OK(rc)) {
            s->feed_running = pthread_create(&s->feed_thread, NULL, api_feed_main, s) == 0;
            rc = s->feed_running ? ZTCA_RC_OK
                                 : ZTCA_NOTE(ZTCA_ERR_INTERNAL, "cannot start the feed", 0);
        }
    }
    if (ZTCA_IS_OK(rc) && listen->https != NULL) {
        rc = api_listener_start(&s->https, app, listen, v6_https);
    }
    if (ZTCA_IS_OK(rc) && listen->http != NULL) {
        rc = api_listener_start(&s->http, app, listen, v6_http);
    }
    if (ZTCA_IS_OK(rc) && listen->authz != NULL) {
        rc = api_listener_start(&s->authz_l, app, listen, v6_authz);
    }
    if (!ZTCA_IS_OK(rc)) {
        api_server_stop(s, 0);
        return rc;
    }
    *out = s;
    return ZTCA_RC_OK;
}

unsigned
api_server_port(const api_server *s, bool https)
{
    const api_listener *l = https ? &s->https : &s->http;
    if (l->d == NULL) {
        return 0;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    return info != NULL ? info->port : 0;
}

/* api_listener_quiesce: stops `l` accepting. libmicrohttpd's threads may still take the listening
 * socket out of their epoll sets after MHD_quiesce_daemon returns, so it is closed only after
 * MHD_stop_daemon (as its manual asks): closing it here raced with whatever took the descriptor's
 * number next (ThreadSanitizer, test_connections.sh). shutdown(2) refuses new connections at once
 * and resets those waiting in the backlog, as the close did. */
static MHD_socket
api_listener_quiesce(const api_listener *l)
{
    MHD_socket fd = l->d != NULL ? MHD_quiesce_daemon(l->d) : MHD_INVALID_SOCKET;
    if (fd != MHD_INVALID_SOCKET) {
        (void)shutdown(fd, SHUT_RDWR);
    }
    return fd;
}

void
api_server_stop(api_server *s, unsigned grace_s)
{
    if (s == NULL) {
        return;
    }
    /* Stop accepting first, let requests in flight finish, then close what is left. */
    MHD_socket quiesced[3] = { api_listener_quiesce(&s->https), api_listener_quiesce(&s->http),
                               api_listener_quiesce(&s->authz_l) };
    for (unsigned i = 0; i < grace_s * 20 && atomic_load(&s->in_flight) > 0; i++) {
        struct timespec ts = { 0, 50000000L };
        nanosleep(&ts, NULL);
    }
    if (s->https.d != NULL) {
        MHD_stop_daemon(s->https.d);
    }
    if (s->http.d != NULL) {
        MHD_stop_daemon(s->http.d);
    }
    if (s->authz_l.d != NULL) {
        MHD_stop_daemon(s->authz_l.d);
    }
    for (size_t i = 0; i < sizeof(quiesced) / sizeof(quiesced[0]); i++) {
        if (quiesced[i] != MHD_INVALID_SOCKET) {
            close(quiesced[i]);
        }
    }
    /* Listeners bound but never handed to MHD (a start that failed half way). */
    if (s->https.fd >= 0) {
        close(s->https.fd);
    }
    if (s->http.fd >= 0) {
        close(s->http.fd);
    }
    if (s->authz_l.fd >= 0) {
        close(s->authz_l.fd);
    }
    if (s->authz_l.unix_path[0] != '\0') {
        unlink(s->authz_l.unix_path);
    }
    atomic_store(&s->stopping, true);
    if (s->feed_running) {
        pthread_join(s->feed_thread, NULL);
    }
    store_sub_close(s->feed);
    api_ocsp_free(s->ocsp);
    api_crl_free(s->crl);
    api_oidc_free(s->oidc);
    api_authz_free(s->authz);
    api_ratelimit_free(s->rate_identity);
    api_ratelimit_free(s->rate_address);
    free(s);
}
