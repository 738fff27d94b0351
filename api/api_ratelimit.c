/* api_ratelimit.c: fixed-size tables of token buckets (GCRA) and their use on the token,
 * enrollment and issuance routes (docs/hardening.md "Rate limits"). */
#include "api/api_ratelimit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/internal.h"

/* Mutexes striped over the sets: enough that two pool threads rarely meet, few enough to stay
 * small. A power of two. */
#define API_RATELIMIT_LOCKS 64

typedef struct api_ratelimit_entry {
    uint64_t tag; /* the key's hash; 0: free */
    int64_t tat;  /* GCRA theoretical arrival time: the bucket is full when tat <= now */
} api_ratelimit_entry;

struct api_ratelimit {
    uint64_t k0, k1;              /* SipHash key */
    size_t num_sets;              /* a power of two */
    api_ratelimit_entry *entries; /* num_sets * API_RATELIMIT_WAYS, owned */
    pthread_mutex_t locks[API_RATELIMIT_LOCKS];
};

/* ---- SipHash-2-4 (Aumasson, Bernstein 2012), the keyed hash of the reference code ---------- */

#define API_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t
api_ratelimit_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static void
api_ratelimit_sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = API_ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = API_ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = API_ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = API_ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = API_ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = API_ROTL(v[2], 32);
}

static uint64_t
api_ratelimit_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t v[4] = { k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                      k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL };
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = api_ratelimit_le64(in + i);
        v[3] ^= m;
        api_ratelimit_sipround(v);
        api_ratelimit_sipround(v);
        v[0] ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++) {
        b |= (uint64_t)in[full + i] << (8 * i);
    }
    v[3] ^= b;
    api_ratelimit_sipround(v);
    api_ratelimit_sipround(v);
    v[0] ^= b;
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) {
        api_ratelimit_sipround(v);
    }
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t
api_ratelimit_siphash24(const uint8_t key[API_RATELIMIT_SEED_LEN], const void *in, size_t len)
{
    return api_ratelimit_siphash(api_ratelimit_le64(key), api_ratelimit_le64(key + 8), in, len);
}

/* ---- the table ------------------------------------------------------------------------------ */

ztca_rc
api_ratelimit_new(api_ratelimit **out, size_t num_entries,
                  const uint8_t seed[API_RATELIMIT_SEED_LEN])
{
    size_t sets = 1;
    while (sets * API_RATELIMIT_WAYS < num_entries && sets < ((size_t)1 << 24)) {
        sets <<= 1;
    }
    api_ratelimit *rl = calloc(1, sizeof(*rl));
    ZTCA_ENSURE(rl != NULL, ZTCA_ERR_NOMEM, "rate limit: out of memory");
    rl->entries = calloc(sets * API_RATELIMIT_WAYS, sizeof(*rl->entries));
    if (rl->entries == NULL) {
        free(rl);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "rate limit: out of memory");
    }
    rl->num_sets = sets;
    rl->k0 = api_ratelimit_le64(seed);
    rl->k1 = api_ratelimit_le64(seed + 8);
    for (size_t i = 0; i < API_RATELIMIT_LOCKS; i++) {
        pthread_mutex_init(&rl->locks[i], NULL);
    }
    *out = rl;
    return ZTCA_RC_OK;
}

void
api_ratelimit_free(api_ratelimit *rl)
{
    if (rl == NULL) {
        return;
    }
    for (size_t i = 0; i < API_RATELIMIT_LOCKS; i++) {
        pthread_mutex_destroy(&rl->locks[i]);
    }
    free(rl->entries);
    free(rl);
}

size_t
api_ratelimit_capacity(const api_ratelimit *rl)
{
    return rl->num_sets * API_RATELIMIT_WAYS;
}

size_t
api_ratelimit_used(api_ratelimit *rl)
{
    size_t n = 0;
    for (size_t s = 0; s < rl->num_sets; s++) {
        pthread_mutex_t *m = &rl->locks[s & (API_RATELIMIT_LOCKS - 1)];
        pthread_mutex_lock(m);
        for (size_t w = 0; w < API_RATELIMIT_WAYS; w++) {
            n += rl->entries[s * API_RATELIMIT_WAYS + w].tag != 0;
        }
        pthread_mutex_unlock(m);
    }
    return n;
}

