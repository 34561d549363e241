/* Resizing and cropping: invariants, hand-computed values, and a slow 2D
 * reference (per-pixel weights from the textbook formulas, in double). */
#include <stdint.h>
#include <string.h>

#include "colorize/image.h"
#include "image_impl.h"
#include "test.h"

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static cz_image make(int w, int h, int c, const uint8_t *values)
{
    cz_image img;
    if (cz_image_alloc(&img, w, h, c) == CZ_OK && values)
        memcpy(img.pixels, values, (size_t)(w * h * c));
    return img;
}

/* Weight of source pixel j for output i along one axis. */
static double ref_weight(int i, int j, int src_n, int dst_n)
{
    double s = (double)src_n / dst_n;
    if (src_n >= dst_n) { /* box: overlap of [j, j+1) with [i s, (i+1) s) */
        double lo = i * s, hi = (i + 1) * s;
        double a = j > lo ? j : lo, b = j + 1 < hi ? j + 1 : hi;
        return b > a ? (b - a) / s : 0;
    }
    double x = (i + 0.5) * s - 0.5; /* tent around the clamped centre */
    x = x < 0 ? 0 : x > src_n - 1 ? src_n - 1 : x;
    double d = x > j ? x - j : j - x;
    return d < 1 ? 1 - d : 0;
}

/* Largest |fast - reference| over all samples. */
static double ref_compare(const cz_image *src, const cz_image *dst)
{
    double worst = 0;
    int c = src->channels;
    for (int y = 0; y < dst->height; y++)
        for (int x = 0; x < dst->width; x++)
            for (int k = 0; k < c; k++) {
                double v = 0;
                for (int sy = 0; sy < src->height; sy++) {
                    double wy = ref_weight(y, sy, src->height, dst->height);
                    if (wy == 0)
                        continue;
                    for (int sx = 0; sx < src->width; sx++)
                        v += wy * ref_weight(x, sx, src->width, dst->width) *
                             src->pixels[(sy * src->width + sx) * c + k];
                }
                double d = v - dst->pixels[(y * dst->width + x) * c + k];
                d = d < 0 ? -d : d;
                worst = d > worst ? d : worst;
            }
    return worst;
}

static void test_constant(void)
{
    static const int sizes[][2] = {{3, 2}, {13, 11}, {3, 11}, {13, 2}, {7, 5}, {1, 1}, {64, 1}};
    cz_image src = make(7, 5, 3, NULL);
    for (int i = 0; src.pixels && i < 7 * 5; i++) {
        src.pixels[3 * i] = 10;
        src.pixels[3 * i + 1] = 200;
        src.pixels[3 * i + 2] = 77;
    }
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        cz_image dst;
        int w = sizes[s][0], h = sizes[s][1];
        CHECK(cz_image_resize(&src, w, h, &dst) == CZ_OK);
        CHECK(dst.width == w && dst.height == h && dst.channels == 3);
        int ok = dst.pixels != NULL;
        for (int i = 0; ok && i < w * h; i++)
            ok = dst.pixels[3 * i] == 10 && dst.pixels[3 * i + 1] == 200 && dst.pixels[3 * i + 2] == 77;
        CHECK(ok);
        cz_image_free(&dst);
    }
    cz_image_free(&src);
}

static void test_shrink_values(void)
{
    cz_image dst;
    /* 2x2 checker -> its average, 127.5, rounded to nearest (up). */
    static const uint8_t checker[4] = {0, 255, 255, 0};
    cz_image src = make(2, 2, 1, checker);
    CHECK(cz_image_resize(&src, 1, 1, &dst) == CZ_OK);
    CHECK(dst.pixels && dst.pixels[0] == 128);
    cz_image_free(&dst);
    cz_image_free(&src);

    /* Pixel checker 4x4 -> 2x2 of averages. */
    uint8_t c4[16];
    for (int i = 0; i < 16; i++)
        c4[i] = ((i / 4 + i % 4) & 1) ? 200 : 100;
    src = make(4, 4, 1, c4);
    CHECK(cz_image_resize(&src, 2, 2, &dst) == CZ_OK);
    CHECK(dst.pixels && dst.pixels[0] == 150 && dst.pixels[1] == 150 && dst.pixels[2] == 150 &&
          dst.pixels[3] == 150);
    cz_image_free(&dst);
    cz_image_free(&src);

    /* Fractional footprints: 3 -> 2 covers 1.5 pixels each,
     * (0 + 0.5 * 90) / 1.5 = 30 and (0.5 * 90 + 180) / 1.5 = 150. */
    static const uint8_t row3[3] = {0, 90, 180};
    src = make(3, 1, 1, row3);
    CHECK(cz_image_resize(&src, 2, 1, &dst) == CZ_OK);
    CHECK(dst.pixels && dst.pixels[0] == 30 && dst.pixels[1] == 150);
    cz_image_free(&dst);
    cz_image_free(&src);
    /* 5 -> 2: (10 + 20 + 0.5 * 30) / 2.5 = 18, (0.5 * 30 + 40 + 50) / 2.5 = 42; same in y. */
    static const uint8_t row5[5] = {10, 20, 30, 40, 50};
    src = make(1, 5, 1, row5);
    CHECK(cz_image_resize(&src, 1, 2, &dst) == CZ_OK);
    CHECK(dst.pixels && dst.pixels[0] == 18 && dst.pixels[1] == 42);
    cz_image_free(&dst);
    cz_image_free(&src);
}

