/* safetensors writer: the header's JSON through jansson, tensors in name
 * order, written atomically (cz_atomic_open / cz_atomic_commit). */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors_impl.h"
#include "util.h"

typedef struct wr_tensor {
    char *name;
    cz_st_dtype dtype;
    int ndim;
    int64_t shape[CZ_ST_MAX_DIMS];
    size_t nbytes;
    void *data;
} wr_tensor;

struct cz_st_writer {
    wr_tensor *tensors;
    int count, cap;
    json_t *meta; /* key -> string; jansson replaces on a repeated key */
};

cz_status cz_st_writer_create(cz_st_writer **out)
{
    *out = cz_alloc(1, sizeof **out, "safetensors writer");
    if (!*out)
        return CZ_ERR_NOMEM;
    if (!((*out)->meta = json_object())) {
        free(*out);
        *out = NULL;
        return cz_fail(CZ_ERR_NOMEM, "safetensors writer: out of memory");
    }
    return CZ_OK;
}

void cz_st_writer_free(cz_st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->count; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    json_decref(w->meta);
    free(w);
}

/* jansson refuses to make a string of anything that is not UTF-8. */
static int utf8_string_ok(const char *s)
{
    json_t *probe = s ? json_string(s) : NULL;
    int ok = probe != NULL;
    json_decref(probe);
    return ok;
}

static cz_status writer_add(cz_st_writer *w, const char *name, cz_st_dtype dtype, int ndim,
                            const int64_t *shape, const void *values)
{
    if (!name || !name[0] || strcmp(name, METADATA_KEY) == 0 || !utf8_string_ok(name))
        return cz_fail(CZ_ERR_ARG, "safetensors writer: invalid tensor name '%s'", name ? name : "(null)");
    if (ndim < 0 || ndim > CZ_ST_MAX_DIMS || (ndim > 0 && !shape))
        return cz_fail(CZ_ERR_ARG, "safetensors writer: tensor '%s': bad rank %d", name, ndim);
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return cz_fail(CZ_ERR_ARG, "safetensors writer: duplicate tensor name '%s'", name);
    wr_tensor t = {.dtype = dtype, .ndim = ndim};
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (uint64_t)shape[d] > SIZE_MAX || !cz_mul_ok(numel, (size_t)shape[d], &numel))
            return cz_fail(CZ_ERR_ARG, "safetensors writer: tensor '%s': bad dimension %" PRId64, name, shape[d]);
        t.shape[d] = shape[d];
    }
    if (!cz_mul_ok(numel, cz_st_dtype_size(dtype), &t.nbytes))
        return cz_fail(CZ_ERR_NOMEM, "safetensors writer: tensor '%s' too large", name);
    if (t.nbytes && !values)
        return cz_fail(CZ_ERR_ARG, "safetensors writer: tensor '%s': NULL values", name);
    if (w->count == w->cap) {
        int ncap = w->cap ? 2 * w->cap : 16;
        wr_tensor *grown = w->cap < INT32_MAX / 2 ? realloc(w->tensors, (size_t)ncap * sizeof *grown) : NULL;
        if (!grown)
            return cz_fail(CZ_ERR_NOMEM, "safetensors writer: out of memory for tensor '%s'", name);
        w->tensors = grown;
        w->cap = ncap;
    }
    size_t name_size = strlen(name) + 1;
    t.name = cz_alloc(name_size, 1, "safetensors writer");
    t.data = cz_alloc(t.nbytes ? t.nbytes : 1, 1, name);
    if (!t.name || !t.data) {
        free(t.name);
        free(t.data);
        return CZ_ERR_NOMEM;
    }
    memcpy(t.name, name, name_size);
    if (t.nbytes)
        memcpy(t.data, values, t.nbytes);
    w->tensors[w->count++] = t;
    return CZ_OK;
}

cz_status cz_st_writer_add_f32(cz_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const float *values)
{
    return writer_add(w, name, CZ_ST_F32, ndim, shape, values);
}

cz_status cz_st_writer_add_i64(cz_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const int64_t *values)
{
    return writer_add(w, name, CZ_ST_I64, ndim, shape, values);
}

cz_status cz_st_writer_set_metadata(cz_st_writer *w, const char *key, const char *value)
{
    /* json_string and json_object_set_new both refuse NULL and invalid UTF-8. */
    json_t *v = value ? json_string(value) : NULL;
    if (!key || !v || json_object_set_new(w->meta, key, v) != 0)
        return cz_fail(CZ_ERR_ARG, "safetensors writer: metadata key and value must be UTF-8 strings");
    return CZ_OK;
}

static int cmp_wr_name(const void *a, const void *b)
{
    return strcmp((*(const wr_tensor *const *)a)->name, (*(const wr_tensor *const *)b)->name);
}

static int cmp_string_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The header object: "__metadata__" first, then the tensors by name, each
 * {"dtype", "shape", "data_offsets"} in that order (jansson keeps insertion
 * order), so equal inputs always give equal bytes. */
