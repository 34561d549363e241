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
/* CZ_OK if width x height is at most max_pixels (0: no limit beyond the
 * above), else CZ_ERR_ARG naming the picture's size and the limit. */
cz_status cz_image_check_pixels(long long width, long long height, size_t max_pixels, const char *name);

/* Decode a whole PNG / JPEG held in memory into a freshly allocated img,
 * refusing more than max_pixels (0: no extra limit) from the header.
 * On failure img is left empty (all zero) and the error names `name`. */
cz_status cz_png_decode(const uint8_t *data, size_t size, const char *name, size_t max_pixels,
                        cz_image *img);
cz_status cz_jpeg_decode(const uint8_t *data, size_t size, const char *name, size_t max_pixels,
                         cz_image *img);

/* Rows row0 .. row0 + nrows - 1 of cz_resize_plane_bilinear's result (the
 * same values), into dst (nrows x dw): a large plane can be made band by
 * band. CZ_ERR_NOMEM if the column table cannot be allocated. */
cz_status cz_resize_plane_bilinear_rows(const float *src, int sw, int sh, float *dst, int dw, int dh,
                                        int row0, int nrows);

/* The EXIF orientation (1..8) recorded in an APP1 payload that starts with
 * "Exif\0\0"; 1 (as stored) when absent or unreadable. */
int cz_exif_orientation(const uint8_t *app1, size_t n);

/* Turn img upright for an EXIF orientation (2..8 transform it into a new
 * buffer; anything else leaves it alone). On failure img is unchanged. */
cz_status cz_image_orient(cz_image *img, int orientation);

#endif
