/* Private to the oneDNN backend (backend_dnnl*.c): the net, its steps and
 * tensors, and the helpers the layer builders share.
 *
 * A net is a list of forward steps and a list of backward steps, each a
 * oneDNN primitive with its arguments or a small C loop. Backward steps are
 * pushed in op order, each op's own steps in reverse, and the list is
 * flipped at the end of the build: layouts are only known once the forward
 * pass of an op is built. */
#ifndef CZ_BACKEND_DNNL_IMPL_H
#define CZ_BACKEND_DNNL_IMPL_H

#include <dnnl.h>
#include <dnnl_debug.h>

#include "backend.h"

#define DNN(call)                                                                    \
    do {                                                                             \
        dnnl_status_t s_ = (call);                                                   \
        if (s_ != dnnl_success)                                                      \
            return cz_fail(CZ_ERR_BACKEND, "%s:%d: %s failed: %s", __FILE__, __LINE__, \
                           #call, dnnl_status2str(s_));                              \
    } while (0)

#define TRY(call)                                                                    \
    do {                                                                             \
        cz_status st_ = (call);                                                      \
        if (st_ != CZ_OK)                                                            \
            return st_;                                                              \
    } while (0)

#define MAX_ARGS 12

typedef struct dn_net dn_net;
typedef struct step step;
typedef void (*step_fn)(dn_net *net, const step *s);

/* The operands of a residual addition's C loops. */
typedef struct add_operands {
    int in_a, in_b, out; /* tensor ids */
    int relu;            /* ReLU after the sum */
    float *b_data;       /* input b in the layout of a (b's own buffer if it matches) */
    float *b_diff;       /* b's gradient in the layout of a, NULL: b's own gradient */
    /* backward: write or accumulate each input's gradient, or skip it */
    int accumulate_a, accumulate_b;
    int skip_a, skip_b;
} add_operands;

/* Where element (n, c, y, x) of a [N, C, H, W] activation lies in a oneDNN
 * layout that is plain or blocks only the channels (nchw, nhwc, nChw8c):
 * offset0 + n*n_stride + (c / block)*c_stride + c % block + y*h_stride + x*w_stride. */
typedef struct map_layout {
    ptrdiff_t offset0, n_stride, c_stride, h_stride, w_stride;
    int block;
    int padded; /* channels padded up to a multiple of block: zero the padding */
} map_layout;

/* The operands of a 2x2 stride-2 transposed convolution's C loops: it runs
 * as a 1x1 convolution to 4 x cout channels (one group per output pixel of
 * each 2x2 cell) whose result is spread over the doubled map. */
typedef struct deconv_operands {
    const float *w;     /* PyTorch [cin, cout, 2, 2] weights in the parameter slab */
    float *w1;          /* plain [4 cout, cin] weights of the 1x1 convolution */
    const float *bias;  /* [cout] or NULL */
    const float *mid;   /* the 1x1 convolution's output: 4 cout channels at h x w */
    map_layout mid_map, out_map;
    int out, batch, cin, cout, h, wd, relu; /* wd: the input map's width */
} deconv_operands;

/* The operands of the C loop that copies a convolution's weights (one
 * input part of them) into zero-padded ones: a layer that reads 4 channels
 * runs as the 8-channel layer its blocked tensors are stored as. */
typedef struct pad_operands {
    const float *w;    /* PyTorch weights in the parameter slab: [cout, cin_total, k, k],
                          or [cin, cout, k, k] for a transposed convolution (io) */
    float *w8;         /* the same layout at [cout8, cin8] or [cin, cout8], zero outside */
    const float *bias; /* [cout] or NULL */
    float *bias8;      /* [cout8], zero past cout */
    int cout, cin, cin_total, cin_off, cin8, cout8, kk, io;
    float *gw, *gbias; /* set for a gradient: the slab's weights and bias, written from w8 and bias8 */
} pad_operands;

/* One unit of work: a primitive with its arguments, or a C function. */
struct step {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[MAX_ARGS];
    int nargs;
    step_fn fn;
    int accumulate_into; /* fn_accumulate: the tensor whose gradient receives the scratch */
    add_operands add;    /* fn_add_fwd, fn_add_bwd */
    map_layout map;      /* global-context loops: the layout of their [C, H, W] operand */
    deconv_operands deconv; /* fn_deconv_weights, fn_deconv_spread */
    pad_operands pad;       /* fn_move_padded */
    int op;              /* graph op index, -1 for the input/output edges */
    cz_prof_kind prof;
    double seconds;      /* summed while profiling */
};

typedef struct tensor {
    dnnl_memory_desc_t md;
    size_t bytes;
    float *data, *diff;
    dnnl_memory_t mem, dmem;
    dnnl_memory_t dwide;   /* the gradient viewed with its padded channels as real
                              ones (NULL unless a layer reads it so) */
    dnnl_memory_t bf, dbf; /* bf16 copies of the activation and of its gradient
                              for bf16 convolutions (NULL until one needs them) */
    int last_consumer; /* op that runs first in backward: it writes the
                          gradient, earlier consumers accumulate into it */
    int needs_diff;
} tensor;

typedef struct step_list {
    step *v;
    int n, cap;
} step_list;

struct dn_net {
    const cz_graph *g;
    int batch, training;
    float *params, *grads, *buffers;
    cz_backend_options opt;
    int block; /* activation channel block, 8 or 16 (dn_activation_tag) */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    tensor *t;
    step_list fwd, bwd;
    /* everything to release */
    dnnl_primitive_t *prims;
    int n_prims, cap_prims;
    dnnl_primitive_desc_t *pds;
    int n_pds, cap_pds;
    dnnl_memory_t *mems;
    int n_mems, cap_mems;
    void **blocks;
    int n_blocks, cap_blocks;
    size_t bytes;
    /* shared scratch for gradients that must be accumulated; the memories
     * that point at it get their handle once its size is known */
    float *scratch;
    size_t scratch_bytes;
    dnnl_memory_t *scratch_mems;
    int n_scratch_mems, cap_scratch_mems;
    /* edges */
    dnnl_memory_t out_user, dout_user; /* the caller's NCHW output and its gradient */
    /* BatchNorm batch statistics per op (mean, var), for running updates */
    float **bn_mean, **bn_var;
    float *daux; /* training: d loss / d aux output, filled by the caller */
    int profiling;
    double prof[CZ_PROF_COUNT];
};

/* Helpers (backend_dnnl.c): every object made is released with the net. */
cz_status dn_keep_pd(dn_net *net, dnnl_primitive_desc_t pd);
cz_status dn_make_prim(dn_net *net, dnnl_primitive_desc_t pd, dnnl_primitive_t *out);
cz_status dn_make_mem(dn_net *net, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out);
float *dn_make_block(dn_net *net, size_t bytes, const char *what);
/* A memory object with its own buffer for md. */
cz_status dn_make_buffer(dn_net *net, const dnnl_memory_desc_t *md, const char *what, float **data,
                         dnnl_memory_t *mem);
step *dn_add_step(dn_net *net, step_list *l, dnnl_primitive_t prim, cz_prof_kind prof, int op);
void dn_arg(step *s, int what, dnnl_memory_t m);
const dnnl_memory_desc_t *dn_query(dnnl_primitive_desc_t pd, dnnl_query_t what);
void dn_dims4(dnnl_dims_t d, int n, int c, int h, int w);
/* The layout activations are kept in: channels blocked by net->block, or
 * any with opt.any_layout. */
dnnl_format_tag_t dn_activation_tag(const dn_net *net);
cz_status dn_plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag);
/* A reorder step from src to dst (both existing memories) appended to l. */
cz_status dn_add_reorder(dn_net *net, step_list *l, int op, dnnl_memory_t src,
                         const dnnl_memory_desc_t *src_md, dnnl_memory_t dst,
                         const dnnl_memory_desc_t *dst_md);
/* Where op's backward writes the gradient of tensor id (see backend_dnnl.c). */
cz_status dn_diff_target(dn_net *net, int id, int op, dnnl_memory_t *mem);
/* The map_layout of a 4-D activation layout that blocks only the channels
 * (or none); an error naming the layer otherwise. */
cz_status dn_map_layout_of(const dnnl_memory_desc_t *md, const char *layer, map_layout *l);
/* Give tensor id its layout, activation buffer and gradient memory. */
cz_status dn_set_tensor(dn_net *net, int id, const dnnl_memory_desc_t *md);

/* The instruction set oneDNN uses, in words (for bf16's refusal). */
const char *dn_isa_name(void);

/* Layer builders: forward steps, and backward steps when training. */
cz_status dn_build_conv(dn_net *net, int op_id); /* backend_dnnl_conv.c, CONV and DECONV */
cz_status dn_build_bn(dn_net *net, int op_id);   /* backend_dnnl_layers.c */
cz_status dn_build_pool(dn_net *net, int op_id);
cz_status dn_build_add(dn_net *net, int op_id);
cz_status dn_build_context(dn_net *net, int op_id); /* backend_dnnl_context.c: GAP, FC, BROADCAST, GATE */

#endif
