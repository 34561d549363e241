/* HL-Gauss soft targets and the hybrid CE + lambda x MSE loss of the
 * classification head. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/colorspace.h"
#include "loss_recipe.h"
#include "softmax_block.h"

cz_status cz_cls_target_parse(const char *text, cz_cls_loss *out)
{
    if (strcmp(text, "onehot") == 0) {
        out->target = CZ_CLS_TARGET_ONEHOT;
        out->sigma = 0;
        return CZ_OK;
    }
    if (strncmp(text, "hlgauss", 7) == 0 && (text[7] == '\0' || text[7] == ':')) {
        double s = CZ_HLGAUSS_DEFAULT_SIGMA;
        if (text[7] == ':') {
            char *end;
            s = strtod(text + 8, &end);
            if (end == text + 8 || *end || !(s > 0 && s <= 20))
                return cz_fail(CZ_ERR_ARG, "bad HL-Gauss width in '%s' (hlgauss:SIGMA, 0 < SIGMA <= 20 bins)",
                               text);
        }
        out->target = CZ_CLS_TARGET_HLGAUSS;
        out->sigma = s;
        return CZ_OK;
    }
    return cz_fail(CZ_ERR_ARG, "unknown target '%s' (use onehot, hlgauss or hlgauss:SIGMA)", text);
}

void cz_cls_target_format(const cz_cls_loss *l, char *buf, int size)
{
    if (l->target == CZ_CLS_TARGET_HLGAUSS)
        snprintf(buf, (size_t)size, "hlgauss:%.9g", l->sigma);
    else
        snprintf(buf, (size_t)size, "onehot");
}

/* Standard normal CDF; exactly 0 or 1 beyond 8 sd (the tail is < 1e-15). */
static double phi(double a)
{
    if (a < -8)
        return 0;
    if (a > 8)
        return 1;
    return 0.5 * erfc(-a * 0.70710678118654752440);
}

void cz_hlgauss_target(float x, float max, double sigma_bins, double target[CZ_BINS])
{
    const double m = max, w = 2.0 * m / CZ_BINS, s = sigma_bins * w;
    double cdf[CZ_BINS + 1];
    for (int k = 0; k <= CZ_BINS; k++)
        cdf[k] = phi((-m + k * w - (double)x) / s);
    const double norm = cdf[CZ_BINS] - cdf[0];
    for (int k = 0; k < CZ_BINS; k++)
        target[k] = (cdf[k + 1] - cdf[k]) / norm;
}

#define TABLE_STEPS 4096 /* positions per bin width, plus one */

/* Lower tail Phi(a) for an edge at or below the value, upper tail 1 - Phi(a)
 * above it: both small away from the value, so no cancellation. */
static double tail_at(int j, double f, double sigma)
{
    double a = ((double)j - f) / sigma;
    return j <= 0 ? phi(a) : phi(-a);
}

cz_status cz_hlgauss_table_init(cz_hlgauss_table *t, double sigma_bins)
{
    memset(t, 0, sizeof *t);
    t->sigma = sigma_bins;
    t->reach = (int)ceil(8.0 * sigma_bins) + 1;
    if (t->reach > CZ_BINS)
        t->reach = CZ_BINS;
    const int w = 2 * t->reach + 2;
    t->tail = malloc((size_t)(TABLE_STEPS + 1) * w * sizeof(double));
    if (!t->tail)
        return cz_fail(CZ_ERR_NOMEM, "out of memory for the HL-Gauss table");
    for (int i = 0; i <= TABLE_STEPS; i++)
        for (int j = -t->reach; j <= t->reach + 1; j++)
            t->tail[(size_t)i * w + (j + t->reach)] = tail_at(j, (double)i / TABLE_STEPS, sigma_bins);
    return CZ_OK;
}

void cz_hlgauss_table_free(cz_hlgauss_table *t)
{
    free(t->tail);
    memset(t, 0, sizeof *t);
}

cz_status cz_cls_loss_prepare(cz_cls_loss *l, cz_hlgauss_table *t)
{
    memset(t, 0, sizeof *t);
    l->table = NULL;
    if (l->target != CZ_CLS_TARGET_HLGAUSS)
        return CZ_OK;
    cz_status st = cz_hlgauss_table_init(t, l->sigma);
    if (!st)
        l->table = t;
    return st;
}

