/* The library's colouriser: chroma predicted at a working resolution,
 * upsampled, joined with the full-resolution luma. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/colorize.h"
#include "model_io.h"
#include "paths.h"
#include "image_impl.h"
#include "util.h"

struct cz_colorizer {
    cz_model model;
    cz_colorizer_options opt;
    char description[96]; /* the model caches a net per working size */
};

cz_status cz_colorizer_open(const char *model_path, const cz_colorizer_options *options,
                            cz_colorizer **out)
{
    *out = NULL;
    char def[4096];
    if (!model_path) {
        if (!cz_default_model_path(def, sizeof def))
            return cz_fail(CZ_ERR_IO, "%s: the default model is missing (pass a model file, or set "
                                      "COLORIZE_MODEL)", def);
        model_path = def;
    }
    cz_colorizer *c = cz_alloc(1, sizeof *c, "colorizer");
    if (!c)
        return CZ_ERR_NOMEM;
    c->opt.working_size = CZ_DEFAULT_WORKING_SIZE;
    c->opt.decode.rule = CZ_DECODE_MEAN;
    c->opt.decode.temperature = CZ_DEFAULT_TEMPERATURE;
    c->opt.max_pixels = CZ_DEFAULT_MAX_PIXELS;
    if (options) {
        if (options->max_pixels > CZ_IMAGE_MAX_PIXELS) {
            free(c);
            return cz_fail(CZ_ERR_ARG, "max_pixels %zu is over the hard limit of %u pixels",
                           options->max_pixels, CZ_IMAGE_MAX_PIXELS);
        }
        if (options->max_pixels)
            c->opt.max_pixels = options->max_pixels;
        if (options->working_size < 0 || options->working_size > 4096) {
            free(c);
            return cz_fail(CZ_ERR_ARG, "working size %d out of range (8..4096, 0 = default)",
                           options->working_size);
        }
        if (options->working_size)
            c->opt.working_size = options->working_size;
        c->opt.decode = options->decode;
        if (c->opt.decode.temperature <= 0)
            c->opt.decode.temperature = CZ_DEFAULT_TEMPERATURE;
    }
    cz_status st = cz_model_load(model_path, &c->model);
    if (st) {
        free(c);
        return st;
    }
    c->model.flip_average = !(options && options->flip < 0);
    if (options && ((options->backend && (st = cz_model_set_backend(&c->model, options->backend))) ||
                    (options->precision && (st = cz_model_set_precision(&c->model, options->precision))))) {
        cz_model_free(&c->model);
        free(c);
        return st;
    }
    snprintf(c->description, sizeof c->description, "%s/%s w%d", cz_arch_name(c->model.arch),
             cz_head_name(c->model.head), c->model.width);
    *out = c;
    return CZ_OK;
}

void cz_colorizer_close(cz_colorizer *c)
{
    if (!c)
        return;
    cz_model_free(&c->model);
    free(c);
}

const char *cz_colorizer_describe(const cz_colorizer *c)
{
    return c->description;
}

size_t cz_colorizer_max_pixels(const cz_colorizer *c)
{
    return c->opt.max_pixels;
}

/* Working size: shorter side = working_size, aspect kept up to
 * CZ_WORKING_MAX_ASPECT (the long side is clamped beyond, and to the image
 * side limit), both sides rounded to multiples of 8 (at least 8). */
static void working_dims(int w, int h, int size, int *ww, int *wh)
{
    double scale = (double)size / (w < h ? w : h);
    double a = w * scale, b = h * scale;
    double cap = (double)size * CZ_WORKING_MAX_ASPECT;
    if (cap > CZ_IMAGE_MAX_SIDE - 7)
        cap = CZ_IMAGE_MAX_SIDE - 7;
    a = a > cap ? cap : a;
    b = b > cap ? cap : b;
    int ra = (int)lround(a / 8.0) * 8, rb = (int)lround(b / 8.0) * 8;
    *ww = ra < 8 ? 8 : ra;
    *wh = rb < 8 ? 8 : rb;
}

/* Rows of the full-resolution chroma made at a time: the U and V planes
 * are never held whole (a 16384 x 16384 picture would need 2 GB for them). */
#define COLORIZE_BAND_ROWS 64

/* Luma of one pixel, as the network and the recombination see it. */
static float pixel_luma(const uint8_t *p, int colour)
{
    float y, u, v;
    if (!colour)
        return p[0] / 255.0f;
    cz_rgb_to_yuv(p[0] / 255.0f, p[1] / 255.0f, p[2] / 255.0f, &y, &u, &v);
    return y;
}

static cz_status check_pixels(const cz_colorizer *c, int width, int height)
{
    if ((size_t)width * height <= c->opt.max_pixels)
        return CZ_OK;
    return cz_fail(CZ_ERR_ARG, "colorize: picture of %d x %d = %zu pixels is over the max-pixels limit of %zu",
                   width, height, (size_t)width * height, c->opt.max_pixels);
}

