/* An exponential moving average of a model's weights (issue 11; the design
 * and its choices: docs/recipe.md).
 *
 * The EMA holds a copy of the parameter slab and of the BatchNorm buffer
 * slab, in the model's layout. After each optimiser step,
 *     d_t = min(decay, (1 + t) / (10 + t)),  t = updates done before this one
 *     ema += (1 - d_t) (w - ema)              (torch's ema.lerp_(w, 1 - d_t))
 * for every parameter and, with CZ_EMA_BN_AVERAGE, every running statistic.
 * With CZ_EMA_BN_REESTIMATE the running statistics are instead recomputed
 * for the averaged weights by cz_ema_reestimate_bn before the EMA is used. */
#ifndef CZ_EMA_H
#define CZ_EMA_H

#include <stddef.h>
#include <stdint.h>

#include "colorize/dataset.h"
#include "model.h"

/* Training batches averaged by a re-estimation of the BatchNorm statistics. */
#define CZ_EMA_REESTIMATE_BATCHES 20

typedef enum cz_ema_bn {
    CZ_EMA_BN_AVERAGE = 0,   /* average the running statistics like the weights */
    CZ_EMA_BN_REESTIMATE = 1 /* recompute them with forward passes over training images */
} cz_ema_bn;

typedef struct cz_ema {
    double decay;
    cz_ema_bn bn;
    size_t n_params, n_buffers; /* floats, as the model's slabs */
    float *params;              /* graph.param_floats */
    float *buffers;             /* graph.buffer_floats */
    long updates;
} cz_ema;

cz_status cz_ema_bn_parse(const char *text, cz_ema_bn *out);
const char *cz_ema_bn_name(cz_ema_bn b);

/* Start the average at the model's current weights and statistics. */
cz_status cz_ema_init(cz_ema *e, double decay, cz_ema_bn bn, const cz_model *m);
void cz_ema_free(cz_ema *e);
/* The decay used by the update after `updates` earlier ones. */
double cz_ema_decay_at(double decay, long updates);
/* One update from the model's weights (call after each optimiser step). */
void cz_ema_update(cz_ema *e, const cz_model *m);
/* *v becomes a model over the EMA's slabs: m's graph and backend, a net
 * cache of its own (nets bind the slabs they run on), no gradients. It must
 * not move once used; release it with cz_ema_view_release, never
 * cz_model_free (the graph is m's, the slabs are e's). */
void cz_ema_view_init(cz_model *v, const cz_ema *e, const cz_model *m);
void cz_ema_view_release(cz_model *v);

/* Recompute the EMA's BatchNorm running statistics as the average, over
 * `batches` training batches of `batch` images from ds[idx[0..count)]
 * (shuffled by seed, no augmentation), of the batch statistics the EMA
 * weights produce in training mode: what torch.optim.swa_utils.update_bn
 * does (momentum None). */
cz_status cz_ema_reestimate_bn(cz_ema *e, const cz_model *m, const cz_dataset *ds, const int *idx,
                               int count, int batch, int batches, uint64_t seed);

#endif
