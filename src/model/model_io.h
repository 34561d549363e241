/* Model files: safetensors with the PyTorch state_dict names (SPEC §6). */
#ifndef CZ_MODEL_IO_H
#define CZ_MODEL_IO_H

#include "colorize/safetensors.h"
#include "model.h"

typedef struct cz_kv {
    const char *key, *value;
} cz_kv;

/* Add the model's tensors (parameters, running statistics and
 * num_batches_tracked) and the SPEC §6 metadata (arch, width, head, bins,
 * colorspace, side) to a writer; extra metadata pairs follow. */
cz_status cz_model_to_writer(const cz_model *m, long batches_tracked, cz_st_writer *w,
                             const cz_kv *meta, int n_meta);
/* Write a model file atomically. */
cz_status cz_model_save(const cz_model *m, long batches_tracked, const char *path,
                        const cz_kv *meta, int n_meta);
/* Build the model that an open file describes (metadata arch/width/head)
 * and load every tensor, checking names and shapes. */
cz_status cz_model_from_file(const cz_st_file *f, cz_model *m);
cz_status cz_model_load(const char *path, cz_model *m);
/* Load tensors of an open file into an existing model of the same shape. */
cz_status cz_model_read_tensors(const cz_st_file *f, cz_model *m);

#endif