static void test_enlarge_values(void)
{
    cz_image dst;
    /* Ramp 4 -> 8: x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, ..., 3.25, clamped. */
    static const uint8_t ramp[4] = {0, 60, 120, 180};
    static const uint8_t want[8] = {0, 15, 45, 75, 105, 135, 165, 180};
    cz_image src = make(4, 1, 1, ramp);
    CHECK(cz_image_resize(&src, 8, 3, &dst) == CZ_OK);
    int ok = dst.pixels != NULL, monotone = 1;
    for (int y = 0; ok && y < 3; y++)
        for (int x = 0; x < 8; x++) {
            ok &= dst.pixels[y * 8 + x] == want[x];
            monotone &= x == 0 || dst.pixels[y * 8 + x] >= dst.pixels[y * 8 + x - 1];
        }
    CHECK(ok);
    CHECK(monotone);
    cz_image_free(&dst);
    cz_image_free(&src);

    /* 2x2 -> 4x4: source positions 0, 0.25, 0.75, 1 on both axes, and the
     * corners are linear, so v = 100 fx + 100 fy. */
    static const uint8_t corners[4] = {0, 100, 100, 200};
    static const float f[4] = {0, 0.25f, 0.75f, 1};
    src = make(2, 2, 1, corners);
    CHECK(cz_image_resize(&src, 4, 4, &dst) == CZ_OK);
    ok = dst.pixels != NULL;
    for (int y = 0; ok && y < 4; y++)
        for (int x = 0; x < 4; x++)
            ok &= dst.pixels[y * 4 + x] == (int)(100 * f[x] + 100 * f[y]);
    CHECK(ok);
    cz_image_free(&dst);
    cz_image_free(&src);
}

static void test_against_reference(void)
{
    static const int cases[][4] = {
        {13, 11, 5, 4},   /* shrink both */
        {5, 4, 13, 11},   /* enlarge both */
        {13, 4, 5, 11},   /* shrink x, enlarge y */
        {17, 9, 17, 3},   /* identity x */
        {7, 7, 7, 7},     /* identity */
        {31, 23, 8, 8},   /* shrink by ~3.9 */
        {3, 2, 31, 29},   /* enlarge by ~10 */
    };
    uint32_t seed = 1;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (int c = 1; c <= 4; c += 3) {
            const int *k = cases[t];
            cz_image src = make(k[0], k[1], c, NULL), dst;
            for (int i = 0; src.pixels && i < k[0] * k[1] * c; i++)
                src.pixels[i] = (uint8_t)lcg(&seed);
            CHECK(cz_image_resize(&src, k[2], k[3], &dst) == CZ_OK);
            if (dst.pixels) {
                double d = ref_compare(&src, &dst);
                /* Rounding to 8 bits alone gives up to 0.5. */
                CHECK_CLOSE(d, 0, 0.5 + 1e-3, 0);
            }
            if (k[0] == k[2] && k[1] == k[3])
                CHECK(dst.pixels && memcmp(dst.pixels, src.pixels, (size_t)(k[0] * k[1] * c)) == 0);
            cz_image_free(&dst);
            cz_image_free(&src);
        }
}

