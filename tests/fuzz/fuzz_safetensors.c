/* libFuzzer: the safetensors reader, then every accessor on what it
 * accepted (tensors by index and name, expect with the found and a wrong
 * shape, both copies, metadata by index and key). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cz_st_file *f;
    if (cz_st_open_memory(&f, data, size, "fuzz.safetensors") != CZ_OK)
        return 0;
    (void)cz_st_path(f);
    int n = cz_st_count(f);
    for (int i = 0; i < n; i++) {
        const cz_st_tensor *t = cz_st_at(f, i);
        if (!t || cz_st_find(f, t->name) != t)
            abort(); /* an accepted tensor must be found by its name */
        const cz_st_tensor *e;
        if (cz_st_expect(f, t->name, t->dtype, t->ndim, t->shape, &e) != CZ_OK || e != t)
            abort();
        int64_t wrong[CZ_ST_MAX_DIMS];
        memcpy(wrong, t->shape, sizeof wrong);
        wrong[0] += 1;
        (void)cz_st_expect(f, t->name, t->dtype, t->ndim > 0 ? t->ndim : 1, wrong, &e);
        (void)cz_st_expect(f, t->name, t->dtype == CZ_ST_F32 ? CZ_ST_I64 : CZ_ST_F32, -1, NULL, &e);
        if (t->numel <= (1u << 22)) {
            void *buf = malloc(t->numel ? 8 * t->numel : 8);
            if (buf) {
                if (t->dtype == CZ_ST_F32)
                    (void)cz_st_copy_f32(t, buf);
                else
                    (void)cz_st_copy_i64(t, buf);
                /* the wrong-type copy must refuse, not write */
                if (t->dtype == CZ_ST_F32 ? cz_st_copy_i64(t, buf) == CZ_OK : cz_st_copy_f32(t, buf) == CZ_OK)
                    abort();
                free(buf);
            }
        }
    }
    (void)cz_st_find(f, "no such tensor");
    int m = cz_st_metadata_count(f);
    for (int i = 0; i < m; i++) {
        const char *k, *v;
        cz_st_metadata_at(f, i, &k, &v);
        if (!k || !v || cz_st_metadata(f, k) == NULL)
            abort();
    }
    (void)cz_st_metadata(f, "arch");
    cz_st_close(f);
    return 0;
}
