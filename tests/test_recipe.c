/* The recipe components of issue 11 (docs/recipe.md):
 *  - HL-Gauss targets: hand-worked properties and PyTorch's values;
 *  - the recipe loss (CE against one-hot or HL-Gauss targets + lambda x MSE
 *    of the mean-decoded chroma): value and gradient against autograd
 *    (tools/make_recipe_vectors.py, float64), the gradient against central
 *    finite differences of a double-precision reference written here, and
 *    the plain SPEC §3 loss as its special case;
 *  - the weight EMA: the decay warm-up by hand, the updates against torch's
 *    lerp_, and the BatchNorm re-estimation against statistics computed
 *    with the reference convolution. */
#include <stdlib.h>
#include <string.h>

#include "colorize/colorspace.h"
#include "colorize/safetensors.h"
#include "ema.h"
#include "heads.h"
#include "loss_recipe.h"
#include "ref_ops.h"
#include "test.h"
#include "util.h"

enum { N = 2, HW = 16, NL = N * 40 * HW, NUV = N * 2 * HW, N_CASES = 5 };

static const cz_cls_loss cases[N_CASES] = {
    {.target = CZ_CLS_TARGET_ONEHOT, .sigma = 0, .mse_weight = 0},
    {.target = CZ_CLS_TARGET_HLGAUSS, .sigma = 0.75, .mse_weight = 0},
    {.target = CZ_CLS_TARGET_ONEHOT, .sigma = 0, .mse_weight = 5},
    {.target = CZ_CLS_TARGET_HLGAUSS, .sigma = 0.75, .mse_weight = 5},
    {.target = CZ_CLS_TARGET_HLGAUSS, .sigma = 2, .mse_weight = 50},
};

/* The loss in double, straight from its definition. */
static double ref_loss(const double *logits, const int32_t *bins, const float *uv, int n, int hw,
                       const cz_cls_loss *c)
{
    const float maxes[2] = {CZ_U_MAX, CZ_V_MAX};
    double total = 0;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < 2; ch++)
            for (int p = 0; p < hw; p++) {
                double z[CZ_BINS], t[CZ_BINS], top = -1e300, sum = 0, mean = 0, ce = 0;
                const float x = uv[((size_t)i * 2 + ch) * hw + p];
                for (int k = 0; k < CZ_BINS; k++) {
                    z[k] = logits[((size_t)i * 40 + ch * CZ_BINS + k) * hw + p];
                    top = z[k] > top ? z[k] : top;
                }
                for (int k = 0; k < CZ_BINS; k++)
                    sum += exp(z[k] - top);
                if (c->target == CZ_CLS_TARGET_HLGAUSS) {
                    cz_hlgauss_target(x, maxes[ch], c->sigma, t);
                } else {
                    memset(t, 0, sizeof t);
                    t[bins[((size_t)i * 2 + ch) * hw + p]] = 1;
                }
                for (int k = 0; k < CZ_BINS; k++) {
                    double logp = z[k] - top - log(sum);
                    ce -= t[k] * logp;
                    mean += exp(logp) * cz_bin_center(k, maxes[ch]);
                }
                total += ce + c->mse_weight * (mean - x) * (mean - x);
            }
    return total / ((double)n * hw);
}

/* dL/d logit j of the double reference by central differences (step 1e-4:
 * truncation ~1e-8, rounding ~1e-12). */
static double fd_grad(double *xd, int j, const int32_t *bins, const float *uv, int n, int hw,
                      const cz_cls_loss *c)
{
    const double h = 1e-4, keep = xd[j];
    xd[j] = keep + h;
    const double up = ref_loss(xd, bins, uv, n, hw, c);
    xd[j] = keep - h;
    const double down = ref_loss(xd, bins, uv, n, hw, c);
    xd[j] = keep;
    return (up - down) / (2 * h);
}

static int load(cz_st_file *f, const char *name, float *dst, size_t n)
{
    const cz_st_tensor *t = cz_st_find(f, name);
    return t && t->dtype == CZ_ST_F32 && t->numel == n && cz_st_copy_f32(t, dst) == CZ_OK;
}

