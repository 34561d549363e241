/* safetensors reader (strict, never trusts the file); the writer (atomic) is
 * safetensors_write.c. jansson parses the header's JSON (rejecting duplicate
 * keys); this file checks what safetensors itself requires of it. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors_impl.h"
#include "util.h"

const char *cz_st_dtype_name(cz_st_dtype dtype) { return dtype == CZ_ST_I64 ? "I64" : "F32"; }
size_t cz_st_dtype_size(cz_st_dtype dtype) { return dtype == CZ_ST_I64 ? 8 : 4; }

typedef struct st_entry {
    cz_st_tensor pub;       /* first member: cz_st_at hands out &entry->pub */
    uint64_t begin, end;    /* data_offsets */
} st_entry;

typedef struct st_meta {
    const char *key, *value; /* point into the parsed header */
} st_meta;

struct cz_st_file {
    char *path;
    uint8_t *bytes; /* the whole file */
    size_t size;
    json_t *header; /* owns every name, key and value string below */
    st_entry *tensors; /* sorted by name after parsing */
    int count;
    st_meta *meta; /* sorted by key */
    int meta_count;
};

/* {"key": "value", ...} */
static cz_status parse_metadata(cz_st_file *f, json_t *obj)
{
    if (!json_is_object(obj))
        return cz_fail(CZ_ERR_FORMAT, "%s: safetensors header: __metadata__ must be an object of strings", f->path);
    f->meta = cz_alloc(json_object_size(obj) + 1, sizeof *f->meta, f->path);
    if (!f->meta)
        return CZ_ERR_NOMEM;
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        if (!json_is_string(value))
            return cz_fail(CZ_ERR_FORMAT, "%s: safetensors header: metadata value of '%s' is not a string",
                           f->path, key);
        f->meta[f->meta_count++] = (st_meta){key, json_string_value(value)};
    }
    return CZ_OK;
}

/* Returns 1 for a dtype name safetensors defines but this reader does not. */
static int known_unsupported_dtype(const char *s)
{
    static const char *const names[] = {"BOOL", "U8",   "I8",   "F8_E5M2", "F8_E4M3", "I16",
                                        "U16",  "F16",  "BF16", "I32",     "U32",     "F64",
                                        "U64",  "F4",   "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0)
            return 1;
    return 0;
}

/* [int, int, ...]: at most max non-negative integers. */
static cz_status parse_uint_array(const cz_st_file *f, const char *name, const char *what, const json_t *arr,
                                  uint64_t *vals, int max, int *count)
{
    if (!json_is_array(arr))
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': %s must be an array of integers", f->path, name, what);
    if (json_array_size(arr) > (size_t)max)
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': %s has more than %d entries", f->path, name, what, max);
    *count = (int)json_array_size(arr);
    for (int i = 0; i < *count; i++) {
        const json_t *v = json_array_get(arr, (size_t)i);
        const char *why = json_is_real(v)                 ? "expected an integer, found a fraction or exponent"
                          : !json_is_integer(v)           ? "expected a non-negative integer"
                          : json_integer_value(v) < 0     ? "negative number where a size or offset is expected"
                                                          : NULL;
        if (why)
            return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': %s entry %d: %s", f->path, name, what, i, why);
        vals[i] = (uint64_t)json_integer_value(v);
    }
    return CZ_OK;
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} in any order. */
static cz_status parse_tensor(const cz_st_file *f, const char *name, const json_t *obj, st_entry *e)
{
    e->pub.name = name;
    if (!json_is_object(obj))
        return cz_fail(CZ_ERR_FORMAT, "%s: safetensors header: entry '%s' is not an object", f->path, name);
    if (json_object_size(obj) == 0)
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' has no dtype, shape or data_offsets", f->path, name);
    const char *field;
    const json_t *v;
    json_object_foreach((json_t *)obj, field, v)
        if (strcmp(field, "dtype") != 0 && strcmp(field, "shape") != 0 && strcmp(field, "data_offsets") != 0)
            return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': unknown field '%s'", f->path, name, field);
    const json_t *dtype = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape");
    const json_t *offsets = json_object_get(obj, "data_offsets");
    if (!dtype || !shape || !offsets)
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' lacks %s", f->path, name,
                       !dtype ? "a dtype" : !shape ? "a shape" : "data_offsets");

    const char *dt = json_string_value(dtype);
    if (!dt)
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': dtype must be a string", f->path, name);
    if (strcmp(dt, "F32") == 0)
        e->pub.dtype = CZ_ST_F32;
    else if (strcmp(dt, "I64") == 0)
        e->pub.dtype = CZ_ST_I64;
    else if (known_unsupported_dtype(dt))
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' has dtype %s; only F32 and I64 are supported", f->path,
                       name, dt);
    else
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", f->path, name, dt);

    uint64_t dims[CZ_ST_MAX_DIMS], off[2];
    int n = 0;
    cz_status st = parse_uint_array(f, name, "shape", shape, dims, CZ_ST_MAX_DIMS, &e->pub.ndim);
    if (st)
        return st;
    for (int d = 0; d < e->pub.ndim; d++)
        e->pub.shape[d] = (int64_t)dims[d]; /* jansson integers are int64: no overflow */
    if ((st = parse_uint_array(f, name, "data_offsets", offsets, off, 2, &n)))
        return st;
    if (n != 2)
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': data_offsets needs 2 integers, found %d", f->path, name, n);
    e->begin = off[0];
    e->end = off[1];
    return CZ_OK;
}

