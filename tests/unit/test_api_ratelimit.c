/* test_api_ratelimit.c: the CUnit suite of api/api_ratelimit.c: SipHash-2-4 against the
 * reference vectors, bursts, refill, Retry-After rounding, independent keys and domains, the
 * fixed memory bound under a flood of fresh keys (and that the flood does not free a throttled
 * key), a far clock jump, address keys (IPv4, IPv4-mapped, IPv6 /64, loopback) and exact counts
 * under threads. The clock is passed in, so no test sleeps or times anything. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "api/api_ratelimit.h"
#include "tests/unit/unit.h"

#define SEC ((int64_t)1000000000)

static const uint8_t test_seed[API_RATELIMIT_SEED_LEN] = { 0, 1, 2,  3,  4,  5,  6,  7,
                                                           8, 9, 10, 11, 12, 13, 14, 15 };

static api_ratelimit *
test_table(size_t entries)
{
    api_ratelimit *rl = NULL;
    UNIT_ASSERT_OK(api_ratelimit_new(&rl, entries, test_seed));
    return rl;
}

static bool
test_take(api_ratelimit *rl, const char *key, const ca_rate_limit *lim, int64_t now, int64_t *retry)
{
    return api_ratelimit_take(rl, API_RATELIMIT_BEARER, key, strlen(key), lim, now, retry);
}

/* The reference code's vectors_sip64: key 00..0f, input 00..(n-1). */
static void
test_siphash_vectors(void)
{
    uint8_t in[15];
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (uint8_t)i;
    }
    CU_ASSERT_EQUAL(api_ratelimit_siphash24(test_seed, in, 0), 0x726fdb47dd0e0e31ULL);
    CU_ASSERT_EQUAL(api_ratelimit_siphash24(test_seed, in, 1), 0x74f839c593dc67fdULL);
    CU_ASSERT_EQUAL(api_ratelimit_siphash24(test_seed, in, 8), 0x93f5f5799a932462ULL);
    CU_ASSERT_EQUAL(api_ratelimit_siphash24(test_seed, in, 15), 0xa129ca6149be45e5ULL);
}

static void
test_burst_then_refill(void)
{
    api_ratelimit *rl = test_table(64);
    ca_rate_limit lim = { 1.0, 3 }; /* 1 per second, 3 at once */
    int64_t t0 = 1000 * SEC, retry = -1;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(test_take(rl, "alice", &lim, t0, &retry));
        CU_ASSERT_EQUAL(retry, 0);
    }
    CU_ASSERT_FALSE(test_take(rl, "alice", &lim, t0, &retry));
    CU_ASSERT_EQUAL(retry, SEC); /* one token back after one interval */
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(retry), 1);
    /* Refused requests take nothing: 0.5 s later the wait is 0.5 s. */
    CU_ASSERT_FALSE(test_take(rl, "alice", &lim, t0 + SEC / 2, &retry));
    CU_ASSERT_EQUAL(retry, SEC / 2);
    CU_ASSERT_FALSE(test_take(rl, "alice", &lim, t0 + SEC - 1, &retry));
    CU_ASSERT_EQUAL(retry, 1);
    CU_ASSERT_TRUE(test_take(rl, "alice", &lim, t0 + SEC, &retry));
    CU_ASSERT_FALSE(test_take(rl, "alice", &lim, t0 + SEC, &retry));
    /* A long pause refills to the burst, never beyond it. */
    int64_t t1 = t0 + 100 * SEC;
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        ok += test_take(rl, "alice", &lim, t1, &retry);
    }
    CU_ASSERT_EQUAL(ok, 3);
    api_ratelimit_free(rl);
}

static void
test_fractional_rate(void)
{
    api_ratelimit *rl = test_table(64);
    ca_rate_limit lim = { 0.2, 2 }; /* one per 5 s */
    int64_t retry = 0;
    CU_ASSERT_TRUE(test_take(rl, "k", &lim, 0, &retry));
    CU_ASSERT_TRUE(test_take(rl, "k", &lim, 0, &retry));
    CU_ASSERT_FALSE(test_take(rl, "k", &lim, 0, &retry));
    CU_ASSERT_EQUAL(retry, 5 * SEC);
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(retry), 5);
    CU_ASSERT_FALSE(test_take(rl, "k", &lim, 2 * SEC + 1, &retry));
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(retry), 3); /* 2.999999999 s rounds up */
    CU_ASSERT_TRUE(test_take(rl, "k", &lim, 5 * SEC, &retry));
    api_ratelimit_free(rl);
}

