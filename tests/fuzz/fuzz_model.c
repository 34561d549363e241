/* libFuzzer: the model loader (metadata, graph, tensor checks, slabs) on a
 * safetensors file in memory. */
#include <stdint.h>

#include "model_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cz_st_file *f;
    if (cz_st_open_memory(&f, data, size, "fuzz.safetensors") != CZ_OK)
        return 0;
    cz_model m;
    if (cz_model_from_file(f, &m) == CZ_OK)
        cz_model_free(&m);
    cz_st_close(f);
    return 0;
}