void cz_hlgauss_table_target(const cz_hlgauss_table *t, float x, float max, double target[CZ_BINS])
{
    const double m = max, w = 2.0 * m / CZ_BINS, u = ((double)x + m) / w;
    if (!(u >= 0 && u < CZ_BINS)) {
        cz_hlgauss_target(x, max, t->sigma, target);
        return;
    }
    int b = (int)u;
    if (b > CZ_BINS - 1)
        b = CZ_BINS - 1;
    const double pos = (u - b) * TABLE_STEPS;
    int i = (int)pos;
    if (i > TABLE_STEPS - 1)
        i = TABLE_STEPS - 1;
    const double al = pos - i;
    const int width = 2 * t->reach + 2;
    const double *r0 = t->tail + (size_t)i * width + t->reach, *r1 = r0 + width;
    /* Edges k = b + j for j in [-reach, reach + 1] are tabulated, the rest
     * are 0; each loop below runs over one contiguous range without a
     * branch, so the compiler vectorises it (same operations, same bits). */
    double tail[CZ_BINS + 1] = {0};
    const int k0 = b - t->reach > 0 ? b - t->reach : 0;
    const int k1 = b + t->reach + 1 < CZ_BINS ? b + t->reach + 1 : CZ_BINS;
    for (int k = k0; k <= k1; k++)
        tail[k] = (1 - al) * r0[k - b] + al * r1[k - b];
    const double norm = 1.0 - tail[0] - tail[CZ_BINS];
    for (int k = 0; k < b; k++)
        target[k] = (tail[k + 1] - tail[k]) / norm;
    target[b] = (1.0 - tail[b] - tail[b + 1]) / norm;
    for (int k = b + 1; k < CZ_BINS; k++)
        target[k] = (tail[k] - tail[k + 1]) / norm;
}

/* What every block of one image channel shares. */
typedef struct recipe_ctx {
    const float *centre; /* CZ_BINS bin centres */
    float max;           /* the channel's chroma bound */
    int soft;            /* HL-Gauss targets (else one-hot) */
    const cz_hlgauss_table *table; /* NULL: the targets from erf */
    double sigma;
    float lambda, scale;
} recipe_ctx;

/* The CE and squared-error terms of np neighbouring pixels (l and g at the
 * first pixel's bin 0, bins hw apart; b and x at its target bin and
 * chroma), summed into *ce and *se; the gradient into g when not NULL. */
static void recipe_block(const recipe_ctx *c, const float *l, const int32_t *b, const float *x, int hw,
                         int np, float *g, double *ce, double *se)
{
    float m[CZ_SOFTMAX_BLOCK], z[CZ_SOFTMAX_BLOCK], e[CZ_BINS][CZ_SOFTMAX_BLOCK];
    float t[CZ_BINS][CZ_SOFTMAX_BLOCK], mean[CZ_SOFTMAX_BLOCK], h[CZ_SOFTMAX_BLOCK];
    cz_softmax_block(l, hw, np, m, z, e);
    /* CE = -sum_k t_k log p_k = log z + top - sum_k t_k l_k (sum t = 1) */
    double ce_sum = 0, tl[CZ_SOFTMAX_BLOCK];
    if (c->soft) {
        /* Each pixel's targets (contiguous), then bins-major for the loops
         * across pixels: reading and writing a pixel's 20 bins hw floats
         * apart stalled on 4K aliasing with the logits. */
        double tp[CZ_SOFTMAX_BLOCK][CZ_BINS], td[CZ_BINS][CZ_SOFTMAX_BLOCK];
        for (int j = 0; j < np; j++) {
            if (c->table)
                cz_hlgauss_table_target(c->table, x[j], c->max, tp[j]);
            else
                cz_hlgauss_target(x[j], c->max, c->sigma, tp[j]);
        }
        for (int k = 0; k < CZ_BINS; k++)
            for (int j = 0; j < np; j++)
                td[k][j] = tp[j][k];
        for (int j = 0; j < np; j++)
            tl[j] = 0;
        for (int k = 0; k < CZ_BINS; k++) {
            const float *lk = l + (size_t)k * hw;
            for (int j = 0; j < np; j++) {
                tl[j] += td[k][j] * lk[j];
                t[k][j] = (float)td[k][j];
            }
        }
    } else {
        for (int j = 0; j < np; j++)
            tl[j] = l[(size_t)b[j] * hw + j];
        for (int k = 0; k < CZ_BINS; k++)
            for (int j = 0; j < np; j++)
                t[k][j] = k == b[j] ? 1.0f : 0.0f;
    }
    for (int j = 0; j < np; j++)
        ce_sum += (double)logf(z[j]) + m[j] - tl[j];
    /* the decoded expectation and its error, across the block */
    for (int j = 0; j < np; j++) {
        z[j] = 1.0f / z[j];
        mean[j] = 0;
    }
    for (int k = 0; k < CZ_BINS; k++) {
        const float ck = c->centre[k];
        const float *ek = e[k];
#pragma omp simd
        for (int j = 0; j < np; j++)
            mean[j] += ek[j] * ck;
    }
    double se_sum = 0;
    for (int j = 0; j < np; j++) {
        mean[j] *= z[j];
        const float err = mean[j] - x[j];
        se_sum += (double)err * err;
        h[j] = 2.0f * c->lambda * err; /* d(lambda err^2)/dE */
    }
    *ce += ce_sum;
    *se += se_sum;
    if (!g)
        return;
    for (int k = 0; k < CZ_BINS; k++) {
        const float ck = c->centre[k], scale = c->scale;
        const float *ek = e[k], *tk = t[k];
        float *gk = g + (size_t)k * hw;
#pragma omp simd
        for (int j = 0; j < np; j++) {
            const float pk = ek[j] * z[j];
            gk[j] = scale * (pk - tk[j] + h[j] * pk * (ck - mean[j]));
        }
    }
}

