/* unit.c: the CUnit runner shared by every suite. */
#include "tests/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

int
unit_run(const char *suite, const unit_test *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (s == NULL) {
        CU_cleanup_registry();
        return 1;
    }
    for (const unit_test *t = tests; t->name != NULL; t++) {
        if (CU_add_test(s, t->name, t->fn) == NULL) {
            CU_cleanup_registry();
            return 1;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return failed == 0 && ran > 0 ? 0 : 1;
}

uint8_t *
unit_dup(const uint8_t *p, size_t len)
{
    uint8_t *d = malloc(len == 0 ? 1 : len);
    if (d != NULL && len > 0) {
        memcpy(d, p, len);
    }
    return d;
}

uint8_t *
unit_read_file(const char *rel_path, size_t *out_len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", ZTCA_SOURCE_DIR, rel_path);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap == 0 ? 4096 : cap * 2;
            uint8_t *g = realloc(buf, cap);
            if (g == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = g;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    fclose(f);
    *out_len = len;
    return buf;
}
