/* The library's colouriser: chroma predicted at a working resolution,
 * upsampled, joined with the full-resolution luma. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/colorize.h"
#include "model_io.h"
#include "paths.h"
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
    if (options) {
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
    if (options && options->backend && (st = cz_model_set_backend(&c->model, options->backend))) {
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

/* Working size: shorter side = working_size, aspect kept, both sides
 * rounded to multiples of 8 (at least 8). */
static void working_dims(int w, int h, int size, int *ww, int *wh)
{
    double scale = (double)size / (w < h ? w : h);
    int a = (int)lround(w * scale / 8.0) * 8, b = (int)lround(h * scale / 8.0) * 8;
    *ww = a < 8 ? 8 : a;
    *wh = b < 8 ? 8 : b;
}

cz_status cz_colorize_pixels(cz_colorizer *c, const uint8_t *pixels, int width, int height,
                             int channels, int stride, uint8_t *out_rgb)
{
    if (!c || !pixels || !out_rgb || width < 1 || height < 1 || channels < 1 || channels > 4 ||
        stride < width * channels)
        return cz_fail(CZ_ERR_ARG, "colorize: bad image arguments (%dx%d, %d channels, stride %d)", width,
                       height, channels, stride);
    if ((size_t)width * height > CZ_IMAGE_MAX_PIXELS)
        return cz_fail(CZ_ERR_ARG, "colorize: image of %dx%d pixels is too large", width, height);
    const size_t n = (size_t)width * height;
    int ww, wh;
    working_dims(width, height, c->opt.working_size, &ww, &wh);
    const size_t wn = (size_t)ww * wh;
    float *y = cz_alloc_aligned(n, sizeof(float), "luma");
    float *ys = cz_alloc_aligned(wn, sizeof(float), "working luma");
    float *uv = cz_alloc_aligned(2 * wn, sizeof(float), "working chroma");
    float *u = cz_alloc_aligned(n, sizeof(float), "chroma U");
    float *v = cz_alloc_aligned(n, sizeof(float), "chroma V");
    cz_status st = CZ_ERR_NOMEM;
    if (!y || !ys || !uv || !u || !v)
        goto done;
    const int colour = channels >= 3;
    for (int r = 0; r < height; r++) {
        const uint8_t *row = pixels + (size_t)r * stride;
        for (int x = 0; x < width; x++) {
            const uint8_t *p = row + (size_t)x * channels;
            float yy, uu, vv;
            if (colour)
                cz_rgb_to_yuv(p[0] / 255.0f, p[1] / 255.0f, p[2] / 255.0f, &yy, &uu, &vv);
            else
                yy = p[0] / 255.0f;
            y[(size_t)r * width + x] = yy;
        }
    }
    /* Area-correct shrink of the luma: bilinear sampling would alias. */
    {
        cz_image gi = {0}, gs = {0};
        if ((st = cz_image_alloc(&gi, width, height, 1)))
            goto done;
        for (size_t i = 0; i < n; i++)
            gi.pixels[i] = (uint8_t)lrintf(fminf(fmaxf(y[i], 0.0f), 1.0f) * 255.0f);
        st = cz_image_resize(&gi, ww, wh, &gs);
        cz_image_free(&gi);
        if (st)
            goto done;
        for (size_t i = 0; i < wn; i++)
            ys[i] = gs.pixels[i] / 255.0f;
        cz_image_free(&gs);
    }
    if ((st = cz_model_predict(&c->model, ys, 1, wh, ww, c->opt.decode, uv, NULL)))
        goto done;
    cz_resize_plane_bilinear(uv, ww, wh, u, width, height);
    cz_resize_plane_bilinear(uv + wn, ww, wh, v, width, height);
    for (size_t i = 0; i < n; i++)
        cz_yuv_to_rgb8(y[i], u[i], v[i], out_rgb + 3 * i);
    st = CZ_OK;
done:
    free(y);
    free(ys);
    free(uv);
    free(u);
    free(v);
    return st;
}

cz_status cz_colorize_image(cz_colorizer *c, const cz_image *in, cz_image *out)
{
    memset(out, 0, sizeof *out);
    if (!in || !in->pixels)
        return cz_fail(CZ_ERR_ARG, "colorize: no image");
    const int alpha = in->channels == 2 || in->channels == 4;
    cz_status st = cz_image_alloc(out, in->width, in->height, alpha ? 4 : 3);
    if (st)
        return st;
    const size_t n = (size_t)in->width * in->height;
    uint8_t *rgb = alpha ? cz_alloc(n, 3, "colour pixels") : out->pixels;
    if (!rgb) {
        cz_image_free(out);
        return CZ_ERR_NOMEM;
    }
    st = cz_colorize_pixels(c, in->pixels, in->width, in->height, in->channels, in->width * in->channels, rgb);
    if (!st && alpha)
        for (size_t i = 0; i < n; i++) {
            memcpy(out->pixels + 4 * i, rgb + 3 * i, 3);
            out->pixels[4 * i + 3] = in->pixels[i * in->channels + in->channels - 1];
        }
    if (alpha)
        free(rgb);
    if (st)
        cz_image_free(out);
    return st;
}