/* Parse the JSON text (duplicate keys are an error) and every entry. */
static cz_status parse_header(cz_st_file *f, const char *text, size_t len)
{
    json_error_t err;
    f->header = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!f->header)
        return cz_fail(CZ_ERR_FORMAT, "%s: safetensors header, byte %d: %s", f->path, err.position, err.text);
    if (!json_is_object(f->header))
        return cz_fail(CZ_ERR_FORMAT, "%s: safetensors header: the header must be a JSON object starting with '{'",
                       f->path);
    f->tensors = cz_alloc(json_object_size(f->header) + 1, sizeof *f->tensors, f->path);
    if (!f->tensors)
        return CZ_ERR_NOMEM;
    const char *key;
    json_t *value;
    json_object_foreach(f->header, key, value) {
        cz_status st = strcmp(key, METADATA_KEY) == 0 ? parse_metadata(f, value)
                                                      : parse_tensor(f, key, value, &f->tensors[f->count++]);
        if (st)
            return st;
    }
    return CZ_OK;
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->pub.name, ((const st_entry *)b)->pub.name);
}

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

static int cmp_entry_offset(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Shapes against byte ranges, ranges against the data section, exact tiling. */
static cz_status check_tensors(cz_st_file *f, const uint8_t *data, uint64_t data_size)
{
    for (int i = 0; i < f->count; i++) {
        st_entry *e = &f->tensors[i];
        size_t numel = 1, nbytes;
        for (int d = 0; d < e->pub.ndim; d++)
            if ((uint64_t)e->pub.shape[d] > SIZE_MAX || !cz_mul_ok(numel, (size_t)e->pub.shape[d], &numel))
                return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': shape too large", f->path, e->pub.name);
        if (!cz_mul_ok(numel, cz_st_dtype_size(e->pub.dtype), &nbytes))
            return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': shape too large", f->path, e->pub.name);
        if (e->begin > e->end)
            return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] are reversed",
                           f->path, e->pub.name, e->begin, e->end);
        if (e->end > data_size)
            return cz_fail(CZ_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] exceed the data section (%" PRIu64
                           " bytes; file truncated?)",
                           f->path, e->pub.name, e->begin, e->end, data_size);
        if (e->end - e->begin != (uint64_t)nbytes)
            return cz_fail(CZ_ERR_FORMAT,
                           "%s: tensor '%s': shape and dtype %s need %zu bytes but data_offsets give %" PRIu64,
                           f->path, e->pub.name, cz_st_dtype_name(e->pub.dtype), nbytes, e->end - e->begin);
        e->pub.numel = numel;
        e->pub.nbytes = nbytes;
        e->pub.data = data + e->begin;
    }
    /* Exact tiling of [0, data_size): sort by offset, walk. */
    st_entry **order = cz_alloc((size_t)f->count + 1, sizeof *order, "safetensors offsets");
    if (!order)
        return CZ_ERR_NOMEM;
    for (int i = 0; i < f->count; i++)
        order[i] = &f->tensors[i];
    sort_array(order, (size_t)f->count, sizeof *order, cmp_entry_offset);
    uint64_t expect = 0;
    cz_status st = CZ_OK;
    for (int i = 0; i < f->count && !st; i++) {
        if (order[i]->begin < expect)
            st = cz_fail(CZ_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section", f->path,
                         order[i - 1]->pub.name, order[i]->pub.name);
        else if (order[i]->begin > expect)
            st = cz_fail(CZ_ERR_FORMAT, "%s: gap of %" PRIu64 " unused bytes before tensor '%s' in the data section",
                         f->path, order[i]->begin - expect, order[i]->pub.name);
        expect = order[i]->end;
    }
    free(order);
    if (!st && expect != data_size)
        st = cz_fail(CZ_ERR_FORMAT, "%s: %" PRIu64 " unused bytes at the end of the data section", f->path,
                     data_size - expect);
    return st;
}

