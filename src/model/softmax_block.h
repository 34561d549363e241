/* The softmax over the CZ_BINS bins of a block of neighbouring pixels, in
 * a form the compiler vectorises across the pixels (a pixel's bins lie hw
 * floats apart, so the pixel loop runs innermost). Shared by the plain
 * cross-entropy (heads.c) and the recipe losses (loss_recipe.c). */
#ifndef CZ_SOFTMAX_BLOCK_H
#define CZ_SOFTMAX_BLOCK_H
#include <stddef.h>
#include <stdint.h>

#include "colorize/colorspace.h" /* CZ_BINS */

/* Pixels per block. */
#define CZ_SOFTMAX_BLOCK 32

/* exp(x) for x <= 0 (softmax terms after the max is subtracted): x = n ln2
 * + r, |r| <= ln2/2, and e^r by its Taylor polynomial to r^7 (relative
 * error under 1e-8, below float's 6e-8); below -87 the result is flushed
 * to e^-87 (1.6e-38). libm's expf does not vectorise. */
static inline float cz_exp_nonpositive(float x)
{
    x = x < -87.0f ? -87.0f : x; /* not fmaxf: it does not vectorise, and a NaN must stay NaN */
    /* The exponent from a copy that is never NaN (a NaN x reaches the
     * result through r); rounded to nearest by adding and removing
     * 1.5 x 2^23 (rintf does not vectorise). */
    const float xn = x <= 0.0f ? x : 0.0f;
    const float n = (xn * 1.44269504f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693145752f) - n * 1.42860677e-6f; /* ln 2 in two parts */
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}

/* Each of np (<= CZ_SOFTMAX_BLOCK) neighbouring pixels' max logit into m;
 * bin 0 of the first pixel at l, bins hw floats apart. */
static inline void cz_block_max(const float *l, int hw, int np, float m[CZ_SOFTMAX_BLOCK])
{
    for (int j = 0; j < np; j++)
        m[j] = l[j];
    for (int k = 1; k < CZ_BINS; k++) {
        const float *lk = l + (size_t)k * hw;
#pragma omp simd
        for (int j = 0; j < np; j++)
            m[j] = lk[j] > m[j] ? lk[j] : m[j]; /* a NaN logit still reaches the result through its exp */
    }
}

/* np (<= CZ_SOFTMAX_BLOCK) neighbouring pixels whose bin 0 starts at l:
 * each pixel's max logit into m, e[k][j] = exp(l[k hw + j] - m[j]), and
 * their sums into z. */
static inline void cz_softmax_block(const float *l, int hw, int np, float m[CZ_SOFTMAX_BLOCK],
                                    float z[CZ_SOFTMAX_BLOCK], float e[CZ_BINS][CZ_SOFTMAX_BLOCK])
{
    cz_block_max(l, hw, np, m);
    for (int j = 0; j < np; j++)
        z[j] = 0;
    for (int k = 0; k < CZ_BINS; k++) {
        const float *lk = l + (size_t)k * hw;
        float *ek = e[k];
#pragma omp simd
        for (int j = 0; j < np; j++) {
            ek[j] = cz_exp_nonpositive(lk[j] - m[j]);
            z[j] += ek[j];
        }
    }
}
#endif