static void check_targets_by_hand(void)
{
    double t[CZ_BINS], s = 0;
    /* x = 0 (an edge, between bins 9 and 10): symmetric, sums to 1 */
    cz_hlgauss_target(0.0f, CZ_U_MAX, 0.75, t);
    int sym = 1;
    for (int k = 0; k < CZ_BINS; k++) {
        s += t[k];
        sym &= fabs(t[k] - t[CZ_BINS - 1 - k]) < 1e-12;
    }
    CHECK_CLOSE(s, 1.0, 1e-12, 0);
    CHECK(sym);
    /* bins 9 and 10 each hold Phi(1/0.75) - 1/2 of the unnormalised mass */
    CHECK_CLOSE(t[9], 0.5 * erf(1.0 / 0.75 / sqrt(2.0)), 1e-9, 0);
    CHECK_CLOSE(t[8], 0.5 * (erf(2.0 / 0.75 / sqrt(2.0)) - erf(1.0 / 0.75 / sqrt(2.0))), 1e-9, 0);
    /* a narrow Gaussian at a bin centre is the one-hot target */
    const float c7 = cz_bin_center(7, CZ_V_MAX);
    cz_hlgauss_target(c7, CZ_V_MAX, 0.01, t);
    CHECK_CLOSE(t[7], 1.0, 1e-12, 0);
    CHECK(cz_chroma_bin(c7, CZ_V_MAX) == 7);
    /* at the range's end half the Gaussian falls outside and is renormalised away */
    cz_hlgauss_target(CZ_U_MAX, CZ_U_MAX, 0.75, t);
    CHECK_CLOSE(t[19], erf(1.0 / 0.75 / sqrt(2.0)), 1e-6, 0);
    /* mass decreases away from the true value */
    cz_hlgauss_target(cz_bin_center(12, CZ_U_MAX), CZ_U_MAX, 0.75, t);
    CHECK(t[12] > t[11] && t[11] > t[10] && t[12] > t[13] && t[13] > t[14] && fabs(t[11] - t[13]) < 1e-6);

    /* the tabulated targets the loss uses against the exact ones */
    const double sigmas[3] = {0.3, 0.75, 2.0};
    /* linear interpolation: each tail is off by at most (1/4096)^2 / 8 x
     * max|Phi''| (< 0.25) / sigma^2, and a mass is a difference of two */
    for (int si = 0; si < 3; si++) {
        double worst = 0;
        cz_hlgauss_table tab;
        CHECK(cz_hlgauss_table_init(&tab, sigmas[si]) == CZ_OK);
        for (int ch = 0; ch < 2; ch++) {
            const float mx = ch ? CZ_V_MAX : CZ_U_MAX;
            for (int i = -10; i <= 20010; i++) {
                const float x = -mx + 2 * mx * (float)i / 20000.0f; /* a little beyond both ends too */
                double a[CZ_BINS], b[CZ_BINS];
                cz_hlgauss_target(x, mx, sigmas[si], a);
                cz_hlgauss_table_target(&tab, x, mx, b);
                for (int k = 0; k < CZ_BINS; k++)
                    worst = fmax(worst, fabs(a[k] - b[k]));
            }
        }
        cz_hlgauss_table_free(&tab);
        CHECK_CLOSE(worst, 0, 2 * 0.25 / (8.0 * 4096 * 4096 * sigmas[si] * sigmas[si]), 0);
        if (getenv("CZ_RECIPE_STATS"))
            printf("table sigma %.2f: worst %.3g\n", sigmas[si], worst);
    }

    cz_cls_loss l = {.target = CZ_CLS_TARGET_ONEHOT, .sigma = 0, .mse_weight = 3};
    char buf[48];
    CHECK(cz_cls_target_parse("hlgauss", &l) == CZ_OK && l.target == CZ_CLS_TARGET_HLGAUSS &&
          l.sigma == 0.75 && l.mse_weight == 3);
    CHECK(cz_cls_target_parse("hlgauss:1.5", &l) == CZ_OK && l.sigma == 1.5);
    cz_cls_target_format(&l, buf, sizeof buf);
    CHECK(strcmp(buf, "hlgauss:1.5") == 0);
    CHECK(cz_cls_target_parse("onehot", &l) == CZ_OK && l.target == CZ_CLS_TARGET_ONEHOT);
    cz_cls_target_format(&l, buf, sizeof buf);
    CHECK(strcmp(buf, "onehot") == 0);
    CHECK(cz_cls_target_parse("hlgauss:", &l) != CZ_OK);
    CHECK(cz_cls_target_parse("hlgauss:0", &l) != CZ_OK);
    CHECK(cz_cls_target_parse("hlgauss:1x", &l) != CZ_OK);
    CHECK(cz_cls_target_parse("hlgaussian", &l) != CZ_OK);
    CHECK(cz_cls_target_parse("soft", &l) != CZ_OK);
}

