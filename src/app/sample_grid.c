/* Sample grids for eyeballing a model. */
#include <stdlib.h>
#include <string.h>

#include "colorize/image.h"
#include "sample_grid.h"
#include "util.h"

#define GRID_COLS 4 /* triplets per row */
#define GRID_GAP 4  /* pixels between images */

static void put(cz_image *img, int x0, int y0, int side, int zoom, const float *yp, const float *u,
                const float *v)
{
    for (int y = 0; y < side * zoom; y++)
        for (int x = 0; x < side * zoom; x++) {
            int p = (y / zoom) * side + x / zoom;
            unsigned char rgb[3];
            cz_yuv_to_rgb8(yp[p], u ? u[p] : 0.0f, v ? v[p] : 0.0f, rgb);
            memcpy(img->pixels + ((size_t)(y0 + y) * img->width + x0 + x) * 3, rgb, 3);
        }
}

cz_status cz_write_sample_grid(const char *path, cz_model *m, const cz_dataset *ds,
                               const int *idx, int count, cz_decode d, int zoom)
{
    if (count <= 0)
        return cz_fail(CZ_ERR_ARG, "no images for the sample grid");
    const int side = ds->side, hw = side * side, cell = side * zoom;
    const int rows = (count + GRID_COLS - 1) / GRID_COLS;
    const int cols = count < GRID_COLS ? count : GRID_COLS;
    cz_image img = {0};
    cz_loader *ld = NULL;
    float *uv = NULL;
    cz_status st = cz_image_alloc(&img, cols * (3 * cell + 2 * GRID_GAP) + (cols - 1) * 3 * GRID_GAP,
                                  rows * cell + (rows - 1) * GRID_GAP, 3);
    if (st)
        return st;
    memset(img.pixels, 255, (size_t)img.width * img.height * 3);
    uv = cz_alloc_aligned((size_t)count * 2 * hw, sizeof(float), "grid chroma");
    cz_loader_opts lo = {.batch = count};
    if (!uv || !(ld = cz_loader_create(ds, idx, count, &lo))) {
        st = CZ_ERR_NOMEM;
        goto done;
    }
    if ((st = cz_loader_start(ld, 0, 0)))
        goto done;
    const cz_batch *b = cz_loader_next(ld);
    if (!b) {
        st = cz_fail(CZ_ERR_ARG, "no images for the sample grid");
        goto done;
    }
    if ((st = cz_model_predict(m, b->y, b->n, side, side, d, uv, NULL)))
        goto done;
    for (int i = 0; i < b->n; i++) {
        int x0 = (i % GRID_COLS) * (3 * cell + 5 * GRID_GAP), y0 = (i / GRID_COLS) * (cell + GRID_GAP);
        const float *y = b->y + (size_t)i * hw, *p = uv + (size_t)i * 2 * hw, *t = b->uv + (size_t)i * 2 * hw;
        put(&img, x0, y0, side, zoom, y, NULL, NULL);
        put(&img, x0 + cell + GRID_GAP, y0, side, zoom, y, p, p + hw);
        put(&img, x0 + 2 * (cell + GRID_GAP), y0, side, zoom, y, t, t + hw);
    }
    st = cz_image_write_png(path, &img);
done:
    cz_loader_free(ld);
    free(uv);
    cz_image_free(&img);
    return st;
}
