/* oneDNN backend: the global-context ops (global average pool, fully
 * connected layer, broadcast, squeeze-and-excitation gate) as C loops.
 *
 * They are tiny next to the convolutions (a 4x4 bottleneck, [N, C] vectors
 * of at most a few hundred channels), so plain loops beat the set-up and
 * reorders that oneDNN's pooling / inner-product / binary primitives would
 * need between blocked maps and plain vectors (measured: docs/context.md).
 * Pooled vectors are plain [N, C] (nchw with a 1x1 map); maps keep the
 * layout of the activations around them, read through a map_layout.
 *
 * Backward loops write an input's gradient when they are its first
 * consumer in backward (the last in forward order) and add to it
 * otherwise, as the residual addition does; parameter gradients are
 * written (each parameter belongs to one op). */
#include <math.h>
#include <string.h>

#include "backend_dnnl_impl.h"

#define MAX_BLOCK 16 /* oneDNN blocks channels by 8 or 16 */

cz_status dn_map_layout_of(const dnnl_memory_desc_t *md, const char *layer, map_layout *l)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (md->ndims != 4 || md->format_kind != dnnl_blocked ||
        !(b->inner_nblks == 0 || (b->inner_nblks == 1 && b->inner_idxs[0] == 1)))
        return cz_fail(CZ_ERR_BACKEND, "layer %s: activation layout not supported by the context loops",
                       layer);
    l->offset0 = md->offset0;
    l->n_stride = b->strides[0];
    l->c_stride = b->strides[1];
    l->h_stride = b->strides[2];
    l->w_stride = b->strides[3];
    l->block = b->inner_nblks ? (int)b->inner_blks[0] : 1;
    l->padded = md->padded_dims[1] != md->dims[1];
    if (l->block > MAX_BLOCK || (l->block > 1 && b->strides[1] < l->block))
        return cz_fail(CZ_ERR_BACKEND, "layer %s: channel block of %d not supported by the context loops", layer,
                       l->block);
    return CZ_OK;
}

/* The loops run over channel blocks, so that the innermost loop walks the
 * block's lanes, contiguous in memory: block cb of image n holds channels
 * cb*block .. cb*block + lanes - 1, lane l of pixel (y, x) at
 * base + y*h_stride + x*w_stride + l. */
typedef struct chan_block {
    size_t base;
    int n, c0, lanes;
} chan_block;

static int blocks_per_image(const map_layout *l, int c)
{
    return (c + l->block - 1) / l->block;
}

static chan_block block_at(const map_layout *l, int i, int c)
{
    const int nb = blocks_per_image(l, c), n = i / nb, cb = i % nb;
    chan_block b = {(size_t)(l->offset0 + n * l->n_stride + cb * l->c_stride), n, cb * l->block,
                    c - cb * l->block < l->block ? c - cb * l->block : l->block};
    return b;
}

static inline size_t pixel(const map_layout *l, int y, int x)
{
    return (size_t)(y * l->h_stride + x * l->w_stride);
}

/* sum[k] = the sum over the h x w pixels of lane k of block b of map x
 * (GAP forward and broadcast backward both reduce a map this way). */
static void block_spatial_sum(const map_layout *l, const chan_block *b, const float *x, int h, int w,
                              float *sum)
{
    for (int k = 0; k < b->lanes; k++)
        sum[k] = 0;
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            const float *p = x + b->base + pixel(l, y, xx);
            for (int k = 0; k < b->lanes; k++)
                sum[k] += p[k];
        }
}

/* The op's tensor shapes. */
typedef struct shapes {
    int n, c, h, w;   /* of the map operand (input of GAP, output of BROADCAST, both of GATE) */
    int in_c, out_c;  /* FC */
} shapes;

static shapes op_shapes(const dn_net *net, const cz_op *op)
{
    const cz_graph *g = net->g;
    const cz_tensor_info *map = op->kind == CZ_OP_BROADCAST ? &g->tensors[op->out] : &g->tensors[op->in[0]];
    shapes s = {net->batch, map->c, map->h, map->w, g->tensors[op->in[0]].c, g->tensors[op->out].c};
    return s;
}

