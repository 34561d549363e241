/* safetensors reader (strict, never trusts the file) and writer (atomic).
 * The header's JSON is parsed by a small recursive-descent parser that only
 * accepts the grammar safetensors uses; anything else is a format error. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/safetensors.h"
#include "util.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (tensor bytes are used as is)"
#endif

#define METADATA_KEY "__metadata__"

/* qsort, skipped for fewer than 2 elements (qsort(NULL, 0, ...) is undefined). */
static void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

const char *cz_st_dtype_name(cz_st_dtype dtype) { return dtype == CZ_ST_I64 ? "I64" : "F32"; }
size_t cz_st_dtype_size(cz_st_dtype dtype) { return dtype == CZ_ST_I64 ? 8 : 4; }

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */

typedef struct st_entry {
    cz_st_tensor pub;       /* first member: cz_st_at hands out &entry->pub */
    uint64_t begin, end;    /* data_offsets */
} st_entry;

typedef struct st_meta {
    char *key, *value;
} st_meta;

struct cz_st_file {
    char *path;
    uint8_t *bytes; /* the whole file */
    size_t size;
    st_entry *tensors; /* sorted by name after parsing */
    int count, cap;
    st_meta *meta; /* sorted by key */
    int meta_count, meta_cap;
};

/* Parser state: the header text [s, s+len), the current position. */
typedef struct json {
    const char *s;
    size_t len, pos;
    const char *path;
} json;

static cz_status json_error(const json *j, const char *what)
{
    return cz_fail(CZ_ERR_FORMAT, "%s: safetensors header, byte %zu: %s", j->path, j->pos, what);
}

static void json_skip_ws(json *j)
{
    while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                               j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
        j->pos++;
}

/* Skip whitespace, then consume c or fail. */
static cz_status json_expect(json *j, char c)
{
    json_skip_ws(j);
    if (j->pos >= j->len) {
        char msg[64];
        snprintf(msg, sizeof msg, "unexpected end of header, expected '%c'", c);
        return json_error(j, msg);
    }
    if (j->s[j->pos] != c) {
        char msg[64];
        snprintf(msg, sizeof msg, "expected '%c'", c);
        return json_error(j, msg);
    }
    j->pos++;
    return CZ_OK;
}

/* Skip whitespace; returns the next character without consuming it, or 0. */
static char json_peek(json *j)
{
    json_skip_ws(j);
    return j->pos < j->len ? j->s[j->pos] : 0;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s[0..avail), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_valid(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        n = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        n = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Parse a JSON string into a malloc'd, NUL-terminated UTF-8 string. Escapes
 * (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs) are decoded; raw control
 * characters, invalid UTF-8, lone surrogates and NUL are rejected. */
static cz_status json_string(json *j, char **out)
{
    *out = NULL;
    cz_status st = json_expect(j, '"');
    if (st)
        return st;
    /* The decoded string is never longer than the raw text. */
    size_t start = j->pos, end = start;
    while (end < j->len && j->s[end] != '"')
        end += (j->s[end] == '\\' && end + 1 < j->len) ? 2 : 1;
    if (end >= j->len)
        return json_error(j, "unterminated string");
    char *buf = cz_alloc(end - start + 1, 1, "safetensors header string");
    if (!buf)
        return CZ_ERR_NOMEM;
    size_t n = 0;
    while (j->s[j->pos] != '"') {
        unsigned char c = (unsigned char)j->s[j->pos];
        if (c < 0x20) {
            free(buf);
            return json_error(j, "control character inside a string (must be escaped)");
        }
        if (c != '\\') {
            size_t k = utf8_valid((const unsigned char *)j->s + j->pos, j->len - j->pos);
            if (k == 0) {
                free(buf);
                return json_error(j, "invalid UTF-8 inside a string");
            }
            memcpy(buf + n, j->s + j->pos, k);
            n += k;
            j->pos += k;
            continue;
        }
        char e = j->s[j->pos + 1]; /* exists: the scan above stopped at a '"' */
        j->pos += 2;
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (j->pos + 4 > end || !hex4(j->s + j->pos, &cp)) {
                free(buf);
                return json_error(j, "bad \\u escape (needs 4 hex digits)");
            }
            j->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return json_error(j, "lone low surrogate in \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->pos + 6 > end || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u' ||
                    !hex4(j->s + j->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return json_error(j, "high surrogate not followed by a low surrogate");
                }
                j->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) {
                free(buf);
                return json_error(j, "\\u0000 is not allowed in names or metadata");
            }
            n += utf8_put(buf + n, cp);
            break;
        }
        default:
            free(buf);
            j->pos -= 1;
            return json_error(j, "unknown escape sequence in string");
        }
    }
    j->pos++; /* closing quote */
    buf[n] = '\0';
    *out = buf;
    return CZ_OK;
}

