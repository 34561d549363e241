/* HL-Gauss soft targets and the hybrid CE + lambda x MSE loss of the
 * classification head. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/colorspace.h"
#include "heads.h" /* cz_bin_exps */
#include "loss_recipe.h"

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
    double tail[CZ_BINS + 1];
    for (int k = 0; k <= CZ_BINS; k++) {
        int j = k - b;
        tail[k] = j < -t->reach || j > t->reach + 1 ? 0.0 : (1 - al) * r0[j] + al * r1[j];
    }
    const double norm = 1.0 - tail[0] - tail[CZ_BINS];
    for (int k = 0; k < CZ_BINS; k++) {
        double mass = k < b ? tail[k + 1] - tail[k] : k > b ? tail[k] - tail[k + 1] : 1.0 - tail[k] - tail[k + 1];
        target[k] = mass / norm;
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
    const float lambda = (float)cfg->mse_weight;
    const float scale = (float)(1.0 / ((double)n * hw));
    cz_hlgauss_table table = {0};
    const int tabled = soft && cz_hlgauss_table_init(&table, cfg->sigma) == CZ_OK;
    double ce_total = 0, mse_total = 0;
#pragma omp parallel for reduction(+ : ce_total, mse_total) schedule(static)
    for (int i = 0; i < n; i++) {
        for (int ch = 0; ch < 2; ch++) {
            const size_t base = ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw;
            const float *l = logits + base;
            const int32_t *b = bins + ((size_t)i * 2 + ch) * hw;
            const float *x = uv + ((size_t)i * 2 + ch) * hw;
            const float *c = centre[ch];
            float *g = grad ? grad + base : 0;
            for (int p = 0; p < hw; p++) {
                float e[CZ_BINS], top;
                const float z = cz_bin_exps(l + p, hw, e, &top);
                double t[CZ_BINS];
                if (tabled) {
                    cz_hlgauss_table_target(&table, x[p], maxes[ch], t);
                } else if (soft) {
                    cz_hlgauss_target(x[p], maxes[ch], cfg->sigma, t);
                } else {
                    memset(t, 0, sizeof t);
                    t[b[p]] = 1.0;
                }
                /* CE = -sum_k t_k log p_k = log z + top - sum_k t_k l_k (sum t = 1) */
                double tl = 0;
                for (int k = 0; k < CZ_BINS; k++)
                    tl += t[k] * l[(size_t)k * hw + p];
                ce_total += (double)logf(z) + top - tl;
                const float inv_z = 1.0f / z;
                float mean = 0;
                for (int k = 0; k < CZ_BINS; k++)
                    mean += e[k] * inv_z * c[k];
                const float err = mean - x[p];
                mse_total += (double)err * err;
                if (g) {
                    const float h = 2.0f * lambda * err; /* d(lambda err^2)/dE */
                    for (int k = 0; k < CZ_BINS; k++) {
                        const float pk = e[k] * inv_z;
                        g[(size_t)k * hw + p] = scale * (pk - (float)t[k] + h * pk * (c[k] - mean));
                    }
                }
            }
        }
    }
    cz_hlgauss_table_free(&table);
    const double pixels = (double)n * hw;
    if (parts) {
        parts->ce = ce_total / pixels;
        parts->mse = mse_total / pixels;
    }
    return (ce_total + cfg->mse_weight * mse_total) / pixels;
}
