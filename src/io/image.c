/* Image buffers and format detection; the codecs live in image_png.c and
 * image_jpeg.c, resizing in image_resize.c. */
#include <stdlib.h>
#include <string.h>

#include "image_impl.h"
#include "util.h"

static int image_size_ok(long long width, long long height, int channels)
{
    return width >= 1 && height >= 1 && width <= CZ_IMAGE_MAX_SIDE &&
           height <= CZ_IMAGE_MAX_SIDE && channels >= 1 && channels <= 4 &&
           width * height <= (long long)CZ_IMAGE_MAX_PIXELS;
}

cz_status cz_image_check_size(long long width, long long height, int channels, const char *name)
{
    if (image_size_ok(width, height, channels))
        return CZ_OK;
    return cz_fail(CZ_ERR_FORMAT,
                   "%s: unsupported image size %lld x %lld x %d (limits: %d per side, %u pixels)",
                   name, width, height, channels, CZ_IMAGE_MAX_SIDE, CZ_IMAGE_MAX_PIXELS);
}

cz_status cz_image_check_pixels(long long width, long long height, size_t max_pixels, const char *name)
{
    if (!max_pixels || (unsigned long long)(width * height) <= (unsigned long long)max_pixels)
        return CZ_OK;
    return cz_fail(CZ_ERR_ARG, "%s: picture of %lld x %lld = %lld pixels is over the max-pixels limit of %zu",
                   name, width, height, width * height, max_pixels);
}

cz_status cz_image_alloc(cz_image *img, int width, int height, int channels)
{
    memset(img, 0, sizeof *img);
    if (!image_size_ok(width, height, channels))
        return cz_fail(CZ_ERR_ARG,
                       "image size %d x %d x %d out of range (limits: %d per side, %u pixels, 1-4 channels)",
                       width, height, channels, CZ_IMAGE_MAX_SIDE, CZ_IMAGE_MAX_PIXELS);
    /* Within the limits the product fits in size_t; cz_alloc checks anyway. */
    img->pixels = cz_alloc((size_t)width * (size_t)height, (size_t)channels, "image pixels");
    if (!img->pixels)
        return CZ_ERR_NOMEM;
    img->width = width;
    img->height = height;
    img->channels = channels;
    return CZ_OK;
}

void cz_image_free(cz_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

cz_status cz_image_read(const char *path, cz_image *img)
{
    return cz_image_read_max(path, 0, img);
}

cz_status cz_image_read_max(const char *path, size_t max_pixels, cz_image *img)
{
    memset(img, 0, sizeof *img);
    if (!path)
        return cz_fail(CZ_ERR_ARG, "cz_image_read: no path given");
    uint8_t *data;
    size_t size;
    cz_status st = cz_read_file(path, CZ_IMAGE_MAX_FILE_BYTES, &data, &size);
    if (st)
        return st;
    st = cz_image_read_memory_max(data, size, path, max_pixels, img);
    free(data);
    return st;
}

cz_status cz_image_read_memory(const uint8_t *data, size_t size, const char *name, cz_image *img)
{
    return cz_image_read_memory_max(data, size, name, 0, img);
}

cz_status cz_image_read_memory_max(const uint8_t *data, size_t size, const char *name,
                                   size_t max_pixels, cz_image *img)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t jpeg_sig[3] = {0xff, 0xd8, 0xff};
    memset(img, 0, sizeof *img);
    if (!name)
        name = "<memory>";
    if (!data && size)
        return cz_fail(CZ_ERR_ARG, "%s: no data", name);
    /* Trust the signature, not the file name: ".png" files are often JPEGs. */
    if (size >= sizeof png_sig && memcmp(data, png_sig, sizeof png_sig) == 0)
        return cz_png_decode(data, size, name, max_pixels, img);
    if (size >= sizeof jpeg_sig && memcmp(data, jpeg_sig, sizeof jpeg_sig) == 0)
        return cz_jpeg_decode(data, size, name, max_pixels, img);
    return cz_fail(CZ_ERR_FORMAT, "%s: not a PNG or JPEG file", name);
}