/* A non-negative JSON integer (no sign, fraction, exponent or leading zero). */
static cz_status json_uint(json *j, uint64_t *out)
{
    json_skip_ws(j);
    if (j->pos >= j->len)
        return json_error(j, "unexpected end of header, expected an integer");
    if (j->s[j->pos] == '-')
        return json_error(j, "negative number where a size or offset is expected");
    if (j->s[j->pos] < '0' || j->s[j->pos] > '9')
        return json_error(j, "expected a non-negative integer");
    if (j->s[j->pos] == '0' && j->pos + 1 < j->len && j->s[j->pos + 1] >= '0' && j->s[j->pos + 1] <= '9')
        return json_error(j, "integer with a leading zero");
    uint64_t v = 0;
    while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
        unsigned d = (unsigned)(j->s[j->pos] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return json_error(j, "integer too large");
        v = v * 10 + d;
        j->pos++;
    }
    if (j->pos < j->len && (j->s[j->pos] == '.' || j->s[j->pos] == 'e' || j->s[j->pos] == 'E'))
        return json_error(j, "expected an integer, found a fraction or exponent");
    *out = v;
    return CZ_OK;
}

/* [int, int, ...] with at most max elements. */
static cz_status json_uint_array(json *j, uint64_t *vals, int max, int *count, const char *what)
{
    cz_status st = json_expect(j, '[');
    if (st)
        return st;
    *count = 0;
    if (json_peek(j) == ']') {
        j->pos++;
        return CZ_OK;
    }
    for (;;) {
        if (*count == max) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s has more than %d entries", what, max);
            return json_error(j, msg);
        }
        if ((st = json_uint(j, &vals[(*count)++])))
            return st;
        char c = json_peek(j);
        if (c == ']') {
            j->pos++;
            return CZ_OK;
        }
        if (c != ',')
            return json_error(j, "expected ',' or ']' in an integer array");
        j->pos++;
    }
}

/* Make room for one more element: returns the (possibly moved) array, or
 * NULL with an error recorded (the old array is then still valid). */
