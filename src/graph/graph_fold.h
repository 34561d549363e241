/* BatchNorm folding for inference: a graph in which every convolution whose
 * output feeds only a BatchNorm absorbs it (scaled weights, a bias, the
 * BatchNorm's ReLU as the convolution's own), and the parameter transform
 * that goes with it. Inference BatchNorm is y = (x - mean) s + beta with
 * s = gamma / sqrt(var + eps), so conv-then-BN is one convolution with
 * weights W s and bias (b - mean) s + beta, per output channel. Training
 * never uses a folded graph: batch statistics cannot be folded. */
#ifndef CZ_GRAPH_FOLD_H
#define CZ_GRAPH_FOLD_H

#include "graph.h"

#define CZ_BN_EPS 1e-5f /* PyTorch's BatchNorm2d default (SPEC §5) */

typedef struct cz_fold_pair {
    int conv;                  /* op id in the folded graph */
    int weight, bias;          /* param ids of the folded conv (bias may be a new param) */
    int old_bias;              /* the conv's own bias in the source graph, or -1 */
    int gamma, beta, mean, var; /* the absorbed BatchNorm's params and buffers */
} cz_fold_pair;

typedef struct cz_folded {
    cz_graph graph; /* params: the source's, then one bias per bias-less folded conv */
    cz_fold_pair *pairs;
    int n_pairs;
} cz_folded;

/* Fold src into f (src is left unchanged; f owns copies of everything). */
cz_status cz_fold_graph(const cz_graph *src, cz_folded *f);
void cz_folded_free(cz_folded *f);
/* The folded graph's parameter slab (f->graph.param_floats floats) from the
 * source graph's parameter and buffer slabs. */
void cz_fold_params(const cz_folded *f, const cz_graph *src, const float *params, const float *buffers,
                    float *out);

#endif
