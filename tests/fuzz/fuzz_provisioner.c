/* Target: enroll_provisioner_parse and enroll_provisioner_write (enroll/enroll_provisioner.c),
 * a round trip. Why: provisioner configs come from admins over the API and from the store, which
 * every node reads; they decide who gets which workload identity.
 *
 * Invariants (abort() otherwise): what parses passes enroll_provisioner_check and writes; the
 * written text parses to a provisioner that writes the same text (canonical form). */
#include <stdlib.h>
#include <string.h>

#include "enroll/enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enroll_provisioner p, q;
    char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    enroll_provisioner_init(&p);
    enroll_provisioner_init(&q);
    if (ZTCA_IS_OK(enroll_provisioner_parse(&p, data, size))) {
        if (!ZTCA_IS_OK(enroll_provisioner_check(&p))
            || !ZTCA_IS_OK(enroll_provisioner_write(&a, &a_len, &p))
            || !ZTCA_IS_OK(enroll_provisioner_parse(&q, (const uint8_t *)a, a_len))
            || !ZTCA_IS_OK(enroll_provisioner_write(&b, &b_len, &q)) || a_len != b_len
            || memcmp(a, b, a_len) != 0 || p.algs != q.algs || p.num_require != q.num_require
            || strcmp(p.san, q.san) != 0 || (p.jwks == NULL) != (q.jwks == NULL)) {
            abort();
        }
        int64_t ttl = 0;
        if (!ZTCA_IS_OK(enroll_provisioner_ttl(&p, 0, &ttl)) || ttl < 1 || ttl > p.max_ttl) {
            abort();
        }
    }
    free(a);
    free(b);
    enroll_provisioner_free(&p);
    enroll_provisioner_free(&q);
    return 0;
}
