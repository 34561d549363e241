/* Reference operators: plain loops, float storage, double accumulation.
 * Written for clarity, not speed; see ref_ops.h for the conventions. */
#include <math.h>
#include <string.h>

#include "ref_ops.h"

/* Flat NCHW index. */
static size_t at4(int i0, int i1, int i2, int i3, int d1, int d2, int d3)
{
    return (((size_t)i0 * (size_t)d1 + (size_t)i1) * (size_t)d2 + (size_t)i2) * (size_t)d3 + (size_t)i3;
}

/* ---- conv2d -------------------------------------------------------------- */

int ref_conv2d_out_h(const ref_conv *g) { return (g->h + 2 * g->pad - g->kh) / g->stride + 1; }
int ref_conv2d_out_w(const ref_conv *g) { return (g->w + 2 * g->pad - g->kw) / g->stride + 1; }
int ref_conv_transpose2d_out_h(const ref_conv *g) { return (g->h - 1) * g->stride - 2 * g->pad + g->kh; }
int ref_conv_transpose2d_out_w(const ref_conv *g) { return (g->w - 1) * g->stride - 2 * g->pad + g->kw; }

void ref_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                        const ref_conv *g)
{
    const int ho = ref_conv2d_out_h(g), wo = ref_conv2d_out_w(g);
    for (int b = 0; b < g->n; b++)
        for (int co = 0; co < g->cout; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int ci = 0; ci < g->cin; ci++)
                        for (int ky = 0; ky < g->kh; ky++) {
                            int iy = oy * g->stride - g->pad + ky;
                            if (iy < 0 || iy >= g->h)
                                continue;
                            for (int kx = 0; kx < g->kw; kx++) {
                                int ix = ox * g->stride - g->pad + kx;
                                if (ix < 0 || ix >= g->w)
                                    continue;
                                acc += (double)in[at4(b, ci, iy, ix, g->cin, g->h, g->w)] *
                                       weight[at4(co, ci, ky, kx, g->cin, g->kh, g->kw)];
                            }
                        }
                    out[at4(b, co, oy, ox, g->cout, ho, wo)] = (float)acc;
                }
}

/* dbias[c] += sum of dout over batch and positions; dout [n, c, ho, wo]. */
static void bias_backward(float *dbias, const float *dout, int n, int c, int ho, int wo)
{
    for (int co = 0; co < c; co++) {
        double acc = 0;
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                    acc += dout[at4(b, co, oy, ox, c, ho, wo)];
        dbias[co] += (float)acc;
    }
}

/* Output position along one axis that kernel tap k reads input i from, or -1:
 * o * stride - pad + k == i. */
static int tap_source(int i, int k, int stride, int pad, int out_size)
{
    int t = i + pad - k;
    if (t < 0 || t % stride != 0)
        return -1;
    t /= stride;
    return t < out_size ? t : -1;
}

void ref_conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, const ref_conv *g)
{
    const int ho = ref_conv2d_out_h(g), wo = ref_conv2d_out_w(g);
    if (dbias)
        bias_backward(dbias, dout, g->n, g->cout, ho, wo);
    if (dweight)
        for (int co = 0; co < g->cout; co++)
            for (int ci = 0; ci < g->cin; ci++)
                for (int ky = 0; ky < g->kh; ky++)
                    for (int kx = 0; kx < g->kw; kx++) {
                        double acc = 0;
                        for (int b = 0; b < g->n; b++)
                            for (int oy = 0; oy < ho; oy++) {
                                int iy = oy * g->stride - g->pad + ky;
                                if (iy < 0 || iy >= g->h)
                                    continue;
                                for (int ox = 0; ox < wo; ox++) {
                                    int ix = ox * g->stride - g->pad + kx;
                                    if (ix < 0 || ix >= g->w)
                                        continue;
                                    acc += (double)dout[at4(b, co, oy, ox, g->cout, ho, wo)] *
                                           in[at4(b, ci, iy, ix, g->cin, g->h, g->w)];
                                }
                            }
                        dweight[at4(co, ci, ky, kx, g->cin, g->kh, g->kw)] += (float)acc;
                    }
    if (din)
        /* Gather: input (iy,ix) receives from every output whose tap lands on it. */
        for (int b = 0; b < g->n; b++)
            for (int ci = 0; ci < g->cin; ci++)
                for (int iy = 0; iy < g->h; iy++)
                    for (int ix = 0; ix < g->w; ix++) {
                        double acc = 0;
                        for (int co = 0; co < g->cout; co++)
                            for (int ky = 0; ky < g->kh; ky++) {
                                int oy = tap_source(iy, ky, g->stride, g->pad, ho);
                                if (oy < 0)
                                    continue;
                                for (int kx = 0; kx < g->kw; kx++) {
                                    int ox = tap_source(ix, kx, g->stride, g->pad, wo);
                                    if (ox < 0)
                                        continue;
                                    acc += (double)dout[at4(b, co, oy, ox, g->cout, ho, wo)] *
                                           weight[at4(co, ci, ky, kx, g->cin, g->kh, g->kw)];
                                }
                            }
                        din[at4(b, ci, iy, ix, g->cin, g->h, g->w)] += (float)acc;
                    }
}

