/* sync_fault.c: preloaded (LD_PRELOAD) into `ztca serve` by test_faults.sh, fault e. An
 * fdatasync of a file whose name ends in "-wal" (SQLite's WAL: docs/store.md "Syncs outside the
 * lock") obeys the control file named by ZTCA_SYNC_FAULT, read at every such call:
 *   "fail"     the call fails with EIO, as when the disk lost the write;
 *   "slow MS"  the call takes MS milliseconds more, then appends the CLOCK_REALTIME nanoseconds
 *              at which it returned to the file named by ZTCA_SYNC_FAULT_LOG;
 *   else       (empty or missing) the call is left alone.
 * Every other call goes to the next fdatasync (libc's, or a sanitizer's interceptor). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fault_fn)(int);

static int
sync_fault_is_wal(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    return n > 4 && memcmp(path + n - 4, "-wal", 4) == 0;
}

/* sync_fault_mode: 0 none, 1 fail, 2 slow (*ms set). */
static int
sync_fault_mode(long *ms)
{
    const char *ctl = getenv("ZTCA_SYNC_FAULT");
    if (ctl == NULL) {
        return 0;
    }
    int fd = open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    if (strncmp(buf, "fail", 4) == 0) {
        return 1;
    }
    if (strncmp(buf, "slow ", 5) == 0) {
        *ms = strtol(buf + 5, NULL, 10);
        return *ms > 0 ? 2 : 0;
    }
    return 0;
}

static void
sync_fault_log(void)
{
    const char *log = getenv("ZTCA_SYNC_FAULT_LOG");
    if (log == NULL) {
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char line[32];
    int len = snprintf(line, sizeof(line), "%lld%09ld\n", (long long)now.tv_sec, now.tv_nsec);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t ignored = write(fd, line, (size_t)len);
        (void)ignored;
        close(fd);
    }
}

int
fdatasync(int fd)
{
    sync_fault_fn next = (sync_fault_fn)(uintptr_t)dlsym(RTLD_NEXT, "fdatasync");
    if (next == NULL) {
        errno = ENOSYS;
        return -1;
    }
    long ms = 0;
    int mode = sync_fault_is_wal(fd) ? sync_fault_mode(&ms) : 0;
    if (mode == 1) {
        errno = EIO;
        return -1;
    }
    if (mode == 2) {
        struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&d, NULL);
    }
    int r = next(fd);
    if (mode == 2) {
        sync_fault_log();
    }
    return r;
}
