/* Resizing and cropping of 8-bit images, and bilinear resizing of float
 * planes. Separable: each axis gets a table of source taps and weights, built
 * once; the horizontal pass goes to a float buffer, the vertical pass rounds
 * into the destination. */
#include <stdlib.h>
#include <string.h>

#include "colorize/image.h"
#include "image_impl.h"
#include "util.h"

typedef struct resize_taps {
    int taps;    /* weights stored per output position */
    int *first;  /* n: first source index */
    int *count;  /* n: weights used, <= taps */
    float *w;    /* n x taps */
} resize_taps;

static void taps_free(resize_taps *t)
{
    free(t->first);
    free(t->count);
    free(t->w);
    memset(t, 0, sizeof *t);
}

/* Source position of output i with pixel centres aligned (x = (i + 0.5) *
 * src / dst - 0.5), clamped at 0 as PyTorch does; the right tap is clamped
 * to the last pixel. */
static void bilinear_coord(int i, int src_n, int dst_n, int *i0, int *i1, float *frac)
{
    double x = ((double)i + 0.5) * ((double)src_n / (double)dst_n) - 0.5;
    if (x < 0)
        x = 0;
    int x0 = (int)x;
    if (x0 > src_n - 1)
        x0 = src_n - 1;
    *i0 = x0;
    *i1 = x0 < src_n - 1 ? x0 + 1 : x0;
    *frac = (float)(x - x0);
}

/* Box filter when shrinking (or keeping) an axis, bilinear when enlarging. */
static cz_status taps_build(int src_n, int dst_n, resize_taps *t)
{
    memset(t, 0, sizeof *t);
    t->taps = src_n >= dst_n ? src_n / dst_n + 2 : 2;
    t->first = cz_alloc((size_t)dst_n, sizeof *t->first, "resize taps");
    t->count = cz_alloc((size_t)dst_n, sizeof *t->count, "resize taps");
    t->w = cz_alloc((size_t)dst_n * (size_t)t->taps, sizeof *t->w, "resize weights");
    if (!t->first || !t->count || !t->w) {
        taps_free(t);
        return CZ_ERR_NOMEM;
    }
    for (int i = 0; i < dst_n; i++) {
        float *w = t->w + (size_t)i * (size_t)t->taps;
        if (src_n >= dst_n) {
            /* Work in units of 1/dst_n source pixels so that footprints and
             * overlaps are exact integers: output i covers [i*src, (i+1)*src),
             * source j covers [j*dst, (j+1)*dst). */
            long long lo = (long long)i * src_n, hi = lo + src_n;
            int j0 = (int)(lo / dst_n), j1 = (int)((hi - 1) / dst_n);
            t->first[i] = j0;
            t->count[i] = j1 - j0 + 1;
            for (int j = j0; j <= j1; j++) {
                long long a = (long long)j * dst_n, b = a + dst_n;
                long long overlap = (hi < b ? hi : b) - (lo > a ? lo : a);
                w[j - j0] = (float)((double)overlap / (double)src_n);
            }
        } else {
            int i0, i1;
            float f;
            bilinear_coord(i, src_n, dst_n, &i0, &i1, &f);
            t->first[i] = i0;
            t->count[i] = i1 - i0 + 1;
            if (i1 == i0)
                w[0] = 1.0f;
            else {
                w[0] = 1.0f - f;
                w[1] = f;
            }
        }
    }
    return CZ_OK;
}

