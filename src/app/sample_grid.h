/* A picture of results: grey input | prediction | ground truth. */
#ifndef CZ_SAMPLE_GRID_H
#define CZ_SAMPLE_GRID_H

#include "colorize/colorspace.h"
#include "colorize/dataset.h"
#include "model.h"

/* Colourise ds[idx[0..count)] and write a PNG grid of triplets (grey,
 * prediction, truth), each image scaled up `zoom` times, 4 triplets a row. */
cz_status cz_write_sample_grid(const char *path, cz_model *m, const cz_dataset *ds,
                               const int *idx, int count, cz_decode d, int zoom);

#endif
