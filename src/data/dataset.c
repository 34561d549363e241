/* cz_dataset lifetime and opening by path (the loaders are in cifar.c and
 * dataset_folder.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "colorize/dataset.h"
#include "util.h"

void cz_dataset_free(cz_dataset *ds)
{
    if (!ds)
        return;
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

cz_status cz_data_open(const char *path, int verify, int side, cz_dataset *ds, int *pooled_cifar)
{
    struct stat sb;
    *pooled_cifar = 0;
    memset(ds, 0, sizeof *ds);
    if (stat(path, &sb) != 0)
        return cz_fail(CZ_ERR_IO, "%s: no such dataset (run `colorize data fetch` or pass --data DIR)",
                       path);
    if (S_ISREG(sb.st_mode))
        return cz_cifar_load_file(path, ds);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/data_batch_1.bin", path);
    if (cz_file_exists(probe)) {
        if (verify) {
            cz_status st = cz_cifar_verify(path, NULL);
            if (st)
                return st; /* its message names the file and the fetch command */
        }
        *pooled_cifar = 1;
        return cz_cifar_load(path, ds);
    }
    snprintf(probe, sizeof probe, "%s/test_batch.bin", path);
    if (cz_file_exists(probe))
        return cz_fail(CZ_ERR_IO, "%s: data_batch_1.bin is missing (run `colorize data fetch`)", path);
    return cz_folder_load(path, side, ds, stderr);
}
