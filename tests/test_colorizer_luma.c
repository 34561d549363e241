/* The colouriser's invariant: the output's luma is the input's (to 8-bit
 * rounding, where no channel is clipped), with the shipped model on a
 * shipped grey photo; and the ref backend colours it like the dnnl one. */
#include <stdlib.h>

#include "colorize/colorize.h"
#include "test.h"

int main(void)
{
    const char *dir = getenv("COLORIZE_SOURCE_DIR");
    char model[4096], photo[4096];
    snprintf(model, sizeof model, "%s/models/colorize.safetensors", dir ? dir : ".");
    snprintf(photo, sizeof photo, "%s/samples/photos/grey/test22476_frog.png", dir ? dir : ".");
    cz_image in, out[2];
    if (cz_image_read(photo, &in) != CZ_OK)
        TEST_SKIP("no sample photo");
    cz_set_threads(2);
    static const char *const backends[] = {"dnnl", "ref"};
    for (int k = 0; k < 2; k++) {
        cz_colorizer_options o = {.backend = backends[k]};
        cz_colorizer *c;
        CHECK(cz_colorizer_open(model, &o, &c) == CZ_OK);
        CHECK(cz_colorize_image(c, &in, &out[k]) == CZ_OK);
        cz_colorizer_close(c);
    }
    CHECK(in.channels == 1 && out[0].channels == 3);
    long n = (long)in.width * in.height, unclipped = 0, off = 0, differ = 0;
    for (long i = 0; i < n; i++) {
        const uint8_t *p = out[0].pixels + 3 * i, *q = out[1].pixels + 3 * i;
        for (int ch = 0; ch < 3; ch++)
            differ += abs(p[ch] - q[ch]) > 1;
        if (p[0] == 0 || p[0] == 255 || p[1] == 0 || p[1] == 255 || p[2] == 0 || p[2] == 255)
            continue;
        unclipped++;
        float y, u, v;
        cz_rgb_to_yuv(p[0] / 255.0f, p[1] / 255.0f, p[2] / 255.0f, &y, &u, &v);
        off += fabsf(y * 255.0f - in.pixels[i]) > 0.5f + 1e-3f;
    }
    printf("%ld of %ld pixels unclipped, %ld with another luma; %ld values differ dnnl/ref\n", unclipped, n,
           off, differ);
    CHECK(unclipped > n / 2);
    CHECK(off == 0);
    CHECK(differ == 0);
    cz_image_free(&in);
    cz_image_free(&out[0]);
    cz_image_free(&out[1]);
    TEST_END();
}
