/* safetensors: writer/reader round trip, strict rejection of corrupt files
 * (every truncation, bad lengths, bad JSON, bad dtypes, shapes, offsets,
 * duplicates), a byte-flip sweep for crash freedom, and a file written by
 * Python (tools/make_vectors.py) for interoperability. */
#include <stdint.h>
#include <string.h>

#include "colorize/safetensors.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------- */

/* An 8-byte little-endian length, the JSON text, then data_len bytes. */
static uint8_t *make_file(const char *json, const void *data, size_t data_len, size_t *size)
{
    size_t n = strlen(json);
    *size = 8 + n + data_len;
    uint8_t *b = malloc(*size ? *size : 1);
    if (!b) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(((uint64_t)n >> (8 * i)) & 0xFF);
    memcpy(b + 8, json, n);
    if (data_len)
        memcpy(b + 8 + n, data, data_len);
    return b;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* The bytes must be rejected with a format error whose message names the
 * file and contains `why` (NULL: any reason). */
static void expect_reject_bytes(const uint8_t *bytes, size_t size, const char *why, int line)
{
    cz_st_file *f = (cz_st_file *)1;
    char name[64];
    snprintf(name, sizeof name, "case-at-line-%d.safetensors", line);
    cz_status st = cz_st_open_memory(&f, bytes, size, name);
    test_checks++;
    if (st != CZ_ERR_FORMAT || f != NULL || !starts_with(cz_last_error(), name) ||
        (why && !strstr(cz_last_error(), why))) {
        test_failures++;
        fprintf(stderr, "%s:%d: expected rejection (%s), got status %d: %s\n", __FILE__, line,
                why ? why : "any", (int)st, cz_last_error());
        cz_st_close(st == CZ_OK ? f : NULL);
    }
}

static void expect_reject_json(const char *json, size_t data_len, const char *why, int line)
{
    static const uint8_t zeros[64];
    size_t size;
    uint8_t *b = make_file(json, zeros, data_len, &size);
    expect_reject_bytes(b, size, why, line);
    free(b);
}

#define REJECT(json, data_len, why) expect_reject_json(json, data_len, why, __LINE__)

static cz_st_file *expect_accept_json(const char *json, const void *data, size_t data_len, int line)
{
    size_t size;
    uint8_t *b = make_file(json, data, data_len, &size);
    cz_st_file *f = NULL;
    cz_status st = cz_st_open_memory(&f, b, size, "accept");
    free(b);
    test_checks++;
    if (st) {
        test_failures++;
        fprintf(stderr, "%s:%d: expected acceptance, got: %s\n", __FILE__, line, cz_last_error());
    }
    return f;
}

#define ACCEPT(json, data, len) expect_accept_json(json, data, len, __LINE__)

/* ---- the valid file every corruption starts from ------------------------- */

static const char *const NOTE = "quote \" backslash \\ tab \t newline \n e-acute \xc3\xa9 emoji \xf0\x9f\x98\x80";

static cz_st_writer *sample_writer(void)
{
    cz_st_writer *w;
    CHECK(cz_st_writer_create(&w) == CZ_OK);
    const float a[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 1e30f};
    const int64_t b[2] = {INT64_MIN, 42};
    const float c = 0.25f;
    const int64_t sa[2] = {2, 3}, sb[1] = {2}, sz[2] = {0, 5};
    /* added out of order: the file sorts by name */
    CHECK(cz_st_writer_add_f32(w, "z.empty", 2, sz, NULL) == CZ_OK);
    CHECK(cz_st_writer_add_f32(w, "a.weight", 2, sa, a) == CZ_OK);
    CHECK(cz_st_writer_add_i64(w, "b.num_batches_tracked", 1, sb, b) == CZ_OK);
    CHECK(cz_st_writer_add_f32(w, "c.scalar", 0, NULL, &c) == CZ_OK);
    CHECK(cz_st_writer_set_metadata(w, "arch", "resnet") == CZ_OK);
    CHECK(cz_st_writer_set_metadata(w, "note", NOTE) == CZ_OK);
    CHECK(cz_st_writer_set_metadata(w, "arch", "vgg") == CZ_OK); /* replaces */
    return w;
}

static void check_sample(const cz_st_file *f)
{
    CHECK(cz_st_count(f) == 4);
    const char *names[4] = {"a.weight", "b.num_batches_tracked", "c.scalar", "z.empty"};
    for (int i = 0; i < 4; i++)
        CHECK(cz_st_at(f, i) && strcmp(cz_st_at(f, i)->name, names[i]) == 0);
    CHECK(cz_st_at(f, 4) == NULL && cz_st_at(f, -1) == NULL);
    const cz_st_tensor *t;
    const int64_t sa[2] = {2, 3};
    CHECK(cz_st_expect(f, "a.weight", CZ_ST_F32, 2, sa, &t) == CZ_OK);
    if (t) {
        float a[6];
        CHECK(t->numel == 6 && t->nbytes == 24);
        CHECK(cz_st_copy_f32(t, a) == CZ_OK);
        CHECK(a[0] == 1 && a[1] == -2 && a[2] == 3.5f && a[3] == 1e-30f && a[5] == 1e30f);
        CHECK(a[4] == 0 && signbit(a[4]));
        int64_t wrong[6];
        CHECK(cz_st_copy_i64(t, wrong) == CZ_ERR_ARG);
    }
    CHECK(cz_st_expect(f, "b.num_batches_tracked", CZ_ST_I64, 1, NULL, &t) == CZ_OK);
    if (t) {
        int64_t b[2];
        CHECK(cz_st_copy_i64(t, b) == CZ_OK);
        CHECK(b[0] == INT64_MIN && b[1] == 42);
    }
    CHECK(cz_st_expect(f, "c.scalar", CZ_ST_F32, 0, NULL, &t) == CZ_OK);
    if (t) {
        float c;
        CHECK(t->numel == 1 && cz_st_copy_f32(t, &c) == CZ_OK && c == 0.25f);
    }
    CHECK(cz_st_expect(f, "z.empty", CZ_ST_F32, 2, NULL, &t) == CZ_OK);
    CHECK(t && t->numel == 0 && t->nbytes == 0 && t->shape[0] == 0 && t->shape[1] == 5);
    /* Mismatches name the file, the tensor and both shapes. */
    const int64_t wrong_shape[2] = {3, 2};
    CHECK(cz_st_expect(f, "a.weight", CZ_ST_F32, 2, wrong_shape, &t) == CZ_ERR_FORMAT && t == NULL);
    CHECK(strstr(cz_last_error(), "a.weight") && strstr(cz_last_error(), "[2, 3]") &&
          strstr(cz_last_error(), "[3, 2]") && starts_with(cz_last_error(), cz_st_path(f)));
    CHECK(cz_st_expect(f, "a.weight", CZ_ST_I64, 2, sa, NULL) == CZ_ERR_FORMAT);
    CHECK(cz_st_expect(f, "missing", CZ_ST_F32, -1, NULL, NULL) == CZ_ERR_FORMAT);
    CHECK(strstr(cz_last_error(), "missing") != NULL);
    CHECK(cz_st_find(f, "a") == NULL && cz_st_find(f, "zz") == NULL);
    /* Metadata. */
    CHECK(cz_st_metadata_count(f) == 2);
    CHECK(cz_st_metadata(f, "arch") && strcmp(cz_st_metadata(f, "arch"), "vgg") == 0);
    CHECK(cz_st_metadata(f, "note") && strcmp(cz_st_metadata(f, "note"), NOTE) == 0);
    CHECK(cz_st_metadata(f, "nope") == NULL);
    const char *k, *v;
    cz_st_metadata_at(f, 0, &k, &v);
    CHECK(k && strcmp(k, "arch") == 0 && v && strcmp(v, "vgg") == 0);
}

static void test_round_trip(uint8_t **mem_out, size_t *size_out)
{
    cz_st_writer *w = sample_writer();
    uint8_t *mem;
    size_t size;
    CHECK(cz_st_writer_to_memory(w, &mem, &size) == CZ_OK);
    /* Header: length a multiple of 8, padded with spaces, keys sorted. */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | mem[i];
    CHECK(hlen % 8 == 0 && 8 + hlen <= size);
    CHECK(size - 8 - hlen == 24 + 16 + 4);
    char *hdr = calloc(hlen + 1, 1);
    if (!hdr)
        exit(1);
    memcpy(hdr, mem + 8, hlen);
    CHECK(hdr[0] == '{');
    const char *pa = strstr(hdr, "\"a.weight\""), *pb = strstr(hdr, "\"b.num_batches_tracked\"");
    const char *pc = strstr(hdr, "\"c.scalar\""), *pz = strstr(hdr, "\"z.empty\"");
    CHECK(pa && pb && pc && pz && pa < pb && pb < pc && pc < pz);
    CHECK(strstr(hdr, "\"dtype\":\"I64\"") != NULL);
    free(hdr);

    cz_st_file *f;
    CHECK(cz_st_open_memory(&f, mem, size, "round-trip") == CZ_OK);
    if (f) {
        CHECK(strcmp(cz_st_path(f), "round-trip") == 0);
        check_sample(f);
        cz_st_close(f);
    }

    /* The same through a file; the bytes are identical. */
    const char *path = "test_safetensors.roundtrip.safetensors";
    CHECK(cz_st_writer_save(w, path) == CZ_OK);
    CHECK(cz_st_open(&f, path) == CZ_OK);
    if (f) {
        check_sample(f);
        cz_st_close(f);
    }
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    if (fp) {
        uint8_t *disk = malloc(size + 1);
        CHECK(disk && fread(disk, 1, size + 1, fp) == size && memcmp(disk, mem, size) == 0);
        free(disk);
        fclose(fp);
    }
    remove(path);
    CHECK(cz_st_open(&f, "no/such/file.safetensors") == CZ_ERR_IO && f == NULL);
    CHECK(strstr(cz_last_error(), "no/such/file.safetensors") != NULL);
    CHECK(cz_st_writer_save(w, "no/such/dir/x.safetensors") == CZ_ERR_IO);

    /* Writer argument checks. */
    const float one = 1;
    const int64_t s1[1] = {1}, sneg[1] = {-1};
    CHECK(cz_st_writer_add_f32(w, "a.weight", 1, s1, &one) == CZ_ERR_ARG);     /* duplicate */
    CHECK(cz_st_writer_add_f32(w, "", 1, s1, &one) == CZ_ERR_ARG);             /* empty */
    CHECK(cz_st_writer_add_f32(w, "__metadata__", 1, s1, &one) == CZ_ERR_ARG); /* reserved */
    CHECK(cz_st_writer_add_f32(w, "bad\xff", 1, s1, &one) == CZ_ERR_ARG);      /* not UTF-8 */
    CHECK(cz_st_writer_add_f32(w, "neg", 1, sneg, &one) == CZ_ERR_ARG);
    CHECK(cz_st_writer_add_f32(w, "rank", 9, s1, &one) == CZ_ERR_ARG);
    CHECK(cz_st_writer_add_f32(w, "null", 1, s1, NULL) == CZ_ERR_ARG);
    CHECK(cz_st_writer_set_metadata(w, "k", "bad\xc3") == CZ_ERR_ARG);
    cz_st_writer_free(w);
    cz_st_writer_free(NULL);
    cz_st_close(NULL);

    /* An empty writer gives a valid file with no tensors. */
    CHECK(cz_st_writer_create(&w) == CZ_OK);
    uint8_t *empty;
    size_t empty_size;
    CHECK(cz_st_writer_to_memory(w, &empty, &empty_size) == CZ_OK);
    CHECK(cz_st_open_memory(&f, empty, empty_size, "empty") == CZ_OK);
    CHECK(f && cz_st_count(f) == 0 && cz_st_metadata_count(f) == 0);
    cz_st_close(f);
    free(empty);
    cz_st_writer_free(w);
    *mem_out = mem;
    *size_out = size;
}

/* The exact bytes of a small file, as earlier versions wrote them: compact
 * JSON, __metadata__ first, tensors by name with dtype, shape, data_offsets
 * in that order, spaces up to a multiple of 8, then the data. */
static void test_exact_bytes(void)
{
    static const char want[] = "{\"__metadata__\":{\"arch\":\"vgg\",\"b\":\"x\\\"y\"},"
                               "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    const float v[2] = {1, 2};
    const int64_t shape[1] = {2};
    cz_st_writer *w;
    uint8_t *mem = NULL;
    size_t size = 0, len = strlen(want), hlen = (len + 7) / 8 * 8;
    CHECK(cz_st_writer_create(&w) == CZ_OK);
    CHECK(cz_st_writer_add_f32(w, "w", 1, shape, v) == CZ_OK);
    CHECK(cz_st_writer_set_metadata(w, "b", "x\"y") == CZ_OK);
    CHECK(cz_st_writer_set_metadata(w, "arch", "vgg") == CZ_OK);
    CHECK(cz_st_writer_to_memory(w, &mem, &size) == CZ_OK && size == 8 + hlen + sizeof v);
    if (mem && size == 8 + hlen + sizeof v) {
        CHECK(mem[0] == hlen && mem[1] == 0 && memcmp(mem + 8, want, len) == 0);
        for (size_t i = len; i < hlen; i++)
            CHECK(mem[8 + i] == ' ');
        CHECK(memcmp(mem + 8 + hlen, v, sizeof v) == 0);
    }
    free(mem);
    cz_st_writer_free(w);
}

/* ---- corruption ---------------------------------------------------------- */

static void test_truncation_and_lengths(const uint8_t *mem, size_t size)
{
    /* Every proper prefix is rejected (and nothing crashes under ASan). */
    int rejected = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact-size buffer: overreads trap */
        if (!copy)
            exit(1);
        memcpy(copy, mem, n);
        cz_st_file *f = NULL;
        cz_status st = cz_st_open_memory(&f, copy, n, "prefix");
        rejected += st == CZ_ERR_FORMAT && f == NULL;
        cz_st_close(f);
        free(copy);
    }
    CHECK(rejected == (int)size);
    printf("all %zu truncated prefixes rejected\n", size);

    /* One extra byte at the end is data not covered by any tensor. */
    uint8_t *longer = malloc(size + 1);
    if (!longer)
        exit(1);
    memcpy(longer, mem, size);
    longer[size] = 0;
    expect_reject_bytes(longer, size + 1, "unused bytes at the end", __LINE__);

    /* Header lengths: huge, just over the cap, one past the file. */
    uint8_t *bad = malloc(size);
    if (!bad)
        exit(1);
    memcpy(bad, mem, size);
    bad[7] = 0x80; /* 2^63 + ... */
    expect_reject_bytes(bad, size, "exceeds the", __LINE__);
    uint64_t over = CZ_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++)
        bad[i] = (uint8_t)((over >> (8 * i)) & 0xFF);
    expect_reject_bytes(bad, size, "exceeds the", __LINE__);
    uint64_t past = size - 8 + 1;
    for (int i = 0; i < 8; i++)
        bad[i] = (uint8_t)((past >> (8 * i)) & 0xFF);
    expect_reject_bytes(bad, size, "truncated", __LINE__);
    /* Header length shorter than the JSON: the object is cut. */
    memcpy(bad, mem, size);
    bad[0] = (uint8_t)(bad[0] - 8);
    expect_reject_bytes(bad, size, NULL, __LINE__);

    /* Byte-flip sweep over the header: any outcome but a crash or leak is
     * fine; an accepted file must still be self-consistent. */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | mem[i];
    static const uint8_t values[] = {0x00, '"', '\\', '{', '}', '[', ']', ',', ':', '0', '9', 'x', 0xC3, 0xFF};
    int accepted = 0, total = 0;
    for (size_t pos = 0; pos < 8 + hlen; pos++)
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(bad, mem, size);
            bad[pos] = values[v];
            cz_st_file *f = NULL;
            total++;
            if (cz_st_open_memory(&f, bad, size, "flip") == CZ_OK) {
                accepted++;
                size_t sum = 0;
                for (int i = 0; i < cz_st_count(f); i++)
                    sum += cz_st_at(f, i)->nbytes;
                CHECK(sum == size - 8 - hlen);
                cz_st_close(f);
            }
        }
    printf("byte-flip sweep: %d of %d variants accepted (harmless edits such as a name letter)\n", accepted,
           total);
    free(bad);
    free(longer);
}