/* Whether the backward of op adds to input k's gradient (a later consumer
 * in forward order wrote it first) instead of writing it. */
static int accumulates(const dn_net *net, const cz_op *op, int k, int op_id)
{
    return net->t[op->in[k]].last_consumer != op_id;
}

static void zero_padding(dn_net *net, int id, const map_layout *l, float *buf)
{
    if (l->padded)
        memset(buf, 0, net->t[id].bytes);
}

static float sigmoidf(float z)
{
    return z >= 0 ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

/* ---- global average pool: g[n, c] = mean of x[n, c, :, :] ----------------- */

static void fn_gap_fwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const map_layout *l = &st->map;
    const float *x = net->t[op->in[0]].data;
    float *g = net->t[op->out].data;
    const float inv = 1.0f / (float)(s.h * s.w);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < s.n * blocks_per_image(l, s.c); i++) {
        const chan_block b = block_at(l, i, s.c);
        float sum[MAX_BLOCK];
        block_spatial_sum(l, &b, x, s.h, s.w, sum);
        for (int k = 0; k < b.lanes; k++)
            g[(size_t)b.n * s.c + b.c0 + k] = sum[k] * inv;
    }
}

static void fn_gap_bwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const map_layout *l = &st->map;
    const float *dg = net->t[op->out].diff;
    float *dx = net->t[op->in[0]].diff;
    const int acc = accumulates(net, op, 0, st->op);
    if (!acc)
        zero_padding(net, op->in[0], l, dx);
    const float inv = 1.0f / (float)(s.h * s.w);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < s.n * blocks_per_image(l, s.c); i++) {
        const chan_block b = block_at(l, i, s.c);
        float d[MAX_BLOCK];
        for (int k = 0; k < b.lanes; k++)
            d[k] = dg[(size_t)b.n * s.c + b.c0 + k] * inv;
        for (int y = 0; y < s.h; y++)
            for (int xx = 0; xx < s.w; xx++) {
                float *q = dx + b.base + pixel(l, y, xx);
                for (int k = 0; k < b.lanes; k++)
                    q[k] = acc ? q[k] + d[k] : d[k];
            }
    }
}

/* ---- fully connected: y[n, o] = b[o] + sum_i x[n, i] W[o, i] (+ ReLU) ----- */

static void fn_fc_fwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const float *x = net->t[op->in[0]].data;
    const float *w = net->params + net->g->params[op->weight].offset;
    const float *b = net->params + net->g->params[op->bias].offset;
    float *y = net->t[op->out].data;
    const int relu = op->relu;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < s.n; n++)
        for (int o = 0; o < s.out_c; o++) {
            const float *xr = x + (size_t)n * s.in_c, *wr = w + (size_t)o * s.in_c;
            float sum = b[o];
            for (int i = 0; i < s.in_c; i++)
                sum += xr[i] * wr[i];
            y[(size_t)n * s.out_c + o] = relu && sum < 0 ? 0 : sum;
        }
}

/* dL/d pre-activation of output i: zero where the ReLU's output is not positive. */
static inline float pre_activation_grad(int relu, const float *y, const float *dy, size_t i)
{
    return relu && y[i] <= 0 ? 0.0f : dy[i];
}

