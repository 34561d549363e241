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
 * 1/2/4/16-bit (reduced to 8). JPEG: grey or colour (CMYK rejected), turned
 * upright by its EXIF orientation tag as photo viewers do.
 * A truncated or corrupt file fails with a message naming the file. */
cz_status cz_image_read(const char *path, cz_image *img);
cz_status cz_image_read_memory(const uint8_t *data, size_t size, const char *name, cz_image *img);
/* The same, refusing a picture of more than max_pixels pixels (0: only the
 * limits above) from its header, before any pixel is decoded; the message
 * gives the picture's size and the limit. */
cz_status cz_image_read_max(const char *path, size_t max_pixels, cz_image *img);
cz_status cz_image_read_memory_max(const uint8_t *data, size_t size, const char *name,
                                   size_t max_pixels, cz_image *img);

/* Write a PNG atomically (temporary file then rename): on failure no
 * partial file is left at path. */
cz_status cz_image_write_png(const char *path, const cz_image *img);

/* Resize to width x height (same channels) into a newly allocated dst, which
 * must not be src nor hold an image (it is overwritten, not freed). Per
 * axis: shrinking averages over each output pixel's exact source footprint
 * (box filter); enlarging is bilinear with pixel centres aligned (OpenCV
 * INTER_LINEAR, PyTorch align_corners=False). Rounded to nearest. */
cz_status cz_image_resize(const cz_image *src, int width, int height, cz_image *dst);

/* Bilinear resize of one float plane, centre-aligned as above for every
 * ratio (source x = (i + 0.5) * sw / dw - 0.5, clamped to the edge).
 * src: sh x sw, dst: dh x dw, both row-major; does nothing if a size is < 1. */
void cz_resize_plane_bilinear(const float *src, int sw, int sh, float *dst, int dw, int dh);

/* Largest centred square: side min(width, height), offset (width - side) / 2
 * and (height - side) / 2 (rounded down). dst is allocated as for resize. */
cz_status cz_image_center_crop_square(const cz_image *src, cz_image *dst);

#ifdef __cplusplus
}
#endif
#endif