static void test_plane_bilinear(void)
{
    /* Same ramp as the 8-bit test, unrounded. */
    static const float ramp[4] = {0, 60, 120, 180};
    static const float want[8] = {0, 15, 45, 75, 105, 135, 165, 180};
    float out[8 * 2];
    cz_resize_plane_bilinear(ramp, 4, 1, out, 8, 2);
    for (int i = 0; i < 16; i++)
        CHECK_CLOSE(out[i], want[i % 8], 1e-4, 0);
    /* Shrinking 8 -> 4 samples at 2i + 0.5: the mean of each pair. */
    float half[4];
    cz_resize_plane_bilinear(want, 8, 1, half, 4, 1);
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(half[i], 0.5f * (want[2 * i] + want[2 * i + 1]), 1e-4, 0);
    /* A linear function is reproduced exactly (up to clamping at the edges). */
    enum { SW = 5, SH = 4, DW = 9, DH = 7 };
    float plane[SH * SW], big[DH * DW];
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++)
            plane[y * SW + x] = x + 10.f * y;
    cz_resize_plane_bilinear(plane, SW, SH, big, DW, DH);
    double worst = 0;
    for (int y = 0; y < DH; y++)
        for (int x = 0; x < DW; x++) {
            double sx = (x + 0.5) * SW / DW - 0.5, sy = (y + 0.5) * SH / DH - 0.5;
            sx = sx < 0 ? 0 : sx > SW - 1 ? SW - 1 : sx;
            sy = sy < 0 ? 0 : sy > SH - 1 ? SH - 1 : sy;
            double d = fabs(big[y * DW + x] - (sx + 10 * sy));
            worst = d > worst ? d : worst;
        }
    CHECK_CLOSE(worst, 0, 1e-4, 0);
    /* Same size: a copy. */
    float same[SH * SW];
    cz_resize_plane_bilinear(plane, SW, SH, same, SW, SH);
    CHECK(memcmp(same, plane, sizeof plane) == 0);
    /* Agrees with the 8-bit resize when enlarging. */
    uint32_t seed = 5;
    cz_image src = make(6, 5, 1, NULL), dst;
    float fsrc[30], fdst[17 * 13];
    for (int i = 0; src.pixels && i < 30; i++)
        fsrc[i] = src.pixels[i] = (uint8_t)lcg(&seed);
    CHECK(cz_image_resize(&src, 17, 13, &dst) == CZ_OK);
    cz_resize_plane_bilinear(fsrc, 6, 5, fdst, 17, 13);
    double d = 0;
    for (int i = 0; dst.pixels && i < 17 * 13; i++)
        d = fmax(d, fabs(fdst[i] - dst.pixels[i]));
    CHECK_CLOSE(d, 0, 0.5 + 1e-3, 0);
    cz_image_free(&dst);
    cz_image_free(&src);
}

static void test_crop(void)
{
    uint8_t v[36];
    for (int i = 0; i < 36; i++)
        v[i] = (uint8_t)i;
    cz_image wide = make(5, 3, 2, v), tall = make(3, 6, 1, v), sq = make(4, 4, 1, v), dst;
    CHECK(cz_image_center_crop_square(&wide, &dst) == CZ_OK);
    CHECK(dst.width == 3 && dst.height == 3 && dst.channels == 2);
    int ok = dst.pixels != NULL;
    for (int y = 0; ok && y < 3; y++)
        for (int x = 0; x < 3; x++)
            for (int k = 0; k < 2; k++)
                ok &= dst.pixels[(y * 3 + x) * 2 + k] == v[(y * 5 + x + 1) * 2 + k];
    CHECK(ok);
    cz_image_free(&dst);
    CHECK(cz_image_center_crop_square(&tall, &dst) == CZ_OK);
    CHECK(dst.width == 3 && dst.height == 3 && dst.pixels && memcmp(dst.pixels, v + 3, 9) == 0);
    cz_image_free(&dst);
    CHECK(cz_image_center_crop_square(&sq, &dst) == CZ_OK);
    CHECK(dst.width == 4 && dst.pixels && memcmp(dst.pixels, v, 16) == 0);
    cz_image_free(&dst);
    cz_image_free(&wide);
    cz_image_free(&tall);
    cz_image_free(&sq);
}

/* Band by band gives exactly the whole plane's values (issue 13 #4: the
 * colouriser upsamples its chroma in bands of rows). */
static void test_plane_bands(void)
{
    enum { SW = 7, SH = 5, DW = 131, DH = 97 };
    float src[SW * SH], whole[DW * DH], band[DW * DH];
    for (int i = 0; i < SW * SH; i++)
        src[i] = (float)((i * 37) % 11) / 10.0f - 0.3f;
    cz_resize_plane_bilinear(src, SW, SH, whole, DW, DH);
    int same = 1;
    for (int r0 = 0; r0 < DH; r0 += 13) {
        int n = DH - r0 < 13 ? DH - r0 : 13;
        CHECK(cz_resize_plane_bilinear_rows(src, SW, SH, band, DW, DH, r0, n) == CZ_OK);
        same &= memcmp(band, whole + (size_t)r0 * DW, (size_t)n * DW * sizeof(float)) == 0;
    }
    CHECK(same);
}

static void test_errors(void)
{
    cz_image src = make(4, 4, 3, NULL), dst, empty = {0};
    CHECK(cz_image_resize(&src, 0, 4, &dst) == CZ_ERR_ARG && dst.pixels == NULL);
    CHECK(cz_image_resize(&src, 4, CZ_IMAGE_MAX_SIDE + 1, &dst) == CZ_ERR_ARG && dst.pixels == NULL);
    CHECK(cz_image_resize(&empty, 4, 4, &dst) == CZ_ERR_ARG && dst.pixels == NULL);
    CHECK(cz_image_center_crop_square(&empty, &dst) == CZ_ERR_ARG && dst.pixels == NULL);
    CHECK(cz_last_error()[0] != '\0');
    cz_image_free(&src);
}

int main(void)
{
    test_constant();
    test_shrink_values();
    test_enlarge_values();
    test_against_reference();
    test_plane_bilinear();
    test_plane_bands();
    test_crop();
    test_errors();
    TEST_END();
}