static void
test_retry_after_rounding(void)
{
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(0), 1);
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(1), 1);
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(SEC), 1);
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(SEC + 1), 2);
    CU_ASSERT_EQUAL(api_ratelimit_retry_after(1000 * SEC), 1000);
}

static void
test_no_limit(void)
{
    api_ratelimit *rl = test_table(64);
    ca_rate_limit off = { 0, 1 };
    int64_t retry = 0;
    for (int i = 0; i < 1000; i++) {
        CU_ASSERT_TRUE(test_take(rl, "k", &off, 0, &retry));
    }
    CU_ASSERT_EQUAL(api_ratelimit_used(rl), 0);
    api_ratelimit_free(rl);
}

static void
test_keys_and_domains_independent(void)
{
    api_ratelimit *rl = test_table(64);
    ca_rate_limit lim = { 1.0, 1 };
    int64_t retry = 0;
    CU_ASSERT_TRUE(test_take(rl, "a", &lim, 0, &retry));
    CU_ASSERT_FALSE(test_take(rl, "a", &lim, 0, &retry));
    CU_ASSERT_TRUE(test_take(rl, "b", &lim, 0, &retry));
    /* The same bytes as a certificate URI are another bucket than as a bearer. */
    CU_ASSERT_TRUE(api_ratelimit_take(rl, API_RATELIMIT_CERT, "a", 1, &lim, 0, &retry));
    CU_ASSERT_FALSE(api_ratelimit_take(rl, API_RATELIMIT_CERT, "a", 1, &lim, 0, &retry));
    CU_ASSERT_EQUAL(api_ratelimit_used(rl), 3);
    api_ratelimit_free(rl);
}

/* A client cycling keys (addresses, tokens) meets a table of fixed size: buckets are evicted,
 * none is added; and the evicted ones are the fullest, so a throttled key stays throttled. */
static void
test_eviction_bound(void)
{
    api_ratelimit *rl = test_table(100);
    size_t cap = api_ratelimit_capacity(rl);
    CU_ASSERT_EQUAL(cap, 128); /* rounded up to a power of two sets of 8 */
    ca_rate_limit lim = { 1.0, 5 };
    int64_t retry = 0, now = 10 * SEC;
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_TRUE(test_take(rl, "victim-of-its-own-flood", &lim, now, &retry));
    }
    CU_ASSERT_FALSE(test_take(rl, "victim-of-its-own-flood", &lim, now, &retry));
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "fresh-%d", i);
        CU_ASSERT_TRUE(test_take(rl, key, &lim, now, &retry)); /* a new key starts full */
    }
    CU_ASSERT_EQUAL(api_ratelimit_used(rl), cap);
    CU_ASSERT_FALSE(test_take(rl, "victim-of-its-own-flood", &lim, now, &retry));
    CU_ASSERT_EQUAL(retry, SEC);
    api_ratelimit_free(rl);

    /* The smallest table is one set. */
    rl = test_table(0);
    CU_ASSERT_EQUAL(api_ratelimit_capacity(rl), API_RATELIMIT_WAYS);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        CU_ASSERT_TRUE(test_take(rl, key, &lim, now, &retry));
    }
    CU_ASSERT_EQUAL(api_ratelimit_used(rl), API_RATELIMIT_WAYS);
    api_ratelimit_free(rl);
}

/* The clock only moves forward (CLOCK_MONOTONIC); a huge step refills and overflows nothing,
 * nor do the slowest rate with the largest burst. */
static void
test_clock_extremes(void)
{
    api_ratelimit *rl = test_table(64);
    ca_rate_limit slow = { CA_RATE_MIN, CA_BURST_MAX };
    int64_t retry = 0;
    CU_ASSERT_TRUE(test_take(rl, "s", &slow, 0, &retry));
    ca_rate_limit one = { CA_RATE_MIN, 1 };
    CU_ASSERT_TRUE(test_take(rl, "t", &one, 0, &retry));
    CU_ASSERT_FALSE(test_take(rl, "t", &one, 0, &retry));
    CU_ASSERT_EQUAL(retry, 1000 * SEC);
    int64_t far = (int64_t)4e18;
    CU_ASSERT_TRUE(test_take(rl, "t", &one, far, &retry));
    CU_ASSERT_FALSE(test_take(rl, "t", &one, far, &retry));
    CU_ASSERT_EQUAL(retry, 1000 * SEC);
    ca_rate_limit fast = { CA_RATE_MAX, 1 };
    CU_ASSERT_TRUE(test_take(rl, "f", &fast, far, &retry));
    CU_ASSERT_FALSE(test_take(rl, "f", &fast, far, &retry));
    CU_ASSERT_EQUAL(retry, 1000); /* 1 µs */
    api_ratelimit_free(rl);
}

