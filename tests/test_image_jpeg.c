/* JPEG reading (colour, grey, CMYK, damaged files) and EXIF orientation,
 * parsed and applied. */
#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <jpeglib.h>

#include "colorize/image.h"
#include "image_impl.h"
#include "test.h"

static char tmpdir[] = "/tmp/cz_test_image_jpeg_XXXXXX";
#include "image_test.h"

/* ---- JPEG */

/* EXIF APP1 payload to embed in the next jpeg_encode (NULL: none). */
static const uint8_t *jpeg_app1;
static unsigned jpeg_app1_size;

static int jpeg_encode(const uint8_t *px, int w, int h, int comps, J_COLOR_SPACE cs,
                       uint8_t **out, unsigned long *size)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err); /* exits on error: acceptable in a test */
    jpeg_create_compress(&ci);
    *out = NULL;
    *size = 0;
    jpeg_mem_dest(&ci, out, size);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = cs;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    if (jpeg_app1)
        jpeg_write_marker(&ci, JPEG_APP0 + 1, jpeg_app1, jpeg_app1_size);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * (size_t)(w * comps));
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return *out != NULL;
}

static int max_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* A smooth 24x16 colour picture, saved as JPEG (also used by later tests). */
static uint8_t *rgb_jpeg;
static unsigned long rgb_jpeg_size;

static void test_jpeg(void)
{
    enum { W = 24, H = 16 };
    uint8_t grey[H][W], rgb[H][W * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            grey[y][x] = (uint8_t)(40 + 6 * x + 3 * y);
            rgb[y][3 * x] = (uint8_t)(30 + 8 * x);
            rgb[y][3 * x + 1] = (uint8_t)(200 - 6 * y);
            rgb[y][3 * x + 2] = (uint8_t)(60 + 3 * x + 4 * y);
        }
    uint8_t *buf;
    unsigned long size;
    cz_image img;
    CHECK(jpeg_encode(&grey[0][0], W, H, 1, JCS_GRAYSCALE, &buf, &size));
    CHECK(cz_image_read_memory(buf, size, "grey.jpg", &img) == CZ_OK);
    CHECK(img.width == W && img.height == H && img.channels == 1);
    CHECK(img.pixels && max_abs_diff(img.pixels, &grey[0][0], sizeof grey) <= 4);
    cz_image_free(&img);
    free(buf);

    CHECK(jpeg_encode(&rgb[0][0], W, H, 3, JCS_RGB, &rgb_jpeg, &rgb_jpeg_size));
    /* Named .png on purpose: the format comes from the signature. */
    char path[4096];
    tpath(path, sizeof path, "photo.png");
    CHECK(write_bytes("photo.png", rgb_jpeg, rgb_jpeg_size));
    CHECK(cz_image_read(path, &img) == CZ_OK);
    CHECK(img.width == W && img.height == H && img.channels == 3);
    if (img.pixels) {
        int d = max_abs_diff(img.pixels, &rgb[0][0], sizeof rgb);
        CHECK(d <= 10);
    }
    cz_image_free(&img);

    /* CMYK is refused with a clear reason. */
    uint8_t cmyk[8 * 8 * 4];
    for (size_t i = 0; i < sizeof cmyk; i++)
        cmyk[i] = (uint8_t)(i * 7);
    CHECK(jpeg_encode(cmyk, 8, 8, 4, JCS_CMYK, &buf, &size));
    check_failed_read(cz_image_read_memory(buf, size, "ink.jpg", &img), &img, "ink.jpg");
    CHECK(strstr(cz_last_error(), "CMYK") != NULL);
    free(buf);
}

static void test_jpeg_bad(void)
{
    cz_image img;
    uint8_t *copy = malloc(rgb_jpeg_size);
    CHECK(copy != NULL && rgb_jpeg != NULL);
    if (!copy || !rgb_jpeg) {
        free(copy);
        return;
    }
    /* Cut in half, from a file. */
    char path[4096];
    tpath(path, sizeof path, "half.jpg");
    CHECK(write_bytes("half.jpg", rgb_jpeg, rgb_jpeg_size / 2));
    check_failed_read(cz_image_read(path, &img), &img, "half.jpg");

    /* Every proper prefix fails (libjpeg alone would pad and carry on). */
    int all_failed = 1;
    for (unsigned long n = 0; n < rgb_jpeg_size; n++) {
        cz_status st = cz_image_read_memory(rgb_jpeg, n, "cut.jpg", &img);
        all_failed &= st != CZ_OK && img.pixels == NULL && error_names("cut.jpg");
        cz_image_free(&img);
    }
    CHECK(all_failed);

    /* Garbage where the APP0 marker should be: libjpeg only warns. */
    memcpy(copy, rgb_jpeg, rgb_jpeg_size);
    copy[3] = 0x00;
    check_failed_read(cz_image_read_memory(copy, rgb_jpeg_size, "junk.jpg", &img), &img,
                      "junk.jpg");

    /* A header claiming 60000 x 60000: too many pixels, refused before any
     * allocation. SOF0 is FF C0, length(2), precision(1), height(2), width(2). */
    memcpy(copy, rgb_jpeg, rgb_jpeg_size);
    int patched = 0;
    for (unsigned long i = 2; i + 9 < rgb_jpeg_size && !patched; i++)
        if (copy[i] == 0xff && copy[i + 1] == 0xc0) {
            copy[i + 5] = copy[i + 7] = 60000 >> 8;
            copy[i + 6] = copy[i + 8] = 60000 & 0xff;
            patched = 1;
        }
    CHECK(patched);
    check_failed_read(cz_image_read_memory(copy, rgb_jpeg_size, "huge.jpg", &img), &img,
                      "huge.jpg");
    CHECK(strstr(cz_last_error(), "size") != NULL);
    /* issue 13 #4: a max-pixels limit refuses from the header, naming both */
    CHECK(cz_image_read_memory_max(rgb_jpeg, rgb_jpeg_size, "small.jpg", 10, &img) == CZ_ERR_ARG);
    CHECK(img.pixels == NULL && strstr(cz_last_error(), "small.jpg") &&
          strstr(cz_last_error(), "over the max-pixels limit of 10"));
    CHECK(cz_image_read_memory_max(rgb_jpeg, rgb_jpeg_size, "small.jpg", 1 << 20, &img) == CZ_OK);
    cz_image_free(&img);

    /* Random damage: any outcome but a crash or an inconsistent result. */
    CHECK(damaged_reads_consistent(rgb_jpeg, rgb_jpeg_size, 3, 12345, 0, 0, "fuzz.jpg", copy));
    free(copy);
}