#define T1 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

/* Syntax errors are jansson's words after "FILE: safetensors header, byte N:". */
static void test_bad_json(void)
{
    REJECT("", 0, "'[' or '{' expected");
    REJECT("   ", 0, "'[' or '{' expected");
    REJECT("[]", 0, "must be a JSON object");
    REJECT("{", 0, "expected near end of file");
    REJECT("{\"a\"}", 4, "':' expected");
    REJECT("{\"a\":}", 4, "unexpected token");
    REJECT("{\"a\":" T1 ",}", 4, "string or '}' expected");
    REJECT("{\"a\":" T1 "} x", 4, "end of file expected");
    REJECT("{\"a\":" T1 "}}", 4, "end of file expected");
    REJECT("{\"a\":" T1 " \"b\":" T1 "}", 8, "'}' expected");
    REJECT("{\"a:" T1 "}", 4, NULL);
    REJECT("{\"a\\x\":" T1 "}", 4, "invalid escape");
    REJECT("{\"a\\u12G4\":" T1 "}", 4, "invalid escape");
    REJECT("{\"a\\u12\":" T1 "}", 4, "invalid escape");
    REJECT("{\"a\\udc00\":" T1 "}", 4, "invalid Unicode '\\uDC00'");
    REJECT("{\"a\\ud800\":" T1 "}", 4, "invalid Unicode '\\uD800'");
    REJECT("{\"a\\ud800\\u0041\":" T1 "}", 4, "invalid Unicode '\\uD800\\u0041'");
    REJECT("{\"a\\u0000\":" T1 "}", 4, "\\u0000");
    REJECT("{\"a\tb\":" T1 "}", 4, "control character");
    REJECT("{\"a\xff\":" T1 "}", 4, "unable to decode byte 0xff");
    REJECT("{\"a\xc0\xaf\":" T1 "}", 4, "unable to decode byte 0xc0");     /* overlong '/' */
    REJECT("{\"a\xed\xa0\x80\":" T1 "}", 4, "unable to decode byte 0xed"); /* encoded surrogate */
    REJECT("{\"a\xe2\x82\":" T1 "}", 4, "unable to decode byte 0xe2");     /* cut sequence */
    REJECT("{\"a\\", 0, NULL);
    REJECT("{\"a\": 5}", 0, "not an object");
    REJECT("{\"a\": [1]}", 0, "not an object");
    /* Integers. */
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "invalid token near '0'");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "fraction");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4, "fraction or exponent");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, "too big integer");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "non-negative integer");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1 1],\"data_offsets\":[0,4]}}", 4, "']' expected");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4, NULL);
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "shape must be an array");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4, NULL);
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
           "more than 8");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "needs 2 integers");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", 4, "more than 2");
    /* Fields. */
    REJECT("{\"a\":{}}", 0, "has no dtype");
    REJECT("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "lacks a dtype");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "lacks a shape");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks data_offsets");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4, "unknown field");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
           "duplicate object key near '\"dtype\"'");
    REJECT("{\"a\":{\"dtype\":{\"x\":1},\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype must be a string");
    /* Metadata: an object of strings only. */
    REJECT("{\"__metadata__\":{\"k\":1}}", 0, "metadata value of 'k' is not a string");
    REJECT("{\"__metadata__\":{\"k\":null}}", 0, "is not a string");
    REJECT("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "is not a string");
    REJECT("{\"__metadata__\":{\"k\":[\"y\"]}}", 0, "is not a string");
    REJECT("{\"__metadata__\":{\"k\":true}}", 0, "is not a string");
    REJECT("{\"__metadata__\":{\"k\"}}", 0, "':' expected");
    REJECT("{\"__metadata__\":{\"k\":\"v\",}}", 0, NULL);
    REJECT("{\"__metadata__\":\"v\"}", 0, "must be an object");
    REJECT("{\"__metadata__\":[]}", 0, "must be an object");
    REJECT("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate object key near '\"__metadata__\"'");
    REJECT("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate object key near '\"k\"'");
}

