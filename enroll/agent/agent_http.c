/* agent_http.c: the agent's HTTPS client (libcurl with OpenSSL): JSON in and out, the server
 * verified against the given CA only, a client certificate for renewal, and the tpm2-openssl
 * provider when that certificate's key lives in the TPM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "enroll/agent/agent.h"

#define AGENT_REPLY_MAX ((size_t)256 * 1024)

typedef struct agent_buf {
    char *p;
    size_t len;
    bool too_large;
    ztca_time date;
    int64_t retry_after; /* seconds, 0: absent or not one to wait for */
} agent_buf;

static size_t
agent_http_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    agent_buf *b = ctx;
    size_t n = size * nmemb;
    if (b->len + n > AGENT_REPLY_MAX) {
        b->too_large = true;
        return 0;
    }
    char *grown = realloc(b->p, b->len + n + 1);
    if (grown == NULL) {
        return 0;
    }
    memcpy(grown + b->len, data, n);
    b->len += n;
    grown[b->len] = '\0';
    b->p = grown;
    return n;
}

int64_t
agent_retry_after_parse(const char *value, size_t len)
{
    size_t i = 0, end = len;
    while (i < end && (value[i] == ' ' || value[i] == '\t')) {
        i++;
    }
    while (end > i
           && (value[end - 1] == ' ' || value[end - 1] == '\t' || value[end - 1] == '\r'
               || value[end - 1] == '\n')) {
        end--;
    }
    if (i == end || end - i > 3) { /* more than 3 digits is past the bound anyway */
        return 0;
    }
    int64_t v = 0;
    for (; i < end; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return 0;
        }
        v = v * 10 + (value[i] - '0');
    }
    return v >= 1 && v <= AGENT_RETRY_AFTER_MAX ? v : 0;
}

/* The Date header (RFC 9110 6.6.1), for the clock skew check, and Retry-After (10.2.3). */
static size_t
agent_http_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    agent_buf *b = ctx;
    size_t n = size * nmemb;
    if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        b->retry_after = agent_retry_after_parse(data + 12, n - 12);
    }
    if (n > 5 && n < 128 && strncasecmp(data, "Date:", 5) == 0) {
        char line[128];
        memcpy(line, data + 5, n - 5);
        line[n - 5] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        time_t t = curl_getdate(line, NULL);
        b->date = t > 0 ? (ztca_time)t : 0;
    }
    return n;
}

void
agent_reply_free(agent_reply *r)
{
    if (r != NULL) {
        json_decref(r->body);
        memset(r, 0, sizeof(*r));
    }
}

ztca_rc
agent_http_post(const agent_http *h, const char *path, const char *bearer, const json_t *body,
                agent_reply *out)
{
    ztca_rc rc = ZTCA_RC_OK;
    char url[1024], auth[1024], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    agent_buf buf;
    memset(&buf, 0, sizeof(buf));
    memset(out, 0, sizeof(*out));
    errbuf[0] = '\0';
    char *text = json_dumps(body, JSON_COMPACT);
    CURL *c = curl_easy_init();
    ZTCA_REQUIRE(text != NULL && c != NULL, ZTCA_ERR_NOMEM, "out of memory");
    ZTCA_REQUIRE(snprintf(url, sizeof(url), "%s%s", h->server, path) < (int)sizeof(url),
                 ZTCA_ERR_BAD_INPUT, "server URL too long");
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json, application/problem+json");
    if (bearer != NULL) {
        ZTCA_REQUIRE(snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer)
                         < (int)sizeof(auth),
                     ZTCA_ERR_BAD_INPUT, "token too long");
        headers = curl_slist_append(headers, auth);
    }
    ZTCA_REQUIRE(headers != NULL, ZTCA_ERR_NOMEM, "out of memory");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    /* Only the given CA: not the system store, which would let any public CA vouch for a host
     * name that the operator meant to be ztca. */
    curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (h->cert_file != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert_file);
        curl_easy_setopt(c, CURLOPT_SSLKEY, h->key_file);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, h->timeout_s > 0 ? h->timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, agent_http_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, agent_http_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &buf);
    CURLcode cr;
    for (;;) {
        cr = curl_easy_perform(c);
        out->tries++;
        long status = 0;
        if (cr == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        }
        if (cr != CURLE_OK || status != 429 || buf.retry_after == 0
            || out->tries > AGENT_RETRY_429_MAX) {
            break;
        }
        /* Rate limited: wait as told, then send the same request again. */
        struct timespec ts = { (time_t)buf.retry_after, 0 };
        if (nanosleep(&ts, NULL) != 0 && errno == EINTR) {
            break; /* SIGTERM to `run`: the 429 stands */
        }
        free(buf.p);
        memset(&buf, 0, sizeof(buf));
    }
    if (cr != CURLE_OK) {
        out->tls_verify = cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CACERT_BADFILE;
        snprintf(out->error, sizeof(out->error), "%s",
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cr));
        rc = ZTCA_NOTE(ZTCA_ERR_IO, "no answer from the server", (long)cr);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->date = buf.date;
    if (buf.p != NULL) {
        json_error_t err;
        out->body = json_loadb(buf.p, buf.len, JSON_REJECT_DUPLICATES, &err);
    }
out:
    free(buf.p);
    curl_slist_free_all(headers);
    if (c != NULL) {
        curl_easy_cleanup(c);
    }
    free(text);
    return rc;
}

/* The providers agent_tls_use_tpm loaded, unloaded by agent_tls_release: the tpm2 provider
 * holds an ESAPI connection of its own. */
static OSSL_PROVIDER *agent_tls_providers[2];

void
agent_tls_release(void)
{
    for (size_t i = 0; i < 2; i++) {
        if (agent_tls_providers[i] != NULL) {
            (void)OSSL_PROVIDER_unload(agent_tls_providers[i]);
            agent_tls_providers[i] = NULL;
        }
    }
}

ztca_rc
agent_tls_use_tpm(const char *tcti)
{
    /* The provider reads its TCTI from the environment (tpm2-openssl README). */
    ZTCA_ENSURE(setenv("TPM2OPENSSL_TCTI", tcti, 1) == 0, ZTCA_ERR_INTERNAL, "setenv");
    /* notes P7d: once the tpm2 provider is loaded its DRBG would become the primary one and
     * OpenSSL reports "insufficient randomness": keep the default provider's CTR-DRBG, set before
     * any random number is drawn. */
    ZTCA_ENSURE(RAND_set_DRBG_type(NULL, "CTR-DRBG", "provider=default", "AES-256-CTR", NULL) == 1
                    && RAND_set_seed_source_type(NULL, "SEED-SRC", "provider=default") == 1,
                ZTCA_ERR_INTERNAL, "cannot pin OpenSSL's DRBG to the default provider");
    /* notes P7b: tpm2 before default, or OpenSSL exports only the public half of the key to
     * the default provider and the handshake fails with "missing private key". */
    ZTCA_ENSURE(agent_tls_providers[0] == NULL, ZTCA_ERR_INTERNAL, "provider loaded twice");
    agent_tls_providers[0] = OSSL_PROVIDER_load(NULL, "tpm2");
    ZTCA_ENSURE(agent_tls_providers[0] != NULL, ZTCA_ERR_TPM,
                "cannot load the tpm2-openssl provider (apt-get install tpm2-openssl)");
    agent_tls_providers[1] = OSSL_PROVIDER_load(NULL, "default");
    if (agent_tls_providers[1] == NULL) {
        agent_tls_release();
        ZTCA_BAIL(ZTCA_ERR_INTERNAL, "cannot load OpenSSL's default provider");
    }
    return ZTCA_RC_OK;
}
