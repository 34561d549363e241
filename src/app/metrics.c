/* Chroma MSE (overall, per channel, per class), RGB PSNR, colourfulness and
 * classification statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

void cz_metrics_init(cz_metrics *m)
{
    memset(m, 0, sizeof *m);
}

double cz_colorfulness(const float *r, const float *g, const float *b, int pixels)
{
    double s_rg = 0, s_yb = 0, q_rg = 0, q_yb = 0;
    for (int p = 0; p < pixels; p++) {
        double rg = (double)r[p] - g[p], yb = 0.5 * ((double)r[p] + g[p]) - b[p];
        s_rg += rg;
        s_yb += yb;
        q_rg += rg * rg;
        q_yb += yb * yb;
    }
    double m_rg = s_rg / pixels, m_yb = s_yb / pixels;
    double v_rg = fmax(q_rg / pixels - m_rg * m_rg, 0), v_yb = fmax(q_yb / pixels - m_yb * m_yb, 0);
    return sqrt(v_rg + v_yb) + 0.3 * sqrt(m_rg * m_rg + m_yb * m_yb);
}

void cz_metrics_add(cz_metrics *m, const cz_batch *b, const float *out, const float *uv_pred,
                    cz_head head)
{
    const int hw = b->side * b->side;
    /* RGB planes of prediction and truth for colourfulness; without memory
     * the images are still scored, colourfulness is then skipped. */
    float *planes = malloc(sizeof(float) * 6 * (size_t)hw);
    for (int i = 0; i < b->n; i++) {
        const float *y = b->y + (size_t)i * hw;
        const float *tu = b->uv + (size_t)i * 2 * hw, *tv = tu + hw;
        const float *pu = uv_pred + (size_t)i * 2 * hw, *pv = pu + hw;
        double su = 0, sv = 0, rgb = 0, grey = 0;
        for (int p = 0; p < hw; p++) {
            double du = (double)pu[p] - tu[p], dv = (double)pv[p] - tv[p];
            su += du * du;
            sv += dv * dv;
            grey += (double)tu[p] * tu[p] + (double)tv[p] * tv[p];
            unsigned char a[3], t[3];
            cz_yuv_to_rgb8(y[p], pu[p], pv[p], a);
            cz_yuv_to_rgb8(y[p], tu[p], tv[p], t);
            for (int c = 0; c < 3; c++) {
                double e = (double)a[c] - t[c];
                rgb += e * e;
                if (planes) {
                    planes[c * hw + p] = a[c];
                    planes[(3 + c) * hw + p] = t[c];
                }
            }
        }
        m->se_u += su;
        m->se_v += sv;
        m->se_grey += grey;
        m->pixels += hw;
        m->rgb_se += rgb;
        m->rgb_values += 3L * hw;
        int label = b->labels ? b->labels[i] : 255;
        if (label < CZ_CIFAR_CLASSES) {
            m->se_class[label] += su + sv;
            m->px_class[label] += hw;
        }
        if (planes) {
            m->colorful_pred += cz_colorfulness(planes, planes + hw, planes + 2 * hw, hw);
            m->colorful_true += cz_colorfulness(planes + 3 * hw, planes + 4 * hw, planes + 5 * hw, hw);
            m->colorful_images++;
        }
        m->images++;
        if (head == CZ_HEAD_CLS) {
            m->has_cls = 1;
            for (int ch = 0; ch < 2; ch++) {
                const float *l = out + ((size_t)i * 2 * CZ_BINS + (size_t)ch * CZ_BINS) * hw;
                const int32_t *bins = b->bins + ((size_t)i * 2 + ch) * hw;
                for (int p = 0; p < hw; p++) {
                    int best = 0;
                    float top = l[p];
                    for (int k = 1; k < CZ_BINS; k++)
                        if (l[(size_t)k * hw + p] > top) {
                            top = l[(size_t)k * hw + p];
                            best = k;
                        }
                    double z = 0;
                    for (int k = 0; k < CZ_BINS; k++)
                        z += exp((double)l[(size_t)k * hw + p] - top);
                    m->ce += log(z) + top - l[(size_t)bins[p] * hw + p];
                    if (best == bins[p])
                        *(ch == 0 ? &m->correct_u : &m->correct_v) += 1;
                }
            }
        }
    }
    free(planes);
}

double cz_metrics_mse(const cz_metrics *m)
{
    return m->pixels ? (m->se_u + m->se_v) / (double)m->pixels : 0;
}

double cz_metrics_class_mse(const cz_metrics *m, int k)
{
    return m->px_class[k] ? m->se_class[k] / (double)m->px_class[k] : NAN;
}

double cz_metrics_psnr(const cz_metrics *m)
{
    if (!m->rgb_values)
        return NAN;
    double mse = m->rgb_se / (double)m->rgb_values;
    return mse > 0 ? 10.0 * log10(255.0 * 255.0 / mse) : INFINITY;
}

/* JSON has no inf or nan: a value that is not a finite number is absent. */
static void json_number(FILE *fp, const char *fmt, double v)
{
    if (isfinite(v))
        fprintf(fp, fmt, v);
    else
        fputs("null", fp);
}

void cz_metrics_json(const cz_metrics *m, FILE *fp, const char *decode, const char *split)
{
    double px = m->pixels ? (double)m->pixels : NAN;
    double ci = m->colorful_images ? (double)m->colorful_images : NAN;
    fputs("{\"chroma_mse\": ", fp);
    json_number(fp, "%.8f", m->pixels ? cz_metrics_mse(m) : NAN);
    fputs(", \"mse_u\": ", fp);
    json_number(fp, "%.8f", m->se_u / px);
    fputs(", \"mse_v\": ", fp);
    json_number(fp, "%.8f", m->se_v / px);
    fputs(", \"psnr_rgb\": ", fp);
    json_number(fp, "%.4f", cz_metrics_psnr(m));
    fputs(", \"grey_chroma_mse\": ", fp);
    json_number(fp, "%.8f", m->se_grey / px);
    fputs(", \"per_class\": [", fp);
    for (int k = 0; k < CZ_CIFAR_CLASSES; k++) {
        fputs(k ? ", " : "", fp);
        json_number(fp, "%.8f", cz_metrics_class_mse(m, k));
    }
    fputs("], \"colorfulness_pred\": ", fp);
    json_number(fp, "%.4f", m->colorful_pred / ci);
    fputs(", \"colorfulness_true\": ", fp);
    json_number(fp, "%.4f", m->colorful_true / ci);
    fputs(", ", fp);
    if (m->has_cls) {
        fputs("\"bin_acc_u\": ", fp);
        json_number(fp, "%.6f", (double)m->correct_u / px);
        fputs(", \"bin_acc_v\": ", fp);
        json_number(fp, "%.6f", (double)m->correct_v / px);
        fputs(", \"cross_entropy\": ", fp);
        json_number(fp, "%.6f", m->ce / px);
        fputs(", ", fp);
    }
    fprintf(fp, "\"decode\": \"%s\", \"split\": \"%s\", \"images\": %ld}", decode, split, m->images);
}
