/* The losses of SPEC §3 and their gradients. Tensors are NCHW; hw = H*W. */
#ifndef CZ_LOSS_H
#define CZ_LOSS_H

#include <stdint.h>

/* L = mean over n*hw pixels of (du^2 + dv^2).
 * out, uv: n x 2 x hw. grad (may be NULL): n x 2 x hw, dL/d out. */
double cz_loss_reg(const float *out, const float *uv, int n, int hw, float *grad);

/* L = mean over pixels of CE(softmax(U logits), binU) + CE(softmax(V logits), binV).
 * logits: n x 40 x hw (20 U bins, then 20 V bins); bins: n x 2 x hw.
 * grad (may be NULL): n x 40 x hw. */
double cz_loss_cls(const float *logits, const int32_t *bins, int n, int hw, float *grad);

#endif
