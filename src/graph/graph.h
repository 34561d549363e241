/* A network as a backend-independent graph: tensors (shapes), operations in
 * execution order, and the named parameters they use.
 *
 * Parameter names and shapes are exactly those of the PyTorch state_dict of
 * ../shared/reference/models.py. Trainable parameters live in one slab (the
 * gradient and optimiser slabs mirror its layout); BatchNorm running
 * statistics live in a second "buffers" slab. */
#ifndef CZ_GRAPH_H
#define CZ_GRAPH_H

#include <stddef.h>

#include "colorize/error.h"

#define CZ_NAME_MAX 64
#define CZ_OP_MAX_IN 2

typedef enum cz_op_kind {
    CZ_OP_CONV,    /* conv (optionally over the channel concatenation of 2 inputs) */
    CZ_OP_DECONV,  /* transposed convolution */
    CZ_OP_BN,      /* BatchNorm2d, optionally followed by ReLU (fused) */
    CZ_OP_POOL,    /* MaxPool2d(2) */
    CZ_OP_ADD,     /* residual addition, optionally followed by ReLU */
    /* Global context (issue 11; docs/context.md). A pooled vector is a
     * [C, 1, 1] tensor. */
    CZ_OP_GAP,       /* global average pool [C, H, W] -> [C, 1, 1] (x.mean((2, 3))) */
    CZ_OP_FC,        /* nn.Linear [C, 1, 1] -> [D, 1, 1] with bias, optionally ReLU */
    CZ_OP_BROADCAST, /* [K, 1, 1] repeated at every position of an H x W map */
    CZ_OP_GATE       /* in[0] [C, H, W] x sigmoid(in[1] [C, 1, 1]) per channel (SE) */
} cz_op_kind;

typedef struct cz_param_info {
    char name[CZ_NAME_MAX + 32];
    int ndim;
    int shape[4];
    size_t offset; /* in floats, into the params or buffers slab */
    size_t count;
} cz_param_info;

typedef struct cz_tensor_info {
    int c, h, w; /* per image; the batch size is chosen when a net is built */
} cz_tensor_info;

typedef struct cz_op {
    cz_op_kind kind;
    char name[CZ_NAME_MAX];
    int in[CZ_OP_MAX_IN]; /* tensor ids */
    int n_in;
    int out;              /* tensor id */
    /* CONV / DECONV (and FC: weight [out, in], bias [out]) */
    int kernel, stride, pad;
    int weight, bias;     /* param ids, bias -1 when absent */
    /* BN: gamma/beta are params, mean/var are buffers; relu also for ADD and FC */
    int gamma, beta, mean, var;
    int relu;
} cz_op;

typedef struct cz_graph {
    cz_tensor_info *tensors;
    int n_tensors, cap_tensors;
    cz_op *ops;
    int n_ops, cap_ops;
    cz_param_info *params;
    int n_params, cap_params;
    size_t param_floats;
    cz_param_info *buffers;
    int n_buffers, cap_buffers;
    size_t buffer_floats;
    int input, output;
    int aux;    /* a second output trained by an auxiliary loss (the GC class
                   logits, [10, 1, 1]), or -1 */
    int failed; /* a builder call failed; the reason is in cz_last_error() */
} cz_graph;

/* Builder: each call appends and returns the new output tensor id (or -1 and
 * sets g->failed). Shape errors name the layer. */
void cz_graph_init(cz_graph *g);
void cz_graph_free(cz_graph *g);
int cz_graph_input(cz_graph *g, int c, int h, int w);
/* Conv over the channel concatenation of in[0..n_in-1] (n_in 1 or 2). */
int cz_graph_conv(cz_graph *g, const char *name, const int *in, int n_in, int cout,
                  int kernel, int stride, int pad, int bias);
int cz_graph_deconv(cz_graph *g, const char *name, int in, int cout, int kernel, int stride);
int cz_graph_bn(cz_graph *g, const char *name, int in, int relu);
int cz_graph_pool(cz_graph *g, const char *name, int in);
int cz_graph_add(cz_graph *g, const char *name, int a, int b, int relu);
/* Global context ops (see cz_op_kind). FC registers NAME.weight [out, in]
 * and NAME.bias [out] (nn.Linear's state_dict); its input must be 1 x 1. */
int cz_graph_gap(cz_graph *g, const char *name, int in);
int cz_graph_fc(cz_graph *g, const char *name, int in, int out, int relu);
int cz_graph_broadcast(cz_graph *g, const char *name, int in, int h, int w);
int cz_graph_gate(cz_graph *g, const char *name, int x, int s);
/* Whether op ends with a fused ReLU (BN, ADD, FC with relu set; CONV in
 * folded inference graphs, graph_fold.h). */
int cz_op_has_relu(const cz_op *op);

/* CBR = conv3x3 (no bias) as NAME.0 + BN(+ReLU) as NAME.1 (PyTorch Sequential
 * naming); over the concatenation of n_in inputs. */
int cz_graph_cbr(cz_graph *g, const char *name, const int *in, int n_in, int cout);

/* Forward FLOPs per image of conv, transposed-conv and fully connected
 * layers (2 x MACs), as models.py and tools/context_modules.py count them. */
double cz_graph_flops(const cz_graph *g);
size_t cz_graph_param_count(const cz_graph *g);
int cz_graph_find_param(const cz_graph *g, const char *name);
int cz_graph_find_buffer(const cz_graph *g, const char *name);

#endif
