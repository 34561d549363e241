/* Heads: regression (MSE) and classification (per-pixel cross-entropy)
 * losses, and the decoding of their outputs into chroma. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "heads.h"
#include "softmax_block.h"

const char *cz_head_name(cz_head h)
{
    return h == CZ_HEAD_CLS ? "cls" : "reg";
}

cz_status cz_head_parse(const char *text, cz_head *out)
{
    if (strcmp(text, "reg") == 0) {
        *out = CZ_HEAD_REG;
        return CZ_OK;
    }
    if (strcmp(text, "cls") == 0) {
        *out = CZ_HEAD_CLS;
        return CZ_OK;
    }
    return cz_fail(CZ_ERR_ARG, "unknown head '%s' (use reg or cls)", text);
}

int cz_head_channels(cz_head h)
{
    return h == CZ_HEAD_CLS ? 2 * CZ_BINS : 2;
}

static double loss_reg(const float *out, const float *uv, int n, int hw, float *grad)
{
    double total = 0;
    const double scale = 2.0 / ((double)n * hw);
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int i = 0; i < n; i++) {
        double s = 0;
        const float *o = out + (size_t)i * 2 * hw, *t = uv + (size_t)i * 2 * hw;
        float *g = grad ? grad + (size_t)i * 2 * hw : 0;
        for (int k = 0; k < 2 * hw; k++) {
            double d = (double)o[k] - t[k];
            s += d * d;
            if (g)
                g[k] = (float)(scale * d);
        }
        total += s;
    }
    return total / ((double)n * hw);
}

/* Cross-entropy terms of np neighbouring pixels: l and g point at the
 * first pixel's bin 0 (bins hw apart), b at its target. Returns the summed
 * loss; writes scale x (softmax - onehot) into g when g is not NULL. */
static double ce_block(const float *l, const int32_t *b, int hw, int np, float scale, float *g)
{
    float m[CZ_SOFTMAX_BLOCK], z[CZ_SOFTMAX_BLOCK], e[CZ_BINS][CZ_SOFTMAX_BLOCK];
    cz_softmax_block(l, hw, np, m, z, e);
    double s = 0;
    for (int j = 0; j < np; j++)
        s += (double)logf(z[j]) + m[j] - l[(size_t)b[j] * hw + j];
    if (g) {
        for (int j = 0; j < np; j++)
            z[j] = scale / z[j];
        for (int k = 0; k < CZ_BINS; k++) {
            float *gk = g + (size_t)k * hw;
            const float *ek = e[k];
#pragma omp simd
            for (int j = 0; j < np; j++)
                gk[j] = ek[j] * z[j] - (b[j] == k ? scale : 0.0f);
        }
    }
    return s;
}

static double loss_cls(const float *logits, const int32_t *bins, int n, int hw, float *grad)
{
    double total = 0;
    const float scale = (float)(1.0 / ((double)n * hw));
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int ch = 0; ch < 2; ch++) {
            const size_t off = ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw;
            const int32_t *b = bins + ((size_t)i * 2 + ch) * hw;
            for (int p0 = 0; p0 < hw; p0 += CZ_SOFTMAX_BLOCK) {
                const int np = hw - p0 < CZ_SOFTMAX_BLOCK ? hw - p0 : CZ_SOFTMAX_BLOCK;
                s += ce_block(logits + off + p0, b + p0, hw, np, scale, grad ? grad + off + p0 : NULL);
            }
        }
        total += s;
    }
    return total / ((double)n * hw);
}

double cz_head_loss(cz_head h, const cz_cls_loss *recipe, const float *out, const cz_batch *b,
                    float *grad)
{
    const int hw = b->side * b->side;
    if (h == CZ_HEAD_REG)
        return loss_reg(out, b->uv, b->n, hw, grad);
    if (recipe)
        return cz_loss_cls_recipe(out, b->bins, b->uv, b->n, hw, recipe, grad, NULL);
    return loss_cls(out, b->bins, b->n, hw, grad);
}

/* n x k with k = 10: one pass per image in double (a max-shifted
 * log-sum-exp); ref_class_loss_* (backend/ref) is its reference, and
 * tests/test_parity.c checks it against PyTorch through resunet-gc. */
double cz_aux_class_loss(const float *logits, const uint8_t *labels, int n, int k, double weight,
                         float *grad)
{
    memset(grad, 0, (size_t)n * k * sizeof(float));
    int labelled = labels != NULL && weight > 0;
    for (int i = 0; labelled && i < n; i++)
        labelled = labels[i] < k;
    if (!labelled)
        return NAN;
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float top = z[0];
        for (int j = 1; j < k; j++)
            top = fmaxf(top, z[j]);
        double sum = 0;
        for (int j = 0; j < k; j++)
            sum += exp((double)z[j] - top);
        const double lse = top + log(sum);
        total += lse - z[labels[i]];
        for (int j = 0; j < k; j++)
            grad[(size_t)i * k + j] = (float)(weight * (exp((double)z[j] - lse) - (j == labels[i])) / n);
    }
    return total / n;
}

/* The softmax expectation of np (<= CZ_SOFTMAX_BLOCK) neighbouring pixels
 * at temperature 1 / inv_t, vectorised across the pixels like the losses:
 * cz_decode_logits's mean and annealed rules with the block exp (relative
 * error under 1e-8) in place of libm's expf, which does not vectorise. */
static void decode_block(const float *l, int hw, int np, const float *centre, float inv_t, float *u)
{
    float m[CZ_SOFTMAX_BLOCK], z[CZ_SOFTMAX_BLOCK], acc[CZ_SOFTMAX_BLOCK];
    cz_block_max(l, hw, np, m);
    for (int j = 0; j < np; j++) {
        z[j] = 0;
        acc[j] = 0;
    }
    for (int k = 0; k < CZ_BINS; k++) {
        const float *lk = l + (size_t)k * hw, ck = centre[k];
#pragma omp simd
        for (int j = 0; j < np; j++) {
            const float e = cz_exp_nonpositive((lk[j] - m[j]) * inv_t);
            z[j] += e;
            acc[j] += e * ck;
        }
    }
    for (int j = 0; j < np; j++)
        u[j] = acc[j] / z[j];
}

void cz_head_decode(cz_head h, const float *out, int n, int hw, cz_decode d, float *uv)
{
    if (h == CZ_HEAD_REG) {
        memcpy(uv, out, (size_t)n * 2 * hw * sizeof(float));
        return;
    }
    float centre[2][CZ_BINS];
    for (int k = 0; k < CZ_BINS; k++) {
        centre[0][k] = cz_bin_center(k, CZ_U_MAX);
        centre[1][k] = cz_bin_center(k, CZ_V_MAX);
    }
    const float inv_t = d.rule == CZ_DECODE_ANNEALED ? 1.0f / d.temperature : 1.0f;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < 2; ch++) {
            const float *l = out + ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw;
            float *u = uv + ((size_t)i * 2 + ch) * hw;
            if (d.rule == CZ_DECODE_MODE) { /* no exp: one pixel at a time */
                for (int p = 0; p < hw; p++)
                    u[p] = cz_decode_logits(l + p, hw, ch == 0 ? CZ_U_MAX : CZ_V_MAX, d);
                continue;
            }
            for (int p0 = 0; p0 < hw; p0 += CZ_SOFTMAX_BLOCK) {
                const int np = hw - p0 < CZ_SOFTMAX_BLOCK ? hw - p0 : CZ_SOFTMAX_BLOCK;
                decode_block(l + p0, hw, np, centre[ch], inv_t, u + p0);
            }
        }
}
