/* Private helpers: checked allocation with overflow tests, file helpers. */
#ifndef CZ_UTIL_H
#define CZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "colorize/error.h"

/* Allocate n*size bytes (zeroed); NULL with a recorded error on overflow or
 * failure. `what` names the buffer in the message. */
void *cz_alloc(size_t n, size_t size, const char *what);
/* 64-byte aligned, zeroed; free with free(). */
void *cz_alloc_aligned(size_t n, size_t size, const char *what);

/* a*b without overflow; returns 0 on overflow. */
int cz_mul_ok(size_t a, size_t b, size_t *out);

/* Read a whole file (at most max_bytes) into a malloc'd buffer. */
cz_status cz_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size);

/* Write atomically: data goes to "path.tmp.PID", is flushed and fsync'd, then
 * renamed over path, so a crash never leaves a half-written path. */
cz_status cz_write_file_atomic(const char *path, const void *data, size_t size);

/* Open a temporary file beside path for an atomic write; finish with
 * cz_atomic_commit (flush, fsync, rename) or cz_atomic_abort (remove). */
typedef struct cz_atomic_file {
    FILE *fp;
    char tmp_path[4096];
    char path[4096];
} cz_atomic_file;
cz_status cz_atomic_open(cz_atomic_file *af, const char *path);
cz_status cz_atomic_commit(cz_atomic_file *af);
void cz_atomic_abort(cz_atomic_file *af);

/* mkdir -p */
cz_status cz_mkdirs(const char *path);
int cz_file_exists(const char *path);

/* Monotonic seconds. */
double cz_now(void);
/* qsort order of doubles, ascending. */
int cz_cmp_double(const void *a, const void *b);

#endif
