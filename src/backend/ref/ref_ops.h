/* Slow, obviously-correct reference operators (private to libcolorize).
 *
 * Every operator follows PyTorch's semantics (SPEC §5) on NCHW float tensors
 * and accumulates its sums in double. They exist to check the fast engine and
 * to be checked themselves, by finite differences (tests/test_ref_ops.c) and
 * against PyTorch on whole networks (tests/test_ref_vgg.c, test_ref_resnet.c).
 *
 * Conventions (llm.c style):
 *  - `*_forward` overwrites its outputs.
 *  - `*_backward` ACCUMULATES (+=) into every gradient buffer it is given, so
 *    the caller zeroes gradients once per step. A NULL gradient pointer means
 *    "not needed" and is skipped.
 *  - Shapes are given as explicit ints; every pointer carries its shape in a
 *    comment. Preconditions (positive sizes, non-aliasing buffers) are the
 *    caller's; these functions do not allocate and cannot fail. */
#ifndef CZ_REF_OPS_H
#define CZ_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

#define REF_BN_EPS 1e-5
#define REF_BN_MOMENTUM 0.1f
#define REF_BINS 20                   /* SPEC §3: 20 bins per chroma channel */
#define REF_CLS_CHANNELS (2 * REF_BINS) /* 20 U logits, then 20 V logits */

/* ---- 2-D convolution ---------------------------------------------------- */

/* Geometry of a convolution or transposed convolution (square stride and
 * padding, dilation 1, groups 1). For conv2d, weights are [cout,cin,kh,kw];
 * for conv_transpose2d they are [cin,cout,kh,kw] as in PyTorch. */
typedef struct ref_conv {
    int n, cin, h, w;   /* input  [n, cin, h, w] */
    int cout, kh, kw;   /* output channels, kernel size */
    int stride, pad;
} ref_conv;

/* Output height/width: conv2d  (h + 2 pad - kh) / stride + 1 (floor),
 *                      conv_transpose2d  (h - 1) stride - 2 pad + kh. */
int ref_conv2d_out_h(const ref_conv *g);
int ref_conv2d_out_w(const ref_conv *g);
int ref_conv_transpose2d_out_h(const ref_conv *g);
int ref_conv_transpose2d_out_w(const ref_conv *g);

/* out[n,co,oy,ox] = bias[co] + sum_{ci,ky,kx} in[n,ci,oy*s-p+ky,ox*s-p+kx] * weight[co,ci,ky,kx]
 * (taps outside the input read zero). */
void ref_conv2d_forward(float *out,          /* [n, cout, ho, wo] */
                        const float *in,     /* [n, cin, h, w] */
                        const float *weight, /* [cout, cin, kh, kw] */
                        const float *bias,   /* [cout] or NULL */
                        const ref_conv *g);
void ref_conv2d_backward(float *din,          /* [n, cin, h, w] += , or NULL */
                         float *dweight,      /* [cout, cin, kh, kw] += , or NULL */
                         float *dbias,        /* [cout] += , or NULL */
                         const float *dout,   /* [n, cout, ho, wo] */
                         const float *in,     /* [n, cin, h, w] */
                         const float *weight, /* [cout, cin, kh, kw] */
                         const ref_conv *g);

/* The adjoint of conv2d: every input pixel scatters in[n,ci,iy,ix] *
 * weight[ci,co,ky,kx] to out[n,co,iy*s-p+ky,ix*s-p+kx]; plus bias[co]. */
void ref_conv_transpose2d_forward(float *out,          /* [n, cout, ho, wo] */
                                  const float *in,     /* [n, cin, h, w] */
                                  const float *weight, /* [cin, cout, kh, kw] */
                                  const float *bias,   /* [cout] or NULL */
                                  const ref_conv *g);
void ref_conv_transpose2d_backward(float *din,          /* [n, cin, h, w] += , or NULL */
                                   float *dweight,      /* [cin, cout, kh, kw] += , or NULL */
                                   float *dbias,        /* [cout] += , or NULL */
                                   const float *dout,   /* [n, cout, ho, wo] */
                                   const float *in,     /* [n, cin, h, w] */
                                   const float *weight, /* [cin, cout, kh, kw] */
                                   const ref_conv *g);

/* ---- BatchNorm2d -------------------------------------------------------- */

/* Training mode: per channel, mean and BIASED variance over n*h*w values,
 * out = gamma * (x - mean) / sqrt(var + 1e-5) + beta. The batch statistics
 * are returned for the backward pass and for ref_batchnorm2d_update_running. */
void ref_batchnorm2d_forward_train(float *out,         /* [n, c, h, w] */
                                   float *mean,        /* [c] batch mean (out) */
                                   float *var,         /* [c] biased batch variance (out) */
                                   const float *in,    /* [n, c, h, w] */
                                   const float *gamma, /* [c] */
                                   const float *beta,  /* [c] */
                                   int n, int c, int h, int w);

/* running = (1 - momentum) running + momentum * stat, where the variance
 * term is the UNBIASED batch variance var * count / (count - 1), count =
 * n*h*w (PyTorch; count must be > 1, as PyTorch requires in training). */