double cz_loss_cls_recipe(const float *logits, const int32_t *bins, const float *uv, int n, int hw,
                          const cz_cls_loss *cfg, float *grad, cz_cls_loss_parts *parts)
{
    const float maxes[2] = {CZ_U_MAX, CZ_V_MAX};
    float centre[2][CZ_BINS];
    for (int ch = 0; ch < 2; ch++)
        for (int k = 0; k < CZ_BINS; k++)
            centre[ch][k] = cz_bin_center(k, maxes[ch]);
    const int soft = cfg->target == CZ_CLS_TARGET_HLGAUSS;
    /* Making the table costs about 74,000 erfc: once per training when the
     * owner keeps one, else once per call. Without memory, the exact erf. */
    cz_hlgauss_table own = {0};
    const cz_hlgauss_table *table = cfg->table && cfg->table->sigma == cfg->sigma ? cfg->table : NULL;
    if (soft && !table && cz_hlgauss_table_init(&own, cfg->sigma) == CZ_OK)
        table = &own;
    recipe_ctx ctx[2];
    for (int ch = 0; ch < 2; ch++)
        ctx[ch] = (recipe_ctx){.centre = centre[ch],
                               .max = maxes[ch],
                               .soft = soft,
                               .table = soft ? table : NULL,
                               .sigma = cfg->sigma,
                               .lambda = (float)cfg->mse_weight,
                               .scale = (float)(1.0 / ((double)n * hw))};
    double ce_total = 0, mse_total = 0;
#pragma omp parallel for reduction(+ : ce_total, mse_total) schedule(static)
    for (int i = 0; i < n; i++) {
        for (int ch = 0; ch < 2; ch++) {
            const size_t base = ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw;
            const size_t at = ((size_t)i * 2 + ch) * hw;
            for (int p0 = 0; p0 < hw; p0 += CZ_SOFTMAX_BLOCK) {
                const int np = hw - p0 < CZ_SOFTMAX_BLOCK ? hw - p0 : CZ_SOFTMAX_BLOCK;
                recipe_block(&ctx[ch], logits + base + p0, bins + at + p0, uv + at + p0, hw, np,
                             grad ? grad + base + p0 : NULL, &ce_total, &mse_total);
            }
        }
    }
    cz_hlgauss_table_free(&own);
    const double pixels = (double)n * hw;
    if (parts) {
        parts->ce = ce_total / pixels;
        parts->mse = mse_total / pixels;
    }
    return (ce_total + cfg->mse_weight * mse_total) / pixels;
}