/* ---- EXIF orientation */

/* "Exif\0\0" + TIFF header + IFD0 with one entry: orientation v. */
static unsigned exif_payload(uint8_t *p, int big, int v)
{
    static const uint8_t le[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                                 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(p, big ? be : le, sizeof le);
    p[big ? 25 : 24] = (uint8_t)v;
    return sizeof le;
}

static void test_exif_parse(void)
{
    uint8_t p[64];
    unsigned n = exif_payload(p, 0, 6);
    CHECK(cz_exif_orientation(p, n) == 6);
    n = exif_payload(p, 1, 8);
    CHECK(cz_exif_orientation(p, n) == 8);
    /* Every cut is read safely: short of the whole entry (which ends at
     * byte 28) it means "as stored"; the next-IFD link is not needed. */
    int ok = 1;
    for (unsigned k = 0; k < n; k++)
        ok &= cz_exif_orientation(p, k) == (k < 28 ? 1 : 8);
    CHECK(ok);
    n = exif_payload(p, 0, 9); /* out of range */
    CHECK(cz_exif_orientation(p, n) == 1);
    n = exif_payload(p, 0, 3);
    p[18] = 4; /* type LONG instead of SHORT */
    CHECK(cz_exif_orientation(p, n) == 1);
    n = exif_payload(p, 0, 3);
    p[10] = 0xf0; /* IFD0 beyond the payload */
    CHECK(cz_exif_orientation(p, n) == 1);
    CHECK(cz_exif_orientation(NULL, 0) == 1);
}

/* A 3x2 picture through all eight orientations, against the EXIF 2.3 table. */
static void test_exif_orient(void)
{
    /* stored:  a b c
     *          d e f */
    static const char *const want[9] = {
        NULL, "abc/def", "cba/fed", "fed/cba", "def/abc", "ad/be/cf", "da/eb/fc", "fc/eb/da",
        "cf/be/ad"};
    for (int o = 1; o <= 8; o++) {
        cz_image img;
        CHECK(cz_image_alloc(&img, 3, 2, 1) == CZ_OK);
        if (!img.pixels)
            return;
        memcpy(img.pixels, "abcdef", 6);
        CHECK(cz_image_orient(&img, o) == CZ_OK);
        char got[16] = {0};
        size_t k = 0;
        for (int y = 0; y < img.height; y++) {
            if (y)
                got[k++] = '/';
            for (int x = 0; x < img.width; x++)
                got[k++] = (char)img.pixels[y * img.width + x];
        }
        if (strcmp(got, want[o]) != 0)
            fprintf(stderr, "orientation %d: got %s, want %s\n", o, got, want[o]);
        CHECK(strcmp(got, want[o]) == 0);
        cz_image_free(&img);
    }
}

/* End to end: a JPEG that must be turned 90 degrees clockwise comes out upright. */
static void test_exif_jpeg(void)
{
    enum { W = 32, H = 16 };
    uint8_t grey[H][W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            grey[y][x] = x < W / 2 ? 20 : 230; /* dark left half */
    uint8_t app1[64];
    jpeg_app1_size = exif_payload(app1, 1, 6);
    jpeg_app1 = app1;
    uint8_t *buf;
    unsigned long size;
    CHECK(jpeg_encode(&grey[0][0], W, H, 1, JCS_GRAYSCALE, &buf, &size));
    jpeg_app1 = NULL;
    cz_image img;
    CHECK(cz_image_read_memory(buf, size, "phone.jpg", &img) == CZ_OK);
    CHECK(img.width == H && img.height == W && img.channels == 1);
    if (img.pixels) /* the stored left half is now the top half */
        CHECK(img.pixels[2 * H + 3] < 60 && img.pixels[(W - 3) * H + 3] > 190);
    cz_image_free(&img);
    free(buf);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_jpeg();
    test_jpeg_bad();
    test_exif_parse();
    test_exif_orient();
    test_exif_jpeg();
    free(rgb_jpeg);
    remove_tmpdir();
    TEST_END();
}
