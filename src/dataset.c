/* cz_dataset lifetime (loaders are in cifar.c / dataset_folder.c). */
#include <stdlib.h>
#include <string.h>

#include "colorize/dataset.h"

void cz_dataset_free(cz_dataset *ds)
{
    if (!ds)
        return;
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}
