/* JPEG decoding from memory with libjpeg(-turbo).
 *
 * libjpeg's default error handler calls exit(); ours longjmps back instead.
 * libjpeg only *warns* about corrupt or truncated data ("Premature end of
 * JPEG file") and pads the picture with grey; a half-grey training image is
 * worse than none, so those warnings are errors here. As for PNG, the setjmp
 * lives in a helper whose state the caller owns. The picture comes out
 * upright: an EXIF orientation tag is applied (image_orient.c). */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image_impl.h"
#include "util.h"

typedef struct image_jpeg_reader {
    struct jpeg_error_mgr err; /* first member: libjpeg hands &err back to us */
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    const char *name;
    int orientation; /* EXIF, 1 = as stored */
    size_t max_pixels; /* 0: no limit beyond image.h's */
    struct jpeg_decompress_struct cinfo;
    cz_image img;
} image_jpeg_reader;

static void image_jpeg_on_error(j_common_ptr cinfo)
{
    image_jpeg_reader *r = (image_jpeg_reader *)cinfo->err;
    cinfo->err->format_message(cinfo, r->msg);
    longjmp(r->jump, 1);
}

/* Warnings that say nothing about the pixels (metadata we do not use). */
static int image_jpeg_warning_benign(int code)
{
    return code == JWRN_ADOBE_XFORM || code == JWRN_JFIF_MAJOR || code == JWRN_BOGUS_ICC;
}

static void image_jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return; /* trace messages */
    cinfo->err->num_warnings++;
    if (!image_jpeg_warning_benign(cinfo->err->msg_code))
        image_jpeg_on_error(cinfo);
}

/* Library code never prints. */
static void image_jpeg_on_output(j_common_ptr cinfo) { (void)cinfo; }

static cz_status image_jpeg_decode_run(image_jpeg_reader *r, const uint8_t *data, size_t size)
{
    struct jpeg_decompress_struct *ci = &r->cinfo;
    if (setjmp(r->jump))
        return cz_fail(CZ_ERR_FORMAT, "%s: invalid JPEG: %s", r->name, r->msg);
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, data, (unsigned long)size);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xffff); /* EXIF lives in APP1 */
    jpeg_read_header(ci, TRUE);
    r->orientation = 1;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && r->orientation == 1)
            r->orientation = cz_exif_orientation(m->data, m->data_length);

    if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)
        return cz_fail(CZ_ERR_FORMAT, "%s: CMYK JPEG is not supported (convert it to RGB)",
                       r->name);
    int channels = ci->jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
    ci->out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    /* Before jpeg_start_decompress, which sizes its buffers from the header. */
    cz_status st = cz_image_check_size(ci->image_width, ci->image_height, channels, r->name);
    if (!st)
        st = cz_image_check_pixels(ci->image_width, ci->image_height, r->max_pixels, r->name);
    if (st)
        return st;
    jpeg_start_decompress(ci);
    if (ci->output_components != channels || ci->output_width != ci->image_width ||
        ci->output_height != ci->image_height)
        return cz_fail(CZ_ERR_FORMAT, "%s: unexpected JPEG output layout", r->name);

    st = cz_image_alloc(&r->img, (int)ci->output_width, (int)ci->output_height, channels);
    if (st)
        return st;
    size_t stride = (size_t)ci->output_width * (size_t)channels;
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = r->img.pixels + (size_t)ci->output_scanline * stride;
        /* The memory source never suspends, so 0 lines means no progress. */
        if (jpeg_read_scanlines(ci, &row, 1) != 1)
            return cz_fail(CZ_ERR_FORMAT, "%s: invalid JPEG: decoder stalled", r->name);
    }
    /* Reads up to EOI, so a file cut after the last scan is caught too. */
    jpeg_finish_decompress(ci);
    return CZ_OK;
}

cz_status cz_jpeg_decode(const uint8_t *data, size_t size, const char *name, size_t max_pixels,
                         cz_image *img)
{
    memset(img, 0, sizeof *img);
#if SIZE_MAX > ULONG_MAX
    if (size > ULONG_MAX)
        return cz_fail(CZ_ERR_FORMAT, "%s: JPEG file too large", name);
#endif
    image_jpeg_reader r;
    memset(&r, 0, sizeof r);
    r.name = name;
    r.max_pixels = max_pixels;
    r.cinfo.err = jpeg_std_error(&r.err);
    r.err.error_exit = image_jpeg_on_error;
    r.err.emit_message = image_jpeg_on_message;
    r.err.output_message = image_jpeg_on_output;
    cz_status st = image_jpeg_decode_run(&r, data, size);
    /* Safe whatever stage failed: it frees only what was created. */
    jpeg_destroy_decompress(&r.cinfo);
    if (!st)
        st = cz_image_orient(&r.img, r.orientation);
    if (st) {
        cz_image_free(&r.img);
        return st;
    }
    *img = r.img;
    return CZ_OK;
}
