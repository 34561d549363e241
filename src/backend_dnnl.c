/* oneDNN backend: builds one primitive per graph operation (and its
 * backward passes), keeps activations in the layouts oneDNN picks
 * (format_tag_any) and reorders only at the edges: weights from PyTorch's
 * layout in the parameter slab, gradients back into it, and the network's
 * input and output. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "backend.h"
#include "util.h"

const char *const cz_prof_names[CZ_PROF_COUNT] = {
    "conv forward", "conv backward-data", "conv backward-weights", "batchnorm",
    "maxpool", "reorders", "add/relu/accumulate",
};

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

typedef struct step step;
typedef void (*step_fn)(cz_net *net, const step *s);

/* One unit of work: a primitive with its arguments, or a C function. */
struct step {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[MAX_ARGS];
    int nargs;
    step_fn fn;
    int a, b, c, d; /* tensor ids / flags for fn */
    float *pb, *pdb;  /* add: input b and its gradient, in the layout of a */
    int op;         /* graph op index */
    cz_prof_kind prof;
    double seconds; /* summed while profiling */
};

typedef struct tensor {
    dnnl_memory_desc_t md;
    size_t bytes;
    float *data, *diff;
    dnnl_memory_t mem, dmem;
    int last_consumer; /* op that runs first in backward: it writes the
                          gradient, earlier consumers accumulate into it */
    int needs_diff;
} tensor;

typedef struct step_list {
    step *v;
    int n, cap;
} step_list;

struct cz_net {
    const cz_graph *g;
    int batch, training;
    float *params, *grads, *buffers;
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
    int profiling;
    double prof[CZ_PROF_COUNT];
};