/* ---- conv_transpose2d ---------------------------------------------------- */

void ref_conv_transpose2d_forward(float *out, const float *in, const float *weight,
                                  const float *bias, const ref_conv *g)
{
    const int ho = ref_conv_transpose2d_out_h(g), wo = ref_conv_transpose2d_out_w(g);
    /* Gather form of the scatter: output (oy,ox) receives in(iy,ix) through tap
     * (ky,kx) when iy*s - p + ky == oy. */
    for (int b = 0; b < g->n; b++)
        for (int co = 0; co < g->cout; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int ci = 0; ci < g->cin; ci++)
                        for (int ky = 0; ky < g->kh; ky++) {
                            int iy = tap_source(oy, ky, g->stride, g->pad, g->h);
                            if (iy < 0)
                                continue;
                            for (int kx = 0; kx < g->kw; kx++) {
                                int ix = tap_source(ox, kx, g->stride, g->pad, g->w);
                                if (ix < 0)
                                    continue;
                                acc += (double)in[at4(b, ci, iy, ix, g->cin, g->h, g->w)] *
                                       weight[at4(ci, co, ky, kx, g->cout, g->kh, g->kw)];
                            }
                        }
                    out[at4(b, co, oy, ox, g->cout, ho, wo)] = (float)acc;
                }
}

void ref_conv_transpose2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                                   const float *in, const float *weight, const ref_conv *g)
{
    const int ho = ref_conv_transpose2d_out_h(g), wo = ref_conv_transpose2d_out_w(g);
    if (dbias)
        bias_backward(dbias, dout, g->n, g->cout, ho, wo);
    if (dweight)
        for (int ci = 0; ci < g->cin; ci++)
            for (int co = 0; co < g->cout; co++)
                for (int ky = 0; ky < g->kh; ky++)
                    for (int kx = 0; kx < g->kw; kx++) {
                        double acc = 0;
                        for (int b = 0; b < g->n; b++)
                            for (int iy = 0; iy < g->h; iy++) {
                                int oy = iy * g->stride - g->pad + ky;
                                if (oy < 0 || oy >= ho)
                                    continue;
                                for (int ix = 0; ix < g->w; ix++) {
                                    int ox = ix * g->stride - g->pad + kx;
                                    if (ox < 0 || ox >= wo)
                                        continue;
                                    acc += (double)in[at4(b, ci, iy, ix, g->cin, g->h, g->w)] *
                                           dout[at4(b, co, oy, ox, g->cout, ho, wo)];
                                }
                            }
                        dweight[at4(ci, co, ky, kx, g->cout, g->kh, g->kw)] += (float)acc;
                    }
    if (din)
        for (int b = 0; b < g->n; b++)
            for (int ci = 0; ci < g->cin; ci++)
                for (int iy = 0; iy < g->h; iy++)
                    for (int ix = 0; ix < g->w; ix++) {
                        double acc = 0;
                        for (int co = 0; co < g->cout; co++)
                            for (int ky = 0; ky < g->kh; ky++) {
                                int oy = iy * g->stride - g->pad + ky;
                                if (oy < 0 || oy >= ho)
                                    continue;
                                for (int kx = 0; kx < g->kw; kx++) {
                                    int ox = ix * g->stride - g->pad + kx;
                                    if (ox < 0 || ox >= wo)
                                        continue;
                                    acc += (double)dout[at4(b, co, oy, ox, g->cout, ho, wo)] *
                                           weight[at4(ci, co, ky, kx, g->cout, g->kh, g->kw)];
                                }
                            }
                        din[at4(b, ci, iy, ix, g->cin, g->h, g->w)] += (float)acc;
                    }
}

/* ---- BatchNorm2d --------------------------------------------------------- */

