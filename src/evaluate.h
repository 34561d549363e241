/* Running a model over a list of dataset images: metrics, predictions. */
#ifndef CZ_EVALUATE_H
#define CZ_EVALUATE_H

#include "colorize/dataset.h"
#include "metrics.h"
#include "model.h"

/* Evaluate m on ds[idx[0..count)] in batches of `batch` (inference mode,
 * running statistics); fills *out. */
cz_status cz_evaluate(const cz_model *m, const cz_dataset *ds, const int *idx, int count, int batch,
                      cz_decode decode, cz_metrics *out);

/* Open a dataset from a path: a cifar-10-batches-bin directory (all six
 * files, MD5-verified when verify is set), a file of CIFAR records, or a
 * folder of PNG/JPEG pictures (resized to side). *pooled_cifar tells
 * whether it is the full 60,000-image pool the seeded split expects. */
cz_status cz_data_open(const char *path, int verify, int side, cz_dataset *ds, int *pooled_cifar);

#endif
