/* The two heads of SPEC §3: their losses with gradients, and how their
 * outputs become chroma. The one place where the head decides anything.
 * Tensors are NCHW; hw = H*W. */
#ifndef CZ_HEADS_H
#define CZ_HEADS_H

#include <stdint.h>

#include "colorize/colorspace.h"
#include "colorize/dataset.h"
#include "loss_recipe.h"

typedef enum cz_head { CZ_HEAD_REG = 0, CZ_HEAD_CLS = 1 } cz_head;

const char *cz_head_name(cz_head h);
cz_status cz_head_parse(const char *text, cz_head *out);
/* Output channels: 2 (U, V) for reg, 40 (20 U logits, then 20 V) for cls. */
int cz_head_channels(cz_head h);

/* The head's loss of out (b->n x C x hw) against the batch's truth: mean
 * over pixels of (du^2 + dv^2) for reg, of CE(U) + CE(V) for cls.
 * grad (may be NULL): dL/d out, same shape as out. recipe (may be NULL):
 * for cls, the soft-target / hybrid loss of loss_recipe.h instead of CE. */
double cz_head_loss(cz_head h, const cz_cls_loss *recipe, const float *out, const cz_batch *b,
                    float *grad);

/* The auxiliary class loss of the global-context branch (issue 11;
 * docs/context.md): the mean over the n images of CE(softmax(logits),
 * label) (nn.CrossEntropyLoss), k classes. grad (n x k) is overwritten with
 * weight x dCE/dlogits. Returns the unweighted CE; NAN with grad zeroed
 * when weight is 0 or some image has no label (a label >= k: datasets
 * without labels train without the loss). */
double cz_aux_class_loss(const float *logits, const uint8_t *labels, int n, int k, double weight,
                         float *grad);

/* Network outputs (n x C x hw) as chroma (n x 2 x hw): reg copies, cls
 * applies the decoding rule. */
void cz_head_decode(cz_head h, const float *out, int n, int hw, cz_decode d, float *uv);

#endif