void ref_batchnorm2d_forward_train(float *out, float *mean, float *var, const float *in,
                                   const float *gamma, const float *beta, int n, int c, int h, int w)
{
    const size_t plane = (size_t)h * (size_t)w;
    const double count = (double)n * (double)plane;
    for (int ch = 0; ch < c; ch++) {
        double sum = 0;
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < plane; i++)
                sum += in[((size_t)b * c + ch) * plane + i];
        const double mu = sum / count;
        double sq = 0; /* second pass: no cancellation */
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < plane; i++) {
                double d = in[((size_t)b * c + ch) * plane + i] - mu;
                sq += d * d;
            }
        const double sigma2 = sq / count;
        const double inv_std = 1.0 / sqrt(sigma2 + REF_BN_EPS);
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < plane; i++) {
                size_t k = ((size_t)b * c + ch) * plane + i;
                out[k] = (float)(gamma[ch] * ((in[k] - mu) * inv_std) + beta[ch]);
            }
        mean[ch] = (float)mu;
        var[ch] = (float)sigma2;
    }
}

void ref_batchnorm2d_update_running(float *running_mean, float *running_var, const float *mean,
                                    const float *var, int c, long count, float momentum)
{
    const double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
    for (int ch = 0; ch < c; ch++) {
        running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + (double)momentum * mean[ch]);
        running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + (double)momentum * var[ch] * unbias);
    }
}

void ref_batchnorm2d_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                                  const float *running_mean, const float *running_var,
                                  int n, int c, int h, int w)
{
    const size_t plane = (size_t)h * (size_t)w;
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            const double inv_std = 1.0 / sqrt((double)running_var[ch] + REF_BN_EPS);
            for (size_t i = 0; i < plane; i++) {
                size_t k = ((size_t)b * c + ch) * plane + i;
                out[k] = (float)(gamma[ch] * ((in[k] - (double)running_mean[ch]) * inv_std) + beta[ch]);
            }
        }
}

void ref_batchnorm2d_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *gamma, const float *mean,
                              const float *var, int n, int c, int h, int w)
{
    /* With xhat = (x - mean) * inv_std and M = n*h*w values per channel:
     *   dbeta  = sum dy,   dgamma = sum dy * xhat,
     *   dx     = gamma * inv_std / M * (M dy - dbeta - xhat * dgamma). */
    const size_t plane = (size_t)h * (size_t)w;
    const double count = (double)n * (double)plane;
    for (int ch = 0; ch < c; ch++) {
        const double inv_std = 1.0 / sqrt((double)var[ch] + REF_BN_EPS);
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < plane; i++) {
                size_t k = ((size_t)b * c + ch) * plane + i;
                sum_dy += dout[k];
                sum_dy_xhat += dout[k] * ((in[k] - (double)mean[ch]) * inv_std);
            }
        if (dbeta)
            dbeta[ch] += (float)sum_dy;
        if (dgamma)
            dgamma[ch] += (float)sum_dy_xhat;
        if (!din)
            continue;
        const double scale = gamma[ch] * inv_std / count;
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < plane; i++) {
                size_t k = ((size_t)b * c + ch) * plane + i;
                double xhat = (in[k] - (double)mean[ch]) * inv_std;
                din[k] += (float)(scale * (count * dout[k] - sum_dy - xhat * sum_dy_xhat));
            }
    }
}

/* ---- pointwise and shape ------------------------------------------------- */

void ref_relu_forward(float *out, const float *in, size_t count)
{
    for (size_t i = 0; i < count; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void ref_relu_backward(float *din, const float *dout, const float *out, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (out[i] > 0.0f)
            din[i] += dout[i];
}

void ref_maxpool2x2_forward(float *out, int32_t *argmax, const float *in, int n, int c, int h, int w)
{
    const int ho = h / 2, wo = w / 2;
    for (int p = 0; p < n * c; p++) {
        const float *src = in + (size_t)p * h * w;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                int best = (2 * oy) * w + 2 * ox;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int k = (2 * oy + dy) * w + 2 * ox + dx;
                        if (src[k] > src[best] || isnan(src[k]))
                            best = k;
                    }
                size_t o = ((size_t)p * ho + oy) * wo + ox;
                out[o] = src[best];
                argmax[o] = best;
            }
    }
}

void ref_maxpool2x2_backward(float *din, const float *dout, const int32_t *argmax,
                             int n, int c, int h, int w)
{
    const int ho = h / 2, wo = w / 2;
    for (int p = 0; p < n * c; p++)
        for (int k = 0; k < ho * wo; k++) {
            size_t o = (size_t)p * ho * wo + k;
            din[(size_t)p * h * w + argmax[o]] += dout[o];
        }
}

void ref_concat_forward(float *out, const float *a, const float *b, int n, int ca, int cb, int h, int w)
{
    const size_t plane = (size_t)h * (size_t)w;
    for (int i = 0; i < n; i++) {
        float *dst = out + (size_t)i * (ca + cb) * plane;
        memcpy(dst, a + (size_t)i * ca * plane, (size_t)ca * plane * sizeof *dst);
        memcpy(dst + (size_t)ca * plane, b + (size_t)i * cb * plane, (size_t)cb * plane * sizeof *dst);
    }
}

