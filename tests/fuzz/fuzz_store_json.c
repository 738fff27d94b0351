/* Target: store_json_object_check (store/store_util.c).
 * Why: device facts (from enrolling agents), trust-signal details (from signal feeders) and audit
 * details are stored as JSON text after this check, so both backends refuse the same input (an
 * SQLite TEXT column would store anything, a PostgreSQL client encoding would not).
 *
 * Oracle: jansson itself. What the check accepts is a JSON object without NUL bytes, in valid
 * UTF-8, of at most STORE_JSON_MAX bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ZTCA_IS_OK(store_json_object_check((const char *)data, size))) {
        return 0;
    }
    if (size > STORE_JSON_MAX || memchr(data, '\0', size) != NULL) {
        abort();
    }
    json_error_t err;
    json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (v == NULL || !json_is_object(v)) {
        abort(); /* accepted something jansson does not read as an object */
    }
    json_decref(v);
    return 0;
}