static int push(void **arr, int *n, int *cap, size_t size)
{
    if (*n < *cap)
        return 1;
    int ncap = *cap ? *cap * 2 : 32;
    void *p = realloc(*arr, (size_t)ncap * size);
    if (!p)
        return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

static cz_status keep_pd(cz_net *net, dnnl_primitive_desc_t pd)
{
    if (!push((void **)&net->pds, &net->n_pds, &net->cap_pds, sizeof pd)) {
        dnnl_primitive_desc_destroy(pd);
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    }
    net->pds[net->n_pds++] = pd;
    return CZ_OK;
}

static cz_status make_prim(cz_net *net, dnnl_primitive_desc_t pd, dnnl_primitive_t *out)
{
    DNN(dnnl_primitive_create(out, pd));
    if (!push((void **)&net->prims, &net->n_prims, &net->cap_prims, sizeof *out)) {
        dnnl_primitive_destroy(*out);
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    }
    net->prims[net->n_prims++] = *out;
    return CZ_OK;
}

static cz_status make_mem(cz_net *net, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out)
{
    DNN(dnnl_memory_create(out, md, net->engine, handle));
    if (!push((void **)&net->mems, &net->n_mems, &net->cap_mems, sizeof *out)) {
        dnnl_memory_destroy(*out);
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    }
    net->mems[net->n_mems++] = *out;
    return CZ_OK;
}

static float *make_block(cz_net *net, size_t bytes, const char *what)
{
    float *p = cz_alloc_aligned(bytes ? bytes : 4, 1, what);
    if (!p)
        return NULL;
    if (!push((void **)&net->blocks, &net->n_blocks, &net->cap_blocks, sizeof(void *))) {
        free(p);
        cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
        return NULL;
    }
    net->blocks[net->n_blocks++] = p;
    net->bytes += bytes;
    return p;
}

/* A memory object with its own buffer for md. */
static cz_status make_buffer(cz_net *net, const dnnl_memory_desc_t *md, const char *what,
                             float **data, dnnl_memory_t *mem)
{
    *data = make_block(net, dnnl_memory_desc_get_size(md), what);
    if (!*data)
        return CZ_ERR_NOMEM;
    return make_mem(net, md, *data, mem);
}

static step *add_step(cz_net *net, step_list *l, dnnl_primitive_t prim, cz_prof_kind prof, int op)
{
    if (!push((void **)&l->v, &l->n, &l->cap, sizeof(step))) {
        cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
        return NULL;
    }
    step *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->prim = prim;
    s->prof = prof;
    s->op = op;
    return s;
}

static void arg(step *s, int what, dnnl_memory_t m)
{
    s->args[s->nargs].arg = what;
    s->args[s->nargs].memory = m;
    s->nargs++;
}

static const dnnl_memory_desc_t *query(dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

static void dims4(dnnl_dims_t d, int n, int c, int h, int w)
{
    d[0] = n;
    d[1] = c;
    d[2] = h;
    d[3] = w;
}

static cz_status plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    DNN(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
    return CZ_OK;
}

/* A reorder step from src to dst (both existing memories) appended to l. */
static cz_status add_reorder(cz_net *net, step_list *l, int op, dnnl_memory_t src,
                             const dnnl_memory_desc_t *src_md, dnnl_memory_t dst,
                             const dnnl_memory_desc_t *dst_md)
{
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    DNN(dnnl_reorder_primitive_desc_create(&pd, src_md, net->engine, dst_md, net->engine, NULL));
    TRY(keep_pd(net, pd));
    TRY(make_prim(net, pd, &p));
    step *s = add_step(net, l, p, CZ_PROF_REORDER, op);
    if (!s)
        return CZ_ERR_NOMEM;
    arg(s, DNNL_ARG_FROM, src);
    arg(s, DNNL_ARG_TO, dst);
    return CZ_OK;
}

/* ---- gradient accumulation into a tensor's diff ------------------------ */

/* diff[t] += scratch, both laid out as t.md */
static void fn_accumulate(cz_net *net, const step *s)
{
    tensor *t = &net->t[s->a];
    size_t n = t->bytes / sizeof(float);
    float *restrict d = t->diff;
    const float *restrict x = net->scratch;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        d[i] += x[i];
}

/* Where op's backward should write the gradient of tensor id: the tensor's
 * own diff if op is the first consumer to run in backward (the last in
 * forward order), else the shared scratch followed by an accumulate step.
 * Backward steps are pushed in reverse and the list is flipped at the end,
 * so the accumulate step is pushed here, before the writing primitive. */
static cz_status diff_target(cz_net *net, int id, int op, dnnl_memory_t *mem)
{
    tensor *t = &net->t[id];
    if (t->last_consumer == op) {
        *mem = t->dmem;
        return CZ_OK;
    }
    TRY(make_mem(net, &t->md, NULL, mem));
    if (!push((void **)&net->scratch_mems, &net->n_scratch_mems, &net->cap_scratch_mems,
              sizeof *mem))
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    net->scratch_mems[net->n_scratch_mems++] = *mem;
    step *s = add_step(net, &net->bwd, NULL, CZ_PROF_ELTWISE, op);
    if (!s)
        return CZ_ERR_NOMEM;
    s->fn = fn_accumulate;
    s->a = id;
    return CZ_OK;
}

/* ---- tensors ------------------------------------------------------------ */

static cz_status set_tensor(cz_net *net, int id, const dnnl_memory_desc_t *md)
{
    tensor *t = &net->t[id];
    t->md = *md;
    t->bytes = dnnl_memory_desc_get_size(md);
    TRY(make_buffer(net, md, "activation", &t->data, &t->mem));
    /* gradient memory is assigned after the build (plan_gradients) */
    if (net->training && t->needs_diff)
        TRY(make_mem(net, md, NULL, &t->dmem));
    if (t->bytes > net->scratch_bytes)
        net->scratch_bytes = t->bytes;
    return CZ_OK;
}

/* ---- convolution and transposed convolution ----------------------------- */

/* The weights of one input part of a (possibly concat-fused) conv, as a view
 * into the parameter or gradient slab in PyTorch layout. */
static cz_status weight_view(cz_net *net, const cz_op *op, float *slab, int cin_off, int cin_part,
                             dnnl_memory_desc_t *md, dnnl_memory_t *mem)
{
    const cz_param_info *w = &net->g->params[op->weight];
    dnnl_dims_t full, part, offs;
    dnnl_memory_desc_t full_md;
    if (op->kind == CZ_OP_CONV) {
        /* PyTorch [out, in, kh, kw] = oihw */
        dims4(full, w->shape[0], w->shape[1], w->shape[2], w->shape[3]);
        dims4(part, w->shape[0], cin_part, w->shape[2], w->shape[3]);
        dims4(offs, 0, cin_off, 0, 0);
        TRY(plain_md(&full_md, 4, full, dnnl_oihw));
    } else {
        /* PyTorch [in, out, kh, kw]: logical (out, in, kh, kw) stored as iohw */
        dims4(full, w->shape[1], w->shape[0], w->shape[2], w->shape[3]);
        dims4(part, w->shape[1], w->shape[0], w->shape[2], w->shape[3]);
        dims4(offs, 0, 0, 0, 0);
        TRY(plain_md(&full_md, 4, full, dnnl_iohw));
    }
    DNN(dnnl_memory_desc_init_submemory(md, &full_md, part, offs));
    return make_mem(net, md, slab + w->offset, mem);
}

/* Weights in the primitive's layout: the plain view itself if it matches,
 * else a buffer refreshed by a reorder step in list l. */
static cz_status weights_for(cz_net *net, step_list *l, int op_id, dnnl_memory_t plain,
                             const dnnl_memory_desc_t *plain_md, const dnnl_memory_desc_t *want,
                             dnnl_memory_t *out)
{
    if (dnnl_memory_desc_equal(plain_md, want)) {
        *out = plain;
        return CZ_OK;
    }
    float *buf;
    TRY(make_buffer(net, want, "weights", &buf, out));
    return add_reorder(net, l, op_id, plain, plain_md, *out, want);
}

static dnnl_format_tag_t activation_tag(void)
{
    return getenv("CZ_ANY_LAYOUT") ? dnnl_format_tag_any : dnnl_aBcd8b;
}

static int is_ref(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    return impl && strncmp(impl, "ref", 3) == 0;
}

static cz_status op_conv_desc(const cz_op *op, const cz_graph *g, int forward_kind, int bwd,
                              const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
                              const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *dst,
                              void *desc)
{
    (void)g;
    dnnl_dims_t strides = {op->stride, op->stride};
    dnnl_dims_t pad = {op->pad, op->pad};
    int deconv = op->kind == CZ_OP_DECONV;
    if (bwd == 0) {
        if (deconv)
            DNN(dnnl_deconvolution_forward_desc_init(desc, forward_kind, dnnl_deconvolution_direct,
                                                     src, w, b, dst, strides, pad, pad));
        else
            DNN(dnnl_convolution_forward_desc_init(desc, forward_kind, dnnl_convolution_direct, src,
                                                   w, b, dst, strides, pad, pad));
    } else if (bwd == 1) {
        if (deconv)
            DNN(dnnl_deconvolution_backward_data_desc_init(desc, dnnl_deconvolution_direct, src, w,
                                                           dst, strides, pad, pad));
        else
            DNN(dnnl_convolution_backward_data_desc_init(desc, dnnl_convolution_direct, src, w, dst,
                                                         strides, pad, pad));
    } else {
        if (deconv)
            DNN(dnnl_deconvolution_backward_weights_desc_init(desc, dnnl_deconvolution_direct, src,
                                                              w, b, dst, strides, pad, pad));
        else
            DNN(dnnl_convolution_backward_weights_desc_init(desc, dnnl_convolution_direct, src, w,
                                                            b, dst, strides, pad, pad));
    }
    return CZ_OK;
}

static cz_status build_conv(cz_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    const cz_tensor_info *oi = &net->g->tensors[op->out];
    int cout = oi->c;
    dnnl_dims_t d;
    dnnl_memory_desc_t dst_any, w_any, b_md, out_md;
    dims4(d, net->batch, cout, oi->h, oi->w);
    /* Activations are kept channel-blocked by 8 (nChw8c, the AVX2 layout):
     * left to choose, oneDNN picks NHWC for narrow layers, and its 1x1
     * stride-2 backward-weights kernel is wrong on NHWC sources (oneDNN
     * 2.6; caught by tests/test_parity.c on resnet). */
    DNN(dnnl_memory_desc_init_by_tag(&dst_any, 4, d, dnnl_f32, activation_tag()));
    dnnl_dims_t bd = {cout};
    TRY(plain_md(&b_md, 1, bd, dnnl_a));
    int has_bias = op->bias >= 0;
    dnnl_memory_t bias_mem = NULL, dbias_mem = NULL;
    if (has_bias) {
        TRY(make_mem(net, &b_md, net->params + net->g->params[op->bias].offset, &bias_mem));
        if (net->training)
            TRY(make_mem(net, &b_md, net->grads + net->g->params[op->bias].offset, &dbias_mem));
    }
    int fwd_kind = net->training ? dnnl_forward_training : dnnl_forward_inference;
    int cin_off = 0;
    for (int part = 0; part < op->n_in; part++) {
        const tensor *src = &net->t[op->in[part]];
        int cin = net->g->tensors[op->in[part]].c;
        const int ws = op->kind == CZ_OP_CONV ? net->g->params[op->weight].shape[2] : op->kernel;
        if (op->kind == CZ_OP_CONV)
            dims4(d, cout, cin, ws, ws);
        else
            dims4(d, cout, cin, op->kernel, op->kernel);
        DNN(dnnl_memory_desc_init_by_tag(&w_any, 4, d, dnnl_f32, dnnl_format_tag_any));
        /* Part 0 writes the output (with bias); later parts add into it. */
        const dnnl_memory_desc_t *want_dst = part == 0 ? &dst_any : &out_md;
        const dnnl_memory_desc_t *bias = part == 0 && has_bias ? &b_md : NULL;
        union {
            dnnl_convolution_desc_t c;
            dnnl_deconvolution_desc_t dc;
        } desc;
        TRY(op_conv_desc(op, net->g, fwd_kind, 0, &src->md, &w_any, bias, want_dst, &desc));
        dnnl_primitive_attr_t attr = NULL;
        if (part > 0) {
            dnnl_post_ops_t po;
            DNN(dnnl_primitive_attr_create(&attr));
            DNN(dnnl_post_ops_create(&po));
            DNN(dnnl_post_ops_append_sum(po, 1.0f));
            DNN(dnnl_primitive_attr_set_post_ops(attr, po));
            dnnl_post_ops_destroy(po);
        }
        dnnl_primitive_desc_t fpd;
        dnnl_status_t s = dnnl_primitive_desc_create(&fpd, &desc, attr, net->engine, NULL);
        if (attr)
            dnnl_primitive_attr_destroy(attr);
        if (s != dnnl_success)
            return cz_fail(CZ_ERR_BACKEND, "layer %s: oneDNN cannot build the forward pass: %s",
                           op->name, dnnl_status2str(s));
        TRY(keep_pd(net, fpd));
        if (part == 0) {
            out_md = *query(fpd, dnnl_query_dst_md);
            TRY(set_tensor(net, op->out, &out_md));
        }
        dnnl_memory_desc_t wplain_md;
        dnnl_memory_t wplain, wfwd;
        TRY(weight_view(net, op, net->params, cin_off, cin, &wplain_md, &wplain));
        TRY(weights_for(net, &net->fwd, op_id, wplain, &wplain_md, query(fpd, dnnl_query_weights_md),
                        &wfwd));
        dnnl_primitive_t p;
        TRY(make_prim(net, fpd, &p));
        step *st = add_step(net, &net->fwd, p, CZ_PROF_CONV_FWD, op_id);
        if (!st)
            return CZ_ERR_NOMEM;
        arg(st, DNNL_ARG_SRC, src->mem);
        arg(st, DNNL_ARG_WEIGHTS, wfwd);
        if (bias)
            arg(st, DNNL_ARG_BIAS, bias_mem);
        arg(st, DNNL_ARG_DST, net->t[op->out].mem);

        if (net->training) {
            /* Backward steps are stored in reverse later: build weights first
             * so that, reversed, data runs... order within an op is free. */
            dnnl_primitive_desc_t wpd;
            dnnl_memory_desc_t dw_any = w_any;
            TRY(op_conv_desc(op, net->g, 0, 2, &src->md, &dw_any, bias, &out_md, &desc));
            s = dnnl_primitive_desc_create(&wpd, &desc, NULL, net->engine, fpd);
            if (s != dnnl_success)
                return cz_fail(CZ_ERR_BACKEND, "layer %s: oneDNN cannot build backward-weights: %s",
                               op->name, dnnl_status2str(s));
            TRY(keep_pd(net, wpd));
            /* oneDNN has no fast backward-weights for some source layouts
             * (a one-channel NCHW input): let it pick the source layout and
             * reorder the source into it. */
            dnnl_memory_t wsrc = src->mem;
            const dnnl_memory_desc_t *wsrc_md = &src->md;
            if (is_ref(wpd) && !getenv("CZ_NO_ALT")) {
                dnnl_memory_desc_t src_any;
                DNN(dnnl_memory_desc_init_by_tag(&src_any, 4, src->md.dims, dnnl_f32,
                                                 dnnl_format_tag_any));
                dnnl_memory_desc_t dw_any2 = w_any;
                TRY(op_conv_desc(op, net->g, 0, 2, &src_any, &dw_any2, bias, &out_md, &desc));
                dnnl_primitive_desc_t alt;
                if (dnnl_primitive_desc_create(&alt, &desc, NULL, net->engine, fpd) == dnnl_success) {
                    TRY(keep_pd(net, alt));
                    if (!is_ref(alt)) {
                        wpd = alt;
                        wsrc_md = query(wpd, dnnl_query_src_md);
                        float *buf;
                        TRY(make_buffer(net, wsrc_md, "reordered source", &buf, &wsrc));
                    }
                }
            }
            const dnnl_memory_desc_t *dw_md = query(wpd, dnnl_query_diff_weights_md);
            dnnl_memory_desc_t gplain_md;
            dnnl_memory_t gplain, dw;
            TRY(weight_view(net, op, net->grads, cin_off, cin, &gplain_md, &gplain));
            int direct = dnnl_memory_desc_equal(&gplain_md, dw_md);
            if (direct) {
                dw = gplain;
            } else {
                float *buf;
                TRY(make_buffer(net, dw_md, "weight gradient", &buf, &dw));
            }
            TRY(make_prim(net, wpd, &p));
            /* bwd list is built in reverse execution order, then flipped:
             * push the reorder first so it runs after the primitive. */
            if (!direct)
                TRY(add_reorder(net, &net->bwd, op_id, dw, dw_md, gplain, &gplain_md));
            st = add_step(net, &net->bwd, p, CZ_PROF_CONV_BWD_WEIGHTS, op_id);
            if (!st)
                return CZ_ERR_NOMEM;
            arg(st, DNNL_ARG_SRC, wsrc);
            arg(st, DNNL_ARG_DIFF_DST, net->t[op->out].dmem);
            arg(st, DNNL_ARG_DIFF_WEIGHTS, dw);
            if (bias)
                arg(st, DNNL_ARG_DIFF_BIAS, dbias_mem);
            if (wsrc != src->mem) /* pushed after, so it runs before */
                TRY(add_reorder(net, &net->bwd, op_id, src->mem, &src->md, wsrc, wsrc_md));

            if (src->needs_diff) {
                dnnl_primitive_desc_t dpd;
                dnnl_memory_desc_t w_any2 = w_any;
                TRY(op_conv_desc(op, net->g, 0, 1, &src->md, &w_any2, NULL, &out_md, &desc));
                s = dnnl_primitive_desc_create(&dpd, &desc, NULL, net->engine, fpd);
                if (s != dnnl_success)
                    return cz_fail(CZ_ERR_BACKEND, "layer %s: oneDNN cannot build backward-data: %s",
                                   op->name, dnnl_status2str(s));
                TRY(keep_pd(net, dpd));
                TRY(make_prim(net, dpd, &p));
                dnnl_memory_t target, wbwd;
                int id = op->in[part];
                TRY(diff_target(net, id, op_id, &target));
                st = add_step(net, &net->bwd, p, CZ_PROF_CONV_BWD_DATA, op_id);
                if (!st)
                    return CZ_ERR_NOMEM;
                step *pending = st;
                /* weights in backward-data layout: reuse the forward copy when
                 * the layouts agree, else a reorder that runs before */
                const dnnl_memory_desc_t *wb_md = query(dpd, dnnl_query_weights_md);
                if (dnnl_memory_desc_equal(wb_md, query(fpd, dnnl_query_weights_md))) {
                    wbwd = wfwd;
                } else {
                    int idx = (int)(pending - net->bwd.v);
                    TRY(weights_for(net, &net->bwd, op_id, wplain, &wplain_md, wb_md, &wbwd));
                    pending = &net->bwd.v[idx]; /* the list may have moved */
                }
                arg(pending, DNNL_ARG_DIFF_DST, net->t[op->out].dmem);
                arg(pending, DNNL_ARG_WEIGHTS, wbwd);
                arg(pending, DNNL_ARG_DIFF_SRC, target);
            }
        }
        cin_off += cin;
    }
    return CZ_OK;
}

/* ---- batch normalisation ------------------------------------------------ */

static cz_status build_bn(cz_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    const tensor *src = &net->t[op->in[0]];
    int c = net->g->tensors[op->out].c;
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    if (op->relu)
        flags |= dnnl_fuse_norm_relu;
    if (!net->training)
        flags |= dnnl_use_global_stats;
    dnnl_batch_normalization_desc_t desc;
    DNN(dnnl_batch_normalization_forward_desc_init(
        &desc, net->training ? dnnl_forward_training : dnnl_forward_inference, &src->md, 1e-5f, flags));
    dnnl_primitive_desc_t fpd;
    DNN(dnnl_primitive_desc_create(&fpd, &desc, NULL, net->engine, NULL));
    TRY(keep_pd(net, fpd));
    TRY(set_tensor(net, op->out, query(fpd, dnnl_query_dst_md)));
    dnnl_memory_desc_t vec;
    dnnl_dims_t d = {c};
    TRY(plain_md(&vec, 1, d, dnnl_a));
    const cz_param_info *P = net->g->params, *B = net->g->buffers;
    dnnl_memory_t scale, shift, mean, var, ws = NULL;
    TRY(make_mem(net, &vec, net->params + P[op->gamma].offset, &scale));
    TRY(make_mem(net, &vec, net->params + P[op->beta].offset, &shift));
    if (net->training) {
        TRY(make_buffer(net, &vec, "batch mean", &net->bn_mean[op_id], &mean));
        TRY(make_buffer(net, &vec, "batch variance", &net->bn_var[op_id], &var));
        if (op->relu) {
            float *buf;
            TRY(make_buffer(net, query(fpd, dnnl_query_workspace_md), "workspace", &buf, &ws));
        }
    } else {
        TRY(make_mem(net, &vec, net->buffers + B[op->mean].offset, &mean));
        TRY(make_mem(net, &vec, net->buffers + B[op->var].offset, &var));
    }
    dnnl_primitive_t p;
    TRY(make_prim(net, fpd, &p));
    step *st = add_step(net, &net->fwd, p, CZ_PROF_BN, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    arg(st, DNNL_ARG_SRC, src->mem);
    arg(st, DNNL_ARG_DST, net->t[op->out].mem);
    arg(st, DNNL_ARG_SCALE, scale);
    arg(st, DNNL_ARG_SHIFT, shift);
    arg(st, DNNL_ARG_MEAN, mean);
    arg(st, DNNL_ARG_VARIANCE, var);
    if (ws)
        arg(st, DNNL_ARG_WORKSPACE, ws);
    if (!net->training)
        return CZ_OK;

    dnnl_batch_normalization_desc_t bdesc;
    DNN(dnnl_batch_normalization_backward_desc_init(&bdesc, dnnl_backward, &net->t[op->out].md,
                                                    &src->md, 1e-5f, flags));
    dnnl_primitive_desc_t bpd;
    DNN(dnnl_primitive_desc_create(&bpd, &bdesc, NULL, net->engine, fpd));
    TRY(keep_pd(net, bpd));
    TRY(make_prim(net, bpd, &p));
    dnnl_memory_t dscale, dshift, target;
    TRY(make_mem(net, &vec, net->grads + P[op->gamma].offset, &dscale));
    TRY(make_mem(net, &vec, net->grads + P[op->beta].offset, &dshift));
    TRY(diff_target(net, op->in[0], op_id, &target));
    st = add_step(net, &net->bwd, p, CZ_PROF_BN, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    arg(st, DNNL_ARG_SRC, src->mem);
    arg(st, DNNL_ARG_MEAN, mean);
    arg(st, DNNL_ARG_VARIANCE, var);
    arg(st, DNNL_ARG_DIFF_DST, net->t[op->out].dmem);
    arg(st, DNNL_ARG_SCALE, scale);
    arg(st, DNNL_ARG_SHIFT, shift);
    if (ws)
        arg(st, DNNL_ARG_WORKSPACE, ws);
    arg(st, DNNL_ARG_DIFF_SRC, target);
    arg(st, DNNL_ARG_DIFF_SCALE, dscale);
    arg(st, DNNL_ARG_DIFF_SHIFT, dshift);
    return CZ_OK;
}

/* ---- max pooling ---------------------------------------------------------- */

static cz_status build_pool(cz_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    const tensor *src = &net->t[op->in[0]];
    const cz_tensor_info *oi = &net->g->tensors[op->out];
    dnnl_dims_t d, k = {2, 2}, dil = {0, 0}, pad = {0, 0};
    dims4(d, net->batch, oi->c, oi->h, oi->w);
    dnnl_memory_desc_t dst_any;
    DNN(dnnl_memory_desc_init_by_tag(&dst_any, 4, d, dnnl_f32, dnnl_format_tag_any));
    dnnl_pooling_v2_desc_t desc;
    DNN(dnnl_pooling_v2_forward_desc_init(&desc,
                                          net->training ? dnnl_forward_training : dnnl_forward_inference,
                                          dnnl_pooling_max, &src->md, &dst_any, k, k, dil, pad, pad));
    dnnl_primitive_desc_t fpd;
    DNN(dnnl_primitive_desc_create(&fpd, &desc, NULL, net->engine, NULL));
    TRY(keep_pd(net, fpd));
    TRY(set_tensor(net, op->out, query(fpd, dnnl_query_dst_md)));
    dnnl_memory_t ws = NULL;
    if (net->training) {
        float *buf;
        TRY(make_buffer(net, query(fpd, dnnl_query_workspace_md), "pool workspace", &buf, &ws));
    }
    dnnl_primitive_t p;
    TRY(make_prim(net, fpd, &p));
    step *st = add_step(net, &net->fwd, p, CZ_PROF_POOL, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    arg(st, DNNL_ARG_SRC, src->mem);
    arg(st, DNNL_ARG_DST, net->t[op->out].mem);
    if (ws)
        arg(st, DNNL_ARG_WORKSPACE, ws);
    if (!net->training || !src->needs_diff)
        return CZ_OK;
    dnnl_pooling_v2_desc_t bdesc;
    DNN(dnnl_pooling_v2_backward_desc_init(&bdesc, dnnl_pooling_max, &src->md, &net->t[op->out].md,
                                           k, k, dil, pad, pad));
    dnnl_primitive_desc_t bpd;
    DNN(dnnl_primitive_desc_create(&bpd, &bdesc, NULL, net->engine, fpd));
    TRY(keep_pd(net, bpd));
    TRY(make_prim(net, bpd, &p));
    dnnl_memory_t target;
    TRY(diff_target(net, op->in[0], op_id, &target));
    st = add_step(net, &net->bwd, p, CZ_PROF_POOL, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    arg(st, DNNL_ARG_DIFF_DST, net->t[op->out].dmem);
    arg(st, DNNL_ARG_WORKSPACE, ws);
    arg(st, DNNL_ARG_DIFF_SRC, target);
    return CZ_OK;
}

/* ---- residual addition (+ ReLU) ------------------------------------------ */

/* Elementwise over identical layouts; padding lanes stay zero. */
static void fn_add_fwd(cz_net *net, const step *s)
{
    const float *restrict a = net->t[s->a].data, *restrict b = s->pb;
    float *restrict y = net->t[s->c].data;
    size_t n = net->t[s->c].bytes / sizeof(float);
    int relu = s->d;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = a[i] + b[i];
        y[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

/* a = in[0], b = in[1], c = out; d bit0 relu, bit1 a accumulates, bit2 b
 * accumulates, bit3 a needs no diff, bit4 b needs no diff. */
static void fn_add_bwd(cz_net *net, const step *s)
{
    const float *restrict y = net->t[s->c].data, *restrict dy = net->t[s->c].diff;
    float *restrict da = net->t[s->a].diff, *restrict db = s->pdb ? s->pdb : net->t[s->b].diff;
    size_t n = net->t[s->c].bytes / sizeof(float);
    int relu = s->d & 1, acc_a = s->d & 2, acc_b = s->d & 4, skip_a = s->d & 8, skip_b = s->d & 16;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = relu && y[i] <= 0.0f ? 0.0f : dy[i];
        if (!skip_a)
            da[i] = acc_a ? da[i] + g : g;
        if (!skip_b)
            db[i] = acc_b ? db[i] + g : g;
    }
}

static cz_status build_add(cz_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    const tensor *a = &net->t[op->in[0]], *b = &net->t[op->in[1]];
    /* The loops run over a's layout; b is reordered into it when oneDNN
     * chose another layout for it (and its gradient back). */
    int same = dnnl_memory_desc_equal(&a->md, &b->md);
    float *pb = b->data, *pdb = NULL; /* NULL: b's own gradient buffer */
    dnnl_memory_t bconv = NULL, dbconv = NULL;
    if (!same) {
        TRY(make_buffer(net, &a->md, "add operand", &pb, &bconv));
        TRY(add_reorder(net, &net->fwd, op_id, b->mem, &b->md, bconv, &a->md));
    }
    TRY(set_tensor(net, op->out, &a->md));
    step *st = add_step(net, &net->fwd, NULL, CZ_PROF_ELTWISE, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fn_add_fwd;
    st->a = op->in[0];
    st->b = op->in[1];
    st->c = op->out;
    st->d = op->relu;
    st->pb = pb;
    if (!net->training)
        return CZ_OK;
    int flags = op->relu;
    if (!a->needs_diff)
        flags |= 8;
    else if (a->last_consumer != op_id)
        flags |= 2;
    if (!b->needs_diff) {
        flags |= 16;
    } else if (same) {
        if (b->last_consumer != op_id)
            flags |= 4;
    } else {
        /* gradient in a's layout, reordered into b's (accumulating if b
         * has a later consumer); pushed in reverse order */
        dnnl_memory_t target;
        TRY(make_buffer(net, &a->md, "add operand gradient", &pdb, &dbconv));
        TRY(diff_target(net, op->in[1], op_id, &target));
        TRY(add_reorder(net, &net->bwd, op_id, dbconv, &a->md, target, &b->md));
    }
    st = add_step(net, &net->bwd, NULL, CZ_PROF_ELTWISE, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fn_add_bwd;
    st->a = op->in[0];
    st->b = op->in[1];
    st->c = op->out;
    st->d = flags;
    st->pb = pb;
    st->pdb = pdb;
    return CZ_OK;
}

/* ---- BatchNorm running statistics ----------------------------------------- */

static void update_running(cz_net *net)
{
    const cz_graph *g = net->g;
    for (int i = 0; i < g->n_ops; i++) {
        const cz_op *op = &g->ops[i];
        if (op->kind != CZ_OP_BN)
            continue;
        const cz_tensor_info *t = &g->tensors[op->out];
        double n = (double)net->batch * t->h * t->w;
        float unbias = n > 1 ? (float)(n / (n - 1)) : 1.0f;
        float *rm = net->buffers + g->buffers[op->mean].offset;
        float *rv = net->buffers + g->buffers[op->var].offset;
        const float *m = net->bn_mean[i], *v = net->bn_var[i];
        for (int c = 0; c < t->c; c++) {
            rm[c] = 0.9f * rm[c] + 0.1f * m[c];
            rv[c] = 0.9f * rv[c] + 0.1f * v[c] * unbias;
        }
    }
}

/* ---- gradient memory plan ------------------------------------------------ */

/* A tensor's gradient is live in backward from the first of its consumers to
 * run (the last in forward order) until its producer has run: gradients whose
 * live ranges do not overlap share memory (greedy, first fit by size). */
typedef struct grad_block {
    float *ptr;
    size_t bytes;
    int free_from; /* backward position after which it is free */
} grad_block;

static cz_status plan_gradients(cz_net *net)
{
    const cz_graph *g = net->g;
    int nt = g->n_tensors, n = g->n_ops;
    int *producer = cz_alloc((size_t)nt, sizeof(int), "gradient plan");
    int *order = cz_alloc((size_t)nt, sizeof(int), "gradient plan");
    grad_block *blocks = cz_alloc((size_t)nt, sizeof(grad_block), "gradient plan");
    cz_status st = CZ_ERR_NOMEM;
    if (!producer || !order || !blocks)
        goto done;
    for (int i = 0; i < nt; i++)
        producer[i] = -1;
    for (int i = 0; i < n; i++)
        producer[g->ops[i].out] = i;
    /* backward position of op i is n - 1 - i; the output's gradient arrives
     * first (position -1) */
    int count = 0;
    for (int i = 0; i < nt; i++)
        if (net->t[i].needs_diff && producer[i] >= 0)
            order[count++] = i;
    /* sort by start position (insertion sort: a few hundred tensors) */
    for (int a = 1; a < count; a++)
        for (int b = a; b > 0; b--) {
            int x = order[b - 1], y = order[b];
            int sx = net->t[x].last_consumer < 0 ? -1 : n - 1 - net->t[x].last_consumer;
            int sy = net->t[y].last_consumer < 0 ? -1 : n - 1 - net->t[y].last_consumer;
            if (sx <= sy)
                break;
            order[b - 1] = y;
            order[b] = x;
        }
    int nb = 0;
    for (int k = 0; k < count; k++) {
        tensor *t = &net->t[order[k]];
        int start = t->last_consumer < 0 ? -1 : n - 1 - t->last_consumer;
        int end = n - 1 - producer[order[k]];
        int best = -1;
        for (int b = 0; b < nb; b++)
            if (blocks[b].free_from < start && blocks[b].bytes >= t->bytes &&
                (best < 0 || blocks[b].bytes < blocks[best].bytes))
                best = b;
        if (best < 0) {
            best = nb++;
            blocks[best].bytes = t->bytes;
            if (!(blocks[best].ptr = make_block(net, t->bytes, "activation gradients")))
                goto done;
        }
        blocks[best].free_from = end;
        t->diff = blocks[best].ptr;
        dnnl_status_t r = dnnl_memory_set_data_handle(t->dmem, t->diff);
        if (r != dnnl_success) {
            st = cz_fail(CZ_ERR_BACKEND, "setting a gradient buffer failed: %s", dnnl_status2str(r));
            goto done;
        }
    }
    st = CZ_OK;
done:
    free(producer);
    free(order);
    free(blocks);
    return st;
}

/* ---- build, run, free ------------------------------------------------------ */

static int threads_wanted = 0;

void cz_backend_set_threads(int n)
{
    threads_wanted = n;
    if (n > 0)
        omp_set_num_threads(n);
}

int cz_backend_threads(void)
{
    return omp_get_max_threads();
}

static cz_status build(cz_net *net)
{
    const cz_graph *g = net->g;
    DNN(dnnl_engine_create(&net->engine, dnnl_cpu, 0));
    DNN(dnnl_stream_create(&net->stream, net->engine, dnnl_stream_default_flags));
    net->t = cz_alloc((size_t)g->n_tensors, sizeof(tensor), "tensors");
    net->bn_mean = cz_alloc((size_t)g->n_ops, sizeof(float *), "bn stats");
    net->bn_var = cz_alloc((size_t)g->n_ops, sizeof(float *), "bn stats");
    if (!net->t || !net->bn_mean || !net->bn_var)
        return CZ_ERR_NOMEM;
    /* Every tensor but the input gets a gradient buffer. */
    for (int i = 0; i < g->n_tensors; i++) {
        net->t[i].needs_diff = i != g->input;
        net->t[i].last_consumer = -1;
    }
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_in; k++)
            net->t[g->ops[i].in[k]].last_consumer = i;

    /* Input edge: NCHW as the caller passes it. */
    const cz_tensor_info *ii = &g->tensors[g->input];
    dnnl_dims_t d;
    dnnl_memory_desc_t md;
    dims4(d, net->batch, ii->c, ii->h, ii->w);
    TRY(plain_md(&md, 4, d, dnnl_nchw));
    TRY(set_tensor(net, g->input, &md));

    /* Forward steps in op order. Backward steps are pushed in op order too,
     * each op's own steps in reverse, and the list is flipped at the end:
     * layouts are only known once the forward pass of an op is built. */
    for (int i = 0; i < g->n_ops; i++) {
        cz_status st = CZ_OK;
        switch (g->ops[i].kind) {
        case CZ_OP_CONV:
        case CZ_OP_DECONV: st = build_conv(net, i); break;
        case CZ_OP_BN: st = build_bn(net, i); break;
        case CZ_OP_POOL: st = build_pool(net, i); break;
        case CZ_OP_ADD: st = build_add(net, i); break;
        }
        if (st)
            return st;
    }

    /* Output edge. */
    const cz_tensor_info *oi = &g->tensors[g->output];
    dims4(d, net->batch, oi->c, oi->h, oi->w);
    TRY(plain_md(&md, 4, d, dnnl_nchw));
    TRY(make_mem(net, &md, NULL, &net->out_user));
    TRY(add_reorder(net, &net->fwd, -1, net->t[g->output].mem, &net->t[g->output].md,
                    net->out_user, &md));
    if (net->training) {
        TRY(make_mem(net, &md, NULL, &net->dout_user));
        TRY(add_reorder(net, &net->bwd, -1, net->dout_user, &md, net->t[g->output].dmem,
                        &net->t[g->output].md));
    }
    if (net->training)
        TRY(plan_gradients(net));
    net->scratch = make_block(net, net->scratch_bytes, "gradient scratch");
    if (!net->scratch)
        return CZ_ERR_NOMEM;
    for (int i = 0; i < net->n_scratch_mems; i++)
        DNN(dnnl_memory_set_data_handle(net->scratch_mems[i], net->scratch));
    for (int i = 0, j = net->bwd.n - 1; i < j; i++, j--) {
        step tmp = net->bwd.v[i];
        net->bwd.v[i] = net->bwd.v[j];
        net->bwd.v[j] = tmp;
    }
    return CZ_OK;
}

cz_status cz_net_create(const cz_graph *g, int batch, int training, float *params, float *grads,
                        float *buffers, cz_net **out)
{
    *out = NULL;
    if (batch < 1 || batch > 1 << 16)
        return cz_fail(CZ_ERR_ARG, "batch size %d out of range", batch);
    if (training && !grads)
        return cz_fail(CZ_ERR_ARG, "training needs a gradient slab");
    if (threads_wanted > 0)
        omp_set_num_threads(threads_wanted);
    cz_net *net = cz_alloc(1, sizeof *net, "net");
    if (!net)
        return CZ_ERR_NOMEM;
    net->g = g;
    net->batch = batch;
    net->training = training;
    net->params = params;
    net->grads = grads;
    net->buffers = buffers;
    cz_status st = build(net);
    if (st) {
        cz_net_free(net);
        return st;
    }
    *out = net;
    return CZ_OK;
}

void cz_net_free(cz_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->n_prims; i++)
        dnnl_primitive_destroy(net->prims[i]);
    for (int i = 0; i < net->n_pds; i++)
        dnnl_primitive_desc_destroy(net->pds[i]);
    for (int i = 0; i < net->n_mems; i++)
        dnnl_memory_destroy(net->mems[i]);
    for (int i = 0; i < net->n_blocks; i++)
        free(net->blocks[i]);
    free(net->prims);
    free(net->pds);
    free(net->mems);
    free(net->blocks);
    free(net->scratch_mems);
    free(net->fwd.v);
    free(net->bwd.v);
    free(net->t);
    free(net->bn_mean);
    free(net->bn_var);
    if (net->stream)
        dnnl_stream_destroy(net->stream);
    if (net->engine)
        dnnl_engine_destroy(net->engine);
    free(net);
}

static cz_status run(cz_net *net, step *s)
{
    double t0 = net->profiling ? cz_now() : 0;
    if (s->fn) {
        s->fn(net, s);
    } else {
        dnnl_status_t r = dnnl_primitive_execute(s->prim, net->stream, s->nargs, s->args);
        if (r != dnnl_success)
            return cz_fail(CZ_ERR_BACKEND, "%s:%d: executing %s failed: %s", __FILE__, __LINE__,
                           s->op >= 0 ? net->g->ops[s->op].name : "edge reorder", dnnl_status2str(r));
    }
    if (net->profiling) {
        dnnl_stream_wait(net->stream);
        double dt = cz_now() - t0;
        net->prof[s->prof] += dt;
        s->seconds += dt;
    }
    return CZ_OK;
}

cz_status cz_net_forward(cz_net *net, const float *input, float *output)
{
    DNN(dnnl_memory_set_data_handle(net->t[net->g->input].mem, (void *)input));
    DNN(dnnl_memory_set_data_handle(net->out_user, output));
    for (int i = 0; i < net->fwd.n; i++)
        TRY(run(net, &net->fwd.v[i]));
    DNN(dnnl_stream_wait(net->stream));
    if (net->training)
        update_running(net);
    return CZ_OK;
}

cz_status cz_net_backward(cz_net *net, const float *d_output)
{
    if (!net->training)
        return cz_fail(CZ_ERR_ARG, "backward on a net built for inference");
    DNN(dnnl_memory_set_data_handle(net->dout_user, (void *)d_output));
    for (int i = 0; i < net->bwd.n; i++)
        TRY(run(net, &net->bwd.v[i]));
    DNN(dnnl_stream_wait(net->stream));
    return CZ_OK;
}

size_t cz_net_memory(const cz_net *net)
{
    return net->bytes;
}

void cz_net_profile(cz_net *net, int enable)
{
    net->profiling = enable;
    if (enable) {
        memset(net->prof, 0, sizeof net->prof);
        for (int i = 0; i < net->fwd.n; i++)
            net->fwd.v[i].seconds = 0;
        for (int i = 0; i < net->bwd.n; i++)
            net->bwd.v[i].seconds = 0;
    }
}

const double *cz_net_profile_times(const cz_net *net)
{
    return net->prof;
}

static void describe_list(const cz_net *net, const step_list *l, const char *pass, FILE *fp)
{
    for (int i = 0; i < l->n; i++) {
        const step *s = &l->v[i];
        const char *impl = "c";
        if (s->prim) {
            const_dnnl_primitive_desc_t pd;
            if (dnnl_primitive_get_primitive_desc(s->prim, &pd) == dnnl_success)
                dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        }
        fprintf(fp, "%s %-22s %-22s %-16s %9.3f ms\n", pass, s->op >= 0 ? net->g->ops[s->op].name : "(edge)",
                cz_prof_names[s->prof], impl, s->seconds * 1e3);
    }
}

void cz_net_describe(const cz_net *net, FILE *fp)
{
    describe_list(net, &net->fwd, "fwd", fp);
    describe_list(net, &net->bwd, "bwd", fp);
}
