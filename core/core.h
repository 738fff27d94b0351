/* core.h: ztca's foundation: result type and guard macros, logging, allocation with a fault hook,
 * constant-time helpers, RFC 5280 time, durations, base64 and PEM. Knows nothing of PKI policy and
 * does no I/O (logging writes to stderr, the one exception). */
#ifndef ZTCA_CORE_CORE_H
#define ZTCA_CORE_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZTCA_MUST_USE __attribute__((warn_unused_result))

/* Coarse codes that map to what the caller does: the first group is the client's fault (4xx),
 * the second is ours or the environment's (5xx). */
typedef enum ztca_err {
    ZTCA_OK = 0,
    ZTCA_ERR_BAD_INPUT,   /* malformed or out-of-range input */
    ZTCA_ERR_UNSUPPORTED, /* well-formed but not something ztca accepts (algorithm, key size) */
    ZTCA_ERR_NOT_FOUND,
    ZTCA_ERR_DENIED,   /* policy refuses */
    ZTCA_ERR_CONFLICT, /* already exists / state does not allow it */
    ZTCA_ERR_NOMEM,
    ZTCA_ERR_CRYPTO,
    ZTCA_ERR_STORE,
    ZTCA_ERR_TPM,
    ZTCA_ERR_IO,
    ZTCA_ERR_INTERNAL,
    ZTCA_ERR_UNAVAILABLE, /* a part we depend on is gone for now (the signer process): retry */
} ztca_err;

/* ztca_rc: a one-field struct so a result cannot be used as an int or a bool by mistake. */
typedef struct ztca_rc {
    ztca_err err;
} ztca_rc;

#define ZTCA_RC        ZTCA_MUST_USE ztca_rc
#define ZTCA_RC_OK     ((ztca_rc){ ZTCA_OK })
#define ZTCA_IS_OK(rc) ((rc).err == ZTCA_OK)

/* ztca_note_set records where and why the latest failure happened (thread-local, static strings
 * only); `foreign` keeps a library's own code (mbedTLS, TSS, errno) or 0. ztca_note also returns
 * `err` wrapped; ZTCA_NOTE does the same with a literal result, which lets the static analyzer
 * see the error path (prefer it and the macros below). */
void ztca_note_set(const char *file, int line, const char *what, long foreign);
ztca_rc ztca_note(ztca_err err, const char *file, int line, const char *what, long foreign);
#define ZTCA_NOTE(e, what, foreign) \
    (ztca_note_set(__FILE__, __LINE__, (what), (foreign)), (ztca_rc){ (e) })
const char *ztca_last_where(void); /* "file:line" of the latest failure, "" if none */
const char *ztca_last_what(void);  /* static description, "" if none */
long ztca_last_foreign(void);      /* foreign library code kept with it, 0 if none */
void ztca_clear_error(void);
const char *ztca_err_name(ztca_err err); /* stable lower-case name, e.g. "bad_input" */

#define ZTCA_BAIL(e, what) return ZTCA_NOTE((e), (what), 0)

#define ZTCA_GUARD(expr)                     \
    do {                                     \
        ztca_rc ztca_guard_rc_ = (expr);     \
        if (ztca_guard_rc_.err != ZTCA_OK) { \
            return ztca_guard_rc_;           \
        }                                    \
    } while (0)

#define ZTCA_ENSURE(cond, e, what)            \
    do {                                      \
        if (!(cond)) {                        \
            return ZTCA_NOTE((e), (what), 0); \
        }                                     \
    } while (0)

/* For functions with `ztca_rc rc` and an `out:` label. */
#define ZTCA_CHECK(expr)         \
    do {                         \
        rc = (expr);             \
        if (rc.err != ZTCA_OK) { \
            goto out;            \
        }                        \
    } while (0)

#define ZTCA_REQUIRE(cond, e, what)         \
    do {                                    \
        if (!(cond)) {                      \
            rc = ZTCA_NOTE((e), (what), 0); \
            goto out;                       \
        }                                   \
    } while (0)