void ref_batchnorm2d_update_running(float *running_mean,     /* [c] updated */
                                    float *running_var,      /* [c] updated */
                                    const float *mean,       /* [c] batch mean */
                                    const float *var,        /* [c] biased batch variance */
                                    int c, long count, float momentum);

/* Inference mode: normalise with the running statistics. */
void ref_batchnorm2d_forward_eval(float *out,                /* [n, c, h, w] */
                                  const float *in,           /* [n, c, h, w] */
                                  const float *gamma,        /* [c] */
                                  const float *beta,         /* [c] */
                                  const float *running_mean, /* [c] */
                                  const float *running_var,  /* [c] */
                                  int n, int c, int h, int w);

/* Backward of training mode (the batch statistics depend on the input). */
void ref_batchnorm2d_backward(float *din,         /* [n, c, h, w] += , or NULL */
                              float *dgamma,      /* [c] += , or NULL */
                              float *dbeta,       /* [c] += , or NULL */
                              const float *dout,  /* [n, c, h, w] */
                              const float *in,    /* [n, c, h, w] */
                              const float *gamma, /* [c] */
                              const float *mean,  /* [c] from forward_train */
                              const float *var,   /* [c] from forward_train */
                              int n, int c, int h, int w);

/* ---- Pointwise and shape operators ------------------------------------- */

void ref_relu_forward(float *out, const float *in, size_t count); /* [count] each */
/* din += dout where out > 0 (PyTorch's rule, which reads the output). */
void ref_relu_backward(float *din,        /* [count] += */
                       const float *dout, /* [count] */
                       const float *out,  /* [count] forward output */
                       size_t count);

/* MaxPool2d(2): window 2x2, stride 2, output [n,c,h/2,w/2] (floor). Ties go to
 * the first maximum in row-major window order, as PyTorch's CPU kernel does.
 * argmax holds the winner's index y*w+x inside its input plane. */
void ref_maxpool2x2_forward(float *out,      /* [n, c, h/2, w/2] */
                            int32_t *argmax, /* [n, c, h/2, w/2] */
                            const float *in, /* [n, c, h, w] */
                            int n, int c, int h, int w);
void ref_maxpool2x2_backward(float *din,            /* [n, c, h, w] += */
                             const float *dout,     /* [n, c, h/2, w/2] */
                             const int32_t *argmax, /* [n, c, h/2, w/2] */
                             int n, int c, int h, int w);

/* torch.cat([a, b], dim=1) */
void ref_concat_forward(float *out,     /* [n, ca + cb, h, w] */
                        const float *a, /* [n, ca, h, w] */
                        const float *b, /* [n, cb, h, w] */
                        int n, int ca, int cb, int h, int w);
void ref_concat_backward(float *da,        /* [n, ca, h, w] += , or NULL */
                         float *db,        /* [n, cb, h, w] += , or NULL */
                         const float *dout, /* [n, ca + cb, h, w] */
                         int n, int ca, int cb, int h, int w);

/* out = a + b elementwise; backward adds dout to both gradients. */
void ref_add_forward(float *out, const float *a, const float *b, size_t count);
void ref_add_backward(float *da, float *db, /* [count] += , or NULL */
                      const float *dout, size_t count);

/* ---- Losses (SPEC §3) --------------------------------------------------- */

/* L = mean over n*h*w pixels of (u_p - u)^2 + (v_p - v)^2. */
double ref_loss_reg_forward(const float *pred,   /* [n, 2, h, w] */
                            const float *target, /* [n, 2, h, w] (U, V) */
                            int n, int h, int w);
/* dpred += dloss * dL/dpred = dloss * 2 (pred - target) / (n h w). */
void ref_loss_reg_backward(float *dpred,        /* [n, 2, h, w] += */
                           const float *pred,   /* [n, 2, h, w] */
                           const float *target, /* [n, 2, h, w] */
                           int n, int h, int w, double dloss);

/* L = mean over n*h*w pixels of CE(softmax(logits[0:20]), bin_u) +
 * CE(softmax(logits[20:40]), bin_v), with a max-shifted log-sum-exp.
 * bins must lie in [0, 20). */
double ref_loss_cls_forward(const float *logits, /* [n, 40, h, w] */
                            const int32_t *bins, /* [n, 2, h, w] (bin U, bin V) */
                            int n, int h, int w);
/* dlogits += dloss * (softmax - onehot(bin)) / (n h w). */
void ref_loss_cls_backward(float *dlogits,       /* [n, 40, h, w] += */
                           const float *logits,  /* [n, 40, h, w] */
                           const int32_t *bins,  /* [n, 2, h, w] */
                           int n, int h, int w, double dloss);

/* ---- Optimiser ---------------------------------------------------------- */

/* One step of torch.optim.Adam (no weight decay, no amsgrad), step t >= 1:
 * m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
void ref_adam_update(float *param,      /* [count] updated */
                     const float *grad, /* [count] */
                     float *m,          /* [count] first moment, starts at 0 */
                     float *v,          /* [count] second moment, starts at 0 */
                     size_t count, float lr, float beta1, float beta2,
                     float eps, int t);

#endif
