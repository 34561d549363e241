/* The smallest use of libcolorize: colour one picture.
 *   colorize_example MODEL IN OUT.png
 * Build against an installed library:
 *   cc colorize_example.c $(pkg-config --cflags --libs colorize) */
#include <stdio.h>

#include <colorize/colorize.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL IN OUT.png\n", argv[0]);
        return 2;
    }
    cz_colorizer *c;
    if (cz_colorizer_open(argv[1], NULL, &c) != CZ_OK) {
        fprintf(stderr, "%s\n", cz_last_error());
        return 1;
    }
    cz_image in = {0}, out = {0};
    int ok = cz_image_read(argv[2], &in) == CZ_OK && cz_colorize_image(c, &in, &out) == CZ_OK &&
             cz_image_write_png(argv[3], &out) == CZ_OK;
    if (!ok)
        fprintf(stderr, "%s\n", cz_last_error());
    else
        printf("%s: %dx%d coloured with %s -> %s\n", argv[2], in.width, in.height, cz_colorizer_describe(c),
               argv[3]);
    cz_image_free(&in);
    cz_image_free(&out);
    cz_colorizer_close(c);
    return ok ? 0 : 1;
}