/* The colouriser proper: out receives out_channels (3, or 4 with the
 * input's last channel as alpha) bytes per pixel, rows packed. */
static cz_status colorize_into(cz_colorizer *c, const uint8_t *pixels, int width, int height,
                               int channels, int stride, uint8_t *out, int out_channels)
{
    cz_status st = check_pixels(c, width, height);
    if (st)
        return st;
    int ww, wh;
    working_dims(width, height, c->opt.working_size, &ww, &wh);
    const size_t wn = (size_t)ww * wh;
    const int colour = channels >= 3;
    const int band = height < COLORIZE_BAND_ROWS ? height : COLORIZE_BAND_ROWS;
    float *ys = cz_alloc_aligned(wn, sizeof(float), "working luma");
    float *uv = cz_alloc_aligned(2 * wn, sizeof(float), "working chroma");
    float *u = cz_alloc_aligned((size_t)band * width, sizeof(float), "chroma U rows");
    float *v = cz_alloc_aligned((size_t)band * width, sizeof(float), "chroma V rows");
    cz_image gi = {0}, gs = {0};
    st = CZ_ERR_NOMEM;
    if (!ys || !uv || !u || !v)
        goto done;
    /* Area-correct shrink of the 8-bit luma: bilinear sampling would alias. */
    if ((st = cz_image_alloc(&gi, width, height, 1)))
        goto done;
    for (int r = 0; r < height; r++) {
        const uint8_t *row = pixels + (size_t)r * stride;
        uint8_t *g = gi.pixels + (size_t)r * width;
        for (int x = 0; x < width; x++)
            g[x] = (uint8_t)lrintf(fminf(fmaxf(pixel_luma(row + (size_t)x * channels, colour), 0.0f), 1.0f) *
                                   255.0f);
    }
    st = cz_image_resize(&gi, ww, wh, &gs);
    cz_image_free(&gi);
    if (st)
        goto done;
    for (size_t i = 0; i < wn; i++)
        ys[i] = gs.pixels[i] / 255.0f;
    cz_image_free(&gs);
    if ((st = cz_model_predict(&c->model, ys, 1, wh, ww, c->opt.decode, uv, NULL)))
        goto done;
    /* Upsampled chroma band by band, joined with the full-resolution luma. */
    for (int r0 = 0; r0 < height; r0 += band) {
        int nr = height - r0 < band ? height - r0 : band;
        if ((st = cz_resize_plane_bilinear_rows(uv, ww, wh, u, width, height, r0, nr)) ||
            (st = cz_resize_plane_bilinear_rows(uv + wn, ww, wh, v, width, height, r0, nr)))
            goto done;
        for (int r = 0; r < nr; r++) {
            const uint8_t *row = pixels + (size_t)(r0 + r) * stride;
            uint8_t *o = out + (size_t)(r0 + r) * width * out_channels;
            const float *ur = u + (size_t)r * width, *vr = v + (size_t)r * width;
            for (int x = 0; x < width; x++) {
                const uint8_t *p = row + (size_t)x * channels;
                cz_yuv_to_rgb8(pixel_luma(p, colour), ur[x], vr[x], o + (size_t)x * out_channels);
                if (out_channels == 4)
                    o[(size_t)x * 4 + 3] = p[channels - 1];
            }
        }
    }
    st = CZ_OK;
done:
    /* Name the picture, not only the internal buffer or size that failed. */
    if (st)
        cz_fail(st, "colorize: picture of %d x %d (network at %d x %d): %s", width, height, ww, wh,
                cz_last_error());
    cz_image_free(&gi);
    cz_image_free(&gs);
    free(ys);
    free(uv);
    free(u);
    free(v);
    return st;
}

cz_status cz_colorize_pixels(cz_colorizer *c, const uint8_t *pixels, int width, int height,
                             int channels, int stride, uint8_t *out_rgb)
{
    if (!c || !pixels || !out_rgb || width < 1 || height < 1 || channels < 1 || channels > 4 ||
        stride < width * channels)
        return cz_fail(CZ_ERR_ARG, "colorize: bad image arguments (%dx%d, %d channels, stride %d)", width,
                       height, channels, stride);
    return colorize_into(c, pixels, width, height, channels, stride, out_rgb, 3);
}

cz_status cz_colorize_image(cz_colorizer *c, const cz_image *in, cz_image *out)
{
    memset(out, 0, sizeof *out);
    if (!c || !in || !in->pixels || in->width < 1 || in->height < 1 || in->channels < 1 || in->channels > 4)
        return cz_fail(CZ_ERR_ARG, "colorize: no image");
    cz_status st = check_pixels(c, in->width, in->height); /* before allocating *out */
    if (st)
        return st;
    const int alpha = in->channels == 2 || in->channels == 4;
    if ((st = cz_image_alloc(out, in->width, in->height, alpha ? 4 : 3)))
        return st;
    st = colorize_into(c, in->pixels, in->width, in->height, in->channels, in->width * in->channels,
                       out->pixels, alpha ? 4 : 3);
    if (st)
        cz_image_free(out);
    return st;
}