static void
test_addr_keys(void)
{
    uint8_t k1[API_RATELIMIT_ADDR_MAX], k2[API_RATELIMIT_ADDR_MAX];
    size_t n1 = 0, n2 = 0;
    bool lo = true;
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof(a4));
    a4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a4, k1, &n1, &lo));
    CU_ASSERT_FALSE(lo);
    CU_ASSERT_EQUAL(n1, 5);
    CU_ASSERT_EQUAL(memcmp(k1, "\x04\xc0\x00\x02\x07", 5), 0);

    /* The same address arriving IPv4-mapped on a dual-stack socket is the same key. */
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k2, &n2, &lo));
    CU_ASSERT_EQUAL(n2, n1);
    CU_ASSERT_EQUAL(memcmp(k1, k2, n1), 0);
    inet_pton(AF_INET6, "::ffff:192.0.2.8", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k2, &n2, &lo));
    CU_ASSERT_NOT_EQUAL(memcmp(k1, k2, n1), 0);

    /* IPv6: one key per /64. */
    inet_pton(AF_INET6, "2001:db8:1:2::1", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k1, &n1, &lo));
    CU_ASSERT_EQUAL(n1, 9);
    CU_ASSERT_FALSE(lo);
    CU_ASSERT_EQUAL(memcmp(k1, "\x06\x20\x01\x0d\xb8\x00\x01\x00\x02", 9), 0);
    inet_pton(AF_INET6, "2001:db8:1:2:ffff:ffff:ffff:fffe", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k2, &n2, &lo));
    CU_ASSERT_EQUAL(n2, 9);
    CU_ASSERT_EQUAL(memcmp(k1, k2, 9), 0);
    inet_pton(AF_INET6, "2001:db8:1:3::1", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k2, &n2, &lo));
    CU_ASSERT_NOT_EQUAL(memcmp(k1, k2, 9), 0);

    /* Loopback, all three spellings. */
    inet_pton(AF_INET, "127.0.0.2", &a4.sin_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a4, k1, &n1, &lo));
    CU_ASSERT_TRUE(lo);
    inet_pton(AF_INET6, "::1", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k1, &n1, &lo));
    CU_ASSERT_TRUE(lo);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k1, &n1, &lo));
    CU_ASSERT_TRUE(lo);
    inet_pton(AF_INET6, "::2", &a6.sin6_addr);
    CU_ASSERT_TRUE(api_ratelimit_addr_key((struct sockaddr *)&a6, k1, &n1, &lo));
    CU_ASSERT_FALSE(lo);

    /* No address to key: a Unix socket, or none at all. */
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    CU_ASSERT_FALSE(api_ratelimit_addr_key((struct sockaddr *)&un, k1, &n1, &lo));
    CU_ASSERT_EQUAL(n1, 0);
    CU_ASSERT_FALSE(api_ratelimit_addr_key(NULL, k1, &n1, &lo));
}

typedef struct test_rl_thread {
    api_ratelimit *rl;
    int ok;
} test_rl_thread;

static void *
test_rl_worker(void *arg)
{
    test_rl_thread *t = arg;
    ca_rate_limit lim = { CA_RATE_MIN, 1000 };
    int64_t retry = 0;
    for (int i = 0; i < 5000; i++) {
        /* The same instant for all: only the lock decides the count. */
        t->ok += test_take(t->rl, "shared", &lim, 42 * SEC, &retry);
    }
    return NULL;
}

static void
test_threads_exact(void)
{
    api_ratelimit *rl = test_table(64);
    test_rl_thread t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i].rl = rl;
        t[i].ok = 0;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_rl_worker, &t[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += t[i].ok;
    }
    CU_ASSERT_EQUAL(ok, 1000); /* exactly the burst, out of 20000 attempts */
    api_ratelimit_free(rl);
}

int
main(void)
{
    static const unit_test tests[] = {
        { "siphash_vectors", test_siphash_vectors },
        { "burst_then_refill", test_burst_then_refill },
        { "fractional_rate", test_fractional_rate },
        { "retry_after_rounding", test_retry_after_rounding },
        { "no_limit", test_no_limit },
        { "keys_and_domains_independent", test_keys_and_domains_independent },
        { "eviction_bound", test_eviction_bound },
        { "clock_extremes", test_clock_extremes },
        { "addr_keys", test_addr_keys },
        { "threads_exact", test_threads_exact },
        { NULL, NULL },
    };
    return unit_run("api_ratelimit", tests);
}