static void fn_fc_bwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const float *x = net->t[op->in[0]].data, *y = net->t[op->out].data, *dy = net->t[op->out].diff;
    const float *w = net->params + net->g->params[op->weight].offset;
    float *dw = net->grads + net->g->params[op->weight].offset;
    float *db = net->grads + net->g->params[op->bias].offset;
    const int relu = op->relu;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < s.out_c; o++) {
        float bsum = 0;
        float *dwr = dw + (size_t)o * s.in_c;
        for (int i = 0; i < s.in_c; i++)
            dwr[i] = 0;
        for (int n = 0; n < s.n; n++) {
            const float d = pre_activation_grad(relu, y, dy, (size_t)n * s.out_c + o);
            const float *xr = x + (size_t)n * s.in_c;
            bsum += d;
            for (int i = 0; i < s.in_c; i++)
                dwr[i] += d * xr[i];
        }
        db[o] = bsum;
    }
    if (!net->t[op->in[0]].needs_diff)
        return;
    float *dx = net->t[op->in[0]].diff;
    const int acc = accumulates(net, op, 0, st->op);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < s.n; n++) {
        float *dxr = dx + (size_t)n * s.in_c;
        if (!acc)
            for (int i = 0; i < s.in_c; i++)
                dxr[i] = 0;
        for (int o = 0; o < s.out_c; o++) {
            const float d = pre_activation_grad(relu, y, dy, (size_t)n * s.out_c + o);
            const float *wr = w + (size_t)o * s.in_c;
            for (int i = 0; i < s.in_c; i++)
                dxr[i] += d * wr[i];
        }
    }
}

/* ---- broadcast: y[n, c, :, :] = v[n, c] ------------------------------------ */

static void fn_broadcast_fwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const map_layout *l = &st->map;
    const float *v = net->t[op->in[0]].data;
    float *y = net->t[op->out].data;
    zero_padding(net, op->out, l, y);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < s.n * blocks_per_image(l, s.c); i++) {
        const chan_block b = block_at(l, i, s.c);
        const float *vb = v + (size_t)b.n * s.c + b.c0;
        for (int yy = 0; yy < s.h; yy++)
            for (int xx = 0; xx < s.w; xx++) {
                float *q = y + b.base + pixel(l, yy, xx);
                for (int k = 0; k < b.lanes; k++)
                    q[k] = vb[k];
            }
    }
}

static void fn_broadcast_bwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const map_layout *l = &st->map;
    const float *dy = net->t[op->out].diff;
    float *dv = net->t[op->in[0]].diff;
    const int acc = accumulates(net, op, 0, st->op);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < s.n * blocks_per_image(l, s.c); i++) {
        const chan_block b = block_at(l, i, s.c);
        float sum[MAX_BLOCK];
        block_spatial_sum(l, &b, dy, s.h, s.w, sum);
        float *dvb = dv + (size_t)b.n * s.c + b.c0;
        for (int k = 0; k < b.lanes; k++)
            dvb[k] = acc ? dvb[k] + sum[k] : sum[k];
    }
}

/* ---- squeeze-and-excitation gate: y = x * sigmoid(s[n, c]) ----------------- */

static void fn_gate_fwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const map_layout *l = &st->map;
    const float *x = net->t[op->in[0]].data, *logit = net->t[op->in[1]].data;
    float *y = net->t[op->out].data;
    zero_padding(net, op->out, l, y);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < s.n * blocks_per_image(l, s.c); i++) {
        const chan_block b = block_at(l, i, s.c);
        float gate[MAX_BLOCK];
        for (int k = 0; k < b.lanes; k++)
            gate[k] = sigmoidf(logit[(size_t)b.n * s.c + b.c0 + k]);
        for (int yy = 0; yy < s.h; yy++)
            for (int xx = 0; xx < s.w; xx++) {
                const size_t q = b.base + pixel(l, yy, xx);
                for (int k = 0; k < b.lanes; k++)
                    y[q + k] = x[q + k] * gate[k];
            }
    }
}

