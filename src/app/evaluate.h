/* Running a model over a list of dataset images: metrics, predictions. */
#ifndef CZ_EVALUATE_H
#define CZ_EVALUATE_H

#include "colorize/dataset.h"
#include "metrics.h"
#include "model.h"

/* Load a model file (cz_model_load) onto the named backend (NULL: dnnl) at
 * a precision (NULL: fp32; cz_model_set_precision). */
cz_status cz_evaluate_load(const char *path, const char *backend, const char *precision, cz_model *m);
/* What a loaded model is, for a report: "resnet/cls, width 16". */
void cz_evaluate_describe(const cz_model *m, char *buf, size_t size);
/* Free what cz_evaluate_load loaded. */
void cz_evaluate_unload(cz_model *m);
/* Evaluate m on ds[idx[0..count)] in batches of `batch` (inference mode,
 * running statistics, the model's cached net for that batch); fills *out. */
cz_status cz_evaluate(cz_model *m, const cz_dataset *ds, const int *idx, int count, int batch,
                      cz_decode decode, cz_metrics *out);

#endif
