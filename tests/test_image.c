/* PNG reading and writing: round trips, every PNG colour type and depth,
 * truncated / corrupt / lying files, failed writes (JPEG and EXIF:
 * test_image_jpeg.c). */
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "colorize/image.h"
#include "image_impl.h"
#include "test.h"
#include "util.h"

static char tmpdir[] = "/tmp/cz_test_image_XXXXXX";
#include "image_test.h"

/* ---- PNG encoding with libpng directly, for the variants we never write. */

typedef struct membuf {
    uint8_t *data;
    size_t size, cap;
} membuf;

static void membuf_write(png_structp png, png_bytep d, size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->size + n > m->cap) {
        size_t cap = 2 * (m->size + n);
        uint8_t *p = realloc(m->data, cap);
        if (!p)
            png_error(png, "out of memory");
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->size, d, n);
    m->size += n;
}

static void membuf_flush(png_structp png) { (void)png; }

typedef struct png_spec {
    int width, height, depth, color, interlace;
    const uint8_t *data; /* rows in PNG order (packed bits, big-endian 16-bit) */
    size_t stride;
    const png_color *palette;
    int n_palette;
    const uint8_t *trans; /* palette alpha */
    int n_trans;
    const png_color_16 *trans_value; /* grey/RGB transparent colour */
} png_spec;

static int png_encode_spec(const png_spec *s, membuf *out)
{
    memset(out, 0, sizeof *out);
    png_bytep *rows = calloc((size_t)s->height, sizeof *rows);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!rows || !info) {
        free(rows);
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(out->data);
        out->data = NULL;
        return 0;
    }
    png_set_write_fn(png, out, membuf_write, membuf_flush);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->depth, s->color,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette)
        png_set_PLTE(png, info, s->palette, s->n_palette);
    if (s->trans || s->trans_value)
        png_set_tRNS(png, info, s->trans, s->n_trans, s->trans_value);
    png_write_info(png, info);
    for (int y = 0; y < s->height; y++)
        rows[y] = (png_bytep)(s->data + (size_t)y * s->stride);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return 1;
}

/* Pack n values of `depth` bits MSB first, as PNG rows are. */
static void pack_bits(const uint8_t *v, int n, int depth, uint8_t *out)
{
    memset(out, 0, (size_t)(n * depth + 7) / 8);
    for (int i = 0; i < n; i++) {
        int bit = i * depth;
        out[bit / 8] |= (uint8_t)(v[i] << (8 - depth - bit % 8));
    }
}

static int decode(const membuf *m, const char *name, cz_image *img)
{
    return cz_image_read_memory(m->data, m->size, name, img) == CZ_OK;
}

static void test_alloc(void)
{
    cz_image img;
    CHECK(cz_image_alloc(&img, 3, 2, 4) == CZ_OK);
    CHECK(img.width == 3 && img.height == 2 && img.channels == 4 && img.pixels);
    int zero = 1;
    for (int i = 0; i < 24; i++)
        zero &= img.pixels[i] == 0;
    CHECK(zero);
    cz_image_free(&img);
    CHECK(img.pixels == NULL);
    cz_image_free(&img); /* twice is harmless */
    CHECK(cz_image_alloc(&img, 0, 2, 3) == CZ_ERR_ARG && !img.pixels);
    CHECK(cz_image_alloc(&img, CZ_IMAGE_MAX_SIDE + 1, 1, 3) == CZ_ERR_ARG && !img.pixels);
    CHECK(cz_image_alloc(&img, 4, 4, 5) == CZ_ERR_ARG && !img.pixels);
    CHECK(cz_image_alloc(&img, 100000, 100000, 3) == CZ_ERR_ARG && !img.pixels);
    /* Both sides allowed, the pixel count not. */
    CHECK(cz_image_alloc(&img, CZ_IMAGE_MAX_SIDE, CZ_IMAGE_MAX_SIDE, 1) == CZ_ERR_ARG);
    CHECK(cz_last_error()[0] != '\0');
}

static void test_roundtrip(void)
{
    for (int c = 1; c <= 4; c++) {
        cz_image img, back;
        char name[32], path[4096];
        CHECK(cz_image_alloc(&img, 7, 5, c) == CZ_OK);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++)
                for (int k = 0; k < c; k++)
                    img.pixels[(y * 7 + x) * c + k] = pattern(x, y, k);
        snprintf(name, sizeof name, "rt%d.png", c);
        tpath(path, sizeof path, name);
        CHECK(cz_image_write_png(path, &img) == CZ_OK);
        CHECK(cz_image_read(path, &back) == CZ_OK);
        CHECK(back.width == 7 && back.height == 5 && back.channels == c);
        CHECK(back.pixels && memcmp(back.pixels, img.pixels, (size_t)(35 * c)) == 0);
        /* Overwriting an existing file works too. */
        CHECK(cz_image_write_png(path, &img) == CZ_OK);
        cz_image_free(&img);
        cz_image_free(&back);
    }
    CHECK(count_entries("rt") == 4);
    CHECK(count_entries(".tmp.") == 0);
}

