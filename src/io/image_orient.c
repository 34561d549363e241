/* EXIF orientation: phones store a photo as the sensor saw it and record in
 * an EXIF tag how to turn it upright. Viewers apply the tag, so a colouriser
 * that ignored it would hand back a sideways picture. */
#include <string.h>

#include "image_impl.h"

static unsigned exif_u16(const uint8_t *p, int big)
{
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t exif_u32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int cz_exif_orientation(const uint8_t *app1, size_t n)
{
    /* "Exif\0\0", then a TIFF header: byte order, 42, offset of IFD0. */
    static const uint8_t magic[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (!app1 || n < 6 + 8 || memcmp(app1, magic, 6) != 0)
        return 1;
    const uint8_t *t = app1 + 6;
    size_t tn = n - 6;
    int big;
    if (t[0] == 'M' && t[1] == 'M')
        big = 1;
    else if (t[0] == 'I' && t[1] == 'I')
        big = 0;
    else
        return 1;
    if (exif_u16(t + 2, big) != 42)
        return 1;
    uint32_t ifd = exif_u32(t + 4, big);
    if (ifd > tn || tn - ifd < 2)
        return 1;
    unsigned count = exif_u16(t + ifd, big);
    for (unsigned i = 0; i < count; i++) {
        size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        if (at > tn || tn - at < 12)
            return 1;
        const uint8_t *e = t + at;
        /* Tag 0x0112, type SHORT (3), one value, held in the entry itself. */
        if (exif_u16(e, big) == 0x0112) {
            if (exif_u16(e + 2, big) != 3 || exif_u32(e + 4, big) != 1)
                return 1;
            unsigned v = exif_u16(e + 8, big);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

cz_status cz_image_orient(cz_image *img, int orientation)
{
    if (orientation < 2 || orientation > 8)
        return CZ_OK;
    const int w = img->width, h = img->height, c = img->channels;
    /* Source pixel shown at (x, y) of the upright picture, as an affine map
     * sx = x0 + xx*x + xy*y, sy = y0 + yx*x + yy*y (EXIF 2.3 orientation
     * values: where row 0 and column 0 of the stored image belong). */
    static const struct { int fx, xx, xy, fy, yx, yy; } maps[9] = {
        [2] = {1, -1, 0, 0, 0, 1},  /* mirrored */
        [3] = {1, -1, 0, 1, 0, -1}, /* rotated 180 */
        [4] = {0, 1, 0, 1, 0, -1},  /* flipped */
        [5] = {0, 0, 1, 0, 1, 0},   /* transposed */
        [6] = {0, 0, 1, 1, -1, 0},  /* needs 90 clockwise */
        [7] = {1, 0, -1, 1, -1, 0}, /* transversed */
        [8] = {1, 0, -1, 0, 1, 0},  /* needs 90 anticlockwise */
    };
    const int x0 = maps[orientation].fx ? w - 1 : 0, y0 = maps[orientation].fy ? h - 1 : 0;
    const int xx = maps[orientation].xx, xy = maps[orientation].xy;
    const int yx = maps[orientation].yx, yy = maps[orientation].yy;
    /* 5..8 swap the axes. */
    const int ow = orientation >= 5 ? h : w, oh = orientation >= 5 ? w : h;
    cz_image out;
    cz_status st = cz_image_alloc(&out, ow, oh, c);
    if (st)
        return st;
    uint8_t *dst = out.pixels;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++, dst += c) {
            const int sx = x0 + xx * x + xy * y, sy = y0 + yx * x + yy * y;
            memcpy(dst, img->pixels + ((size_t)sy * (size_t)w + (size_t)sx) * (size_t)c, (size_t)c);
        }
    cz_image_free(img);
    *img = out;
    return CZ_OK;
}