static void check_losses(cz_st_file *f)
{
    float *logits = malloc(NL * sizeof(float)), *uv = malloc(NUV * sizeof(float));
    float *want = malloc(NL * sizeof(float)), *grad = malloc(NL * sizeof(float));
    float *grad0 = malloc(NL * sizeof(float));
    double *xd = malloc(NL * sizeof(double));
    int32_t bins[NUV];
    int64_t bins64[NUV];
    float loss[N_CASES], ce[N_CASES], mse[N_CASES];
    const cz_st_tensor *tb = cz_st_find(f, "target_bins");
    CHECK(load(f, "logits", logits, NL) && load(f, "target_uv", uv, NUV) && tb && tb->numel == NUV &&
          cz_st_copy_i64(tb, bins64) == CZ_OK && load(f, "loss", loss, N_CASES) &&
          load(f, "ce", ce, N_CASES) && load(f, "mse", mse, N_CASES));
    for (int i = 0; i < NUV; i++)
        bins[i] = (int32_t)bins64[i];
    /* the twin's bins are SPEC §3's */
    int same_bins = 1;
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < 2; ch++)
            for (int p = 0; p < HW; p++) {
                int k = (i * 2 + ch) * HW + p;
                same_bins &= bins[k] == cz_chroma_bin(uv[k], ch ? CZ_V_MAX : CZ_U_MAX);
            }
    CHECK(same_bins);

    /* HL-Gauss targets against torch's (float64, stored as float32) */
    CHECK(load(f, "hlgauss_0.75", want, NL));
    double worst = 0;
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < 2; ch++)
            for (int p = 0; p < HW; p++) {
                double t[CZ_BINS];
                cz_hlgauss_target(uv[(i * 2 + ch) * HW + p], ch ? CZ_V_MAX : CZ_U_MAX, 0.75, t);
                for (int k = 0; k < CZ_BINS; k++)
                    worst = fmax(worst, fabs(t[k] - want[(i * 40 + ch * CZ_BINS + k) * HW + p]));
            }
    CHECK_CLOSE(worst, 0, 1e-6, 0);

    for (int i = 0; i < NL; i++)
        xd[i] = logits[i];
    for (int c = 0; c < N_CASES; c++) {
        char name[32];
        snprintf(name, sizeof name, "grad.%d", c);
        CHECK(load(f, name, want, NL));
        cz_cls_loss_parts parts;
        double l = cz_loss_cls_recipe(logits, bins, uv, N, HW, &cases[c], grad, &parts);
        CHECK_CLOSE(l, loss[c], 0, 1e-5);
        CHECK_CLOSE(parts.ce, ce[c], 0, 1e-5);
        CHECK_CLOSE(parts.mse, mse[c], 0, 1e-4);
        CHECK_CLOSE(l, ref_loss(xd, bins, uv, N, HW, &cases[c]), 0, 1e-5);
        /* gradient against autograd and against central differences of the
         * double reference (step 1e-4: truncation ~1e-8, rounding ~1e-12) */
        int bad_torch = 0, bad_fd = 0;
        for (int j = 0; j < NL; j++) {
            if (!(fabs(grad[j] - want[j]) <= 2e-7 + 1e-4 * fabs(want[j])))
                bad_torch++;
            const double fd = fd_grad(xd, j, bins, uv, N, HW, &cases[c]);
            if (!(fabs(grad[j] - fd) <= 2e-7 + 1e-4 * fabs(fd)))
                bad_fd++;
        }
        if (bad_torch || bad_fd)
            fprintf(stderr, "case %d: %d gradients off autograd, %d off finite differences\n", c, bad_torch,
                    bad_fd);
        CHECK(bad_torch == 0);
        CHECK(bad_fd == 0);
    }
    /* A table made once by the loss's owner gives the same bits as the one
     * each call makes; one made for another sigma is not used. */
    {
        cz_cls_loss kept = cases[3];
        cz_hlgauss_table table;
        CHECK(cz_cls_loss_prepare(&kept, &table) == CZ_OK && kept.table == &table);
        float *g_kept = malloc(NL * sizeof(float));
        CHECK(g_kept != NULL);
        double l_call = cz_loss_cls_recipe(logits, bins, uv, N, HW, &cases[3], grad, NULL);
        double l_kept = cz_loss_cls_recipe(logits, bins, uv, N, HW, &kept, g_kept, NULL);
        CHECK(l_kept == l_call && memcmp(grad, g_kept, NL * sizeof(float)) == 0);
        cz_cls_loss other = cases[4]; /* sigma 2 */
        other.table = &table;         /* made for 0.75 */
        double l_other = cz_loss_cls_recipe(logits, bins, uv, N, HW, &other, g_kept, NULL);
        CHECK(l_other == cz_loss_cls_recipe(logits, bins, uv, N, HW, &cases[4], grad, NULL) &&
              memcmp(grad, g_kept, NL * sizeof(float)) == 0);
        cz_cls_loss onehot = cases[2];
        cz_hlgauss_table none;
        CHECK(cz_cls_loss_prepare(&onehot, &none) == CZ_OK && onehot.table == NULL && none.tail == NULL);
        cz_hlgauss_table_free(&table);
        free(g_kept);
    }
    /* one-hot and lambda 0 is SPEC §3's loss */
    const cz_batch hb = {.n = N, .side = 4, .bins = bins}; /* 4 x 4 = HW */
    double l0 = cz_head_loss(CZ_HEAD_CLS, NULL, logits, &hb, grad0);
    double l1 = cz_loss_cls_recipe(logits, bins, uv, N, HW, &cases[0], grad, NULL);
    CHECK_CLOSE(l1, l0, 0, 1e-6);
    double worst_g = 0;
    for (int j = 0; j < NL; j++)
        worst_g = fmax(worst_g, fabs(grad[j] - grad0[j]));
    CHECK_CLOSE(worst_g, 0, 1e-8, 0);
    /* the MSE term is the SPEC §4 metric of mean decoding */
    double metric = 0;
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < 2; ch++)
            for (int p = 0; p < HW; p++) {
                const cz_decode mean = {CZ_DECODE_MEAN, CZ_DEFAULT_TEMPERATURE};
                float e = cz_decode_logits(logits + (i * 40 + ch * CZ_BINS) * HW + p, HW,
                                           ch ? CZ_V_MAX : CZ_U_MAX, mean);
                double d = e - uv[(i * 2 + ch) * HW + p];
                metric += d * d;
            }
    cz_cls_loss_parts parts;
    cz_loss_cls_recipe(logits, bins, uv, N, HW, &cases[0], NULL, &parts);
    CHECK_CLOSE(parts.mse, metric / (N * HW), 0, 1e-5);
    free(logits);
    free(uv);
    free(want);
    free(grad);
    free(grad0);
    free(xd);
}

