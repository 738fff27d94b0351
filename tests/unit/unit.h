/* unit.h: helpers shared by the CUnit suites. */
#ifndef ZTCA_TESTS_UNIT_H
#define ZTCA_TESTS_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

#include "core/core.h"

typedef struct unit_test {
    const char *name;
    CU_TestFunc fn;
} unit_test;

/* unit_run: registers one suite named `suite` with `tests` (NULL-terminated), runs it with the
 * basic runner and returns the process exit status (non-zero on any failure). */
int unit_run(const char *suite, const unit_test *tests);

/* unit_dup: an exact-size heap copy, so ASan catches any read past `len`. */
uint8_t *unit_dup(const uint8_t *p, size_t len);

/* unit_read_file: a whole file from tests/data (path relative to the source tree), malloc'd. */
uint8_t *unit_read_file(const char *rel_path, size_t *out_len);

#define UNIT_ASSERT_OK(expr)     CU_ASSERT_EQUAL_FATAL((expr).err, ZTCA_OK)
#define UNIT_ASSERT_ERR(expr, e) CU_ASSERT_EQUAL((expr).err, (e))

#endif /* ZTCA_TESTS_UNIT_H */
