/* Recipe losses for the classification head (issue 11): soft "HL-Gauss"
 * targets and the hybrid loss CE + lambda x squared error of the decoded
 * expectation. Tensors are NCHW; hw = H*W; logits n x 40 x hw (20 U bins,
 * then 20 V bins), as in loss.h. Definitions: docs/recipe.md. */
#ifndef CZ_LOSS_RECIPE_H
#define CZ_LOSS_RECIPE_H

#include <stdint.h>

#include "colorize/error.h"

typedef enum cz_cls_target {
    CZ_CLS_TARGET_ONEHOT = 0, /* the true bin (SPEC §3) */
    CZ_CLS_TARGET_HLGAUSS = 1 /* a Gaussian around the true value, integrated over each bin */
} cz_cls_target;

#define CZ_HLGAUSS_DEFAULT_SIGMA 0.75 /* in bins */

struct cz_hlgauss_table;

typedef struct cz_cls_loss {
    cz_cls_target target;
    double sigma;      /* HL-Gauss standard deviation in bin widths */
    double mse_weight; /* lambda of the hybrid term; 0 = cross-entropy alone */
    /* Optional: the HL-Gauss table for sigma, made once by whoever owns this
     * loss (a training) and outliving it; NULL: each call makes its own. */
    const struct cz_hlgauss_table *table;
} cz_cls_loss;

/* The loss's two terms, each a mean over pixels summed over U and V. */
typedef struct cz_cls_loss_parts {
    double ce;  /* cross-entropy against the target */
    double mse; /* squared error of the mean-decoded chroma (also when lambda = 0) */
} cz_cls_loss_parts;

/* onehot, hlgauss (sigma 0.75) or hlgauss:SIGMA (0 < SIGMA <= 20); keeps
 * out->mse_weight. */
cz_status cz_cls_target_parse(const char *text, cz_cls_loss *out);
/* "onehot" or "hlgauss:0.75" */
void cz_cls_target_format(const cz_cls_loss *l, char *buf, int size);

/* HL-Gauss target of one chroma value x over the 20 bins of [-max, max]
 * (edge_k = -max + k 2max/20): target[k] = (Phi((edge_k+1 - x)/s) -
 * Phi((edge_k - x)/s)) / (Phi((max - x)/s) - Phi((-max - x)/s)),
 * s = sigma_bins x (2 max / 20). Sums to 1. */
void cz_hlgauss_target(float x, float max, double sigma_bins, double target[20]);

/* The same targets from a table made once per sigma: the Gaussian's tails
 * at the edges around the true bin, at 4097 positions of the value within
 * its bin, linearly interpolated: off by at most about 1/(16 x 4096^2 x
 * sigma^2), 6e-9 at sigma 0.75 (tests/test_recipe.c). Values outside
 * [-max, max] fall back to cz_hlgauss_target. */
typedef struct cz_hlgauss_table {
    double sigma;
    int reach;    /* edges b - reach .. b + 1 + reach around bin b are tabulated */
    double *tail; /* [4097][2 reach + 2]: Phi below x, 1 - Phi above */
} cz_hlgauss_table;

cz_status cz_hlgauss_table_init(cz_hlgauss_table *t, double sigma_bins);
void cz_hlgauss_table_free(cz_hlgauss_table *t);
/* For an owner that keeps the loss (a training, the bench): makes t when l
 * has HL-Gauss targets and points l->table at it; t is zeroed otherwise.
 * Free t with cz_hlgauss_table_free after the last call of the loss. */
cz_status cz_cls_loss_prepare(cz_cls_loss *l, cz_hlgauss_table *t);
void cz_hlgauss_table_target(const cz_hlgauss_table *t, float x, float max, double target[20]);

/* L = mean over pixels, summed over U and V, of
 *     CE(softmax(logits), target) + lambda (E - x)^2,   E = sum_k softmax_k centre_k
 * with the target one-hot at bins (SPEC §3) or HL-Gauss around uv (bins
 * unused). bins: n x 2 x hw; uv: n x 2 x hw, the true U, V (always read:
 * the squared error is reported in parts also when lambda = 0).
 * grad (may be NULL): n x 40 x hw, dL/dlogits
 *     = (softmax_j - target_j + 2 lambda (E - x) softmax_j (centre_j - E)) / (n hw).
 * parts (may be NULL) receives the two terms. With the one-hot target and
 * lambda 0 this equals cz_loss_cls. */
double cz_loss_cls_recipe(const float *logits, const int32_t *bins, const float *uv, int n, int hw,
                          const cz_cls_loss *cfg, float *grad, cz_cls_loss_parts *parts);

#endif
