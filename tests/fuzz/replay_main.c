/* replay_main.c: runs a fuzz target over files without libFuzzer (mbedTLS programs/fuzz/onefile.c),
 * so gcc builds replay every committed corpus as a ctest (STYLE.md 9).
 *
 * usage: fuzz_<name>_replay DIR|FILE...
 * Each regular file (a directory's entries, not recursively, in name order) is passed to
 * LLVMFuzzerTestOneInput from a malloc'd copy of exactly its size, so ASan sees any over-read.
 * Exits non-zero when an argument is missing or a directory holds no input: an empty or
 * misspelt corpus must fail the test instead of passing vacuously. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer: a target that needs one-time setup defines it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_MAX_INPUT (64L * 1024 * 1024) /* corpus files are a few KB; refuse surprises */

/* Runs one file; returns 0, or -1 after printing why it could not be read. */
static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > REPLAY_MAX_INPUT
        || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: %s: cannot size the file\n", path);
        fclose(f);
        return -1;
    }
    /* Exactly `size` bytes (malloc(0) included): no slack for an over-read to land in. */
    buf = malloc((size_t)size);
    if (buf == NULL && size > 0) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        fclose(f);
        return -1;
    }
    if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* Named before it runs, so a sanitizer report that follows points at its input. */
    printf("replay: %s (%ld bytes)\n", path, size);
    fflush(stdout);
    static const uint8_t empty[1];
    (void)LLVMFuzzerTestOneInput(buf != NULL ? buf : empty, (size_t)size);
    free(buf);
    return 0;
}

static int
replay_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Runs every regular file directly in `dir`, sorted so runs are reproducible; adds to *count. */
static int
replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t num = 0, cap = 0, ran = 0;
    int ret = 0;
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue; /* ".", ".." and editor or VCS droppings */
        }
        if (num == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            char **grown = realloc(names, ncap * sizeof(*names));
            if (grown == NULL) {
                ret = -1;
                break;
            }
            names = grown;
            cap = ncap;
        }
        size_t n = strlen(dir) + 1 + strlen(e->d_name) + 1;
        names[num] = malloc(n);
        if (names[num] == NULL) {
            ret = -1;
            break;
        }
        snprintf(names[num], n, "%s/%s", dir, e->d_name);
        num++;
    }
    closedir(d);
    if (ret == 0 && num > 0) {
        qsort(names, num, sizeof(*names), replay_name_cmp);
    }
    for (size_t i = 0; ret == 0 && i < num; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            continue; /* subdirectories are not descended into */
        }
        if (replay_file(names[i]) != 0) {
            ret = -1;
        } else {
            ran++;
        }
    }
    for (size_t i = 0; i < num; i++) {
        free(names[i]);
    }
    free(names);
    if (ret == 0 && ran == 0) {
        fprintf(stderr, "replay: %s: no inputs (an empty corpus tests nothing)\n", dir);
        return -1;
    }
    *count += ran;
    return ret;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    int failed = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL) {
        (void)LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            failed = 1;
        } else if (S_ISDIR(st.st_mode)) {
            failed |= replay_dir(argv[i], &count) != 0;
        } else if (replay_file(argv[i]) == 0) {
            count++;
        } else {
            failed = 1;
        }
    }
    printf("replay: %zu input%s ran%s\n", count, count == 1 ? "" : "s",
           failed ? ", but some arguments failed" : "");
    return failed ? 1 : 0;
}