static void test_png_palette(void)
{
    static const png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
    static const uint8_t alpha[2] = {0, 128};
    uint8_t idx[2][5] = {{0, 1, 2, 1, 0}, {2, 2, 1, 0, 1}};
    cz_image img;
    membuf m;
    /* 8-bit palette, no transparency -> RGB. */
    png_spec s = {5, 2, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, &idx[0][0], 5, pal, 3,
                  NULL, 0, NULL};
    CHECK(png_encode_spec(&s, &m));
    CHECK(decode(&m, "pal8.png", &img));
    CHECK(img.channels == 3 && img.width == 5 && img.height == 2);
    int ok = img.pixels != NULL;
    for (int i = 0; ok && i < 10; i++) {
        const png_color *p = &pal[idx[i / 5][i % 5]];
        ok = img.pixels[3 * i] == p->red && img.pixels[3 * i + 1] == p->green &&
             img.pixels[3 * i + 2] == p->blue;
    }
    CHECK(ok);
    cz_image_free(&img);
    free(m.data);

    /* 4-bit palette with tRNS for entries 0 and 1 -> RGBA. */
    uint8_t packed[2][3];
    pack_bits(idx[0], 5, 4, packed[0]);
    pack_bits(idx[1], 5, 4, packed[1]);
    png_spec s4 = {5, 2, 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, &packed[0][0], 3, pal,
                   3, alpha, 2, NULL};
    CHECK(png_encode_spec(&s4, &m));
    CHECK(decode(&m, "pal4.png", &img));
    CHECK(img.channels == 4);
    ok = img.pixels != NULL;
    for (int i = 0; ok && i < 10; i++) {
        int k = idx[i / 5][i % 5];
        ok = img.pixels[4 * i] == pal[k].red && img.pixels[4 * i + 1] == pal[k].green &&
             img.pixels[4 * i + 2] == pal[k].blue && img.pixels[4 * i + 3] == (k < 2 ? alpha[k] : 255);
    }
    CHECK(ok);
    cz_image_free(&img);
    free(m.data);
}

static void test_png_low_depth_grey(void)
{
    /* 1, 2 and 4 bits, width 11 so rows end mid-byte. */
    for (int depth = 1; depth <= 4; depth *= 2) {
        uint8_t v[3][11], packed[3][6];
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 11; x++)
                v[y][x] = (uint8_t)((x * 3 + y * 5 + x * y) % (1 << depth));
            pack_bits(v[y], 11, depth, packed[y]);
        }
        png_spec s = {11, 3, depth, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, &packed[0][0], 6,
                      NULL, 0, NULL, 0, NULL};
        membuf m;
        cz_image img;
        CHECK(png_encode_spec(&s, &m));
        CHECK(decode(&m, "grey.png", &img));
        CHECK(img.channels == 1 && img.width == 11 && img.height == 3);
        int ok = img.pixels != NULL, scale = 255 / ((1 << depth) - 1);
        for (int i = 0; ok && i < 33; i++)
            ok = img.pixels[i] == v[i / 11][i % 11] * scale;
        CHECK(ok);
        cz_image_free(&img);
        free(m.data);
    }
}

static void test_png_16bit(void)
{
    /* RGBA 16-bit, plain and interlaced; reduced to the high byte. */
    enum { W = 6, H = 5, C = 4 };
    uint8_t data[H][W * C * 2];
    for (int y = 0; y < H; y++)
        for (int i = 0; i < W * C; i++) {
            unsigned v = (unsigned)(y * 7919 + i * 4099 + 7) & 0xffff;
            data[y][2 * i] = (uint8_t)(v >> 8);
            data[y][2 * i + 1] = (uint8_t)v;
        }
    for (int inter = 0; inter < 2; inter++) {
        png_spec s = {W, H, 16, PNG_COLOR_TYPE_RGB_ALPHA,
                      inter ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, &data[0][0], W * C * 2,
                      NULL, 0, NULL, 0, NULL};
        membuf m;
        cz_image img;
        CHECK(png_encode_spec(&s, &m));
        CHECK(decode(&m, "deep.png", &img));
        CHECK(img.channels == 4 && img.width == W && img.height == H);
        int ok = img.pixels != NULL;
        for (int i = 0; ok && i < W * H * C; i++)
            ok = img.pixels[i] == data[i / (W * C)][2 * (i % (W * C))];
        CHECK(ok);
        cz_image_free(&img);
        free(m.data);
    }
    /* 16-bit grey. */
    uint8_t g[2][6] = {{0x12, 0x34, 0xff, 0xff, 0x00, 0x80}, {0x80, 0x00, 0x7f, 0xff, 0x01, 0x00}};
    png_spec sg = {3, 2, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, &g[0][0], 6, NULL, 0,
                   NULL, 0, NULL};
    membuf m;
    cz_image img;
    CHECK(png_encode_spec(&sg, &m));
    CHECK(decode(&m, "grey16.png", &img));
    CHECK(img.channels == 1 && img.pixels && img.pixels[0] == 0x12 && img.pixels[1] == 0xff &&
          img.pixels[2] == 0x00 && img.pixels[3] == 0x80 && img.pixels[4] == 0x7f &&
          img.pixels[5] == 0x01);
    cz_image_free(&img);
    free(m.data);
}

