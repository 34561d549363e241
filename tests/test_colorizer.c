/* The library colouriser on a small untrained model: the max-pixels limit
 * (issue 13 #4), alpha kept, the raw-pixel and image entry points agree
 * across the row bands, elongated pictures (issue 13 #7). Quality is not
 * tested here. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colorize/colorize.h"
#include "model_io.h"
#include "test.h"

static cz_image pattern(int w, int h, int ch)
{
    cz_image img;
    if (cz_image_alloc(&img, w, h, ch))
        return img;
    for (size_t i = 0; i < (size_t)w * h * ch; i++)
        img.pixels[i] = (uint8_t)(i * 13 % 253);
    return img;
}

int main(void)
{
    char dir[] = "/tmp/cz_colorizer_XXXXXX", path[256];
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary directory");
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    cz_model m;
    CHECK(cz_model_init(&m, CZ_ARCH_VGG, CZ_HEAD_REG, 4, 32, 5) == CZ_OK);
    CHECK(cz_model_save(&m, 0, path, NULL, 0) == CZ_OK);
    cz_model_free(&m);

    cz_colorizer *c = NULL;
    cz_colorizer_options o = {.max_pixels = (size_t)CZ_IMAGE_MAX_PIXELS + 1};
    CHECK(cz_colorizer_open(path, &o, &c) == CZ_ERR_ARG && c == NULL);
    CHECK(strstr(cz_last_error(), "hard limit") != NULL);
    CHECK(cz_colorizer_open(path, NULL, &c) == CZ_OK);
    CHECK(c && cz_colorizer_max_pixels(c) == CZ_DEFAULT_MAX_PIXELS);
    cz_colorizer_close(c);
    o.max_pixels = 40000;
    CHECK(cz_colorizer_open(path, &o, &c) == CZ_OK);
    if (!c)
        TEST_END();

    /* over the limit: refused with both numbers, nothing allocated */
    cz_image big = pattern(201, 200, 1), out;
    CHECK(cz_colorize_image(c, &big, &out) == CZ_ERR_ARG && out.pixels == NULL);
    CHECK(strstr(cz_last_error(), "201 x 200 = 40200 pixels is over the max-pixels limit of 40000"));
    cz_image_free(&big);

    /* RGBA over several row bands: alpha kept, RGB equal to the raw call */
    cz_image rgba = pattern(150, 199, 4);
    CHECK(cz_colorize_image(c, &rgba, &out) == CZ_OK && out.channels == 4 && out.width == 150);
    uint8_t *rgb = malloc((size_t)150 * 199 * 3);
    CHECK(rgb && cz_colorize_pixels(c, rgba.pixels, 150, 199, 4, 150 * 4, rgb) == CZ_OK);
    int same = rgb && out.pixels, alpha = out.pixels != NULL;
    for (size_t i = 0; same && i < (size_t)150 * 199; i++) {
        same &= memcmp(out.pixels + 4 * i, rgb + 3 * i, 3) == 0;
        alpha &= out.pixels[4 * i + 3] == rgba.pixels[4 * i + 3];
    }
    CHECK(same);
    CHECK(alpha);
    free(rgb);
    cz_image_free(&out);
    cz_image_free(&rgba);

    /* 20000 x 1 and 1 x 20000: coloured, not refused */
    cz_image strip = pattern(20000, 1, 3);
    CHECK(cz_colorize_image(c, &strip, &out) == CZ_OK && out.width == 20000 && out.height == 1);
    cz_image_free(&out);
    strip.width = 1;
    strip.height = 20000;
    CHECK(cz_colorize_image(c, &strip, &out) == CZ_OK && out.width == 1 && out.height == 20000);
    cz_image_free(&out);
    cz_image_free(&strip);

    cz_colorizer_close(c);
    unlink(path);
    rmdir(dir);
    TEST_END();
}
