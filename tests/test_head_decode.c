/* The classification head's decoding (cz_head_decode, vectorised over
 * blocks of 32 pixels) against the softmax expectation in double, for the
 * mean and annealed rules, and mode against the arg-max bin: on image
 * sides whose pixel count is not a multiple of the block, on logits spread
 * wide enough that softmax terms underflow; a NaN logit gives a NaN chroma
 * (what cz_decode_logits does). */
#include <string.h>

#include "heads.h"
#include "test.h"
#include "util.h"

static double expectation(const float *l, int hw, float max, double inv_t)
{
    double m = l[0], z = 0, acc = 0;
    for (int k = 1; k < CZ_BINS; k++)
        m = fmax(m, l[(size_t)k * hw]);
    for (int k = 0; k < CZ_BINS; k++) {
        const double e = exp((l[(size_t)k * hw] - m) * inv_t);
        z += e;
        acc += e * cz_bin_center(k, max);
    }
    return acc / z;
}

static void check_side(int side, float spread)
{
    const int n = 3, hw = side * side;
    const size_t nl = (size_t)n * 2 * CZ_BINS * hw, nuv = (size_t)n * 2 * hw;
    float *l = malloc(nl * sizeof(float)), *uv = malloc(nuv * sizeof(float));
    if (!l || !uv) {
        CHECK(0);
        return;
    }
    cz_rng r = {(uint64_t)side * 17 + 3};
    for (size_t i = 0; i < nl; i++)
        l[i] = (2 * cz_rng_uniform(&r) - 1) * spread;
    const cz_decode rules[3] = {{CZ_DECODE_MEAN, CZ_DEFAULT_TEMPERATURE},
                                {CZ_DECODE_ANNEALED, CZ_DEFAULT_TEMPERATURE},
                                {CZ_DECODE_MODE, CZ_DEFAULT_TEMPERATURE}};
    for (int d = 0; d < 3; d++) {
        cz_head_decode(CZ_HEAD_CLS, l, n, hw, rules[d], uv);
        double worst = 0;
        int mode_bad = 0;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < 2; ch++)
                for (int p = 0; p < hw; p++) {
                    const float *lp = l + ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw + p;
                    const float max = ch ? CZ_V_MAX : CZ_U_MAX, got = uv[((size_t)i * 2 + ch) * hw + p];
                    if (rules[d].rule == CZ_DECODE_MODE) {
                        mode_bad += got != cz_decode_logits(lp, hw, max, rules[d]);
                        continue;
                    }
                    const double inv_t = rules[d].rule == CZ_DECODE_ANNEALED ? 1.0 / rules[d].temperature : 1;
                    worst = fmax(worst, fabs(got - expectation(lp, hw, max, inv_t)));
                }
        CHECK(worst < 1e-6 && mode_bad == 0);
        if (worst >= 1e-6 || mode_bad)
            fprintf(stderr, "side %d spread %g rule %d: worst error %.3g, %d mode pixels off\n", side, spread,
                    d, worst, mode_bad);
    }
    /* a NaN logit in the last pixel's U bins makes its U NaN, and only it */
    l[(size_t)5 * hw + hw - 1] = NAN;
    cz_head_decode(CZ_HEAD_CLS, l, 1, hw, rules[0], uv);
    CHECK(isnan(uv[hw - 1]));
    for (int p = 0; p < 2 * hw; p++)
        if (p != hw - 1)
            CHECK(!isnan(uv[p]));
    free(l);
    free(uv);
}

int main(void)
{
    check_side(32, 4);   /* the training size */
    check_side(5, 4);    /* 25 pixels: one partial block */
    check_side(7, 60);   /* 49 pixels; differences up to 120 underflow */
    check_side(1, 1e-3); /* one pixel, almost uniform softmax */
    TEST_END();
}