/* Takes ownership of bytes. */
static cz_status st_parse(cz_st_file **out, uint8_t *bytes, size_t size, const char *path)
{
    *out = NULL;
    cz_st_file *f = cz_alloc(1, sizeof *f, "safetensors file");
    char *pcopy = cz_alloc(strlen(path) + 1, 1, "safetensors path");
    if (!f || !pcopy) {
        free(f);
        free(pcopy);
        free(bytes);
        return CZ_ERR_NOMEM;
    }
    memcpy(pcopy, path, strlen(path) + 1);
    f->path = pcopy;
    f->bytes = bytes;
    f->size = size;
    cz_status st = CZ_OK;
    if (size < 8) {
        st = cz_fail(CZ_ERR_FORMAT, "%s: not a safetensors file: %zu bytes, shorter than the 8-byte header length",
                     path, size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | bytes[i];
    if (hlen > CZ_ST_MAX_HEADER) {
        st = cz_fail(CZ_ERR_FORMAT, "%s: header length %" PRIu64 " exceeds the %" PRIu64 "-byte limit (corrupt file?)",
                     path, hlen, CZ_ST_MAX_HEADER);
        goto fail;
    }
    if (hlen > size - 8) {
        st = cz_fail(CZ_ERR_FORMAT, "%s: header length %" PRIu64 " but only %zu bytes follow (truncated file?)",
                     path, hlen, size - 8);
        goto fail;
    }
    if ((st = parse_header(f, (const char *)bytes + 8, (size_t)hlen)))
        goto fail;
    /* jansson rejected duplicate keys: sorting is all cz_st_find needs. */
    sort_array(f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_entry_name);
    sort_array(f->meta, (size_t)f->meta_count, sizeof *f->meta, cmp_meta_key);
    if ((st = check_tensors(f, bytes + 8 + hlen, (uint64_t)(size - 8 - hlen))))
        goto fail;
    *out = f;
    return CZ_OK;
fail:
    cz_st_close(f);
    return st;
}

cz_status cz_st_open(cz_st_file **out, const char *path)
{
    *out = NULL;
    uint8_t *bytes;
    size_t size;
    cz_status st = cz_read_file(path, SIZE_MAX / 2, &bytes, &size);
    if (st)
        return st;
    return st_parse(out, bytes, size, path);
}

cz_status cz_st_open_memory(cz_st_file **out, const void *data, size_t size, const char *name)
{
    *out = NULL;
    if (!name)
        name = "<memory>";
    if (!data && size)
        return cz_fail(CZ_ERR_ARG, "%s: NULL data", name);
    uint8_t *copy = cz_alloc(size ? size : 1, 1, name);
    if (!copy)
        return CZ_ERR_NOMEM;
    if (size)
        memcpy(copy, data, size);
    return st_parse(out, copy, size, name);
}

void cz_st_close(cz_st_file *f)
{
    if (!f)
        return;
    json_decref(f->header);
    free(f->tensors);
    free(f->meta);
    free(f->bytes);
    free(f->path);
    free(f);
}

const char *cz_st_path(const cz_st_file *f) { return f->path; }
int cz_st_count(const cz_st_file *f) { return f->count; }

const cz_st_tensor *cz_st_at(const cz_st_file *f, int index)
{
    return index >= 0 && index < f->count ? &f->tensors[index].pub : NULL;
}

const cz_st_tensor *cz_st_find(const cz_st_file *f, const char *name)
{
    int lo = 0, hi = f->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->tensors[mid].pub.name);
        if (c == 0)
            return &f->tensors[mid].pub;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int d = 0; d < ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d ? ", %" PRId64 : "%" PRId64, shape ? shape[d] : (int64_t)-1);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

cz_status cz_st_expect(const cz_st_file *f, const char *name, cz_st_dtype dtype, int ndim,
                       const int64_t *shape, const cz_st_tensor **out)
{
    if (out)
        *out = NULL;
    const cz_st_tensor *t = cz_st_find(f, name);
    if (!t)
        return cz_fail(CZ_ERR_FORMAT, "%s: no tensor named '%s'", f->path, name);
    if (t->dtype != dtype)
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' is %s, expected %s", f->path, name,
                       cz_st_dtype_name(t->dtype), cz_st_dtype_name(dtype));
    int ok = ndim < 0 || t->ndim == ndim;
    for (int d = 0; ok && shape && d < ndim; d++)
        ok = t->shape[d] == shape[d];
    if (!ok) {
        char want[160], got[160];
        if (ndim < 0)
            snprintf(want, sizeof want, "any");
        else if (shape)
            format_shape(want, sizeof want, ndim, shape);
        else
            snprintf(want, sizeof want, "%d dims", ndim);
        format_shape(got, sizeof got, t->ndim, t->shape);
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", f->path, name, got, want);
    }
    if (out)
        *out = t;
    return CZ_OK;
}

