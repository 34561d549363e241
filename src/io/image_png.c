/* PNG decoding from memory and atomic PNG writing with libpng.
 *
 * libpng reports errors by longjmp. Each setjmp sits in a helper whose state
 * lives in a struct owned by the caller, so nothing the helper changes
 * between setjmp and longjmp is an indeterminate local variable, and the
 * caller can always free what was allocated. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_impl.h"
#include "util.h"

/* zlib level for writing: 6 is zlib's default and nearly as small as 9 at a
 * fraction of the time. */
#define PNG_WRITE_LEVEL 6
#define PNG_MSG_SIZE 256
/* Largest ancillary chunk (or decompressed text/profile) libpng may buffer.
 * Pixel data is streamed and not bounded by this; real ICC profiles and
 * EXIF blocks are well under a megabyte. Without a cap a 93-byte file whose
 * sPLT chunk claims 1.95 GB makes libpng allocate all of it (issue 13). */
#define PNG_CHUNK_MAX ((png_alloc_size_t)8 << 20)
/* Ancillary chunks kept per file (libpng's own default is 1000). */
#define PNG_CHUNK_CACHE_MAX 128

typedef struct image_png_reader {
    const uint8_t *data;
    size_t size, pos;
    const char *name;
    size_t max_pixels;
    char msg[PNG_MSG_SIZE]; /* libpng's reason, kept for the one-line error */
    png_structp png;
    png_infop info;
    png_bytep *rows;
    cz_image img;
} image_png_reader;

typedef struct image_png_writer {
    char msg[PNG_MSG_SIZE];
    png_structp png;
    png_infop info;
} image_png_writer;