cz_status cz_image_resize(const cz_image *src, int width, int height, cz_image *dst)
{
    memset(dst, 0, sizeof *dst);
    if (!src || !src->pixels || src->width < 1 || src->height < 1)
        return cz_fail(CZ_ERR_ARG, "cz_image_resize: empty source image");
    cz_status st = cz_image_alloc(dst, width, height, src->channels);
    if (st)
        return st;
    const int c = src->channels, sw = src->width, sh = src->height;
    resize_taps tx = {0}, ty = {0};
    float *tmp = NULL, *acc = NULL;
    if ((st = taps_build(sw, width, &tx)) || (st = taps_build(sh, height, &ty)))
        goto done;
    /* tmp: sh x width x c, the result of the horizontal pass. */
    tmp = cz_alloc((size_t)sh * (size_t)width, (size_t)c * sizeof *tmp, "resize buffer");
    acc = cz_alloc((size_t)width * (size_t)c, sizeof *acc, "resize row");
    if (!tmp || !acc) {
        st = CZ_ERR_NOMEM;
        goto done;
    }

    const size_t row_in = (size_t)sw * (size_t)c, row_out = (size_t)width * (size_t)c;
    for (int y = 0; y < sh; y++) {
        const uint8_t *in = src->pixels + (size_t)y * row_in;
        float *out = tmp + (size_t)y * row_out;
        for (int x = 0; x < width; x++) {
            const float *w = tx.w + (size_t)x * (size_t)tx.taps;
            const uint8_t *p = in + (size_t)tx.first[x] * (size_t)c;
            for (int k = 0; k < c; k++) {
                float s = 0;
                for (int t = 0; t < tx.count[x]; t++)
                    s += w[t] * (float)p[(size_t)t * (size_t)c + (size_t)k];
                out[(size_t)x * (size_t)c + (size_t)k] = s;
            }
        }
    }
    for (int y = 0; y < height; y++) {
        const float *w = ty.w + (size_t)y * (size_t)ty.taps;
        memset(acc, 0, row_out * sizeof *acc);
        for (int t = 0; t < ty.count[y]; t++) {
            const float *in = tmp + (size_t)(ty.first[y] + t) * row_out;
            for (size_t i = 0; i < row_out; i++)
                acc[i] += w[t] * in[i];
        }
        uint8_t *out = dst->pixels + (size_t)y * row_out;
        for (size_t i = 0; i < row_out; i++) {
            float v = acc[i];
            v = v < 0 ? 0 : v > 255 ? 255 : v;
            out[i] = (uint8_t)(v + 0.5f);
        }
    }
done:
    free(tmp);
    free(acc);
    taps_free(&tx);
    taps_free(&ty);
    if (st)
        cz_image_free(dst);
    return st;
}

void cz_resize_plane_bilinear(const float *src, int sw, int sh, float *dst, int dw, int dh)
{
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1)
        return;
    for (int y = 0; y < dh; y++) {
        int y0, y1;
        float fy;
        bilinear_coord(y, sh, dh, &y0, &y1, &fy);
        const float *r0 = src + (size_t)y0 * (size_t)sw, *r1 = src + (size_t)y1 * (size_t)sw;
        float *out = dst + (size_t)y * (size_t)dw;
        for (int x = 0; x < dw; x++) {
            int x0, x1;
            float fx;
            bilinear_coord(x, sw, dw, &x0, &x1, &fx);
            float top = r0[x0] + fx * (r0[x1] - r0[x0]);
            float bottom = r1[x0] + fx * (r1[x1] - r1[x0]);
            out[x] = top + fy * (bottom - top);
        }
    }
}

cz_status cz_resize_plane_bilinear_rows(const float *src, int sw, int sh, float *dst, int dw, int dh,
                                        int row0, int nrows)
{
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1 || row0 < 0 || nrows < 1 || row0 + nrows > dh)
        return CZ_OK;
    /* The column taps, once per band rather than once per pixel. */
    int *x0 = cz_alloc((size_t)dw, 2 * sizeof *x0, "resize columns");
    float *fx = cz_alloc((size_t)dw, sizeof *fx, "resize columns");
    if (!x0 || !fx) {
        free(x0);
        free(fx);
        return CZ_ERR_NOMEM;
    }
    int *x1 = x0 + dw;
    for (int x = 0; x < dw; x++)
        bilinear_coord(x, sw, dw, &x0[x], &x1[x], &fx[x]);
    for (int y = row0; y < row0 + nrows; y++) {
        int y0, y1;
        float fy;
        bilinear_coord(y, sh, dh, &y0, &y1, &fy);
        const float *r0 = src + (size_t)y0 * (size_t)sw, *r1 = src + (size_t)y1 * (size_t)sw;
        float *out = dst + (size_t)(y - row0) * (size_t)dw;
        for (int x = 0; x < dw; x++) {
            float top = r0[x0[x]] + fx[x] * (r0[x1[x]] - r0[x0[x]]);
            float bottom = r1[x0[x]] + fx[x] * (r1[x1[x]] - r1[x0[x]]);
            out[x] = top + fy * (bottom - top);
        }
    }
    free(x0);
    free(fx);
    return CZ_OK;
}

cz_status cz_image_center_crop_square(const cz_image *src, cz_image *dst)
{
    memset(dst, 0, sizeof *dst);
    if (!src || !src->pixels || src->width < 1 || src->height < 1)
        return cz_fail(CZ_ERR_ARG, "cz_image_center_crop_square: empty source image");
    int side = src->width < src->height ? src->width : src->height;
    cz_status st = cz_image_alloc(dst, side, side, src->channels);
    if (st)
        return st;
    int x0 = (src->width - side) / 2, y0 = (src->height - side) / 2;
    size_t c = (size_t)src->channels, row = (size_t)side * c;
    for (int y = 0; y < side; y++)
        memcpy(dst->pixels + (size_t)y * row,
               src->pixels + ((size_t)(y0 + y) * (size_t)src->width + (size_t)x0) * c, row);
    return CZ_OK;
}
