/* Target: ztca_duration_parse (core/time.c), with ztca_duration_format as a round-trip oracle.
 * Why: TTLs and intervals come from flags, config and API requests; the parser accumulates
 * digits and unit multiples, where an overflow would turn a long duration into a short one.
 *
 * A duration that parses is formatted and parsed again: the same number of seconds, or abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DURATION_MAX_INPUT 64 /* longer inputs only repeat digits the bound already covers */
#define FUZZ_DURATION_MAX       (100LL * 366 * 86400)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    char text[64];
    int64_t seconds = 0, again = 0;
    if (size > FUZZ_DURATION_MAX_INPUT) {
        return 0;
    }
    /* An exact-size heap copy plus its terminator, so ASan catches a read past the NUL. */
    s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (ZTCA_IS_OK(ztca_duration_parse(&seconds, s))) {
        if (seconds <= 0 || seconds > FUZZ_DURATION_MAX) {
            abort(); /* outside the documented range */
        }
        ztca_duration_format(text, sizeof(text), seconds);
        if (!ZTCA_IS_OK(ztca_duration_parse(&again, text)) || again != seconds) {
            abort(); /* duration round trip changed the value */
        }
    }
    free(s);
    return 0;
}
