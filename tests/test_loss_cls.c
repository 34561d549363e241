/* The classification head's cross-entropy (cz_head_loss, cls, one-hot
 * targets) against a double-precision log-sum-exp: loss and every logit
 * gradient, on logits spread wide enough that some softmax terms underflow
 * (the engine's vectorised exp clamps its argument at -87), on an image
 * side whose pixel count is not a multiple of the loss's 32-pixel blocks;
 * and a NaN logit makes the loss NaN (the trainer's divergence check). */
#include <string.h>

#include "heads.h"
#include "test.h"
#include "util.h"

static double reference(const float *l, const int32_t *bins, int n, int hw, double *grad)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < 2; ch++) {
            const float *lc = l + ((size_t)i * 2 + ch) * CZ_BINS * hw;
            double *gc = grad + ((size_t)i * 2 + ch) * CZ_BINS * hw;
            for (int p = 0; p < hw; p++) {
                double m = lc[p], z = 0;
                for (int k = 1; k < CZ_BINS; k++)
                    m = fmax(m, lc[(size_t)k * hw + p]);
                for (int k = 0; k < CZ_BINS; k++)
                    z += exp(lc[(size_t)k * hw + p] - m);
                const int t = bins[((size_t)i * 2 + ch) * hw + p];
                total += log(z) + m - lc[(size_t)t * hw + p];
                for (int k = 0; k < CZ_BINS; k++)
                    gc[(size_t)k * hw + p] =
                        (exp(lc[(size_t)k * hw + p] - m) / z - (k == t)) / ((double)n * hw);
            }
        }
    return total / ((double)n * hw);
}

static void check_side(int side, float spread)
{
    const int n = 3, hw = side * side;
    const size_t nl = (size_t)n * 2 * CZ_BINS * hw;
    float *l = malloc(nl * sizeof(float)), *g = malloc(nl * sizeof(float));
    double *want = malloc(nl * sizeof(double));
    int32_t *bins = malloc((size_t)n * 2 * hw * sizeof(int32_t));
    float *uv = calloc((size_t)n * 2 * hw, sizeof(float));
    if (!l || !g || !want || !bins || !uv) {
        CHECK(0);
        return;
    }
    cz_rng r = {(uint64_t)side * 31 + 7};
    for (size_t i = 0; i < nl; i++)
        l[i] = (2 * cz_rng_uniform(&r) - 1) * spread;
    for (int i = 0; i < n * 2 * hw; i++)
        bins[i] = (int32_t)(cz_rng_next(&r) % CZ_BINS);
    cz_batch b = {.uv = uv, .bins = bins, .n = n, .side = side};
    const double loss = cz_head_loss(CZ_HEAD_CLS, NULL, l, &b, g);
    const double ref = reference(l, bins, n, hw, want);
    CHECK_CLOSE(loss, ref, 0, 1e-6);
    double worst = 0;
    for (size_t i = 0; i < nl; i++)
        worst = fmax(worst, fabs(g[i] - want[i]) * n * hw); /* in units of the per-pixel gradient */
    CHECK(worst < 1e-6);
    if (worst >= 1e-6)
        fprintf(stderr, "side %d spread %g: worst gradient error %.3g\n", side, spread, worst);
    /* without a gradient buffer the loss is the same */
    CHECK(cz_head_loss(CZ_HEAD_CLS, NULL, l, &b, NULL) == loss);
    /* one NaN logit (not the target's) poisons the loss */
    const int t = bins[0];
    l[(size_t)((t + 1) % CZ_BINS) * hw] = NAN;
    CHECK(isnan(cz_head_loss(CZ_HEAD_CLS, NULL, l, &b, g)));
    free(l);
    free(g);
    free(want);
    free(bins);
    free(uv);
}

int main(void)
{
    check_side(32, 4);   /* the training size, ordinary logits */
    check_side(5, 4);    /* 25 pixels: one partial block */
    check_side(7, 60);   /* 49 pixels; differences up to 120 underflow */
    check_side(1, 1e-3); /* one pixel, almost uniform softmax */
    TEST_END();
}