static cz_status copy_as(const cz_st_tensor *t, cz_st_dtype dtype, void *dst)
{
    if (t->dtype != dtype)
        return cz_fail(CZ_ERR_ARG, "tensor '%s' is %s, not %s", t->name, cz_st_dtype_name(t->dtype),
                       cz_st_dtype_name(dtype));
    if (t->nbytes)
        memcpy(dst, t->data, t->nbytes);
    return CZ_OK;
}

cz_status cz_st_copy_f32(const cz_st_tensor *t, float *dst) { return copy_as(t, CZ_ST_F32, dst); }
cz_status cz_st_copy_i64(const cz_st_tensor *t, int64_t *dst) { return copy_as(t, CZ_ST_I64, dst); }

const char *cz_st_metadata(const cz_st_file *f, const char *key)
{
    int lo = 0, hi = f->meta_count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(key, f->meta[mid].key);
        if (c == 0)
            return f->meta[mid].value;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

int cz_st_metadata_count(const cz_st_file *f) { return f->meta_count; }

void cz_st_metadata_at(const cz_st_file *f, int index, const char **key, const char **value)
{
    int ok = index >= 0 && index < f->meta_count;
    if (key)
        *key = ok ? f->meta[index].key : NULL;
    if (value)
        *value = ok ? f->meta[index].value : NULL;
}