/* Foreign codes (mbedTLS, TSS) are converted at the call site and kept for the log. */
#define ZTCA_GUARD_MBEDTLS(expr, e)                      \
    do {                                                 \
        int ztca_mbed_rc_ = (expr);                      \
        if (ztca_mbed_rc_ != 0) {                        \
            return ZTCA_NOTE((e), #expr, ztca_mbed_rc_); \
        }                                                \
    } while (0)

#define ZTCA_CHECK_MBEDTLS(expr, e)                    \
    do {                                               \
        int ztca_mbed_rc_ = (expr);                    \
        if (ztca_mbed_rc_ != 0) {                      \
            rc = ZTCA_NOTE((e), #expr, ztca_mbed_rc_); \
            goto out;                                  \
        }                                              \
    } while (0)

/* ---- logging ---------------------------------------------------------------------------- */

typedef enum ztca_log_level {
    ZTCA_LOG_DEBUG = 0,
    ZTCA_LOG_INFO,
    ZTCA_LOG_WARN,
    ZTCA_LOG_ERROR,
    ZTCA_LOG_OFF,
} ztca_log_level;

/* ztca_log writes one line "ts=... level=... <fmt>" to stderr. Never pass secrets. */
void ztca_log(ztca_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ztca_log_set_level(ztca_log_level level);

/* ---- allocation ------------------------------------------------------------------------- */

/* ztca_malloc and friends fail (NULL) on overflow, and, for tests, on the Nth call after
 * ztca_alloc_fail_after(N) (SQLite's fault simulator). Free with ztca_free or free(). */
void *ztca_malloc(size_t size);
void *ztca_calloc(size_t num, size_t size);
void *ztca_realloc(void *ptr, size_t size);
char *ztca_strdup(const char *s);
void ztca_free(void *ptr);
/* ztca_free_secret zeroizes `len` bytes before freeing. */
void ztca_free_secret(void *ptr, size_t len);
/* Test hook: the allocation numbered `n` (0 = the next one) and all after it fail; -1 disables.
 * Returns how many allocations were attempted since the last call. */
long ztca_alloc_fail_after(long n);

/* ---- constant time and small helpers ---------------------------------------------------- */

/* ztca_ct_equal: constant-time comparison of two equal-length secrets (mbedtls_ct_memcmp). */
bool ztca_ct_equal(const void *a, const void *b, size_t len);
void ztca_zeroize(void *p, size_t len);

/* ztca_hex_encode writes 2*len lowercase hex chars plus NUL; out_size must be >= 2*len+1. */
ZTCA_RC ztca_hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len);
/* ztca_hex_decode accepts upper or lower case, an even number of digits, nothing else. */
ZTCA_RC ztca_hex_decode(uint8_t *out, size_t out_size, size_t *out_len, const char *in);

/* ---- time ------------------------------------------------------------------------------- */

/* Seconds since 1970-01-01T00:00:00Z; UTC only, no time zones, no leap seconds. */
typedef int64_t ztca_time;

#define ZTCA_TIME_MIN ((ztca_time)-62135596800LL) /* 0001-01-01T00:00:00Z */
#define ZTCA_TIME_MAX ((ztca_time)253402300799LL) /* 9999-12-31T23:59:59Z */

typedef struct ztca_tm {
    int year; /* 1..9999 */
    int mon;  /* 1..12 */
    int day;  /* 1..31 */
    int hour, min, sec;
} ztca_tm;

ztca_time ztca_now(void);
/* ztca_time_from_tm validates every field (days per month, leap years). */
ZTCA_RC ztca_time_from_tm(ztca_time *out, const ztca_tm *tm);
ZTCA_RC ztca_time_to_tm(ztca_tm *out, ztca_time t);
/* RFC 3339 "YYYY-MM-DDTHH:MM:SSZ"; out_size >= 21. */
ZTCA_RC ztca_time_format_rfc3339(char *out, size_t out_size, ztca_time t);
ZTCA_RC ztca_time_parse_rfc3339(ztca_time *out, const char *s);

/* ztca_duration_parse: "90s", "15m", "8h", "7d", "1h30m"; positive, at most 100 years. */
ZTCA_RC ztca_duration_parse(int64_t *out_seconds, const char *s);
/* ztca_duration_format: the canonical form (largest units first), e.g. 5400 -> "1h30m". Needs
 * ZTCA_DURATION_TEXT bytes; a smaller buffer gets "" rather than a cut, valid-looking value. */
#define ZTCA_DURATION_TEXT 32
void ztca_duration_format(char *out, size_t out_size, int64_t seconds);

/* ---- base64 and PEM (mbedTLS underneath) -------------------------------------------------- */

#define ZTCA_PEM_MAX ((size_t)1024 * 1024) /* largest PEM text we read */

/* ztca_base64_encode: standard alphabet with padding, NUL-terminated, malloc'd on success. */
ZTCA_RC ztca_base64_encode(char **out, size_t *out_len, const uint8_t *in, size_t in_len);
/* ztca_base64_decode: standard alphabet, padding required, no whitespace; malloc'd. */
ZTCA_RC ztca_base64_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len);

/* ztca_pem_encode: "-----BEGIN label-----" with 64-column lines and a final newline. Appends to
 * nothing: returns a malloc'd NUL-terminated string. */
ZTCA_RC ztca_pem_encode(char **out, size_t *out_len, const char *label, const uint8_t *der,
                        size_t der_len);

/* ztca_pem_block: one decoded PEM block; `der` is owned by the list. */
typedef struct ztca_pem_block {
    char label[64];
    uint8_t *der;
    size_t der_len;
} ztca_pem_block;

typedef struct ztca_pem_list {
    ztca_pem_block *blocks; /* owned */
    size_t num_blocks;
} ztca_pem_list;

#define ZTCA_PEM_MAX_BLOCKS 64

void ztca_pem_list_init(ztca_pem_list *l);
void ztca_pem_list_free(ztca_pem_list *l);
/* ztca_pem_decode_all: every "-----BEGIN X-----" block of `text` (which need not be
 * NUL-terminated; at most ZTCA_PEM_MAX bytes, no NUL bytes, at most ZTCA_PEM_MAX_BLOCKS blocks).
 * Text outside blocks is ignored, as openssl does; a broken block fails the whole decode. Fails
 * with BAD_INPUT when no block is found. */
ZTCA_RC ztca_pem_decode_all(ztca_pem_list *out, const uint8_t *text, size_t text_len);
/* ztca_pem_decode_one: exactly one block with `label`; any other block is an error. malloc'd. */
ZTCA_RC ztca_pem_decode_one(uint8_t **out, size_t *out_len, const char *label, const uint8_t *text,
                            size_t text_len);

#endif /* ZTCA_CORE_CORE_H */