bool
api_ratelimit_take(api_ratelimit *rl, api_ratelimit_domain domain, const void *key, size_t key_len,
                   const ca_rate_limit *lim, int64_t now_ns, int64_t *out_retry_ns)
{
    *out_retry_ns = 0;
    if (lim->rate <= 0 || lim->burst == 0) {
        return true;
    }
    /* ca_config keeps rate in [CA_RATE_MIN, CA_RATE_MAX] and burst <= CA_BURST_MAX, so the
     * interval is at most 1e12 ns and interval * burst at most 1e18: no overflow. */
    int64_t interval = (int64_t)(1e9 / lim->rate);
    interval = interval > 0 ? interval : 1;
    int64_t window = interval * (int64_t)lim->burst;
    /* One hash function per domain: the same bytes in two domains are two keys. */
    uint64_t h = api_ratelimit_siphash(rl->k0 ^ (uint64_t)domain, rl->k1, key, key_len);
    uint64_t tag = h != 0 ? h : 1;
    size_t set = (size_t)(h & (rl->num_sets - 1));
    api_ratelimit_entry *ways = &rl->entries[set * API_RATELIMIT_WAYS];
    pthread_mutex_t *m = &rl->locks[set & (API_RATELIMIT_LOCKS - 1)];

    pthread_mutex_lock(m);
    api_ratelimit_entry *e = NULL;
    api_ratelimit_entry *victim = &ways[0];
    for (size_t w = 0; w < API_RATELIMIT_WAYS && e == NULL; w++) {
        if (ways[w].tag == tag) {
            e = &ways[w];
        } else if (victim->tag != 0 && (ways[w].tag == 0 || ways[w].tat < victim->tat)) {
            victim = &ways[w]; /* a free one, else the fullest bucket */
        }
    }
    if (e == NULL) {
        e = victim;
        e->tag = tag;
        e->tat = now_ns; /* a full bucket */
    }
    int64_t start = e->tat > now_ns ? e->tat : now_ns;
    int64_t next = start + interval;
    bool ok = next - now_ns <= window;
    if (ok) {
        e->tat = next;
    } else {
        *out_retry_ns = next - window - now_ns;
    }
    pthread_mutex_unlock(m);
    return ok;
}

int64_t
api_ratelimit_retry_after(int64_t retry_ns)
{
    int64_t s = retry_ns / 1000000000 + (retry_ns % 1000000000 != 0);
    return s >= 1 ? s : 1;
}

bool
api_ratelimit_addr_key(const struct sockaddr *sa, uint8_t out[API_RATELIMIT_ADDR_MAX],
                       size_t *out_len, bool *out_loopback)
{
    *out_len = 0;
    *out_loopback = false;
    if (sa == NULL) {
        return false;
    }
    const uint8_t *v4 = NULL;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        v4 = (const uint8_t *)&in->sin_addr.s_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            /* Keyed by its /64 it would put every IPv4 client in one bucket. */
            v4 = a + 12;
        } else {
            out[0] = 6;
            memcpy(out + 1, a, 8);
            *out_len = 9;
            *out_loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
            return true;
        }
    } else {
        return false;
    }
    out[0] = 4;
    memcpy(out + 1, v4, 4);
    *out_len = 5;
    *out_loopback = v4[0] == 127;
    return true;
}

/* ---- on requests ---------------------------------------------------------------------------- */

static void
api_ratelimit_refuse(api_req *r, const char *which, int64_t retry_ns)
{
    char detail[160];
    char secs[24];
    int64_t s = api_ratelimit_retry_after(retry_ns);
    snprintf(detail, sizeof(detail), "too many requests %s; retry after %lld s", which,
             (long long)s);
    snprintf(secs, sizeof(secs), "%lld", (long long)s);
    api_reply_problem(r, 429, "rate-limited", "Too many requests", detail);
    api_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

bool
api_ratelimit_check(api_req *r, api_ratelimit *by_identity, api_ratelimit *by_address)
{
    const ca_config *cfg = r->cfg;
    int64_t now = api_now_ns();
    int64_t retry = 0;
    /* Routes with certificate authentication were authenticated by the dispatcher already; an
     * administrator is trusted with bulk work (bench/issue makes thousands of tokens). */
    bool cert_auth = r->route->auth != API_AUTH_NONE && r->route->auth != API_AUTH_BEARER;
    if (cert_auth && r->peer.verified && strcmp(r->peer.kind, "admin") == 0) {
        return true;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    uint8_t addr[API_RATELIMIT_ADDR_MAX];
    size_t addr_len = 0;
    bool loopback = false;
    if (by_address != NULL && ci != NULL
        && api_ratelimit_addr_key(ci->client_addr, addr, &addr_len, &loopback)
        && !(loopback && cfg->rate_exempt_loopback)
        && !api_ratelimit_take(by_address, API_RATELIMIT_ADDRESS, addr, addr_len,
                               &cfg->rate_address, now, &retry)) {
        api_ratelimit_refuse(r, "from this address", retry);
        return false;
    }
    if (by_identity == NULL) {
        return true;
    }
    /* The identity: the certificate's URI SAN, or the bearer credential as sent. A bearer is
     * not verified yet (the handler does that), so it is never parsed for a subject here: a
     * forged ID token naming someone else's subject must not drain that subject's bucket. The
     * domains keep a bearer that spells a certificate's URI out of that certificate's bucket. */
    if (cert_auth && r->peer.verified) {
        if (!api_ratelimit_take(by_identity, API_RATELIMIT_CERT, r->peer.uri, strlen(r->peer.uri),
                                &cfg->rate_identity, now, &retry)) {
            api_ratelimit_refuse(r, "for this certificate", retry);
            return false;
        }
        return true;
    }
    const char *bearer = r->route->auth == API_AUTH_BEARER ? api_bearer(r) : NULL;
    if (bearer != NULL
        && !api_ratelimit_take(by_identity, API_RATELIMIT_BEARER, bearer, strlen(bearer),
                               &cfg->rate_identity, now, &retry)) {
        api_ratelimit_refuse(r, "for this token", retry);
        return false;
    }
    return true;
}