static void test_png_interlaced_and_trns(void)
{
    enum { W = 9, H = 7 };
    uint8_t rgb[H][W * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < 3; k++)
                rgb[y][x * 3 + k] = pattern(x, y, k);
    png_spec s = {W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, &rgb[0][0], W * 3, NULL, 0,
                  NULL, 0, NULL};
    membuf m;
    cz_image img;
    CHECK(png_encode_spec(&s, &m));
    CHECK(decode(&m, "adam7.png", &img));
    CHECK(img.channels == 3 && img.width == W && img.height == H);
    CHECK(img.pixels && memcmp(img.pixels, rgb, sizeof rgb) == 0);
    cz_image_free(&img);
    free(m.data);

    /* Grey with a transparent grey value -> grey + alpha. */
    uint8_t grey[2][3] = {{50, 60, 50}, {0, 50, 255}};
    png_color_16 tv = {0, 0, 0, 0, 50};
    png_spec st = {3, 2, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, &grey[0][0], 3, NULL, 0,
                   NULL, 0, &tv};
    CHECK(png_encode_spec(&st, &m));
    CHECK(decode(&m, "greytrns.png", &img));
    CHECK(img.channels == 2);
    int ok = img.pixels != NULL;
    for (int i = 0; ok && i < 6; i++) {
        uint8_t v = grey[i / 3][i % 3];
        ok = img.pixels[2 * i] == v && img.pixels[2 * i + 1] == (v == 50 ? 0 : 255);
    }
    CHECK(ok);
    cz_image_free(&img);
    free(m.data);
}

/* ---- damaged PNGs */

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static size_t put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 4;
}

/* A chunk at p: length, type, data, CRC over type and data. */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t len)
{
    size_t n = put_be32(p, len);
    memcpy(p + n, type, 4);
    if (len)
        memcpy(p + n + 4, data, len);
    n += 4 + len;
    return n + put_be32(p + n, crc32_png(p + 4, 4 + len));
}

/* Signature, IHDR claiming width x height RGB, a small IDAT, IEND. */
static size_t lying_png(uint8_t *p, uint32_t width, uint32_t height)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /* zlib stream of one black RGB row of one pixel: filter byte + 3 zeros. */
    static const uint8_t idat[12] = {0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0x00,
                                     0x00, 0x00, 0x04, 0x00, 0x01};
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, width);
    put_be32(ihdr + 4, height);
    ihdr[8] = 8; /* depth */
    ihdr[9] = 2; /* RGB */
    memcpy(p, sig, 8);
    size_t n = 8;
    n += put_chunk(p + n, "IHDR", ihdr, 13);
    n += put_chunk(p + n, "IDAT", idat, sizeof idat);
    n += put_chunk(p + n, "IEND", NULL, 0);
    return n;
}

static uint8_t *find_bytes(uint8_t *p, size_t n, const char *what)
{
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, what, k) == 0)
            return p + i;
    return NULL;
}