static void fn_gate_bwd(dn_net *net, const step *st)
{
    const cz_op *op = &net->g->ops[st->op];
    const shapes s = op_shapes(net, op);
    const map_layout *l = &st->map;
    const float *x = net->t[op->in[0]].data, *logit = net->t[op->in[1]].data, *dy = net->t[op->out].diff;
    float *dx = net->t[op->in[0]].needs_diff ? net->t[op->in[0]].diff : NULL;
    float *ds = net->t[op->in[1]].diff;
    const int acc_x = accumulates(net, op, 0, st->op), acc_s = accumulates(net, op, 1, st->op);
    if (dx && !acc_x)
        zero_padding(net, op->in[0], l, dx);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < s.n * blocks_per_image(l, s.c); i++) {
        const chan_block b = block_at(l, i, s.c);
        float gate[MAX_BLOCK], dot[MAX_BLOCK] = {0};
        for (int k = 0; k < b.lanes; k++)
            gate[k] = sigmoidf(logit[(size_t)b.n * s.c + b.c0 + k]);
        for (int yy = 0; yy < s.h; yy++)
            for (int xx = 0; xx < s.w; xx++) {
                const size_t q = b.base + pixel(l, yy, xx);
                for (int k = 0; k < b.lanes; k++)
                    dot[k] += dy[q + k] * x[q + k];
                if (dx)
                    for (int k = 0; k < b.lanes; k++)
                        dx[q + k] = acc_x ? dx[q + k] + dy[q + k] * gate[k] : dy[q + k] * gate[k];
            }
        float *dsb = ds + (size_t)b.n * s.c + b.c0;
        for (int k = 0; k < b.lanes; k++) {
            const float d = dot[k] * gate[k] * (1 - gate[k]);
            dsb[k] = acc_s ? dsb[k] + d : d;
        }
    }
}

/* ---- building --------------------------------------------------------------- */

static cz_status plain_vector(dn_net *net, int id)
{
    dnnl_dims_t d;
    dnnl_memory_desc_t md;
    dn_dims4(d, net->batch, net->g->tensors[id].c, 1, 1);
    TRY(dn_plain_md(&md, 4, d, dnnl_nchw));
    return dn_set_tensor(net, id, &md);
}

static cz_status vector_input(const dn_net *net, const cz_op *op, int k)
{
    const tensor *t = &net->t[op->in[k]];
    if (t->md.format_desc.blocking.inner_nblks != 0 || net->g->tensors[op->in[k]].h != 1)
        return cz_fail(CZ_ERR_BACKEND, "layer %s: expects a pooled vector from a context op", op->name);
    return CZ_OK;
}

cz_status dn_build_context(dn_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    step_fn fwd = NULL, bwd = NULL;
    map_layout map = {0};
    switch (op->kind) {
    case CZ_OP_GAP:
        TRY(dn_map_layout_of(&net->t[op->in[0]].md, op->name, &map));
        TRY(plain_vector(net, op->out));
        fwd = fn_gap_fwd;
        bwd = fn_gap_bwd;
        break;
    case CZ_OP_FC:
        TRY(vector_input(net, op, 0));
        TRY(plain_vector(net, op->out));
        fwd = fn_fc_fwd;
        bwd = fn_fc_bwd;
        break;
    case CZ_OP_BROADCAST: {
        TRY(vector_input(net, op, 0));
        const cz_tensor_info *o = &net->g->tensors[op->out];
        dnnl_dims_t d;
        dnnl_memory_desc_t md;
        dn_dims4(d, net->batch, o->c, o->h, o->w);
        /* the blocked layout the convolutions keep (backend_dnnl_conv.c) */
        TRY(dn_plain_md(&md, 4, d, net->opt.any_layout ? dnnl_nchw : dn_activation_tag(net)));
        TRY(dn_set_tensor(net, op->out, &md));
        TRY(dn_map_layout_of(&md, op->name, &map));
        fwd = fn_broadcast_fwd;
        bwd = fn_broadcast_bwd;
        break;
    }
    case CZ_OP_GATE:
        TRY(vector_input(net, op, 1));
        TRY(dn_map_layout_of(&net->t[op->in[0]].md, op->name, &map));
        TRY(dn_set_tensor(net, op->out, &net->t[op->in[0]].md));
        fwd = fn_gate_fwd;
        bwd = fn_gate_bwd;
        break;
    default:
        return cz_fail(CZ_ERR_BACKEND, "layer %s: not a context op", op->name);
    }
    step *st = dn_add_step(net, &net->fwd, NULL, CZ_PROF_CONTEXT, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fwd;
    st->map = map;
    if (!net->training)
        return CZ_OK;
    if (!(st = dn_add_step(net, &net->bwd, NULL, CZ_PROF_CONTEXT, op_id)))
        return CZ_ERR_NOMEM;
    st->fn = bwd;
    st->map = map;
    return CZ_OK;
}
