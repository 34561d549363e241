/* The compute backend: runs a cz_graph forward and backward for a fixed
 * batch size. The only implementation is oneDNN (backend_dnnl.c); every
 * oneDNN call stays behind this interface so that another backend (cuDNN)
 * can sit beside it.
 *
 * Parameters, their gradients and the BatchNorm buffers live in slabs owned
 * by the caller, laid out as the graph's param/buffer tables say. */
#ifndef CZ_BACKEND_H
#define CZ_BACKEND_H

#include <stdio.h>

#include "graph.h"

typedef struct cz_net cz_net;

/* Time per kind of work, in seconds, summed over calls while profiling. */
typedef enum cz_prof_kind {
    CZ_PROF_CONV_FWD,
    CZ_PROF_CONV_BWD_DATA,
    CZ_PROF_CONV_BWD_WEIGHTS,
    CZ_PROF_BN,
    CZ_PROF_POOL,
    CZ_PROF_REORDER,
    CZ_PROF_ELTWISE,
    CZ_PROF_COUNT
} cz_prof_kind;
extern const char *const cz_prof_names[CZ_PROF_COUNT];

/* training: BatchNorm uses batch statistics and updates the running ones,
 * and backward is available (grads must be non-NULL). Otherwise inference
 * with running statistics. */
cz_status cz_net_create(const cz_graph *g, int batch, int training, float *params, float *grads,
                        float *buffers, cz_net **out);
void cz_net_free(cz_net *net);

/* input: batch x C x H x W (NCHW float) of the graph input;
 * output: batch x C x H x W (NCHW) of the graph output. */
cz_status cz_net_forward(cz_net *net, const float *input, float *output);
/* d_output: NCHW gradient of the loss w.r.t. the output of the last
 * forward. Overwrites the gradient slab with d loss / d params (the
 * equivalent of zero_grad() then backward()). */
cz_status cz_net_backward(cz_net *net, const float *d_output);

/* Bytes of activation and scratch memory the net holds. */
size_t cz_net_memory(const cz_net *net);
void cz_net_profile(cz_net *net, int enable);
const double *cz_net_profile_times(const cz_net *net);
/* One line per primitive: the oneDNN implementation chosen (for checking no
 * slow reference path is used). */
void cz_net_describe(const cz_net *net, FILE *fp);

/* Number of threads the backend uses (OpenMP). */
void cz_backend_set_threads(int n);
int cz_backend_threads(void);

#endif
