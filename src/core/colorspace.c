/* BT.601 YUV conversion, chroma bins and decoding rules. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/colorspace.h"

static const double fwd[3][3] = {
    {0.299, 0.587, 0.114},
    {-0.14714119, -0.28886916, 0.43601035},
    {0.61497538, -0.51496512, -0.10001026},
};

static float inv[3][3];
static pthread_once_t inv_once = PTHREAD_ONCE_INIT;

/* The exact inverse of the forward matrix, by cofactors in double. */
static void inverse_init(void)
{
    const double (*m)[3] = fwd;
    double c[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int r0 = (i + 1) % 3, r1 = (i + 2) % 3, c0 = (j + 1) % 3, c1 = (j + 2) % 3;
            c[i][j] = m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
        }
    double det = m[0][0] * c[0][0] + m[0][1] * c[0][1] + m[0][2] * c[0][2];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            inv[i][j] = (float)(c[j][i] / det);
}

void cz_rgb_to_yuv(float r, float g, float b, float *y, float *u, float *v)
{
    *y = (float)fwd[0][0] * r + (float)fwd[0][1] * g + (float)fwd[0][2] * b;
    *u = (float)fwd[1][0] * r + (float)fwd[1][1] * g + (float)fwd[1][2] * b;
    *v = (float)fwd[2][0] * r + (float)fwd[2][1] * g + (float)fwd[2][2] * b;
}

void cz_yuv_to_rgb(float y, float u, float v, float *r, float *g, float *b)
{
    pthread_once(&inv_once, inverse_init);
    *r = inv[0][0] * y + inv[0][1] * u + inv[0][2] * v;
    *g = inv[1][0] * y + inv[1][1] * u + inv[1][2] * v;
    *b = inv[2][0] * y + inv[2][1] * u + inv[2][2] * v;
}

static unsigned char to8(float x)
{
    if (!(x > 0.0f)) /* also catches NaN */
        return 0;
    if (x >= 1.0f)
        return 255;
    return (unsigned char)lrintf(x * 255.0f);
}

void cz_yuv_to_rgb8(float y, float u, float v, unsigned char rgb[3])
{
    float r, g, b;
    cz_yuv_to_rgb(y, u, v, &r, &g, &b);
    rgb[0] = to8(r);
    rgb[1] = to8(g);
    rgb[2] = to8(b);
}

int cz_chroma_bin(float x, float max)
{
    float t = floorf((x + max) / (2.0f * max) * (float)CZ_BINS);
    if (!(t >= 0.0f))
        return 0;
    if (t > (float)(CZ_BINS - 1))
        return CZ_BINS - 1;
    return (int)t;
}

float cz_bin_center(int k, float max)
{
    return -max + ((float)k + 0.5f) * (2.0f * max / (float)CZ_BINS);
}

cz_status cz_decode_parse(const char *text, cz_decode *out)
{
    out->temperature = CZ_DEFAULT_TEMPERATURE;
    if (strcmp(text, "mean") == 0) {
        out->rule = CZ_DECODE_MEAN;
        return CZ_OK;
    }
    if (strcmp(text, "mode") == 0) {
        out->rule = CZ_DECODE_MODE;
        return CZ_OK;
    }
    if (strncmp(text, "annealed", 8) == 0) {
        out->rule = CZ_DECODE_ANNEALED;
        if (text[8] == '\0')
            return CZ_OK;
        if (text[8] == ':') {
            char *end;
            double t = strtod(text + 9, &end);
            if (end != text + 9 && *end == '\0' && t > 0.0 && t <= 100.0) {
                out->temperature = (float)t;
                return CZ_OK;
            }
        }
    }
    return cz_fail(CZ_ERR_ARG,
                   "unknown decoding rule '%s' (use mean, mode, annealed or annealed:T with 0 < T <= 100)",
                   text);
}

void cz_decode_format(cz_decode d, char *buf, int size)
{
    switch (d.rule) {
    case CZ_DECODE_MEAN: snprintf(buf, (size_t)size, "mean"); break;
    case CZ_DECODE_MODE: snprintf(buf, (size_t)size, "mode"); break;
    case CZ_DECODE_ANNEALED: snprintf(buf, (size_t)size, "annealed:%g", d.temperature); break;
    }
}

float cz_decode_logits(const float *logits, long stride, float max, cz_decode d)
{
    int best = 0;
    float top = logits[0];
    for (int k = 1; k < CZ_BINS; k++)
        if (logits[k * stride] > top) {
            top = logits[k * stride];
            best = k;
        }
    if (d.rule == CZ_DECODE_MODE)
        return cz_bin_center(best, max);
    float inv_t = d.rule == CZ_DECODE_ANNEALED ? 1.0f / d.temperature : 1.0f;
    float sum = 0.0f, acc = 0.0f;
    for (int k = 0; k < CZ_BINS; k++) {
        float p = expf((logits[k * stride] - top) * inv_t);
        sum += p;
        acc += p * cz_bin_center(k, max);
    }
    return acc / sum;
}
