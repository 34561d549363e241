/* The backend seam: a compute backend turns a cz_graph into a net, built
 * once for a batch size and an input size, that runs forward and backward.
 *
 * A backend is a small table of functions (ggml's ggml_backend_i) behind
 * the opaque cz_net handle. Two implementations:
 *   dnnl  oneDNN primitives (backend_dnnl*.c, the only files that call oneDNN)
 *   ref   the slow reference operators of ref_ops.c on NCHW tensors
 *         (backend_ref.c), for checking the fast one and for debugging.
 *
 * Parameters, their gradients and the BatchNorm buffers live in slabs owned
 * by the caller, laid out as the graph's param/buffer tables say. */
#ifndef CZ_BACKEND_H
#define CZ_BACKEND_H

#include <stdio.h>

#include "graph.h"

/* Time per kind of work, in seconds, summed over calls while profiling. */
typedef enum cz_prof_kind {
    CZ_PROF_CONV_FWD,
    CZ_PROF_CONV_BWD_DATA,
    CZ_PROF_CONV_BWD_WEIGHTS,
    CZ_PROF_BN,
    CZ_PROF_POOL,
    CZ_PROF_REORDER,
    CZ_PROF_ELTWISE,
    CZ_PROF_CONTEXT, /* global pool, fully connected, broadcast, SE gate */
    CZ_PROF_COUNT
} cz_prof_kind;
extern const char *const cz_prof_names[CZ_PROF_COUNT];

/* Choices a backend may offer for experiments; zero is the production
 * setting. The ref backend ignores them. */
typedef struct cz_backend_options {
    int any_layout;    /* dnnl: let oneDNN choose activation layouts (default blocked) */
    int channel_block; /* dnnl: activations blocked by 8 (nChw8c) or 16 (nChw16c)
                          channels; 0: 16 with AVX-512 unless padding the
                          channels to 16 costs over 1.7x the FLOPs, else 8 */
    int no_alt_src;   /* dnnl: keep a reference backward-weights kernel instead of
                         reordering its source into a layout a fast kernel takes */
    int deconv_direct; /* dnnl: run 2x2 stride-2 transposed convolutions' forward
                          with oneDNN's deconvolution (slow in 2.6) instead of a
                          1x1 convolution and a spread over the doubled map */
    int bf16;         /* dnnl: convolutions read bf16 copies of their inputs,
                         weights and output gradients and write fp32 (outputs,
                         gradients, accumulation); everything else stays fp32.
                         Refused where the CPU has no bf16 instructions. */
} cz_backend_options;

/* 1 if the dnnl backend can run bf16 convolutions on this CPU (AVX512_BF16
 * or AMX, as oneDNN sees it: DNNL_MAX_CPU_ISA can lower it). */
int cz_backend_bf16_available(void);

/* What a net is built for. training: BatchNorm uses batch statistics and
 * updates the running ones, and backward is available (grads non-NULL).
 * Otherwise inference with running statistics. */
typedef struct cz_net_config {
    const cz_graph *graph; /* must outlive the net */
    int batch;
    int training;
    float *params, *grads, *buffers;
    cz_backend_options options;
} cz_net_config;

typedef struct cz_backend_i {
    const char *name;
    cz_status (*create)(const cz_net_config *cfg, void **impl);
    /* input: batch x C x H x W (NCHW float) of the graph input;
     * output: the same for the graph output. */
    cz_status (*forward)(void *impl, const float *input, float *output);
    /* d_output: NCHW gradient of the loss w.r.t. the output of the last
     * forward. Overwrites the gradient slab with d loss / d params (the
     * equivalent of zero_grad() then backward()). */
    cz_status (*backward)(void *impl, const float *d_output);
    /* One line per step: "PASS LAYER KIND IMPL TIME", IMPL the kernel that
     * runs it (oneDNN's implementation name, "ref" for the ref backend). */
    void (*describe)(const void *impl, FILE *fp);
    size_t (*memory)(const void *impl); /* activation and scratch bytes */
    void (*profile)(void *impl, int enable);
    const double *(*profile_times)(const void *impl); /* [CZ_PROF_COUNT] */
    /* ref only (NULL elsewhere): how close the last forward came to a kink,
     * the smallest |ReLU input| or gap between a max-pool window's top two
     * values (windows whose top is 0 excluded). Closer than float rounding,
     * two correct backends may route a gradient differently. */
    double (*kink_margin)(const void *impl);
    /* Graphs with an auxiliary output (cz_graph.aux >= 0; NULL otherwise):
     * its batch x C values after the last forward, and the batch x C buffer
     * the next backward reads d loss / d aux from (training nets; the
     * caller fills it after each forward, zeros when there is no aux loss). */
    const float *(*aux_output)(const void *impl);
    float *(*aux_grad)(void *impl);
    void (*free)(void *impl);
} cz_backend_i;

extern const cz_backend_i cz_backend_dnnl;
extern const cz_backend_i cz_backend_ref;

/* The backend called name ("dnnl", "ref"), or NULL with a recorded error. */
const cz_backend_i *cz_backend_find(const char *name);

typedef struct cz_net cz_net;

cz_status cz_net_create(const cz_backend_i *be, const cz_net_config *cfg, cz_net **out);
void cz_net_free(cz_net *net);
cz_status cz_net_forward(cz_net *net, const float *input, float *output);
cz_status cz_net_backward(cz_net *net, const float *d_output);
size_t cz_net_memory(const cz_net *net);
void cz_net_profile(cz_net *net, int enable);
const double *cz_net_profile_times(const cz_net *net);
void cz_net_describe(const cz_net *net, FILE *fp);
const char *cz_net_backend_name(const cz_net *net);
double cz_net_kink_margin(const cz_net *net); /* -1 where the backend does not tell */
/* cz_backend_i.aux_output / aux_grad; NULL for graphs without aux (and
 * aux_grad NULL for inference nets). */
const float *cz_net_aux_output(const cz_net *net);
float *cz_net_aux_grad(cz_net *net);

#endif
