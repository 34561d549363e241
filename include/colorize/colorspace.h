/* BT.601 analog YUV (SPEC §1), the 20-bin chroma quantiser and the decoding
 * rules that turn bin logits back into chroma (SPEC §3). */
#ifndef COLORIZE_COLORSPACE_H
#define COLORIZE_COLORSPACE_H

#include "colorize/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_BINS 20
#define CZ_U_MAX 0.436f
#define CZ_V_MAX 0.615f

/* RGB in [0,1] -> Y in [0,1], U in [-0.436,0.436], V in [-0.615,0.615]. */
void cz_rgb_to_yuv(float r, float g, float b, float *y, float *u, float *v);
/* Exact inverse (computed in double once); output is NOT clipped. */
void cz_yuv_to_rgb(float y, float u, float v, float *r, float *g, float *b);
/* Inverse, clipped to [0,1] and rounded to 8 bits. */
void cz_yuv_to_rgb8(float y, float u, float v, unsigned char rgb[3]);

/* bin(x) = clamp(floor((x + max) / (2 max) * 20), 0, 19) */
int cz_chroma_bin(float x, float max);
/* -max + (k + 0.5) * (2 max / 20) */
float cz_bin_center(int k, float max);

typedef enum cz_decode_rule {
    CZ_DECODE_MEAN = 0,     /* expectation of bin centres under softmax */
    CZ_DECODE_ANNEALED = 1, /* softmax(logits / T), then expectation */
    CZ_DECODE_MODE = 2      /* centre of the argmax bin */
} cz_decode_rule;

typedef struct cz_decode {
    cz_decode_rule rule;
    float temperature; /* used by CZ_DECODE_ANNEALED; default 0.38 */
} cz_decode;

#define CZ_DEFAULT_TEMPERATURE 0.38f

/* Parse "mean", "mode", "annealed" or "annealed:T". */
cz_status cz_decode_parse(const char *text, cz_decode *out);
/* Writes e.g. "annealed:0.38" into buf. */
void cz_decode_format(cz_decode d, char *buf, int size);

/* Decode CZ_BINS logits spaced `stride` floats apart into a chroma value. */
float cz_decode_logits(const float *logits, long stride, float max, cz_decode d);

#ifdef __cplusplus
}
#endif
#endif