/* error_ptr is the msg[] buffer of the reader or writer. */
static void image_png_on_error(png_structp png, png_const_charp msg)
{
    char *buf = png_get_error_ptr(png);
    snprintf(buf, PNG_MSG_SIZE, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

/* Warnings concern ancillary chunks we ignore anyway; keep stderr clean. */
static void image_png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void image_png_read_memory(png_structp png, png_bytep out, size_t n)
{
    image_png_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos)
        png_error(png, "file is truncated");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

static cz_status image_png_decode_run(image_png_reader *r)
{
    if (setjmp(png_jmpbuf(r->png)))
        return cz_fail(CZ_ERR_FORMAT, "%s: invalid PNG: %s", r->name, r->msg);
    png_structp png = r->png;
    png_infop info = r->info;
    png_set_read_fn(png, r, image_png_read_memory);
    png_read_info(png, info);

    png_uint_32 width, height;
    int depth, color, interlace;
    png_get_IHDR(png, info, &width, &height, &depth, &color, &interlace, NULL, NULL);
    /* Reject a lying or enormous header before libpng sizes any row buffer. */
    cz_status st = cz_image_check_size(width, height, 1, r->name);
    if (!st)
        st = cz_image_check_pixels(width, height, r->max_pixels, r->name);
    if (st)
        return st;

    /* Reduce everything to 8-bit grey, grey+alpha, RGB or RGBA. */
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    if (depth == 16)
        png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    if (png_get_bit_depth(png, info) != 8 || channels < 1 || channels > 4 ||
        png_get_rowbytes(png, info) != (size_t)width * (size_t)channels)
        return cz_fail(CZ_ERR_FORMAT, "%s: unsupported PNG layout (depth %d, colour type %d)",
                       r->name, depth, color);
    st = cz_image_alloc(&r->img, (int)width, (int)height, channels);
    if (st)
        return st;
    r->rows = cz_alloc(height, sizeof *r->rows, "PNG row pointers");
    if (!r->rows)
        return CZ_ERR_NOMEM;
    size_t stride = (size_t)width * (size_t)channels;
    for (png_uint_32 y = 0; y < height; y++)
        r->rows[y] = r->img.pixels + y * stride;
    png_read_image(png, r->rows);
    /* Reading up to IEND makes a file cut after its last IDAT an error too. */
    png_read_end(png, NULL);
    return CZ_OK;
}

cz_status cz_png_decode(const uint8_t *data, size_t size, const char *name, size_t max_pixels,
                        cz_image *img)
{
    image_png_reader r;
    memset(&r, 0, sizeof r);
    memset(img, 0, sizeof *img);
    r.data = data;
    r.size = size;
    r.name = name;
    r.max_pixels = max_pixels;
    /* The size in IHDR (always the first chunk) is checked here, so that
     * an oversized picture gets our message with the limits rather than
     * libpng's "exceeds user limit"; libpng's limits below back it up. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint32_t w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
        uint32_t h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
        cz_status st = cz_image_check_size(w, h, 1, name);
        if (!st)
            st = cz_image_check_pixels(w, h, max_pixels, name);
        if (st)
            return st;
    }
    r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r.msg, image_png_on_error, image_png_on_warning);
    if (!r.png)
        return cz_fail(CZ_ERR_NOMEM, "%s: cannot create a PNG decoder", name);
    /* Limits first, before libpng reads a byte: sides as image.h allows,
     * every buffered chunk capped. */
    png_set_user_limits(r.png, CZ_IMAGE_MAX_SIDE, CZ_IMAGE_MAX_SIDE);
    png_set_chunk_cache_max(r.png, PNG_CHUNK_CACHE_MAX);
    png_set_chunk_malloc_max(r.png, PNG_CHUNK_MAX);
    /* libpng only warns when a chunk is over the cap, then buffers it anyway
     * (png_read_buffer has no limit of its own), so the ancillary chunks we
     * never use are not read at all: skipped ones are streamed past. tRNS
     * stays (it becomes alpha). */
    static const png_byte ignored[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0"
                                      "pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0zTXt";
    png_set_keep_unknown_chunks(r.png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(r.png, PNG_HANDLE_CHUNK_NEVER, ignored, (int)(sizeof ignored / 5));
    r.info = png_create_info_struct(r.png);
    cz_status st = r.info ? image_png_decode_run(&r)
                          : cz_fail(CZ_ERR_NOMEM, "%s: cannot create a PNG decoder", name);
    png_destroy_read_struct(&r.png, &r.info, NULL);
    free(r.rows);
    if (st) {
        cz_image_free(&r.img); /* never hand back a partial image */
        return st;
    }
    *img = r.img;
    return CZ_OK;
}

static cz_status image_png_write_run(image_png_writer *w, FILE *fp, const cz_image *img, const char *path)
{
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                       PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (setjmp(png_jmpbuf(w->png)))
        return cz_fail(CZ_ERR_IO, "%s: cannot write PNG: %s", path, w->msg);
    png_init_io(w->png, fp);
    png_set_compression_level(w->png, PNG_WRITE_LEVEL);
    png_set_IHDR(w->png, w->info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 color_types[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w->png, w->info);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++)
        png_write_row(w->png, img->pixels + (size_t)y * stride);
    png_write_end(w->png, NULL);
    return CZ_OK;
}

cz_status cz_image_write_png(const char *path, const cz_image *img)
{
    if (!path)
        return cz_fail(CZ_ERR_ARG, "cz_image_write_png: no path given");
    if (!img || !img->pixels || cz_image_check_size(img->width, img->height, img->channels, path))
        return cz_fail(CZ_ERR_ARG, "%s: invalid image to write (%d x %d x %d)", path,
                       img ? img->width : 0, img ? img->height : 0, img ? img->channels : 0);
    cz_atomic_file af;
    cz_status st = cz_atomic_open(&af, path);
    if (st)
        return st;
    image_png_writer w;
    memset(&w, 0, sizeof w);
    w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, w.msg, image_png_on_error, image_png_on_warning);
    if (w.png)
        w.info = png_create_info_struct(w.png);
    st = w.info ? image_png_write_run(&w, af.fp, img, path)
                : cz_fail(CZ_ERR_NOMEM, "%s: cannot create a PNG encoder", path);
    png_destroy_write_struct(&w.png, &w.info);
    if (st) {
        cz_atomic_abort(&af);
        return st;
    }
    return cz_atomic_commit(&af);
}
