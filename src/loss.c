/* Regression (MSE) and classification (per-pixel cross-entropy) losses. */
#include <math.h>

#include "colorize/colorspace.h"
#include "loss.h"

double cz_loss_reg(const float *out, const float *uv, int n, int hw, float *grad)
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

double cz_loss_cls(const float *logits, const int32_t *bins, int n, int hw, float *grad)
{
    double total = 0;
    const double scale = 1.0 / ((double)n * hw);
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int ch = 0; ch < 2; ch++) {
            const float *l = logits + ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw;
            const int32_t *b = bins + ((size_t)i * 2 + ch) * hw;
            float *g = grad ? grad + ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw : 0;
            for (int p = 0; p < hw; p++) {
                float top = l[p];
                for (int k = 1; k < CZ_BINS; k++)
                    top = fmaxf(top, l[(size_t)k * hw + p]);
                double z = 0;
                for (int k = 0; k < CZ_BINS; k++)
                    z += exp((double)l[(size_t)k * hw + p] - top);
                double logz = log(z) + top;
                int t = b[p];
                s += logz - l[(size_t)t * hw + p];
                if (g)
                    for (int k = 0; k < CZ_BINS; k++) {
                        double pk = exp((double)l[(size_t)k * hw + p] - logz);
                        g[(size_t)k * hw + p] = (float)(scale * (pk - (k == t)));
                    }
            }
        }
        total += s;
    }
    return total * scale;
}
