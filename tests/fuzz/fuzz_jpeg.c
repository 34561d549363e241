/* libFuzzer: JPEG decoding with the EXIF orientation applied, and the EXIF
 * parser on its own (the input read as an APP1 payload). */
#include <stdint.h>
#include <stdlib.h>

#include "colorize/image.h"
#include "image_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int o = cz_exif_orientation(data, size);
    if (o < 1 || o > 8)
        abort();
    cz_image img;
    if (cz_image_read_memory_max(data, size, "fuzz.jpg", (size_t)1 << 22, &img) == CZ_OK) {
        if (!img.pixels || img.width < 1 || img.height < 1 || (img.channels != 1 && img.channels != 3))
            abort();
        cz_image_free(&img);
    } else if (img.pixels) {
        abort();
    }
    return 0;
}
