/* Private to the image code: codec entry points and the size check they
 * share, so every decoder rejects oversized headers the same way. */
#ifndef CZ_IMAGE_IMPL_H
#define CZ_IMAGE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "colorize/image.h"

/* Largest file cz_image_read will load into memory. */
#define CZ_IMAGE_MAX_FILE_BYTES ((size_t)512 << 20)

/* CZ_OK if width x height x channels is within the limits of image.h, else
 * CZ_ERR_FORMAT with a message naming `name` (a header is lying or the
 * picture is too big to handle). Call before allocating any pixels. */
cz_status cz_image_check_size(long long width, long long height, int channels, const char *name);

/* Decode a whole PNG / JPEG held in memory into a freshly allocated img.
 * On failure img is left empty (all zero) and the error names `name`. */
cz_status cz_png_decode(const uint8_t *data, size_t size, const char *name, cz_image *img);
cz_status cz_jpeg_decode(const uint8_t *data, size_t size, const char *name, cz_image *img);

/* The EXIF orientation (1..8) recorded in an APP1 payload that starts with
 * "Exif\0\0"; 1 (as stored) when absent or unreadable. */
int cz_exif_orientation(const uint8_t *app1, size_t n);

/* Turn img upright for an EXIF orientation (2..8 transform it into a new
 * buffer; anything else leaves it alone). On failure img is unchanged. */
cz_status cz_image_orient(cz_image *img, int orientation);

#endif