static json_t *header_json(const cz_st_writer *w, wr_tensor *const *order)
{
    json_t *root = json_object();
    int ok = root != NULL;
    size_t nmeta = json_object_size(w->meta);
    if (ok && nmeta) {
        const char **keys = cz_alloc(nmeta, sizeof *keys, "safetensors writer");
        json_t *meta = json_object();
        ok = keys && json_object_set_new(root, METADATA_KEY, meta) == 0; /* steals meta */
        if (!keys)
            json_decref(meta);
        const char *key;
        json_t *value;
        size_t n = 0;
        json_object_foreach(w->meta, key, value)
            if (ok)
                keys[n++] = key;
        sort_array(keys, n, sizeof *keys, cmp_string_ptr);
        for (size_t i = 0; ok && i < n; i++)
            ok = json_object_set(meta, keys[i], json_object_get(w->meta, keys[i])) == 0;
        free(keys);
    }
    json_int_t offset = 0;
    for (int i = 0; ok && i < w->count; i++) {
        const wr_tensor *t = order[i];
        json_t *shape = json_array();
        for (int d = 0; shape && d < t->ndim; d++)
            if (json_array_append_new(shape, json_integer(t->shape[d])) != 0)
                json_decref(shape), shape = NULL;
        json_int_t end = offset + (json_int_t)t->nbytes;
        /* "o" steals shape (NULL makes json_pack fail cleanly) */
        json_t *entry = json_pack("{s:s, s:o, s:[I, I]}", "dtype", cz_st_dtype_name(t->dtype), "shape", shape,
                                  "data_offsets", offset, end);
        ok = entry && json_object_set_new(root, t->name, entry) == 0;
        offset = end;
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Build the 8-byte length + space-padded JSON header and the tensor order. */
static cz_status build_header(const cz_st_writer *w, char **hdr_out, size_t *hdr_len, wr_tensor ***order_out)
{
    *hdr_out = NULL;
    *order_out = NULL;
    wr_tensor **order = cz_alloc((size_t)w->count + 1, sizeof *order, "safetensors writer");
    if (!order)
        return CZ_ERR_NOMEM;
    for (int i = 0; i < w->count; i++)
        order[i] = &w->tensors[i];
    sort_array(order, (size_t)w->count, sizeof *order, cmp_wr_name);
    json_t *root = header_json(w, order);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text) {
        free(order);
        return cz_fail(CZ_ERR_NOMEM, "safetensors writer: out of memory building the header");
    }
    size_t len = strlen(text);
    uint64_t hlen = (len + 7) / 8 * 8;
    if (hlen > CZ_ST_MAX_HEADER) {
        free(text);
        free(order);
        return cz_fail(CZ_ERR_ARG, "safetensors writer: header of %" PRIu64 " bytes exceeds the limit", hlen);
    }
    char *hdr = cz_alloc(8 + hlen, 1, "safetensors header");
    if (!hdr) {
        free(text);
        free(order);
        return CZ_ERR_NOMEM;
    }
    for (int i = 0; i < 8; i++)
        hdr[i] = (char)((hlen >> (8 * i)) & 0xFF);
    memcpy(hdr + 8, text, len);
    memset(hdr + 8 + len, ' ', hlen - len); /* safetensors pads with spaces to 8 bytes */
    free(text);
    *hdr_out = hdr;
    *hdr_len = 8 + hlen;
    *order_out = order;
    return CZ_OK;
}

cz_status cz_st_writer_to_memory(const cz_st_writer *w, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    char *hdr;
    size_t hdr_len;
    wr_tensor **order;
    cz_status st = build_header(w, &hdr, &hdr_len, &order);
    if (st)
        return st;
    size_t total = hdr_len;
    for (int i = 0; i < w->count; i++) {
        if (order[i]->nbytes > SIZE_MAX - total) {
            free(hdr);
            free(order);
            return cz_fail(CZ_ERR_NOMEM, "safetensors writer: file too large");
        }
        total += order[i]->nbytes;
    }
    uint8_t *out = cz_alloc(total, 1, "safetensors file");
    if (!out) {
        free(hdr);
        free(order);
        return CZ_ERR_NOMEM;
    }
    memcpy(out, hdr, hdr_len);
    size_t pos = hdr_len;
    for (int i = 0; i < w->count; i++) {
        if (order[i]->nbytes)
            memcpy(out + pos, order[i]->data, order[i]->nbytes);
        pos += order[i]->nbytes;
    }
    free(hdr);
    free(order);
    *data = out;
    *size = total;
    return CZ_OK;
}

cz_status cz_st_writer_save(const cz_st_writer *w, const char *path)
{
    char *hdr;
    size_t hdr_len;
    wr_tensor **order;
    cz_status st = build_header(w, &hdr, &hdr_len, &order);
    if (st)
        return st;
    cz_atomic_file af;
    if ((st = cz_atomic_open(&af, path))) {
        free(hdr);
        free(order);
        return st;
    }
    int ok = fwrite(hdr, 1, hdr_len, af.fp) == hdr_len;
    for (int i = 0; ok && i < w->count; i++)
        ok = order[i]->nbytes == 0 || fwrite(order[i]->data, 1, order[i]->nbytes, af.fp) == order[i]->nbytes;
    free(hdr);
    free(order);
    if (!ok) {
        cz_atomic_abort(&af);
        return cz_fail(CZ_ERR_IO, "%s: write failed (disk full?)", path);
    }
    return cz_atomic_commit(&af);
}
