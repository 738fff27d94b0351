/* agent_files.c: DIR's files, written as a group: every file goes to a temporary name in DIR
 * first (same file system, so rename is atomic), and only when all are written are they renamed
 * into place. A failure before that leaves DIR as it was: no partial files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enroll/agent/agent.h"

void
agent_files_init(agent_files *f, const char *dir)
{
    memset(f, 0, sizeof(*f));
    f->dir = dir;
}

static ztca_rc
agent_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ZTCA_ENSURE(n > 0, ZTCA_ERR_IO, "cannot write a file in DIR");
        p += n;
        len -= (size_t)n;
    }
    return ZTCA_RC_OK;
}

ztca_rc
agent_files_add(agent_files *f, const char *name, mode_t mode, const void *data, size_t len)
{
    ZTCA_ENSURE(f->num < AGENT_FILES_MAX, ZTCA_ERR_INTERNAL, "too many files");
    char *tmp = f->tmp[f->num];
    ZTCA_ENSURE(snprintf(f->dst[f->num], sizeof(f->dst[0]), "%s/%s", f->dir, name)
                        < (int)sizeof(f->dst[0])
                    && snprintf(tmp, sizeof(f->tmp[0]), "%s/.%s.XXXXXX", f->dir, name)
                           < (int)sizeof(f->tmp[0]),
                ZTCA_ERR_BAD_INPUT, "DIR path too long");
    int fd = mkstemp(tmp);
    ZTCA_ENSURE(fd >= 0, ZTCA_ERR_IO, "cannot create a file in DIR");
    /* mkstemp creates 0600; the mode is set before any byte is written. */
    ztca_rc rc = fchmod(fd, mode) == 0 ? agent_write_all(fd, data, len)
                                       : ZTCA_NOTE(ZTCA_ERR_IO, "cannot set a file mode", errno);
    if (ZTCA_IS_OK(rc) && fsync(fd) != 0) {
        rc = ZTCA_NOTE(ZTCA_ERR_IO, "cannot sync a file in DIR", errno);
    }
    if (close(fd) != 0 && ZTCA_IS_OK(rc)) {
        rc = ZTCA_NOTE(ZTCA_ERR_IO, "cannot close a file in DIR", errno);
    }
    if (!ZTCA_IS_OK(rc)) {
        (void)unlink(tmp);
        return rc;
    }
    f->num++;
    return ZTCA_RC_OK;
}

ztca_rc
agent_files_commit(agent_files *f)
{
    for (size_t i = 0; i < f->num; i++) {
        if (rename(f->tmp[i], f->dst[i]) != 0) {
            /* Earlier renames stand (each file is whole); the rest are removed. */
            for (size_t j = i; j < f->num; j++) {
                (void)unlink(f->tmp[j]);
            }
            f->num = 0;
            ZTCA_BAIL(ZTCA_ERR_IO, "cannot rename a file into DIR");
        }
    }
    f->num = 0;
    int fd = open(f->dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* the renames themselves are durable too */
        (void)close(fd);
    }
    return ZTCA_RC_OK;
}

void
agent_files_abort(agent_files *f)
{
    for (size_t i = 0; i < f->num; i++) {
        (void)unlink(f->tmp[i]);
    }
    f->num = 0;
}

ztca_rc
agent_file_read(const char *dir, const char *name, uint8_t **out, size_t *out_len)
{
    char path[4096];
    struct stat st;
    ZTCA_ENSURE(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path),
                ZTCA_ERR_BAD_INPUT, "DIR path too long");
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return ZTCA_NOTE(errno == ENOENT ? ZTCA_ERR_NOT_FOUND : ZTCA_ERR_IO,
                         "cannot open a file of DIR", errno);
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0
        || (size_t)st.st_size > AGENT_FILE_MAX) {
        fclose(fp);
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "a file of DIR is not a regular file of a sane size");
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = ztca_malloc(size + 1);
    if (buf == NULL) {
        fclose(fp);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, size, fp);
    fclose(fp);
    if (n != size) {
        ztca_free(buf);
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot read a file of DIR");
    }
    buf[size] = '\0';
    *out = buf;
    *out_len = size;
    return ZTCA_RC_OK;
}