static void *grow(void *arr, int *cap, int count, size_t elem, const char *what)
{
    if (count < *cap)
        return arr;
    if (*cap > INT32_MAX / 2) {
        cz_fail(CZ_ERR_NOMEM, "%s: too many entries", what);
        return NULL;
    }
    int ncap = *cap ? *cap * 2 : 16;
    size_t bytes;
    if (!cz_mul_ok((size_t)ncap, elem, &bytes)) {
        cz_fail(CZ_ERR_NOMEM, "%s: size overflow", what);
        return NULL;
    }
    void *p = realloc(arr, bytes);
    if (!p) {
        cz_fail(CZ_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    *cap = ncap;
    return p;
}

/* {"key": "value", ...} */
static cz_status parse_metadata(cz_st_file *f, json *j)
{
    cz_status st = json_expect(j, '{');
    if (st)
        return st;
    if (json_peek(j) == '}') {
        j->pos++;
        return CZ_OK;
    }
    for (;;) {
        char *key = NULL, *value = NULL;
        if ((st = json_string(j, &key)))
            return st;
        if ((st = json_expect(j, ':'))) {
            free(key);
            return st;
        }
        if (json_peek(j) != '"') {
            cz_status s2 = cz_fail(CZ_ERR_FORMAT,
                                   "%s: safetensors header, byte %zu: metadata value of '%s' is not a string",
                                   f->path, j->pos, key);
            free(key);
            return s2;
        }
        if ((st = json_string(j, &value))) {
            free(key);
            return st;
        }
        st_meta *grown = grow(f->meta, &f->meta_cap, f->meta_count, sizeof *f->meta, f->path);
        if (!grown) {
            free(key);
            free(value);
            return CZ_ERR_NOMEM;
        }
        f->meta = grown;
        f->meta[f->meta_count++] = (st_meta){key, value};
        char c = json_peek(j);
        if (c == '}') {
            j->pos++;
            return CZ_OK;
        }
        if (c != ',')
            return json_error(j, "expected ',' or '}' in __metadata__");
        j->pos++;
    }
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

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} in any order. */
static cz_status parse_tensor(cz_st_file *f, json *j, st_entry *e)
{
    const char *name = e->pub.name;
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    cz_status st = json_expect(j, '{');
    if (st)
        return st;
    if (json_peek(j) == '}')
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' has no dtype, shape or data_offsets", f->path, name);
    for (;;) {
        char *field = NULL;
        size_t field_pos = j->pos;
        if ((st = json_string(j, &field)))
            return st;
        if ((st = json_expect(j, ':'))) {
            free(field);
            return st;
        }
        if (strcmp(field, "dtype") == 0 && !have_dtype) {
            char *dt = NULL;
            free(field);
            if ((st = json_string(j, &dt)))
                return st;
            if (strcmp(dt, "F32") == 0)
                e->pub.dtype = CZ_ST_F32;
            else if (strcmp(dt, "I64") == 0)
                e->pub.dtype = CZ_ST_I64;
            else {
                st = known_unsupported_dtype(dt)
                         ? cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' has dtype %s; only F32 and I64 are supported",
                                   f->path, name, dt)
                         : cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", f->path, name, dt);
                free(dt);
                return st;
            }
            free(dt);
            have_dtype = 1;
        } else if (strcmp(field, "shape") == 0 && !have_shape) {
            free(field);
            uint64_t dims[CZ_ST_MAX_DIMS];
            if ((st = json_uint_array(j, dims, CZ_ST_MAX_DIMS, &e->pub.ndim, "shape")))
                return st;
            for (int d = 0; d < e->pub.ndim; d++) {
                if (dims[d] > (uint64_t)INT64_MAX)
                    return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': dimension %d too large", f->path, name, d);
                e->pub.shape[d] = (int64_t)dims[d];
            }
            have_shape = 1;
        } else if (strcmp(field, "data_offsets") == 0 && !have_offsets) {
            free(field);
            uint64_t off[2];
            int n = 0;
            if ((st = json_uint_array(j, off, 2, &n, "data_offsets")))
                return st;
            if (n != 2)
                return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s': data_offsets needs 2 integers, found %d",
                               f->path, name, n);
            e->begin = off[0];
            e->end = off[1];
            have_offsets = 1;
        } else {
            int dup = strcmp(field, "dtype") == 0 || strcmp(field, "shape") == 0 ||
                      strcmp(field, "data_offsets") == 0;
            st = cz_fail(CZ_ERR_FORMAT, "%s: safetensors header, byte %zu: tensor '%s': %s field '%s'",
                         f->path, field_pos, name, dup ? "duplicate" : "unknown", field);
            free(field);
            return st;
        }
        char c = json_peek(j);
        if (c == '}') {
            j->pos++;
            break;
        }
        if (c != ',')
            return json_error(j, "expected ',' or '}' in a tensor entry");
        j->pos++;
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return cz_fail(CZ_ERR_FORMAT, "%s: tensor '%s' lacks %s", f->path, name,
                       !have_dtype ? "a dtype" : !have_shape ? "a shape" : "data_offsets");
    return CZ_OK;
}

static cz_status parse_header(cz_st_file *f, json *j)
{
    cz_status st;
    int have_meta = 0;
    json_skip_ws(j);
    if (j->pos >= j->len || j->s[j->pos] != '{')
        return json_error(j, "the header must be a JSON object starting with '{'");
    j->pos++;
    if (json_peek(j) == '}') {
        j->pos++;
    } else {
        for (;;) {
            char *key = NULL;
            size_t key_pos = j->pos;
            if ((st = json_string(j, &key)))
                return st;
            if ((st = json_expect(j, ':'))) {
                free(key);
                return st;
            }
            if (strcmp(key, METADATA_KEY) == 0) {
                free(key);
                if (have_meta) {
                    j->pos = key_pos;
                    return json_error(j, "duplicate __metadata__");
                }
                have_meta = 1;
                if (json_peek(j) != '{')
                    return json_error(j, "__metadata__ must be an object of strings");
                if ((st = parse_metadata(f, j)))
                    return st;
            } else {
                st_entry *grown = grow(f->tensors, &f->cap, f->count, sizeof *f->tensors, f->path);
                if (!grown) {
                    free(key);
                    return CZ_ERR_NOMEM;
                }
                f->tensors = grown;
                st_entry *e = &f->tensors[f->count++];
                memset(e, 0, sizeof *e);
                e->pub.name = key;
                if (json_peek(j) != '{') {
                    return cz_fail(CZ_ERR_FORMAT, "%s: safetensors header, byte %zu: entry '%s' is not an object",
                                   f->path, j->pos, key);
                }
                if ((st = parse_tensor(f, j, e)))
                    return st;
            }
            char c = json_peek(j);
            if (c == '}') {
                j->pos++;
                break;
            }
            if (c != ',')
                return json_error(j, "expected ',' or '}' after an entry");
            j->pos++;
        }
    }
    json_skip_ws(j);
    if (j->pos != j->len)
        return json_error(j, "unexpected data after the header object");
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
    json j = {(const char *)bytes + 8, (size_t)hlen, 0, path};
    if ((st = parse_header(f, &j)))
        goto fail;
    sort_array(f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_entry_name);
    for (int i = 1; i < f->count; i++)
        if (strcmp(f->tensors[i - 1].pub.name, f->tensors[i].pub.name) == 0) {
            st = cz_fail(CZ_ERR_FORMAT, "%s: duplicate tensor name '%s'", path, f->tensors[i].pub.name);
            goto fail;
        }
    sort_array(f->meta, (size_t)f->meta_count, sizeof *f->meta, cmp_meta_key);
    for (int i = 1; i < f->meta_count; i++)
        if (strcmp(f->meta[i - 1].key, f->meta[i].key) == 0) {
            st = cz_fail(CZ_ERR_FORMAT, "%s: duplicate metadata key '%s'", path, f->meta[i].key);
            goto fail;
        }
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
    for (int i = 0; i < f->count; i++)
        free((char *)f->tensors[i].pub.name);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
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

cz_status cz_st_copy_f32(const cz_st_tensor *t, float *dst)
{
    if (t->dtype != CZ_ST_F32)
        return cz_fail(CZ_ERR_ARG, "tensor '%s' is %s, not F32", t->name, cz_st_dtype_name(t->dtype));
    if (t->nbytes)
        memcpy(dst, t->data, t->nbytes);
    return CZ_OK;
}

cz_status cz_st_copy_i64(const cz_st_tensor *t, int64_t *dst)
{
    if (t->dtype != CZ_ST_I64)
        return cz_fail(CZ_ERR_ARG, "tensor '%s' is %s, not I64", t->name, cz_st_dtype_name(t->dtype));
    if (t->nbytes)
        memcpy(dst, t->data, t->nbytes);
    return CZ_OK;
}

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

/* ======================================================================== */
/* Writer                                                                   */
/* ======================================================================== */

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
    st_meta *meta;
    int meta_count, meta_cap;
};

cz_status cz_st_writer_create(cz_st_writer **out)
{
    *out = cz_alloc(1, sizeof **out, "safetensors writer");
    return *out ? CZ_OK : CZ_ERR_NOMEM;
}

void cz_st_writer_free(cz_st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->count; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->tensors);
    free(w->meta);
    free(w);
}

