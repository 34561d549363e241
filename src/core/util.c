/* Checked allocation, whole-file reads and atomic writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int cz_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *cz_alloc(size_t n, size_t size, const char *what)
{
    size_t bytes;
    if (!cz_mul_ok(n, size, &bytes)) {
        cz_fail(CZ_ERR_NOMEM, "%s: size overflow (%zu x %zu)", what, n, size);
        return NULL;
    }
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p)
        cz_fail(CZ_ERR_NOMEM, "%s: out of memory (%zu bytes)", what, bytes);
    return p;
}

void *cz_alloc_aligned(size_t n, size_t size, const char *what)
{
    size_t bytes;
    if (!cz_mul_ok(n, size, &bytes) || bytes > SIZE_MAX - 64) {
        cz_fail(CZ_ERR_NOMEM, "%s: size overflow (%zu x %zu)", what, n, size);
        return NULL;
    }
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        cz_fail(CZ_ERR_NOMEM, "%s: out of memory (%zu bytes)", what, bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

cz_status cz_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cz_fail(CZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return cz_fail(CZ_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    }
    long len = ftell(fp);
    if (len < 0 || (unsigned long)len > max_bytes) {
        fclose(fp);
        return cz_fail(CZ_ERR_FORMAT, "%s: file too large (%ld bytes, limit %zu)", path, len, max_bytes);
    }
    rewind(fp);
    uint8_t *buf = cz_alloc((size_t)len + 1, 1, path);
    if (!buf) {
        fclose(fp);
        return CZ_ERR_NOMEM;
    }
    if (fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        fclose(fp);
        free(buf);
        return cz_fail(CZ_ERR_IO, "%s: read failed", path);
    }
    fclose(fp);
    *data = buf;
    *size = (size_t)len;
    return CZ_OK;
}

cz_status cz_atomic_open(cz_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) + 32 >= sizeof af->tmp_path)
        return cz_fail(CZ_ERR_ARG, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp)
        return cz_fail(CZ_ERR_IO, "%s: cannot create: %s (is the directory writable?)",
                       af->tmp_path, strerror(errno));
    return CZ_OK;
}

cz_status cz_atomic_commit(cz_atomic_file *af)
{
    int bad = ferror(af->fp);
    if (fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0)
        bad = 1;
    if (fclose(af->fp) != 0)
        bad = 1;
    af->fp = NULL;
    if (bad) {
        remove(af->tmp_path);
        return cz_fail(CZ_ERR_IO, "%s: write failed (disk full?)", af->path);
    }
    if (rename(af->tmp_path, af->path) != 0) {
        int e = errno;
        remove(af->tmp_path);
        return cz_fail(CZ_ERR_IO, "%s: cannot rename into place: %s", af->path, strerror(e));
    }
    return CZ_OK;
}

void cz_atomic_abort(cz_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    af->fp = NULL;
    if (af->tmp_path[0])
        remove(af->tmp_path);
}

cz_status cz_write_file_atomic(const char *path, const void *data, size_t size)
{
    cz_atomic_file af;
    cz_status st = cz_atomic_open(&af, path);
    if (st)
        return st;
    if (size && fwrite(data, 1, size, af.fp) != size) {
        cz_atomic_abort(&af);
        return cz_fail(CZ_ERR_IO, "%s: write failed (disk full?)", path);
    }
    return cz_atomic_commit(&af);
}

cz_status cz_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return cz_fail(CZ_ERR_ARG, "bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return cz_fail(CZ_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cz_fail(CZ_ERR_IO, "%s: not a directory", path);
    return CZ_OK;
}

int cz_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

double cz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cz_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
