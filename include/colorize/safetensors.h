/* safetensors files: a strict reader and an atomic writer.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 *    ..., "__metadata__": {"key": "string value", ...}}
 * then the raw little-endian tensor bytes; offsets count from the start of
 * that data section.
 *
 * The reader trusts nothing: it checks the header length against the file
 * size (and a 100 MB cap), parses the JSON strictly, accepts only the dtypes
 * F32 and I64, checks every shape against its byte range, the ranges against
 * the data section, and that the tensors tile the data section exactly (no
 * overlap, no gap), and rejects duplicate names. Every failure returns a
 * status with a message naming the file and the problem (cz_last_error()).
 *
 * The writer copies named tensors and metadata strings, then writes a file
 * with the keys sorted, the header padded with spaces to a multiple of 8
 * bytes, and the data in the same order, atomically (temporary file + rename).
 *
 *   cz_st_file *f;
 *   if (cz_st_open(&f, "model.safetensors")) { puts(cz_last_error()); ... }
 *   const cz_st_tensor *t;
 *   int64_t shape[2] = {32, 1};
 *   if (cz_st_expect(f, "head.bias", CZ_ST_F32, 1, shape, &t)) ...
 *   cz_st_copy_f32(t, dst);
 *   const char *arch = cz_st_metadata(f, "arch");   // NULL if absent
 *   cz_st_close(f);
 */
#ifndef COLORIZE_SAFETENSORS_H
#define COLORIZE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "colorize/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_ST_MAX_DIMS 8
#define CZ_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* bytes of JSON */

typedef enum cz_st_dtype {
    CZ_ST_F32 = 0, /* "F32": IEEE binary32 */
    CZ_ST_I64 = 1  /* "I64": two's-complement int64 (e.g. num_batches_tracked) */
} cz_st_dtype;

/* "F32" / "I64" */
const char *cz_st_dtype_name(cz_st_dtype dtype);
/* 4 / 8 */
size_t cz_st_dtype_size(cz_st_dtype dtype);

/* One tensor of an open file. Valid until cz_st_close. */
typedef struct cz_st_tensor {
    const char *name;
    cz_st_dtype dtype;
    int ndim;                        /* 0 (a scalar) .. CZ_ST_MAX_DIMS */
    int64_t shape[CZ_ST_MAX_DIMS];   /* unused dims are 0 */
    size_t numel;                    /* product of shape (1 for a scalar) */
    size_t nbytes;                   /* numel * dtype size */
    const void *data;                /* the raw little-endian bytes; NOT
                                        necessarily aligned: read through
                                        cz_st_copy_* or memcpy */
} cz_st_tensor;

typedef struct cz_st_file cz_st_file; /* opaque */

/* Read and validate a whole file. On failure *out is NULL. */
cz_status cz_st_open(cz_st_file **out, const char *path);
/* Same from memory (the bytes are copied); `name` labels error messages. */
cz_status cz_st_open_memory(cz_st_file **out, const void *data, size_t size, const char *name);
void cz_st_close(cz_st_file *f); /* NULL is fine */

/* The path or name the file was opened with. */
const char *cz_st_path(const cz_st_file *f);

/* Tensors, sorted by name: index 0 .. count-1. */
int cz_st_count(const cz_st_file *f);
const cz_st_tensor *cz_st_at(const cz_st_file *f, int index);
/* NULL if there is no tensor of that name (no error is recorded). */
const cz_st_tensor *cz_st_find(const cz_st_file *f, const char *name);

/* Find a tensor and check its dtype and shape (shape may be NULL to accept
 * any shape with ndim dims; ndim < 0 accepts any rank). CZ_ERR_FORMAT with a
 * message naming file, tensor, expected and found shape otherwise. */
cz_status cz_st_expect(const cz_st_file *f, const char *name, cz_st_dtype dtype, int ndim,
                       const int64_t *shape, const cz_st_tensor **out);

/* Copy a tensor's values into aligned host memory (t->numel elements).
 * cz_st_copy_f32 requires F32; cz_st_copy_i64 requires I64. */
cz_status cz_st_copy_f32(const cz_st_tensor *t, float *dst);
cz_status cz_st_copy_i64(const cz_st_tensor *t, int64_t *dst);

/* __metadata__: value for key, or NULL. Entries are sorted by key. */
const char *cz_st_metadata(const cz_st_file *f, const char *key);
int cz_st_metadata_count(const cz_st_file *f);
void cz_st_metadata_at(const cz_st_file *f, int index, const char **key, const char **value);

/* ---- writer ---- */

typedef struct cz_st_writer cz_st_writer; /* opaque */

cz_status cz_st_writer_create(cz_st_writer **out);
void cz_st_writer_free(cz_st_writer *w); /* NULL is fine */

/* Add a tensor (the values are copied). Names must be non-empty, unique,
 * valid UTF-8 and not "__metadata__". ndim 0 is a scalar (one value). */
cz_status cz_st_writer_add_f32(cz_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const float *values);
cz_status cz_st_writer_add_i64(cz_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const int64_t *values);
/* Set a metadata string (replaces an earlier value for the same key). */
cz_status cz_st_writer_set_metadata(cz_st_writer *w, const char *key, const char *value);

/* Serialise into a malloc'd buffer (free() it), or write to path atomically. */
cz_status cz_st_writer_to_memory(const cz_st_writer *w, uint8_t **data, size_t *size);
cz_status cz_st_writer_save(const cz_st_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