void ref_concat_backward(float *da, float *db, const float *dout, int n, int ca, int cb, int h, int w)
{
    const size_t plane = (size_t)h * (size_t)w;
    for (int i = 0; i < n; i++) {
        const float *src = dout + (size_t)i * (ca + cb) * plane;
        if (da)
            for (size_t k = 0; k < (size_t)ca * plane; k++)
                da[(size_t)i * ca * plane + k] += src[k];
        if (db)
            for (size_t k = 0; k < (size_t)cb * plane; k++)
                db[(size_t)i * cb * plane + k] += src[(size_t)ca * plane + k];
    }
}

void ref_add_forward(float *out, const float *a, const float *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        out[i] = a[i] + b[i];
}

void ref_add_backward(float *da, float *db, const float *dout, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (da)
            da[i] += dout[i];
        if (db)
            db[i] += dout[i];
    }
}

/* ---- losses -------------------------------------------------------------- */

double ref_loss_reg_forward(const float *pred, const float *target, int n, int h, int w)
{
    const size_t plane = (size_t)h * (size_t)w;
    double sum = 0;
    for (size_t k = 0; k < (size_t)n * 2 * plane; k++) {
        double d = (double)pred[k] - target[k];
        sum += d * d;
    }
    return sum / ((double)n * (double)plane);
}

void ref_loss_reg_backward(float *dpred, const float *pred, const float *target, int n, int h, int w,
                           double dloss)
{
    const size_t plane = (size_t)h * (size_t)w;
    const double scale = 2.0 * dloss / ((double)n * (double)plane);
    for (size_t k = 0; k < (size_t)n * 2 * plane; k++)
        dpred[k] += (float)(scale * ((double)pred[k] - target[k]));
}

/* log(sum_k exp(z_k)) over REF_BINS logits spaced `stride` apart, shifted by
 * the maximum so that no exp overflows. */
static double log_sum_exp(const float *z, size_t stride)
{
    double zmax = z[0];
    for (int k = 1; k < REF_BINS; k++)
        if (z[(size_t)k * stride] > zmax)
            zmax = z[(size_t)k * stride];
    double s = 0;
    for (int k = 0; k < REF_BINS; k++)
        s += exp((double)z[(size_t)k * stride] - zmax);
    return zmax + log(s);
}

double ref_loss_cls_forward(const float *logits, const int32_t *bins, int n, int h, int w)
{
    const size_t plane = (size_t)h * (size_t)w;
    double sum = 0;
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < 2; ch++)
            for (size_t i = 0; i < plane; i++) {
                const float *z = logits + ((size_t)b * REF_CLS_CHANNELS + (size_t)ch * REF_BINS) * plane + i;
                int32_t t = bins[((size_t)b * 2 + ch) * plane + i];
                sum += log_sum_exp(z, plane) - z[(size_t)t * plane];
            }
    return sum / ((double)n * (double)plane);
}

void ref_loss_cls_backward(float *dlogits, const float *logits, const int32_t *bins, int n, int h,
                           int w, double dloss)
{
    const size_t plane = (size_t)h * (size_t)w;
    const double scale = dloss / ((double)n * (double)plane);
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < 2; ch++)
            for (size_t i = 0; i < plane; i++) {
                size_t base = ((size_t)b * REF_CLS_CHANNELS + (size_t)ch * REF_BINS) * plane + i;
                const float *z = logits + base;
                int32_t t = bins[((size_t)b * 2 + ch) * plane + i];
                double lse = log_sum_exp(z, plane);
                for (int k = 0; k < REF_BINS; k++) {
                    double p = exp((double)z[(size_t)k * plane] - lse);
                    dlogits[base + (size_t)k * plane] += (float)(scale * (p - (k == t ? 1.0 : 0.0)));
                }
            }
}

/* ---- Adam ---------------------------------------------------------------- */

void ref_adam_update(float *param, const float *grad, float *m, float *v, size_t count, float lr,
                     float beta1, float beta2, float eps, int t)
{
    const double bc1 = 1.0 - pow(beta1, t), bc2 = 1.0 - pow(beta2, t);
    const double step = lr / bc1, bc2_sqrt = sqrt(bc2);
    for (size_t i = 0; i < count; i++) {
        m[i] = (float)(beta1 * (double)m[i] + (1.0 - beta1) * grad[i]);
        v[i] = (float)(beta2 * (double)v[i] + (1.0 - beta2) * (double)grad[i] * grad[i]);
        double denom = sqrt((double)v[i]) / bc2_sqrt + eps;
        param[i] = (float)(param[i] - step * m[i] / denom);
    }
}
