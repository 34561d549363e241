/* libFuzzer: a folder of pictures (cz_folder_load). The input is split at
 * each "\n--\n" into up to four files, named a.png, b.jpg, c.png, d.jpeg,
 * written to a private temporary folder; the first byte picks the side. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colorize/dataset.h"

static char dir[] = "/tmp/cz_fuzz_folder_XXXXXX";
static const char *const names[4] = {"a.png", "b.jpg", "c.png", "d.jpeg"};

static void put(int k, const uint8_t *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, names[k]);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return;
    if (n)
        fwrite(p, 1, n, fp);
    fclose(fp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (!mkdtemp(dir))
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    int side = 8 + data[0] % 25;
    const uint8_t *p = data + 1, *end = data + size;
    int k = 0;
    while (k < 4) {
        const uint8_t *sep = memmem(p, (size_t)(end - p), "\n--\n", 4);
        const uint8_t *stop = sep ? sep : end;
        put(k++, p, (size_t)(stop - p));
        if (!sep)
            break;
        p = sep + 4;
    }
    cz_dataset ds;
    if (cz_folder_load(dir, side, &ds, NULL) == CZ_OK) {
        if (ds.count < 1 || ds.count > 4 || ds.side != side)
            abort();
        cz_dataset_free(&ds);
    }
    for (int i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    return 0;
}
