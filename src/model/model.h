/* A network with its slabs and the verbs applications use (llm.c's
 * gpt2_forward / gpt2_backward / gpt2_update): train with cz_model_forward,
 * cz_model_backward and cz_model_step, run with cz_model_predict. No
 * application touches a backend, a loss or the optimiser loop itself.
 *
 * The model owns a cache of built nets keyed by (batch, height, width,
 * training): a validation pass or a picture size builds its net once. A
 * model must not be moved in memory once a net is built (nets point at its
 * graph). Gradients exist only once a training net is built, optimiser
 * moments only after cz_model_optim_init: running a model allocates neither. */
#ifndef CZ_MODEL_H
#define CZ_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "graph.h"
#include "graph_fold.h"
#include "heads.h"
#include "models.h"
#include "optim.h"

#define CZ_MODEL_NETS 8 /* cached nets; the least recently used one goes first */

typedef struct cz_model_net {
    int batch, h, w, training;
    cz_graph *graph; /* owned when h x w is not side x side, else NULL (the model's) */
    cz_net *net;
    cz_folded *folded; /* inference: the BatchNorm-folded graph the net runs */
    float *fparams;    /* ... and its parameters, refolded before each forward */
    float *out, *dout; /* batch x C x h x w output and (training) its loss gradient */
    float *flip_in, *flip_out; /* flip averaging: the mirrored input and output, made on first use */
    unsigned long last_use;
} cz_model_net;

typedef struct cz_model {
    cz_arch arch;
    cz_head head;
    int width, side, out_channels;
    cz_graph graph;
    float *params;  /* graph.param_floats */
    float *grads;   /* same layout; NULL until a training net is built */
    float *buffers; /* graph.buffer_floats: BatchNorm running statistics */
    cz_optim opt;   /* moments in the params layout, after cz_model_optim_init */
    const cz_cls_loss *cls_loss; /* cls head: the recipe's loss (NULL: SPEC §3's CE) */
    double aux_weight; /* weight of the auxiliary class loss (graphs with aux; 0 = off) */
    double aux_ce;     /* its unweighted CE at the last training forward, NAN if not computed */
    int flip_average; /* predict: mean of the raw outputs of y and of its mirror image */
    int no_fold;      /* inference nets run BatchNorm unfolded (to check the folding) */
    const cz_backend_i *backend;
    cz_backend_options backend_options;
    cz_model_net nets[CZ_MODEL_NETS];
    cz_model_net *trained; /* the net of the last training forward */
    unsigned long clock;
} cz_model;

/* Build the graph and zeroed parameter and buffer slabs (to be loaded). */
cz_status cz_model_create(cz_model *m, cz_arch arch, cz_head head, int width, int side);
/* The same, initialised as PyTorch initialises the layers
 * (kaiming-uniform(a=sqrt(5)) weights, uniform biases, BN 1/0, running 0/1),
 * drawn from a splitmix64 stream seeded with seed. */
cz_status cz_model_init(cz_model *m, cz_arch arch, cz_head head, int width, int side, uint64_t seed);
void cz_model_free(cz_model *m);

/* Run on another backend ("dnnl", the default, or "ref"); drops built nets. */
cz_status cz_model_set_backend(cz_model *m, const char *name);
/* "fp32" (NULL) or "bf16" (dnnl only, on a CPU with bf16 instructions:
 * convolutions read bf16 copies; weights, optimiser and accumulation fp32). */
cz_status cz_model_set_precision(cz_model *m, const char *name);
/* The precision name as a flag (1: bf16), refused where the CPU cannot run it. */
cz_status cz_precision_parse(const char *name, int *bf16);
void cz_model_drop_nets(cz_model *m);
cz_status cz_model_optim_init(cz_model *m, const cz_optim_config *cfg);

/* Training forward on b (n images of side x side): batch statistics, running
 * statistics updated; *loss the head's loss against b's truth, plus
 * aux_weight x the auxiliary class loss (m->aux_ce) where the graph has an
 * aux output and every image of b a label. *out (may be
 * NULL) receives the output, valid until the next call. */
cz_status cz_model_forward(cz_model *m, const cz_batch *b, double *loss, const float **out);
/* Gradients of the last forward's loss into m->grads (overwritten). */
cz_status cz_model_backward(cz_model *m);
/* One optimiser update at learning rate lr. */
cz_status cz_model_step(cz_model *m, double lr);

/* Inference on y (n x 1 x h x w, h and w multiples of 8) with the running
 * statistics: chroma into uv (n x 2 x h x w; may be NULL) decoded with d.
 * *out (may be NULL) receives the raw output, valid until the next call.
 * With m->flip_average the raw output is the mean of the net's outputs on y
 * and (mirrored back) on y mirrored left to right: test-time augmentation
 * with the flip the training used, at twice the cost. */
cz_status cz_model_predict(cz_model *m, const float *y, int n, int h, int w, cz_decode d, float *uv,
                           const float **out);

/* Activation memory of the built nets; profiling of the training net;
 * one line per step of every built net (cz_backend_i.describe). */
size_t cz_model_memory(const cz_model *m);
void cz_model_profile(cz_model *m, int enable);
const double *cz_model_profile_times(const cz_model *m);
void cz_model_describe(const cz_model *m, FILE *fp);

#endif
