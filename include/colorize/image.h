/* 8-bit images in memory; PNG and JPEG reading, PNG writing, resizing. */
#ifndef COLORIZE_IMAGE_H
#define COLORIZE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "colorize/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest accepted side and pixel count: bigger files are rejected before
 * any pixel buffer is allocated. */
#define CZ_IMAGE_MAX_SIDE 65535
#define CZ_IMAGE_MAX_PIXELS (256u * 1024u * 1024u)

/* Interleaved 8-bit pixels, row-major, no padding.
 * channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
typedef struct cz_image {
    int width, height, channels;
    uint8_t *pixels;
} cz_image;

/* Allocate a zeroed image (checks the limits above). */
cz_status cz_image_alloc(cz_image *img, int width, int height, int channels);
void cz_image_free(cz_image *img);

/* Read a PNG or JPEG file (detected by its signature, not its name).
 * PNG: grey, grey+alpha, RGB, RGBA, palette (expanded, tRNS -> alpha),
 * 1/2/4/16-bit (reduced to 8). JPEG: grey or colour (CMYK rejected).
 * A truncated or corrupt file fails with a message naming the file. */
cz_status cz_image_read(const char *path, cz_image *img);
cz_status cz_image_read_memory(const uint8_t *data, size_t size, const char *name, cz_image *img);

/* Write a PNG atomically (temporary file then rename): on failure no
 * partial file is left at path. */
cz_status cz_image_write_png(const char *path, const cz_image *img);

#ifdef __cplusplus
}
#endif
#endif
