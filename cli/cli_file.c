/* cli_file.c: bounded file reads, exclusive and atomic writes, key file permissions. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

int
cli_fail(const char *cmd, const char *msg, ztca_rc rc)
{
    const char *what = ztca_last_what();
    if (what[0] != '\0') {
        fprintf(stderr, "ztca %s: %s: %s\n", cmd, msg, what);
    } else {
        fprintf(stderr, "ztca %s: %s (%s)\n", cmd, msg, ztca_err_name(rc.err));
    }
    if (getenv("ZTCA_DEBUG") != NULL) {
        fprintf(stderr, "  at %s, code %s, foreign %ld\n", ztca_last_where(), ztca_err_name(rc.err),
                ztca_last_foreign());
    }
    return 1;
}

int
cli_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "ztca %s: %s\nRun 'ztca %s --help' for usage.\n", cmd, msg, cmd);
    return 2;
}

const char *
cli_default_dir(const char *flag)
{
    if (flag != NULL) {
        return flag;
    }
    const char *env = getenv("ZTCA_DIR");
    return env != NULL && env[0] != '\0' ? env : "./ztca-data";
}

bool
cli_path(char *buf, size_t size, const char *dir, const char *rel)
{
    int n = snprintf(buf, size, "%s/%s", dir, rel);
    return n > 0 && (size_t)n < size;
}

static ztca_rc
cli_read_fd(int fd, const struct stat *st, size_t max, uint8_t **out, size_t *out_len)
{
    ZTCA_ENSURE(S_ISREG(st->st_mode), ZTCA_ERR_BAD_INPUT, "not a regular file");
    ZTCA_ENSURE((uint64_t)st->st_size <= max, ZTCA_ERR_BAD_INPUT, "file too large");
    size_t cap = (size_t)st->st_size + 1;
    uint8_t *buf = ztca_malloc(cap);
    size_t len = 0;
    ZTCA_ENSURE(buf != NULL, ZTCA_ERR_NOMEM, "out of memory");
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            ztca_free_secret(buf, cap);
            ZTCA_BAIL(ZTCA_ERR_IO, "read failed");
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len == cap) { /* the file grew while we read it */
            ztca_free_secret(buf, cap);
            ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "file changed while reading");
        }
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return ZTCA_RC_OK;
}

static ztca_rc
cli_open(const char *path, int *out_fd, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) {
            ZTCA_BAIL(ZTCA_ERR_NOT_FOUND, "no such file");
        }
        if (errno == EACCES) {
            ZTCA_BAIL(ZTCA_ERR_DENIED, "permission denied");
        }
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot open file");
    }
    if (fstat(fd, st) != 0) {
        close(fd);
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot stat file");
    }
    *out_fd = fd;
    return ZTCA_RC_OK;
}

ztca_rc
cli_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    int fd;
    struct stat st;
    ZTCA_GUARD(cli_open(path, &fd, &st));
    ztca_rc rc = cli_read_fd(fd, &st, max, out, out_len);
    close(fd);
    return rc;
}

ztca_rc
cli_read_key_file(const char *path, uint8_t **out, size_t *out_len)
{
    int fd;
    struct stat st;
    ZTCA_GUARD(cli_open(path, &fd, &st));
    if ((st.st_mode & 077) != 0) {
        close(fd);
        ZTCA_BAIL(ZTCA_ERR_DENIED, "key file is accessible by group or others (chmod 600 it)");
    }
    ztca_rc rc = cli_read_fd(fd, &st, CA_KEY_MAX, out, out_len);
    close(fd);
    return rc;
}

ztca_rc
cli_read_passphrase(const char *path, uint8_t **out, size_t *out_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ZTCA_GUARD(cli_read_file(path, 4096, &buf, &len));
    size_t n = 0;
    while (n < len && buf[n] != '\n' && buf[n] != '\r') {
        n++;
    }
    if (n == 0 || n > 1024) {
        ztca_free_secret(buf, len + 1);
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "passphrase file: first line must hold 1-1024 bytes");
    }
    ztca_zeroize(buf + n, len - n);
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return ZTCA_RC_OK;
}

static ztca_rc
cli_write_fd(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ZTCA_ENSURE(n > 0, ZTCA_ERR_IO, "write failed (disk full?)");
        p += n;
        len -= (size_t)n;
    }
    ZTCA_ENSURE(fsync(fd) == 0, ZTCA_ERR_IO, "fsync failed");
    return ZTCA_RC_OK;
}

ztca_rc
cli_write_new_file(const char *path, mode_t mode, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        ZTCA_ENSURE(errno != EEXIST, ZTCA_ERR_CONFLICT, "file already exists");
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot create file");
    }
    /* The umask may have taken bits away; never added any. Set exactly what we mean. */
    ztca_rc rc =
        fchmod(fd, mode) == 0 ? cli_write_fd(fd, data, len) : ZTCA_NOTE(ZTCA_ERR_IO, "chmod", 0);
    if (close(fd) != 0 && ZTCA_IS_OK(rc)) {
        rc = ZTCA_NOTE(ZTCA_ERR_IO, "close failed", 0);
    }
    if (!ZTCA_IS_OK(rc)) {
        unlink(path);
    }
    return rc;
}

ztca_rc
cli_write_file(const char *path, mode_t mode, const void *data, size_t len)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp~", path);
    ZTCA_ENSURE(n > 0 && (size_t)n < sizeof(tmp), ZTCA_ERR_BAD_INPUT, "path too long");
    unlink(tmp);
    ZTCA_GUARD(cli_write_new_file(tmp, mode, data, len));
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        ZTCA_BAIL(ZTCA_ERR_IO, "rename failed");
    }
    return ZTCA_RC_OK;
}

int
cli_dir_state(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? 0 : 3;
    }
    if (!S_ISDIR(st.st_mode)) {
        return 3;
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        return 3;
    }
    int state = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            state = 2;
            break;
        }
    }
    closedir(d);
    return state;
}

ztca_rc
cli_load_config(const char *dir, ca_config *out)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, "ztca.conf"), ZTCA_ERR_BAD_INPUT,
                "path too long");
    ztca_rc rc = cli_read_file(path, CA_CONFIG_MAX, &buf, &len);
    ZTCA_ENSURE(rc.err != ZTCA_ERR_NOT_FOUND, ZTCA_ERR_NOT_FOUND,
                "no ztca.conf in the directory (run 'ztca init' or pass --dir)");
    ZTCA_GUARD(rc);
    rc = ca_config_parse(out, buf, len);
    ztca_free(buf);
    if (ZTCA_IS_OK(rc)) { /* "crypto_backend" (or ZTCA_CRYPTO_BACKEND) for the whole process */
        rc = ca_crypto_backend_select(out->crypto_backend);
    }
    return rc;
}

ztca_rc
cli_load_trust(const char *dir, trust_policy *out)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, "ztca.conf"), ZTCA_ERR_BAD_INPUT,
                "path too long");
    ZTCA_GUARD(cli_read_file(path, CA_CONFIG_MAX, &buf, &len));
    ztca_rc rc = trust_policy_parse(out, buf, len);
    ztca_free(buf);
    return rc;
}
