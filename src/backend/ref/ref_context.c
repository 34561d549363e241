/* Reference operators for global context and squeeze-and-excitation. */
#include <math.h>

#include "ref_context.h"

void ref_global_avgpool_forward(float *g, const float *x, int n, int c, int h, int w)
{
    const int hw = h * w;
    for (int i = 0; i < n * c; i++) {
        double s = 0;
        for (int p = 0; p < hw; p++)
            s += x[(size_t)i * hw + p];
        g[i] = (float)(s / hw);
    }
}

void ref_global_avgpool_backward(float *dx, const float *dg, int n, int c, int h, int w)
{
    const int hw = h * w;
    for (int i = 0; i < n * c; i++) {
        const float d = dg[i] / (float)hw;
        for (int p = 0; p < hw; p++)
            dx[(size_t)i * hw + p] += d;
    }
}

void ref_linear_forward(float *y, const float *x, const float *weight, const float *bias, int n, int in, int out)
{
    for (int b = 0; b < n; b++)
        for (int o = 0; o < out; o++) {
            double s = bias ? bias[o] : 0;
            for (int i = 0; i < in; i++)
                s += (double)x[(size_t)b * in + i] * weight[(size_t)o * in + i];
            y[(size_t)b * out + o] = (float)s;
        }
}

void ref_linear_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                         const float *weight, int n, int in, int out)
{
    if (dx)
        for (int b = 0; b < n; b++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int o = 0; o < out; o++)
                    s += (double)dy[(size_t)b * out + o] * weight[(size_t)o * in + i];
                dx[(size_t)b * in + i] += (float)s;
            }
    if (dweight)
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int b = 0; b < n; b++)
                    s += (double)dy[(size_t)b * out + o] * x[(size_t)b * in + i];
                dweight[(size_t)o * in + i] += (float)s;
            }
    if (dbias)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int b = 0; b < n; b++)
                s += dy[(size_t)b * out + o];
            dbias[o] += (float)s;
        }
}

void ref_concat_broadcast_forward(float *out, const float *x, const float *v, int n, int c, int k, int h, int w)
{
    const size_t hw = (size_t)h * w;
    for (int b = 0; b < n; b++) {
        float *o = out + (size_t)b * (c + k) * hw;
        for (size_t i = 0; i < (size_t)c * hw; i++)
            o[i] = x[(size_t)b * c * hw + i];
        for (int j = 0; j < k; j++)
            for (size_t p = 0; p < hw; p++)
                o[(size_t)(c + j) * hw + p] = v[(size_t)b * k + j];
    }
}

void ref_concat_broadcast_backward(float *dx, float *dv, const float *dout, int n, int c, int k, int h, int w)
{
    const size_t hw = (size_t)h * w;
    for (int b = 0; b < n; b++) {
        const float *d = dout + (size_t)b * (c + k) * hw;
        if (dx)
            for (size_t i = 0; i < (size_t)c * hw; i++)
                dx[(size_t)b * c * hw + i] += d[i];
        if (dv)
            for (int j = 0; j < k; j++) {
                double s = 0;
                for (size_t p = 0; p < hw; p++)
                    s += d[(size_t)(c + j) * hw + p];
                dv[(size_t)b * k + j] += (float)s;
            }
    }
}

static double sigmoid(double z)
{
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

void ref_channel_gate_forward(float *y, const float *x, const float *s, int n, int c, int h, int w)
{
    const size_t hw = (size_t)h * w;
    for (int i = 0; i < n * c; i++) {
        const float g = (float)sigmoid(s[i]);
        for (size_t p = 0; p < hw; p++)
            y[(size_t)i * hw + p] = x[(size_t)i * hw + p] * g;
    }
}

void ref_channel_gate_backward(float *dx, float *ds, const float *dy, const float *x, const float *s, int n, int c,
                               int h, int w)
{
    const size_t hw = (size_t)h * w;
    for (int i = 0; i < n * c; i++) {
        const double g = sigmoid(s[i]);
        double acc = 0;
        for (size_t p = 0; p < hw; p++) {
            const size_t q = (size_t)i * hw + p;
            if (dx)
                dx[q] += (float)(dy[q] * g);
            acc += (double)dy[q] * x[q];
        }
        if (ds)
            ds[i] += (float)(acc * g * (1 - g));
    }
}

/* log-sum-exp of one row, shifted by its maximum so large logits stay finite. */
static double row_lse(const float *z, int k)
{
    float m = z[0];
    for (int j = 1; j < k; j++)
        m = z[j] > m ? z[j] : m;
    double s = 0;
    for (int j = 0; j < k; j++)
        s += exp((double)z[j] - m);
    return m + log(s);
}

double ref_class_loss_forward(const float *logits, const uint8_t *label, int n, int k)
{
    double total = 0;
    for (int b = 0; b < n; b++) {
        const float *z = logits + (size_t)b * k;
        total += row_lse(z, k) - z[label[b]];
    }
    return total / n;
}

void ref_class_loss_backward(float *dlogits, const float *logits, const uint8_t *label, int n, int k, float scale)
{
    for (int b = 0; b < n; b++) {
        const float *z = logits + (size_t)b * k;
        const double lse = row_lse(z, k);
        for (int j = 0; j < k; j++) {
            double p = exp((double)z[j] - lse) - (j == label[b]);
            dlogits[(size_t)b * k + j] += (float)(scale * p / n);
        }
    }
}
