/* libFuzzer: PNG decoding (the signature is forced so every input reaches
 * libpng); pictures over 4 megapixels are refused from the header, as
 * `colorize run --max-pixels` would, to keep each input fast. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *buf = malloc(size + sizeof sig);
    if (!buf)
        return 0;
    size_t skip = size >= 8 && memcmp(data, sig, 8) == 0 ? 8 : 0; /* seeds carry it */
    memcpy(buf, sig, sizeof sig);
    memcpy(buf + sizeof sig, data + skip, size - skip);
    cz_image img;
    if (cz_image_read_memory_max(buf, size - skip + sizeof sig, "fuzz.png", (size_t)1 << 22, &img) == CZ_OK) {
        if (!img.pixels || img.width < 1 || img.height < 1 || img.channels < 1 || img.channels > 4)
            abort();
        cz_image_free(&img);
    } else if (img.pixels) {
        abort(); /* a failed read hands back no pixels */
    }
    free(buf);
    return 0;
}
