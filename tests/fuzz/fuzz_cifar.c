/* libFuzzer: a file of CIFAR records (cz_cifar_load_file, through a memfd so
 * nothing touches the disk), then one epoch of the batch loader over it with
 * options taken from the first record's bytes. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "colorize/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (size_t)64 * 3073)
        return 0; /* 64 records are plenty; keeps an input fast */
    int fd = memfd_create("fuzz-cifar", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    cz_dataset ds;
    if (cz_cifar_load_file(path, &ds) == CZ_OK) {
        cz_loader_opts o = {.batch = 1 + data[1] % 8, .flip = data[2] & 1, .crop = data[2] >> 1 & 1,
                            .shuffle = data[2] >> 2 & 1, .drop_last = data[2] >> 3 & 1, .seed = data[3]};
        int idx[64];
        for (int i = 0; i < ds.count; i++)
            idx[i] = (i * 7 + data[4]) % ds.count; /* repeats allowed */
        cz_loader *ld = cz_loader_create(&ds, idx, ds.count, &o);
        if (ld) {
            if (cz_loader_start(ld, data[5] % 3, 0) == CZ_OK)
                for (const cz_batch *b; (b = cz_loader_next(ld));)
                    for (int i = 0; i < b->n * 2 * b->side * b->side; i++)
                        if (b->bins[i] < 0 || b->bins[i] >= 20)
                            abort();
            cz_loader_free(ld);
        }
        cz_dataset_free(&ds);
    }
    close(fd);
    return 0;
}
