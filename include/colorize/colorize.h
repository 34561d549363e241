/* libcolorize: put colour back into grey images.
 *
 *   cz_colorizer *c;
 *   if (cz_colorizer_open(NULL, NULL, &c) != CZ_OK)   // NULL: the shipped model
 *       fprintf(stderr, "%s\n", cz_last_error());
 *   cz_image in, out;
 *   cz_image_read("photo.jpg", &in);
 *   cz_colorize_image(c, &in, &out);                   // any size, grey or colour
 *   cz_image_write_png("photo-colour.png", &out);
 *   cz_image_free(&in); cz_image_free(&out); cz_colorizer_close(c);
 *
 * The network predicts chroma (U, V) at a working resolution; the chroma is
 * upsampled bilinearly and joined with the input's own full-resolution luma,
 * so every detail of the input is kept. A colour input is reduced to its luma
 * first; an alpha channel is carried over unchanged.
 *
 * Errors are returned as cz_status codes with a one-line message from
 * cz_last_error(); library code never exits or prints. Separate colorizers
 * may be used from separate threads at the same time; one colorizer must not
 * be used by two threads at once. */
#ifndef COLORIZE_COLORIZE_H
#define COLORIZE_COLORIZE_H

#include <stdint.h>

#include "colorize/colorspace.h"
#include "colorize/error.h"
#include "colorize/image.h"
#include "colorize/threads.h" /* cz_set_threads */

#ifdef __cplusplus
extern "C" {
#endif

/* The default working resolution: the shorter side the network sees
 * (chosen by measurement, see docs/run.md). */
#define CZ_DEFAULT_WORKING_SIZE 32

/* The largest picture colourised unless the options say otherwise: 100
 * megapixels need about 0.9 GB (RGBA) including the decoded input
 * (docs/run.md gives the measured figures). Never above CZ_IMAGE_MAX_PIXELS. */
#define CZ_DEFAULT_MAX_PIXELS ((size_t)100 * 1000 * 1000)

/* The working size keeps the picture's aspect ratio up to this many to one;
 * a more elongated picture (a 65535 x 1 strip) has its long working side
 * clamped, so the network never sees more than 64 x size^2 pixels. */
#define CZ_WORKING_MAX_ASPECT 64

typedef struct cz_colorizer_options {
    int working_size;  /* shorter side at which chroma is predicted (0: default) */
    cz_decode decode;  /* for classification models (default: mean) */
    size_t max_pixels; /* larger pictures are refused (0: CZ_DEFAULT_MAX_PIXELS) */
    const char *backend; /* compute backend: NULL or "dnnl" (fast), "ref" (slow reference) */
    int flip;            /* test-time flip averaging (twice the network time): 0 default (on),
                            1 on, -1 off. It lowers the shipped model's validation chroma
                            MSE by 0.7 % (docs/run.md) */
    const char *precision; /* NULL or "fp32"; "bf16": bf16 convolutions, on CPUs with
                              AVX512_BF16 or AMX (refused elsewhere; docs/engine.md) */
} cz_colorizer_options;

typedef struct cz_colorizer cz_colorizer;

/* Load a model (NULL: the shipped default model). */
cz_status cz_colorizer_open(const char *model_path, const cz_colorizer_options *options,
                            cz_colorizer **out);
void cz_colorizer_close(cz_colorizer *c);

/* Architecture and head of the loaded model, e.g. "unet/reg w16". */
const char *cz_colorizer_describe(const cz_colorizer *c);
/* The picture size limit in force (pass it to cz_image_read_max to refuse a
 * big picture before decoding it). */
size_t cz_colorizer_max_pixels(const cz_colorizer *c);

/* Colourise an image of 1-4 channels (grey, grey+alpha, RGB, RGBA); *out is
 * allocated: RGB, or RGBA when the input has alpha. Besides *out it needs
 * about one byte per pixel and a few megabytes. Pictures of more than the
 * max_pixels option are refused (CZ_ERR_ARG) with their size. */
cz_status cz_colorize_image(cz_colorizer *c, const cz_image *in, cz_image *out);

/* The same on raw interleaved 8-bit pixels with `stride` bytes per row;
 * out_rgb receives width * height * 3 bytes. */
cz_status cz_colorize_pixels(cz_colorizer *c, const uint8_t *pixels, int width, int height,
                             int channels, int stride, uint8_t *out_rgb);

#ifdef __cplusplus
}
#endif
#endif