static void test_bad_tensors(void)
{
    /* dtypes */
    REJECT("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "dtype F16; only F32 and I64");
    REJECT("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "only F32 and I64");
    REJECT("{\"a\":{\"dtype\":\"XYZ\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'XYZ'");
    REJECT("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
    REJECT("{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype must be a string");
    /* shape vs byte range */
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20, "need 24 bytes");
    REJECT("{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "need 16 bytes");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
           "shape too large");
    /* offsets */
    REJECT("{\"a\":" T1 ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4,
           "exceed the data section");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "reversed");
    /* beyond int64 (jansson's integers): a syntax error */
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551615,4]}}", 4, "too big integer");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
           8, "overlap");
    REJECT("{\"a\":" T1 ",\"b\":" T1 "}", 4, "overlap");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap of 4");
    REJECT("{\"a\":" T1 "}", 8, "unused bytes at the end");
    REJECT("{}", 1, "unused bytes at the end");
    /* duplicate names */
    REJECT("{\"a\":" T1 ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
           "duplicate object key near '\"a\"'");
    REJECT("{\"a\":" T1 ",\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
           "duplicate object key near '\"\\u0061\"'");
}

static void test_valid_variants(void)
{
    const float vals[3] = {1, 2, 3};
    cz_st_file *f;
    /* Empty header, no data; whitespace and padding everywhere. */
    f = ACCEPT("{}", NULL, 0);
    CHECK(f && cz_st_count(f) == 0);
    cz_st_close(f);
    f = ACCEPT(" {\r\n\t} \n      ", NULL, 0);
    cz_st_close(f);
    /* Fields in any order, data not in name order, escapes decoded. */
    f = ACCEPT("{ \"b\" : { \"data_offsets\" : [ 0 , 4 ] , \"shape\" : [ ] , \"dtype\" : \"F32\" } ,"
               "\"\\u00e9\\ud83d\\ude00\\n\\/\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[4,12]},"
               "\"__metadata__\":{\"\\\"k\\\"\":\"\\t\"}}   ",
               vals, 12);
    CHECK(f != NULL);
    if (f) {
        const cz_st_tensor *t = cz_st_find(f, "b");
        float x[2];
        CHECK(t && t->ndim == 0 && t->numel == 1 && cz_st_copy_f32(t, x) == CZ_OK && x[0] == 1);
        t = cz_st_find(f, "\xc3\xa9\xf0\x9f\x98\x80\n/");
        CHECK(t && t->ndim == 2 && cz_st_copy_f32(t, x) == CZ_OK && x[0] == 2 && x[1] == 3);
        CHECK(cz_st_metadata(f, "\"k\"") && strcmp(cz_st_metadata(f, "\"k\""), "\t") == 0);
        cz_st_close(f);
    }
    /* A zero-size tensor between two others. */
    f = ACCEPT("{\"a\":" T1 ",\"e\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
               "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               vals, 8);
    CHECK(f && cz_st_count(f) == 3);
    cz_st_close(f);
    /* Non-ASCII UTF-8 straight in the text. */
    f = ACCEPT("{\"\xe6\x9d\x83\xe9\x87\x8d\":" T1 "}", vals, 4);
    CHECK(f && cz_st_find(f, "\xe6\x9d\x83\xe9\x87\x8d"));
    cz_st_close(f);
}

/* ---- a file written by Python -------------------------------------------- */

static void test_python_file(void)
{
    const char *src = getenv("COLORIZE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/vgg_reg.safetensors", src ? src : ".");
    cz_st_file *f;
    cz_status st = cz_st_open(&f, path);
    CHECK(st == CZ_OK);
    if (st) {
        fprintf(stderr, "%s\n", cz_last_error());
        return;
    }
    CHECK(cz_st_metadata(f, "arch") && strcmp(cz_st_metadata(f, "arch"), "vgg") == 0);
    CHECK(cz_st_metadata(f, "head") && strcmp(cz_st_metadata(f, "head"), "reg") == 0);
    const cz_st_tensor *t;
    const int64_t in_shape[4] = {3, 1, 32, 32};
    CHECK(cz_st_expect(f, "input", CZ_ST_F32, 4, in_shape, &t) == CZ_OK);
    if (t) {
        float *y = malloc(t->nbytes);
        CHECK(y && cz_st_copy_f32(t, y) == CZ_OK);
        int in_range = 1;
        for (size_t i = 0; y && i < t->numel; i++)
            in_range &= y[i] >= 0 && y[i] <= 1;
        CHECK(in_range);
        free(y);
    }
    CHECK(cz_st_expect(f, "param.e1.0.1.num_batches_tracked", CZ_ST_I64, 0, NULL, &t) == CZ_OK);
    if (t) {
        int64_t nbt = -1;
        CHECK(cz_st_copy_i64(t, &nbt) == CZ_OK && nbt == 0);
    }
    const int64_t w_shape[4] = {8, 1, 3, 3};
    CHECK(cz_st_expect(f, "param.e1.0.0.weight", CZ_ST_F32, 4, w_shape, NULL) == CZ_OK);
    CHECK(cz_st_expect(f, "grad.e1.0.0.weight", CZ_ST_F32, 4, w_shape, NULL) == CZ_OK);
    cz_st_close(f);
}

int main(void)
{
    uint8_t *mem;
    size_t size;
    test_round_trip(&mem, &size);
    test_exact_bytes();
    test_truncation_and_lengths(mem, size);
    free(mem);
    test_bad_json();
    test_bad_tensors();
    test_valid_variants();
    test_python_file();
    TEST_END();
}