static void test_png_bad(void)
{
    /* 16x16 noise, written by our own writer. */
    cz_image img, noise;
    char path[4096];
    uint32_t seed = 99;
    CHECK(cz_image_alloc(&noise, 16, 16, 3) == CZ_OK);
    for (int i = 0; noise.pixels && i < 16 * 16 * 3; i++)
        noise.pixels[i] = (uint8_t)lcg(&seed);
    tpath(path, sizeof path, "noise.png");
    CHECK(cz_image_write_png(path, &noise) == CZ_OK);
    cz_image_free(&noise);
    uint8_t *data;
    size_t size;
    CHECK(cz_read_file(path, 1 << 20, &data, &size) == CZ_OK);
    if (!data)
        return;

    tpath(path, sizeof path, "trunc.png");
    CHECK(write_bytes("trunc.png", data, size / 2));
    check_failed_read(cz_image_read(path, &img), &img, "trunc.png");

    int all_failed = 1;
    for (size_t n = 0; n < size; n++) {
        cz_status st = cz_image_read_memory(data, n, "cut.png", &img);
        all_failed &= st != CZ_OK && img.pixels == NULL && error_names("cut.png");
        cz_image_free(&img);
    }
    CHECK(all_failed);

    /* One byte changed inside IDAT: the chunk CRC no longer matches. */
    uint8_t *copy = malloc(size);
    CHECK(copy != NULL);
    if (copy) {
        memcpy(copy, data, size);
        uint8_t *idat = find_bytes(copy, size, "IDAT");
        CHECK(idat != NULL);
        if (idat) {
            idat[4 + 10] ^= 0x55;
            check_failed_read(cz_image_read_memory(copy, size, "flip.png", &img), &img,
                              "flip.png");
        }
        CHECK(damaged_reads_consistent(data, size, 8, 7, 16, 16, "fuzz.png", copy));
        free(copy);
    }
    free(data);

    /* Headers that lie about the size are refused before allocating. */
    uint8_t lie[160];
    size_t n = lying_png(lie, 100000, 100000);
    check_failed_read(cz_image_read_memory(lie, n, "big.png", &img), &img, "big.png");
    CHECK(strstr(cz_last_error(), "size") != NULL);
    n = lying_png(lie, 65535, 65535);
    check_failed_read(cz_image_read_memory(lie, n, "big2.png", &img), &img, "big2.png");
    /* issue 13 #4: 16384 x 16384 is within the hard limits but over a
     * max-pixels limit, refused from IHDR alone (the data is not there) */
    n = lying_png(lie, 16384, 16384);
    CHECK(cz_image_read_memory_max(lie, n, "wide.png", 100000000, &img) == CZ_ERR_ARG);
    CHECK(img.pixels == NULL &&
          strstr(cz_last_error(), "wide.png: picture of 16384 x 16384 = 268435456 pixels is over the "
                                  "max-pixels limit of 100000000"));
    /* Control: the same construction with a sane size decodes. */
    n = lying_png(lie, 1, 1);
    CHECK(cz_image_read_memory(lie, n, "tiny.png", &img) == CZ_OK);
    CHECK(img.width == 1 && img.height == 1 && img.channels == 3);
    CHECK(img.pixels && img.pixels[0] == 0 && img.pixels[1] == 0 && img.pixels[2] == 0);
    cz_image_free(&img);
}

static void test_not_images(void)
{
    cz_image img;
    char path[4096];
    const char text[] = "hello, this is not a picture at all";
    CHECK(write_bytes("garbage.png", text, sizeof text));
    tpath(path, sizeof path, "garbage.png");
    check_failed_read(cz_image_read(path, &img), &img, "garbage.png");
    CHECK(strstr(cz_last_error(), "not a PNG or JPEG") != NULL);
    CHECK(write_bytes("empty.jpg", "", 0));
    tpath(path, sizeof path, "empty.jpg");
    check_failed_read(cz_image_read(path, &img), &img, "empty.jpg");
    tpath(path, sizeof path, "missing.png");
    CHECK(cz_image_read(path, &img) == CZ_ERR_IO && error_names("missing.png"));
    check_failed_read(cz_image_read_memory(NULL, 0, "nothing", &img), &img, "nothing");
}

static void test_write_fails(void)
{
    cz_image img;
    CHECK(cz_image_alloc(&img, 4, 4, 3) == CZ_OK);
    CHECK(cz_image_write_png("/nonexistent/dir/x.png", &img) == CZ_ERR_IO);
    CHECK(error_names("/nonexistent/dir/x.png"));
    CHECK(!cz_file_exists("/nonexistent/dir/x.png"));
    char path[4096];
    tpath(path, sizeof path, "bad.png");
    img.channels = 5;
    CHECK(cz_image_write_png(path, &img) == CZ_ERR_ARG);
    img.channels = 3;
    cz_image empty = {0};
    CHECK(cz_image_write_png(path, &empty) == CZ_ERR_ARG);
    CHECK(!cz_file_exists(path));
    CHECK(count_entries(".tmp.") == 0);
    cz_image_free(&img);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_alloc();
    test_roundtrip();
    test_png_palette();
    test_png_low_depth_grey();
    test_png_16bit();
    test_png_interlaced_and_trns();
    test_png_bad();
    test_not_images();
    test_write_fails();
    remove_tmpdir();
    TEST_END();
}
