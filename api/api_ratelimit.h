/* api_ratelimit.h: token buckets for the token, enrollment and issuance routes, keyed by client
 * identity and by source address (docs/hardening.md "Rate limits").
 *
 * A table holds a fixed number of buckets, allocated once: a client cycling addresses or tokens
 * evicts buckets but never grows memory. Each bucket is the GCRA form of a token bucket (one
 * "theoretical arrival time" per key instead of a count and a timestamp), so a request costs one
 * keyed hash and a scan of one 8-way set under one of a few striped mutexes. Time is passed in
 * (CLOCK_MONOTONIC nanoseconds in the server), so a wall-clock jump changes nothing and the unit
 * tests drive the clock. */
#ifndef ZTCA_API_API_RATELIMIT_H
#define ZTCA_API_API_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "core/core.h"

struct sockaddr;
struct api_req;

#define API_RATELIMIT_WAYS     8     /* buckets per set: a key lives in one set only */
#define API_RATELIMIT_ENTRIES  16384 /* per table in the server: 256 KiB */
#define API_RATELIMIT_SEED_LEN 16    /* SipHash-2-4 key */
#define API_RATELIMIT_ADDR_MAX 9     /* family octet + IPv4 address or IPv6 /64 prefix */

typedef struct api_ratelimit api_ratelimit;

/* What a key names; equal bytes in two domains are two keys. */
typedef enum api_ratelimit_domain {
    API_RATELIMIT_ADDRESS = 1, /* api_ratelimit_addr_key */
    API_RATELIMIT_CERT = 2,    /* a client certificate's URI SAN */
    API_RATELIMIT_BEARER = 3,  /* an Authorization: Bearer credential as sent */
} api_ratelimit_domain;

/* api_ratelimit_new: a table of `num_entries` buckets (rounded up to a power of two, at least one
 * set). `seed` keys the hash that places keys in sets, so that a client cannot pick keys that
 * land in the set of someone else's bucket. NOMEM on allocation failure. */
ZTCA_RC api_ratelimit_new(api_ratelimit **out, size_t num_entries,
                          const uint8_t seed[API_RATELIMIT_SEED_LEN]);
/* api_ratelimit_free: accepts NULL. */
void api_ratelimit_free(api_ratelimit *rl);
/* api_ratelimit_capacity: the number of buckets the table holds at most. */
size_t api_ratelimit_capacity(const api_ratelimit *rl);
/* api_ratelimit_used: buckets holding a key now (for tests; takes every lock). */
size_t api_ratelimit_used(api_ratelimit *rl);

/* api_ratelimit_take: takes one token from the bucket of (`domain`, `key`) at time `now_ns` under
 * `lim` (a new key starts with a full bucket of lim->burst). True when the request may go on. False
 * when the bucket is empty: *out_retry_ns is how long until one token is back. lim->rate 0 is
 * no limit (always true, the table is not touched). A full set evicts the bucket holding the
 * most tokens, which is the one whose loss forgets the least: flooding fresh keys cannot free a
 * throttled key from its debt. */
bool api_ratelimit_take(api_ratelimit *rl, api_ratelimit_domain domain, const void *key,
                        size_t key_len, const ca_rate_limit *lim, int64_t now_ns,
                        int64_t *out_retry_ns);

/* api_ratelimit_siphash24: SipHash-2-4 of `in` under `key` (the placement hash; for tests). */
uint64_t api_ratelimit_siphash24(const uint8_t key[API_RATELIMIT_SEED_LEN], const void *in,
                                 size_t len);

/* api_ratelimit_retry_after: RFC 9110 10.2.3 Retry-After delay-seconds for a wait, rounded up
 * and at least 1. */
int64_t api_ratelimit_retry_after(int64_t retry_ns);

/* api_ratelimit_addr_key: the key of a peer address: an IPv4 address (also when it arrives as
 * an IPv4-mapped IPv6 address on a dual-stack socket), or the /64 prefix of an IPv6 address,
 * since one host is commonly given a whole /64. False for other families (Unix sockets).
 * *out_loopback says whether the address is a loopback one. */
bool api_ratelimit_addr_key(const struct sockaddr *sa, uint8_t out[API_RATELIMIT_ADDR_MAX],
                            size_t *out_len, bool *out_loopback);

/* api_ratelimit_check: applies the per-address and per-identity limits of the request's
 * configuration to a request whose route is rate limited, after the dispatcher's
 * authentication. An administrator is exempt. Answers 429 with Retry-After itself and returns
 * false when a limit is exceeded. */
bool api_ratelimit_check(struct api_req *r, api_ratelimit *by_identity, api_ratelimit *by_address);

#endif /* ZTCA_API_API_RATELIMIT_H */