static int utf8_string_ok(const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t k = utf8_valid((const unsigned char *)s + i, len - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

static char *dup_string(const char *s, const char *what)
{
    size_t n = strlen(s) + 1;
    char *p = cz_alloc(n, 1, what);
    if (p)
        memcpy(p, s, n);
    return p;
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
    wr_tensor *grown = grow(w->tensors, &w->cap, w->count, sizeof *w->tensors, "safetensors writer");
    if (!grown)
        return CZ_ERR_NOMEM;
    w->tensors = grown;
    t.name = dup_string(name, "safetensors writer");
    t.data = cz_alloc(t.nbytes ? t.nbytes : 1, 1, name);
    if (!t.name || !t.data) {
        free(t.name);
        free(t.data);
        return CZ_ERR_NOMEM;
    }
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
    if (!key || !value || !utf8_string_ok(key) || !utf8_string_ok(value))
        return cz_fail(CZ_ERR_ARG, "safetensors writer: metadata key and value must be UTF-8 strings");
    char *v = dup_string(value, "safetensors metadata");
    if (!v)
        return CZ_ERR_NOMEM;
    for (int i = 0; i < w->meta_count; i++)
        if (strcmp(w->meta[i].key, key) == 0) {
            free(w->meta[i].value);
            w->meta[i].value = v;
            return CZ_OK;
        }
    char *k = dup_string(key, "safetensors metadata");
    st_meta *grown = k ? grow(w->meta, &w->meta_cap, w->meta_count, sizeof *w->meta, "safetensors writer") : NULL;
    if (!grown) {
        free(k);
        free(v);
        return CZ_ERR_NOMEM;
    }
    w->meta = grown;
    w->meta[w->meta_count++] = (st_meta){k, v};
    return CZ_OK;
}

/* A growable text buffer; `failed` sticks after the first allocation error. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n + 1) {
            if (ncap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            ncap *= 2;
        }
        char *p = realloc(b->s, ncap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = ncap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_fmt_u64(sbuf *b, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    sb_put(b, tmp, (size_t)n);
}

/* A JSON string literal: quotes, backslashes and control characters escaped. */
static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int cmp_wr_name(const void *a, const void *b)
{
    return strcmp((*(const wr_tensor *const *)a)->name, (*(const wr_tensor *const *)b)->name);
}

static int cmp_meta_ptr(const void *a, const void *b)
{
    return strcmp((*(const st_meta *const *)a)->key, (*(const st_meta *const *)b)->key);
}

/* Build the 8-byte length + padded JSON header and the tensor order. */
static cz_status build_header(const cz_st_writer *w, sbuf *hdr, wr_tensor ***order_out)
{
    *order_out = NULL;
    wr_tensor **order = cz_alloc((size_t)w->count + 1, sizeof *order, "safetensors writer");
    const st_meta **meta = cz_alloc((size_t)w->meta_count + 1, sizeof *meta, "safetensors writer");
    if (!order || !meta) {
        free(order);
        free(meta);
        return CZ_ERR_NOMEM;
    }
    for (int i = 0; i < w->count; i++)
        order[i] = &w->tensors[i];
    for (int i = 0; i < w->meta_count; i++)
        meta[i] = &w->meta[i];
    sort_array(order, (size_t)w->count, sizeof *order, cmp_wr_name);
    sort_array(meta, (size_t)w->meta_count, sizeof *meta, cmp_meta_ptr);

    sb_put(hdr, "\0\0\0\0\0\0\0\0", 8); /* length, filled in below */
    sb_str(hdr, "{");
    int first = 1;
    if (w->meta_count) {
        sb_str(hdr, "\"" METADATA_KEY "\":{");
        for (int i = 0; i < w->meta_count; i++) {
            if (i)
                sb_str(hdr, ",");
            sb_json_string(hdr, meta[i]->key);
            sb_str(hdr, ":");
            sb_json_string(hdr, meta[i]->value);
        }
        sb_str(hdr, "}");
        first = 0;
    }
    uint64_t offset = 0;
    for (int i = 0; i < w->count; i++) {
        const wr_tensor *t = order[i];
        if (!first)
            sb_str(hdr, ",");
        first = 0;
        sb_json_string(hdr, t->name);
        sb_str(hdr, ":{\"dtype\":\"");
        sb_str(hdr, cz_st_dtype_name(t->dtype));
        sb_str(hdr, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d)
                sb_str(hdr, ",");
            sb_fmt_u64(hdr, (uint64_t)t->shape[d]);
        }
        sb_str(hdr, "],\"data_offsets\":[");
        sb_fmt_u64(hdr, offset);
        sb_str(hdr, ",");
        offset += t->nbytes;
        sb_fmt_u64(hdr, offset);
        sb_str(hdr, "]}");
    }
    sb_str(hdr, "}");
    while (!hdr->failed && (hdr->len - 8) % 8 != 0)
        sb_str(hdr, " ");
    free(meta);
    if (hdr->failed) {
        free(order);
        return cz_fail(CZ_ERR_NOMEM, "safetensors writer: out of memory building the header");
    }
    uint64_t hlen = hdr->len - 8;
    if (hlen > CZ_ST_MAX_HEADER) {
        free(order);
        return cz_fail(CZ_ERR_ARG, "safetensors writer: header of %" PRIu64 " bytes exceeds the limit", hlen);
    }
    for (int i = 0; i < 8; i++)
        hdr->s[i] = (char)((hlen >> (8 * i)) & 0xFF);
    *order_out = order;
    return CZ_OK;
}

cz_status cz_st_writer_to_memory(const cz_st_writer *w, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    sbuf hdr = {0};
    wr_tensor **order;
    cz_status st = build_header(w, &hdr, &order);
    if (st) {
        free(hdr.s);
        return st;
    }
    size_t total = hdr.len;
    for (int i = 0; i < w->count; i++) {
        if (order[i]->nbytes > SIZE_MAX - total) {
            free(hdr.s);
            free(order);
            return cz_fail(CZ_ERR_NOMEM, "safetensors writer: file too large");
        }
        total += order[i]->nbytes;
    }
    uint8_t *out = cz_alloc(total, 1, "safetensors file");
    if (!out) {
        free(hdr.s);
        free(order);
        return CZ_ERR_NOMEM;
    }
    memcpy(out, hdr.s, hdr.len);
    size_t pos = hdr.len;
    for (int i = 0; i < w->count; i++) {
        if (order[i]->nbytes)
            memcpy(out + pos, order[i]->data, order[i]->nbytes);
        pos += order[i]->nbytes;
    }
    free(hdr.s);
    free(order);
    *data = out;
    *size = total;
    return CZ_OK;
}

cz_status cz_st_writer_save(const cz_st_writer *w, const char *path)
{
    sbuf hdr = {0};
    wr_tensor **order;
    cz_status st = build_header(w, &hdr, &order);
    if (st) {
        free(hdr.s);
        return st;
    }
    cz_atomic_file af;
    if ((st = cz_atomic_open(&af, path))) {
        free(hdr.s);
        free(order);
        return st;
    }
    int ok = fwrite(hdr.s, 1, hdr.len, af.fp) == hdr.len;
    for (int i = 0; ok && i < w->count; i++)
        ok = order[i]->nbytes == 0 || fwrite(order[i]->data, 1, order[i]->nbytes, af.fp) == order[i]->nbytes;
    free(hdr.s);
    free(order);
    if (!ok) {
        cz_atomic_abort(&af);
        return cz_fail(CZ_ERR_IO, "%s: write failed (disk full?)", path);
    }
    return cz_atomic_commit(&af);
}