/* The loss works on blocks of 32 pixels: 75 pixels (two full blocks and a
 * partial one) against the double reference, chroma beyond the bins' range
 * included (the table falls back to erf there), gradients against central
 * differences on every fifth logit. */
static void check_blocks(void)
{
    enum { BN = 2, BHW = 75, BL = BN * 40 * BHW, BUV = BN * 2 * BHW };
    float *logits = malloc(BL * sizeof(float)), *grad = malloc(BL * sizeof(float));
    double *xd = malloc(BL * sizeof(double));
    float uv[BUV];
    int32_t bins[BUV];
    CHECK(logits && grad && xd);
    if (!logits || !grad || !xd)
        return;
    uint32_t r = 12345;
    for (int i = 0; i < BL; i++) {
        r = r * 1664525u + 1013904223u;
        logits[i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * 12.0f;
        xd[i] = logits[i];
    }
    for (int i = 0; i < BUV; i++) {
        const float max = (i / BHW) % 2 ? CZ_V_MAX : CZ_U_MAX;
        r = r * 1664525u + 1013904223u;
        uv[i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * 2.2f * max; /* 10 % beyond each end */
        bins[i] = cz_chroma_bin(uv[i], max);
    }
    for (int c = 0; c < N_CASES; c++) {
        double l = cz_loss_cls_recipe(logits, bins, uv, BN, BHW, &cases[c], grad, NULL);
        CHECK_CLOSE(l, ref_loss(xd, bins, uv, BN, BHW, &cases[c]), 0, 1e-5);
        int bad = 0;
        for (int j = 0; j < BL; j += 5) {
            const double fd = fd_grad(xd, j, bins, uv, BN, BHW, &cases[c]);
            if (!(fabs(grad[j] - fd) <= 2e-8 + 1e-4 * fabs(fd)))
                bad++;
        }
        if (bad)
            fprintf(stderr, "blocks, case %d: %d gradients off finite differences\n", c, bad);
        CHECK(bad == 0);
    }
    free(logits);
    free(grad);
    free(xd);
}

static void check_ema(cz_st_file *f)
{
    /* warm-up: d_t = min(decay, (1 + t) / (10 + t)) */
    CHECK_CLOSE(cz_ema_decay_at(0.999, 0), 0.1, 1e-15, 0);
    CHECK_CLOSE(cz_ema_decay_at(0.999, 8), 0.5, 1e-15, 0);
    CHECK_CLOSE(cz_ema_decay_at(0.999, 90), 0.91, 1e-15, 0);
    CHECK_CLOSE(cz_ema_decay_at(0.999, 8991), 0.999, 1e-15, 0);
    CHECK_CLOSE(cz_ema_decay_at(0.999, 100000), 0.999, 1e-15, 0);
    CHECK_CLOSE(cz_ema_decay_at(0.5, 100), 0.5, 1e-15, 0);

    /* five updates of a 7-float "model" against torch's lerp_ */
    float w[6 * 7], want[7];
    CHECK(load(f, "ema.weights", w, 6 * 7) && load(f, "ema.result", want, 7));
    cz_model m;
    memset(&m, 0, sizeof m);
    m.graph.param_floats = 7;
    m.params = w;
    m.buffers = NULL;
    cz_ema e;
    CHECK(cz_ema_init(&e, 0.9, CZ_EMA_BN_AVERAGE, &m) == CZ_OK);
    for (int t = 1; t <= 5; t++) {
        m.params = w + 7 * t;
        cz_ema_update(&e, &m);
    }
    CHECK(e.updates == 5);
    for (int i = 0; i < 7; i++)
        CHECK_CLOSE(e.params[i], want[i], 1e-6, 1e-6);
    /* by hand: from 0 towards 1 with d = 0.1, then 2/11 */
    float zero = 0, one = 1;
    m.params = &zero;
    m.graph.param_floats = 1;
    cz_ema_free(&e);
    CHECK(cz_ema_init(&e, 0.9, CZ_EMA_BN_AVERAGE, &m) == CZ_OK);
    m.params = &one;
    cz_ema_update(&e, &m);
    CHECK_CLOSE(e.params[0], 0.9, 1e-7, 0);
    cz_ema_update(&e, &m);
    CHECK_CLOSE(e.params[0], 0.9 + 0.1 * (1 - 2.0 / 11), 1e-7, 0);
    cz_ema_free(&e);
    CHECK(cz_ema_init(&e, 1.0, CZ_EMA_BN_AVERAGE, &m) == CZ_ERR_ARG);
    cz_ema_bn b;
    CHECK(cz_ema_bn_parse("reestimate", &b) == CZ_OK && b == CZ_EMA_BN_REESTIMATE);
    CHECK(cz_ema_bn_parse("average", &b) == CZ_OK && b == CZ_EMA_BN_AVERAGE);
    CHECK(cz_ema_bn_parse("recompute", &b) != CZ_OK);
}

/* Re-estimation over one batch holding the whole (tiny) dataset gives the
 * first BatchNorm the batch mean and unbiased variance of the first
 * convolution's output, computed here with the reference convolution. */
static void check_reestimate(void)
{
    enum { COUNT = 8 };
    cz_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.count = COUNT;
    ds.side = 32;
    ds.pixels = malloc((size_t)COUNT * 3072);
    ds.labels = calloc(COUNT, 1);
    cz_rng r = {3};
    for (size_t i = 0; i < (size_t)COUNT * 3072; i++)
        ds.pixels[i] = (uint8_t)(cz_rng_uniform(&r) * 255);
    int idx[COUNT];
    for (int i = 0; i < COUNT; i++)
        idx[i] = i;
    cz_model m;
    CHECK(cz_model_init(&m, CZ_ARCH_VGG, CZ_HEAD_CLS, 8, 32, 1) == CZ_OK);
    cz_ema e;
    CHECK(cz_ema_init(&e, 0.999, CZ_EMA_BN_REESTIMATE, &m) == CZ_OK);
    for (size_t i = 0; i < e.n_params; i++)
        e.params[i] *= 1.5f; /* averaged weights that differ from the model's */
    CHECK(cz_ema_reestimate_bn(&e, &m, &ds, idx, COUNT, COUNT, 3, 7) == CZ_OK);

    cz_loader_opts lo = {.batch = COUNT};
    cz_loader *ld = cz_loader_create(&ds, idx, COUNT, &lo);
    CHECK(ld && cz_loader_start(ld, 0, 0) == CZ_OK);
    const cz_batch *b = ld ? cz_loader_next(ld) : NULL;
    CHECK(b != NULL);
    int wi = cz_graph_find_param(&m.graph, "e1.0.0.weight");
    int mi = cz_graph_find_buffer(&m.graph, "e1.0.1.running_mean");
    int vi = cz_graph_find_buffer(&m.graph, "e1.0.1.running_var");
    CHECK(wi >= 0 && mi >= 0 && vi >= 0);
    if (b && wi >= 0 && mi >= 0 && vi >= 0) {
        const int cout = m.graph.params[wi].shape[0];
        float *out = malloc((size_t)COUNT * cout * 1024 * sizeof(float));
        ref_conv g = {.n = COUNT, .cin = 1, .h = 32, .w = 32, .cout = cout, .kh = 3, .kw = 3, .stride = 1,
                      .pad = 1};
        ref_conv2d_forward(out, b->y, e.params + m.graph.params[wi].offset, NULL, &g);
        double worst_m = 0, worst_v = 0;
        for (int c = 0; c < cout; c++) {
            double s = 0, s2 = 0, cnt = (double)COUNT * 1024;
            for (int i = 0; i < COUNT; i++)
                for (int p = 0; p < 1024; p++) {
                    double x = out[((size_t)i * cout + c) * 1024 + p];
                    s += x;
                    s2 += x * x;
                }
            double mean = s / cnt, var = (s2 - cnt * mean * mean) / (cnt - 1);
            worst_m = fmax(worst_m, fabs(e.buffers[m.graph.buffers[mi].offset + c] - mean) /
                                        (1e-3 + fabs(mean)));
            worst_v = fmax(worst_v, fabs(e.buffers[m.graph.buffers[vi].offset + c] - var) / (1e-3 + var));
        }
        CHECK_CLOSE(worst_m, 0, 1e-4, 0);
        CHECK_CLOSE(worst_v, 0, 1e-4, 0);
        free(out);
    }
    cz_loader_free(ld);
    cz_ema_free(&e);
    cz_model_free(&m);
    cz_dataset_free(&ds);
}

int main(void)
{
    check_targets_by_hand();
    check_blocks();
    const char *dir = getenv("COLORIZE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/recipe.safetensors", dir ? dir : ".");
    cz_st_file *f;
    if (cz_st_open(&f, path) != CZ_OK) {
        fprintf(stderr, "%s\n", cz_last_error());
        CHECK(0);
    } else {
        check_losses(f);
        check_ema(f);
        cz_st_close(f);
    }
    check_reestimate();
    TEST_END();
}
