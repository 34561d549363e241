/* Reference operators for global context (issue 11): the pieces of a
 * GlobalContext branch (global average pool -> linear -> ReLU -> broadcast
 * and concatenate at every position -> 1x1 CBR) with an auxiliary class
 * head, and squeeze-and-excitation gating. PyTorch semantics
 * (tools/context_modules.py is the twin); same conventions as ref_ops.h:
 * forwards overwrite, backwards ACCUMULATE (+=), NULL gradients are skipped,
 * sums in double. */
#ifndef CZ_REF_CONTEXT_H
#define CZ_REF_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

/* g[n,c] = mean over h, w of x[n,c,h,w]   (x.mean(dim=(2, 3))) */
void ref_global_avgpool_forward(float *g,       /* [n, c] */
                                const float *x, /* [n, c, h, w] */
                                int n, int c, int h, int w);
void ref_global_avgpool_backward(float *dx,       /* [n, c, h, w] += */
                                 const float *dg, /* [n, c] */
                                 int n, int c, int h, int w);

/* y[n,o] = bias[o] + sum_i x[n,i] weight[o,i]   (nn.Linear) */
void ref_linear_forward(float *y,            /* [n, out] */
                        const float *x,      /* [n, in] */
                        const float *weight, /* [out, in] */
                        const float *bias,   /* [out] or NULL */
                        int n, int in, int out);
void ref_linear_backward(float *dx,           /* [n, in] += , or NULL */
                         float *dweight,      /* [out, in] += , or NULL */
                         float *dbias,        /* [out] += , or NULL */
                         const float *dy,     /* [n, out] */
                         const float *x,      /* [n, in] */
                         const float *weight, /* [out, in] */
                         int n, int in, int out);

/* out = cat([x, v broadcast to every (h, w)], dim=1) */
void ref_concat_broadcast_forward(float *out,     /* [n, c + k, h, w] */
                                  const float *x, /* [n, c, h, w] */
                                  const float *v, /* [n, k] */
                                  int n, int c, int k, int h, int w);
void ref_concat_broadcast_backward(float *dx,        /* [n, c, h, w] += , or NULL */
                                   float *dv,        /* [n, k] += , or NULL */
                                   const float *dout, /* [n, c + k, h, w] */
                                   int n, int c, int k, int h, int w);

/* y[n,c,h,w] = x[n,c,h,w] * sigmoid(s[n,c])   (squeeze-and-excitation gate) */
void ref_channel_gate_forward(float *y,       /* [n, c, h, w] */
                              const float *x, /* [n, c, h, w] */
                              const float *s, /* [n, c] gate logits */
                              int n, int c, int h, int w);
void ref_channel_gate_backward(float *dx,       /* [n, c, h, w] += , or NULL */
                               float *ds,       /* [n, c] += , or NULL */
                               const float *dy, /* [n, c, h, w] */
                               const float *x,  /* [n, c, h, w] */
                               const float *s,  /* [n, c] */
                               int n, int c, int h, int w);

/* Auxiliary class loss: mean over the n images of CE(softmax(logits), label)
 * (nn.CrossEntropyLoss); backward adds scale * dL/dlogits. */
double ref_class_loss_forward(const float *logits,  /* [n, k] */
                              const uint8_t *label, /* [n], each < k */
                              int n, int k);
void ref_class_loss_backward(float *dlogits,        /* [n, k] += */
                             const float *logits,   /* [n, k] */
                             const uint8_t *label,  /* [n] */
                             int n, int k, float scale);

#endif
