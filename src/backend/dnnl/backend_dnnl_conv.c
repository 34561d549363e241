/* oneDNN backend: convolution and transposed convolution, forward,
 * backward-data and backward-weights, with the concatenation of two inputs
 * fused (the second part adds into the output through a sum post-op). */
#include <string.h>

#include "backend_dnnl_impl.h"

/* ---- convolution and transposed convolution ----------------------------- */

/* The weights of one input part of a (possibly concat-fused) conv, as a view
 * into the parameter or gradient slab in PyTorch layout. */
static cz_status weight_view(dn_net *net, const cz_op *op, float *slab, int cin_off, int cin_part,
                             dnnl_memory_desc_t *md, dnnl_memory_t *mem)
{
    const cz_param_info *w = &net->g->params[op->weight];
    dnnl_dims_t full, part, offs;
    dnnl_memory_desc_t full_md;
    if (op->kind == CZ_OP_CONV) {
        /* PyTorch [out, in, kh, kw] = oihw */
        dn_dims4(full, w->shape[0], w->shape[1], w->shape[2], w->shape[3]);
        dn_dims4(part, w->shape[0], cin_part, w->shape[2], w->shape[3]);
        dn_dims4(offs, 0, cin_off, 0, 0);
        TRY(dn_plain_md(&full_md, 4, full, dnnl_oihw));
    } else {
        /* PyTorch [in, out, kh, kw]: logical (out, in, kh, kw) stored as iohw */
        dn_dims4(full, w->shape[1], w->shape[0], w->shape[2], w->shape[3]);
        dn_dims4(part, w->shape[1], w->shape[0], w->shape[2], w->shape[3]);
        dn_dims4(offs, 0, 0, 0, 0);
        TRY(dn_plain_md(&full_md, 4, full, dnnl_iohw));
    }
    DNN(dnnl_memory_desc_init_submemory(md, &full_md, part, offs));
    return dn_make_mem(net, md, slab + w->offset, mem);
}

/* Weights in the primitive's layout: the plain view itself if it matches,
 * else a buffer refreshed by a reorder step in list l. */
static cz_status weights_for(dn_net *net, step_list *l, int op_id, dnnl_memory_t plain,
                             const dnnl_memory_desc_t *plain_md, const dnnl_memory_desc_t *want,
                             dnnl_memory_t *out)
{
    if (dnnl_memory_desc_equal(plain_md, want)) {
        *out = plain;
        return CZ_OK;
    }
    float *buf;
    TRY(dn_make_buffer(net, want, "weights", &buf, out));
    return dn_add_reorder(net, l, op_id, plain, plain_md, *out, want);
}

static int is_ref(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    return impl && strncmp(impl, "ref", 3) == 0;
}

typedef enum conv_pass { PASS_FORWARD, PASS_BACKWARD_DATA, PASS_BACKWARD_WEIGHTS } conv_pass;

static cz_status op_conv_desc(const cz_op *op, const cz_graph *g, int forward_kind, conv_pass pass,
                              const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
                              const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *dst,
                              void *desc)
{
    (void)g;
    dnnl_dims_t strides = {op->stride, op->stride};
    dnnl_dims_t pad = {op->pad, op->pad};
    int deconv = op->kind == CZ_OP_DECONV;
    if (pass == PASS_FORWARD) {
        if (deconv)
            DNN(dnnl_deconvolution_forward_desc_init(desc, forward_kind, dnnl_deconvolution_direct,
                                                     src, w, b, dst, strides, pad, pad));
        else
            DNN(dnnl_convolution_forward_desc_init(desc, forward_kind, dnnl_convolution_direct, src,
                                                   w, b, dst, strides, pad, pad));
    } else if (pass == PASS_BACKWARD_DATA) {
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

/* The attributes of part `part`'s forward: a sum into the output for the
 * parts after the first; a ReLU (BatchNorm folding, inference only) after
 * the last part's sum. *attr stays NULL when there are none. */
static cz_status fwd_attr(const cz_op *op, int part, dnnl_primitive_attr_t *attr)
{
    const int relu = op->relu && part == op->n_in - 1;
    *attr = NULL;
    if (part == 0 && !relu)
        return CZ_OK;
    dnnl_post_ops_t po;
    DNN(dnnl_primitive_attr_create(attr));
    DNN(dnnl_post_ops_create(&po));
    if (part > 0)
        DNN(dnnl_post_ops_append_sum(po, 1.0f));
    if (relu)
        DNN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
    DNN(dnnl_primitive_attr_set_post_ops(*attr, po));
    dnnl_post_ops_destroy(po);
    return CZ_OK;
}

/* The forward primitive descriptor of part `part` of op, with its
 * attributes, kept by the net; *pd is NULL (and *s says why) when oneDNN
 * cannot build it. */
static cz_status forward_pd(dn_net *net, const cz_op *op, int part, int fwd_kind, const dnnl_memory_desc_t *src,
                            const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *bias,
                            const dnnl_memory_desc_t *dst, dnnl_primitive_desc_t *pd, dnnl_status_t *s)
{
    union {
        dnnl_convolution_desc_t c;
        dnnl_deconvolution_desc_t dc;
    } desc;
    TRY(op_conv_desc(op, net->g, fwd_kind, PASS_FORWARD, src, w, bias, dst, &desc));
    dnnl_primitive_attr_t attr;
    TRY(fwd_attr(op, part, &attr));
    *s = dnnl_primitive_desc_create(pd, &desc, attr, net->engine, NULL);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (*s != dnnl_success) {
        *pd = NULL;
        return CZ_OK;
    }
    return dn_keep_pd(net, *pd);
}

/* md with the same dims and layout in data type dt. */
static dnnl_memory_desc_t with_type(const dnnl_memory_desc_t *md, dnnl_data_type_t dt)
{
    dnnl_memory_desc_t out = *md;
    out.data_type = dt;
    return out;
}

/* ---- bf16 ------------------------------------------------------------------ */

const char *dn_isa_name(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx512_core_amx: return "AVX-512 with AMX";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX-512 with bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 with VNNI, no bf16";
    case dnnl_cpu_isa_avx512_core: return "AVX-512, no bf16";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2 with VNNI, no bf16";
    case dnnl_cpu_isa_avx2: return "AVX2, no bf16";
    default: return "no AVX2";
    }
}

int cz_backend_bf16_available(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

/* Whether this part of op runs in bf16: it is a layer where bf16 pays, and
 * oneDNN has fast (non-reference) bf16 kernels for every pass it needs:
 * bf16 source, weights and output gradient, fp32 results. Otherwise fp32. */
static int bf16_fits(dn_net *net, const cz_op *op, int part, const dnnl_memory_desc_t *src_md,
                     const dnnl_memory_desc_t *w_any, const dnnl_memory_desc_t *bias,
                     const dnnl_memory_desc_t *dst_md, int fwd_kind, int backward_data)
{
    /* Only where it pays (per-layer profile, docs/engine.md): 3x3
     * convolutions of 16 channels or more on maps of 8x8 or more, or of 128
     * or more on smaller maps (the 4x4 bottleneck from w16 up: 2-8 % faster
     * training measured side by side). oneDNN 2.6's bf16 transposed
     * convolutions (backward-weights 4x slower) and 1x1 convolutions lose
     * to fp32 once the copies are counted. */
    const cz_tensor_info *in = &net->g->tensors[op->in[part]];
    if (op->kind != CZ_OP_CONV || w_any->dims[2] < 3 || in->c < 16 || (in->h * in->w < 64 && in->c < 128))
        return 0;
    dnnl_memory_desc_t src = with_type(src_md, dnnl_bf16), w = with_type(w_any, dnnl_bf16);
    dnnl_memory_desc_t ddst = with_type(dst_md, dnnl_bf16), dw = *w_any;
    union {
        dnnl_convolution_desc_t c;
        dnnl_deconvolution_desc_t dc;
    } desc;
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t pd[3] = {NULL, NULL, NULL};
    if (op_conv_desc(op, net->g, fwd_kind, PASS_FORWARD, &src, &w, bias, dst_md, &desc) ||
        fwd_attr(op, part, &attr))
        return 0;
    dnnl_status_t s = dnnl_primitive_desc_create(&pd[0], &desc, attr, net->engine, NULL);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    int ok = s == dnnl_success && !is_ref(pd[0]);
    if (ok && net->training) {
        ok = !op_conv_desc(op, net->g, 0, PASS_BACKWARD_WEIGHTS, &src, &dw, bias, &ddst, &desc) &&
             dnnl_primitive_desc_create(&pd[1], &desc, NULL, net->engine, pd[0]) == dnnl_success && !is_ref(pd[1]);
        if (ok && backward_data)
            ok = !op_conv_desc(op, net->g, 0, PASS_BACKWARD_DATA, src_md, &w, NULL, &ddst, &desc) &&
                 dnnl_primitive_desc_create(&pd[2], &desc, NULL, net->engine, pd[0]) == dnnl_success &&
                 !is_ref(pd[2]);
    }
    for (int i = 0; i < 3; i++)
        if (pd[i])
            dnnl_primitive_desc_destroy(pd[i]);
    return ok;
}

/* The bf16 copy of tensor id's activation, filled by a reorder appended to
 * the forward list the first time a convolution asks (later readers share
 * it: the activation does not change within a pass). */
static cz_status bf16_activation(dn_net *net, int id, int op_id, dnnl_memory_t *out)
{
    tensor *t = &net->t[id];
    if (!t->bf) {
        dnnl_memory_desc_t md = with_type(&t->md, dnnl_bf16);
        float *buf;
        TRY(dn_make_buffer(net, &md, "bf16 activation", &buf, &t->bf));
        TRY(dn_add_reorder(net, &net->fwd, op_id, t->mem, &t->md, t->bf, &md));
    }
    *out = t->bf;
    return CZ_OK;
}

/* A forward step: pd's primitive on these memories (no bias: NULL). */
static cz_status add_forward_step(dn_net *net, int op_id, dnnl_primitive_desc_t pd, dnnl_memory_t src,
                                  dnnl_memory_t w, dnnl_memory_t bias, dnnl_memory_t dst)
{
    dnnl_primitive_t p;
    TRY(dn_make_prim(net, pd, &p));
    step *st = dn_add_step(net, &net->fwd, p, CZ_PROF_CONV_FWD, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    dn_arg(st, DNNL_ARG_SRC, src);
    dn_arg(st, DNNL_ARG_WEIGHTS, w);
    if (bias)
        dn_arg(st, DNNL_ARG_BIAS, bias);
    dn_arg(st, DNNL_ARG_DST, dst);
    return CZ_OK;
}

/* ---- 2x2 stride-2 transposed convolution as a 1x1 convolution ----------- */

/* w1[(s cout + co) cin + ci] = w[ci][co][i][j], s = 2i + j: each 2x2 cell
 * position gets cout output channels of the 1x1 convolution. */
static void fn_deconv_weights(dn_net *net, const step *st)
{
    (void)net;
    const deconv_operands *d = &st->deconv;
    const int cin = d->cin, cout = d->cout;
    for (int s = 0; s < 4; s++) /* written in order; the reads stride by 4 cout */
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                d->w1[((size_t)s * cout + co) * cin + ci] = d->w[((size_t)ci * cout + co) * 4 + s];
}

/* out[n][co][2y+i][2x+j] = mid[n][(2i+j) cout + co][y][x] + bias[co] (then
 * ReLU when folded in): a channel block of out at one cell position is a
 * whole channel block of mid, since cout divides by the block. */
static void fn_deconv_spread(dn_net *net, const step *st)
{
    const deconv_operands *d = &st->deconv;
    const map_layout *lm = &d->mid_map, *lo = &d->out_map;
    const int B = lo->block, nb = d->cout / B, h = d->h, w = d->wd, relu = d->relu, cout = d->cout;
    float *out = net->t[d->out].data;
    const float *mid = d->mid;
#pragma omp parallel for collapse(3) schedule(static)
    for (int n = 0; n < d->batch; n++)
        for (int s = 0; s < 4; s++)
            for (int cb = 0; cb < nb; cb++) {
                const int i = s / 2, j = s % 2, c0 = cb * B, mc = s * cout + c0;
                const float *mp = mid + lm->offset0 + n * lm->n_stride + (mc / B) * lm->c_stride;
                float *op = out + lo->offset0 + n * lo->n_stride + cb * lo->c_stride + i * lo->h_stride +
                            j * lo->w_stride;
                float bias[16] = {0};
                for (int l = 0; l < B; l++)
                    bias[l] = d->bias ? d->bias[c0 + l] : 0.0f;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        const float *src = mp + y * lm->h_stride + x * lm->w_stride;
                        float *dst = op + 2 * y * lo->h_stride + 2 * x * lo->w_stride;
#pragma omp simd
                        for (int l = 0; l < B; l++) {
                            float v = src[l] + bias[l];
                            dst[l] = relu && v < 0.0f ? 0.0f : v;
                        }
                    }
            }
}

/* The forward of a 2x2 stride-2 transposed convolution op as a 1x1
 * convolution and a spread (oneDNN 2.6's deconvolution forward kernel runs
 * at a fifth of its backward passes' rate on the same FLOP). *built is 0
 * (and nothing is added) where the layouts or oneDNN do not allow it. */
static cz_status deconv_forward_1x1(dn_net *net, int op_id, const tensor *src, const dnnl_memory_desc_t *out_md,
                                    int *built)
{
    const cz_op *op = &net->g->ops[op_id];
    const cz_tensor_info *ii = &net->g->tensors[op->in[0]], *oi = &net->g->tensors[op->out];
    *built = 0;
    map_layout lo, lm;
    if (net->opt.deconv_direct || op->kernel != 2 || op->stride != 2 || op->pad != 0 ||
        dn_map_layout_of(out_md, op->name, &lo) || lo.block > 16 || oi->c % lo.block != 0 ||
        oi->h != 2 * ii->h || oi->w != 2 * ii->w)
        return CZ_OK;
    const int cin = ii->c, cout = oi->c;
    dnnl_dims_t d;
    dnnl_memory_desc_t mid_md, w_any, w1_md;
    dn_dims4(d, net->batch, 4 * cout, ii->h, ii->w);
    DNN(dnnl_memory_desc_init_by_tag(&mid_md, 4, d, dnnl_f32, dn_activation_tag(net)));
    dn_dims4(d, 4 * cout, cin, 1, 1);
    DNN(dnnl_memory_desc_init_by_tag(&w_any, 4, d, dnnl_f32, dnnl_format_tag_any));
    TRY(dn_plain_md(&w1_md, 4, d, dnnl_oihw));
    dnnl_convolution_desc_t desc;
    dnnl_dims_t strides = {1, 1}, pad = {0, 0};
    DNN(dnnl_convolution_forward_desc_init(&desc, net->training ? dnnl_forward_training : dnnl_forward_inference,
                                           dnnl_convolution_direct, &src->md, &w_any, NULL, &mid_md, strides, pad,
                                           pad));
    dnnl_primitive_desc_t pd;
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, net->engine, NULL) != dnnl_success)
        return CZ_OK;
    TRY(dn_keep_pd(net, pd));
    if (is_ref(pd) || dn_map_layout_of(dn_query(pd, dnnl_query_dst_md), op->name, &lm) || lm.block != lo.block)
        return CZ_OK;
    float *w1, *mid;
    dnnl_memory_t w1_mem, wk, mid_mem;
    if (!(w1 = dn_make_block(net, (size_t)4 * cout * cin * sizeof(float), "1x1 weights")))
        return CZ_ERR_NOMEM;
    TRY(dn_make_mem(net, &w1_md, w1, &w1_mem));
    TRY(dn_make_buffer(net, dn_query(pd, dnnl_query_dst_md), "transposed convolution cells", &mid, &mid_mem));
    deconv_operands ops = {.w = net->params + net->g->params[op->weight].offset, .w1 = w1,
                           .bias = op->bias >= 0 ? net->params + net->g->params[op->bias].offset : NULL,
                           .mid = mid, .mid_map = lm, .out_map = lo, .out = op->out, .batch = net->batch,
                           .cin = cin, .cout = cout, .h = ii->h, .wd = ii->w, .relu = op->relu};
    step *st = dn_add_step(net, &net->fwd, NULL, CZ_PROF_REORDER, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fn_deconv_weights;
    st->deconv = ops;
    TRY(weights_for(net, &net->fwd, op_id, w1_mem, &w1_md, dn_query(pd, dnnl_query_weights_md), &wk));
    TRY(add_forward_step(net, op_id, pd, src->mem, wk, NULL, mid_mem));
    if (!(st = dn_add_step(net, &net->fwd, NULL, CZ_PROF_CONV_FWD, op_id)))
        return CZ_ERR_NOMEM;
    st->fn = fn_deconv_spread;
    st->deconv = ops;
    *built = 1;
    return CZ_OK;
}

/* ---- narrow layers: a padded tensor as the wider one it is stored as ----- */

/* The real channels between the PyTorch-layout slab ([cout, cin_total, k,
 * k] from input channel cin_off, or [cin, cout, k, k] for a transposed
 * convolution) and the zero-padded copy ([cout8, cin8, k, k] or [cin,
 * cout8, k, k]): from src to dst, into the padded copy or out of it. */
static void move_real_channels(const pad_operands *p, const float *src, float *dst, int into_padded)
{
    const size_t kk = (size_t)p->kk;
    for (int co = 0; co < p->cout; co++)
        for (int ci = 0; ci < p->cin; ci++) {
            const size_t padded = p->io ? ((size_t)ci * p->cout8 + co) * kk : ((size_t)co * p->cin8 + ci) * kk;
            const size_t slab = p->io ? ((size_t)ci * p->cout + co) * kk
                                      : ((size_t)co * p->cin_total + p->cin_off + ci) * kk;
            memcpy(dst + (into_padded ? padded : slab), src + (into_padded ? slab : padded), kk * sizeof(float));
        }
}

/* Before a pass, the weights (and bias) into their padded copies (gw
 * unset; the padding stays zero, as blocks are zeroed when made); after
 * one, a padded weight gradient (and bias gradient) out into the gradient
 * slab (gw set). */
static void fn_move_padded(dn_net *net, const step *st)
{
    (void)net;
    const pad_operands *p = &st->pad;
    if (p->gw) {
        move_real_channels(p, p->w8, p->gw, 0);
        if (p->gbias)
            memcpy(p->gbias, p->bias8, (size_t)p->cout * sizeof(float));
    } else {
        move_real_channels(p, p->w, p->w8, 1);
        if (p->bias)
            memcpy(p->bias8, p->bias, (size_t)p->cout * sizeof(float));
    }
}

/* The padded weights po describes, filled from the parameters by a step of
 * the forward list (which runs before every backward) and reordered into
 * the layout want asks for. */
static cz_status padded_weights(dn_net *net, int op_id, const pad_operands *po, const dnnl_memory_desc_t *plain_md,
                                const dnnl_memory_desc_t *want, dnnl_memory_t *out)
{
    dnnl_memory_t plain;
    TRY(dn_make_mem(net, plain_md, po->w8, &plain));
    step *st = dn_add_step(net, &net->fwd, NULL, CZ_PROF_REORDER, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fn_move_padded;
    st->pad = *po;
    return weights_for(net, &net->fwd, op_id, plain, plain_md, want, out);
}

/* md (an activation in the net's channel-blocked layout) with its channels
 * rounded up to the padded count: the same bytes. *ok is 0 for any other
 * layout. */
static cz_status widened(const dn_net *net, const dnnl_memory_desc_t *md, dnnl_memory_desc_t *out, int *ok)
{
    dnnl_memory_desc_t same;
    DNN(dnnl_memory_desc_init_by_tag(&same, 4, md->dims, dnnl_f32, dn_activation_tag(net)));
    dnnl_dims_t d;
    dn_dims4(d, (int)md->dims[0], (int)md->padded_dims[1], (int)md->dims[2], (int)md->dims[3]);
    DNN(dnnl_memory_desc_init_by_tag(out, 4, d, dnnl_f32, dn_activation_tag(net)));
    *ok = dnnl_memory_desc_equal(&same, md) && dnnl_memory_desc_get_size(out) == dnnl_memory_desc_get_size(md);
    return CZ_OK;
}

/* A layer's source and output widened alike; *ok only if both can be. */
static cz_status widened_both(const dn_net *net, const tensor *src, const tensor *dst, dnnl_memory_desc_t *src8,
                              dnnl_memory_desc_t *dst8, int *ok)
{
    int src_ok, dst_ok;
    TRY(widened(net, &src->md, src8, &src_ok));
    TRY(widened(net, &dst->md, dst8, &dst_ok));
    *ok = src_ok && dst_ok;
    return CZ_OK;
}

/* The forward of one part of a convolution whose source has fewer channels
 * than its channel block (a w4 net's 4-channel tensors in nChw8c): oneDNN
 * 2.6 has only reference kernels for that, 50-100x slower than its jit
 * kernels. A blocked tensor of 4 channels is stored exactly as one of 8
 * whose last 4 are zero, so the part runs as the 8-channel convolution on
 * the same buffers, with weights (and bias) zero-padded to 8 input and, for
 * a 4-channel output, 8 output channels; the padded output channels come
 * out zero, as the layout requires. The backward passes are unchanged
 * (oneDNN has jit kernels for them). *built is 0 where this does not apply. */
static cz_status conv_forward_padded(dn_net *net, int op_id, int part, int cin_off, const tensor *src,
                                     int fwd_kind, int *built)
{
    const cz_op *op = &net->g->ops[op_id];
    const tensor *dst = &net->t[op->out];
    const cz_param_info *wi = &net->g->params[op->weight];
    *built = 0;
    if (net->opt.any_layout || src->md.padded_dims[1] == src->md.dims[1])
        return CZ_OK;
    dnnl_memory_desc_t src8, dst8, w_any, w8_md, b8_md;
    int ok;
    TRY(widened_both(net, src, dst, &src8, &dst8, &ok));
    if (!ok)
        return CZ_OK;
    const int cin8 = (int)src8.dims[1], cout8 = (int)dst8.dims[1], cout = (int)dst->md.dims[1];
    const int k = wi->shape[2], has_bias = part == 0 && op->bias >= 0;
    dnnl_dims_t d;
    dn_dims4(d, cout8, cin8, k, wi->shape[3]);
    DNN(dnnl_memory_desc_init_by_tag(&w_any, 4, d, dnnl_f32, dnnl_format_tag_any));
    TRY(dn_plain_md(&w8_md, 4, d, dnnl_oihw));
    dnnl_dims_t bd = {cout8};
    TRY(dn_plain_md(&b8_md, 1, bd, dnnl_a));
    dnnl_primitive_desc_t pd;
    dnnl_status_t s;
    TRY(forward_pd(net, op, part, fwd_kind, &src8, &w_any, has_bias ? &b8_md : NULL, &dst8, &pd, &s));
    if (!pd || is_ref(pd))
        return CZ_OK;
    pad_operands po = {.w = net->params + wi->offset, .cout = cout, .cin = net->g->tensors[op->in[part]].c,
                       .cin_total = wi->shape[1], .cin_off = cin_off, .cin8 = cin8, .cout8 = cout8,
                       .kk = k * wi->shape[3]};
    if (!(po.w8 = dn_make_block(net, dnnl_memory_desc_get_size(&w8_md), "padded weights")))
        return CZ_ERR_NOMEM;
    dnnl_memory_t wk, b8_mem = NULL, src_view, dst_view;
    if (has_bias) {
        po.bias = net->params + net->g->params[op->bias].offset;
        TRY(dn_make_buffer(net, &b8_md, "padded bias", &po.bias8, &b8_mem));
    }
    TRY(padded_weights(net, op_id, &po, &w8_md, dn_query(pd, dnnl_query_weights_md), &wk));
    TRY(dn_make_mem(net, dn_query(pd, dnnl_query_src_md), src->data, &src_view));
    TRY(dn_make_mem(net, dn_query(pd, dnnl_query_dst_md), dst->data, &dst_view));
    TRY(add_forward_step(net, op_id, pd, src_view, wk, b8_mem, dst_view));
    *built = 1;
    return CZ_OK;
}

/* The backward-data of a transposed convolution whose output has fewer
 * channels than its block (w4's last upsampling, 8 -> 4): it is a
 * convolution forward that reads the 4-channel output gradient, and oneDNN
 * 2.6 has only a reference kernel for it. As in conv_forward_padded, it runs
 * on the 8-channel view of that gradient with weights zero-padded to 8
 * output channels; whatever the gradient's padding holds (its buffer is
 * shared with other gradients) meets zero weights. The padded weights are
 * refreshed in the forward list, which runs before every backward. *built
 * is 0 where this does not apply. */
static cz_status deconv_backward_data_padded(dn_net *net, int op_id, const tensor *src, int *built)
{
    const cz_op *op = &net->g->ops[op_id];
    tensor *dst = &net->t[op->out];
    const cz_param_info *wi = &net->g->params[op->weight];
    *built = 0;
    dnnl_memory_desc_t dst8, w_any, w8_md;
    int ok;
    if (net->opt.any_layout || dst->md.padded_dims[1] == dst->md.dims[1])
        return CZ_OK;
    TRY(widened(net, &dst->md, &dst8, &ok));
    if (!ok)
        return CZ_OK;
    const int cin = (int)src->md.dims[1], cout = (int)dst->md.dims[1], cout8 = (int)dst8.dims[1];
    dnnl_dims_t d;
    dn_dims4(d, cout8, cin, op->kernel, op->kernel);
    DNN(dnnl_memory_desc_init_by_tag(&w_any, 4, d, dnnl_f32, dnnl_format_tag_any));
    TRY(dn_plain_md(&w8_md, 4, d, dnnl_iohw));
    dnnl_deconvolution_desc_t desc;
    dnnl_primitive_desc_t hint, pd;
    /* oneDNN wants the forward of the same problem as a hint */
    TRY(op_conv_desc(op, net->g, dnnl_forward_training, PASS_FORWARD, &src->md, &w_any, NULL, &dst8, &desc));
    if (dnnl_primitive_desc_create(&hint, &desc, NULL, net->engine, NULL) != dnnl_success)
        return CZ_OK;
    TRY(dn_keep_pd(net, hint));
    TRY(op_conv_desc(op, net->g, 0, PASS_BACKWARD_DATA, &src->md, &w_any, NULL, &dst8, &desc));
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, net->engine, hint) != dnnl_success)
        return CZ_OK;
    TRY(dn_keep_pd(net, pd));
    if (is_ref(pd))
        return CZ_OK;
    pad_operands po = {.w = net->params + wi->offset, .cout = cout, .cin = cin, .cin_total = cin,
                       .cin8 = cin, .cout8 = cout8, .kk = op->kernel * op->kernel, .io = 1};
    if (!(po.w8 = dn_make_block(net, dnnl_memory_desc_get_size(&w8_md), "padded weights")))
        return CZ_ERR_NOMEM;
    dnnl_memory_t wk, target;
    TRY(padded_weights(net, op_id, &po, &w8_md, dn_query(pd, dnnl_query_weights_md), &wk));
    if (!dst->dwide) /* its handle is the gradient's, set with it (plan_gradients) */
        TRY(dn_make_mem(net, dn_query(pd, dnnl_query_diff_dst_md), NULL, &dst->dwide));
    TRY(dn_diff_target(net, op->in[0], op_id, &target));
    dnnl_primitive_t p;
    TRY(dn_make_prim(net, pd, &p));
    step *st = dn_add_step(net, &net->bwd, p, CZ_PROF_CONV_BWD_DATA, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    dn_arg(st, DNNL_ARG_DIFF_DST, dst->dwide);
    dn_arg(st, DNNL_ARG_WEIGHTS, wk);
    dn_arg(st, DNNL_ARG_DIFF_SRC, target);
    *built = 1;
    return CZ_OK;
}

/* The backward-weights of one part of a convolution (or transposed
 * convolution) whose source or output has fewer channels than its blocks
 * hold (a w12 net's 12-channel tensors in nChw16c): oneDNN 2.6 has only a
 * reference kernel for it. It runs on the padded views of the source and
 * the output gradient into a padded weight gradient, and a C step copies
 * the real part into the gradient slab. The source's padding is zero; what
 * the output gradient's padding holds (its buffer is shared) reaches only
 * the rows that are dropped. *built is 0 where this does not apply. */
static cz_status conv_backward_weights_padded(dn_net *net, int op_id, int part, int cin_off, const tensor *src,
                                              int has_bias, int *built)
{
    const cz_op *op = &net->g->ops[op_id];
    tensor *dst = &net->t[op->out];
    const cz_param_info *wi = &net->g->params[op->weight];
    *built = 0;
    if (net->opt.any_layout ||
        (src->md.padded_dims[1] == src->md.dims[1] && dst->md.padded_dims[1] == dst->md.dims[1]))
        return CZ_OK;
    dnnl_memory_desc_t src8, dst8, w_any, w8_md, b8_md;
    int ok;
    TRY(widened_both(net, src, dst, &src8, &dst8, &ok));
    if (!ok)
        return CZ_OK;
    const int io = op->kind == CZ_OP_DECONV, k = io ? op->kernel : wi->shape[2];
    const int cin8 = (int)src8.dims[1], cout8 = (int)dst8.dims[1];
    dnnl_dims_t d;
    dn_dims4(d, cout8, cin8, k, k);
    DNN(dnnl_memory_desc_init_by_tag(&w_any, 4, d, dnnl_f32, dnnl_format_tag_any));
    TRY(dn_plain_md(&w8_md, 4, d, io ? dnnl_iohw : dnnl_oihw));
    dnnl_dims_t bd = {cout8};
    TRY(dn_plain_md(&b8_md, 1, bd, dnnl_a));
    dnnl_primitive_desc_t hint, pd;
    dnnl_status_t s;
    TRY(forward_pd(net, op, part, dnnl_forward_training, &src8, &w_any, has_bias ? &b8_md : NULL, &dst8, &hint,
                   &s));
    if (!hint)
        return CZ_OK;
    union {
        dnnl_convolution_desc_t c;
        dnnl_deconvolution_desc_t dc;
    } desc;
    TRY(op_conv_desc(op, net->g, 0, PASS_BACKWARD_WEIGHTS, &src8, &w_any, has_bias ? &b8_md : NULL, &dst8,
                     &desc));
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, net->engine, hint) != dnnl_success)
        return CZ_OK;
    TRY(dn_keep_pd(net, pd));
    if (is_ref(pd))
        return CZ_OK;
    pad_operands po = {.cout = (int)dst->md.dims[1], .cin = (int)src->md.dims[1],
                       .cin_total = io ? 0 : wi->shape[1], .cin_off = cin_off, .cin8 = cin8, .cout8 = cout8,
                       .kk = k * k, .io = io, .gw = net->grads + wi->offset};
    dnnl_memory_t plain, dw, db8 = NULL, src_view;
    TRY(dn_make_buffer(net, &w8_md, "padded weight gradient", &po.w8, &plain));
    const dnnl_memory_desc_t *dw_md = dn_query(pd, dnnl_query_diff_weights_md);
    int direct = dnnl_memory_desc_equal(&w8_md, dw_md);
    if (direct) {
        dw = plain;
    } else {
        float *buf;
        TRY(dn_make_buffer(net, dw_md, "weight gradient", &buf, &dw));
    }
    if (has_bias) {
        po.gbias = net->grads + net->g->params[op->bias].offset;
        TRY(dn_make_buffer(net, &b8_md, "padded bias gradient", &po.bias8, &db8));
    }
    TRY(dn_make_mem(net, dn_query(pd, dnnl_query_src_md), src->data, &src_view));
    if (!dst->dwide) /* its handle is the gradient's, set with it (plan_gradients) */
        TRY(dn_make_mem(net, dn_query(pd, dnnl_query_diff_dst_md), NULL, &dst->dwide));
    /* The backward list is built in reverse and flipped: pushed last, runs first. */
    step *st = dn_add_step(net, &net->bwd, NULL, CZ_PROF_REORDER, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fn_move_padded;
    st->pad = po;
    if (!direct)
        TRY(dn_add_reorder(net, &net->bwd, op_id, dw, dw_md, plain, &w8_md));
    dnnl_primitive_t p;
    TRY(dn_make_prim(net, pd, &p));
    if (!(st = dn_add_step(net, &net->bwd, p, CZ_PROF_CONV_BWD_WEIGHTS, op_id)))
        return CZ_ERR_NOMEM;
    dn_arg(st, DNNL_ARG_SRC, src_view);
    dn_arg(st, DNNL_ARG_DIFF_DST, dst->dwide);
    dn_arg(st, DNNL_ARG_DIFF_WEIGHTS, dw);
    if (has_bias)
        dn_arg(st, DNNL_ARG_DIFF_BIAS, db8);
    *built = 1;
    return CZ_OK;
}

cz_status dn_build_conv(dn_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    if (op->relu && net->training)
        return cz_fail(CZ_ERR_ARG, "layer %s: a fused ReLU on a convolution is for inference only", op->name);
    const cz_tensor_info *oi = &net->g->tensors[op->out];
    int cout = oi->c;
    dnnl_dims_t d;
    dnnl_memory_desc_t dst_any, w_any, b_md, out_md, out_bf_md;
    int any_bf = 0;
    dn_dims4(d, net->batch, cout, oi->h, oi->w);
    /* Activations are kept channel-blocked (dn_activation_tag): left to
     * choose, oneDNN picks NHWC for narrow layers, and its 1x1 stride-2
     * backward-weights kernel is wrong on NHWC sources (oneDNN 2.6; caught
     * by tests/test_parity.c on resnet). */
    DNN(dnnl_memory_desc_init_by_tag(&dst_any, 4, d, dnnl_f32, dn_activation_tag(net)));
    dnnl_dims_t bd = {cout};
    TRY(dn_plain_md(&b_md, 1, bd, dnnl_a));
    int has_bias = op->bias >= 0;
    dnnl_memory_t bias_mem = NULL, dbias_mem = NULL;
    if (has_bias) {
        TRY(dn_make_mem(net, &b_md, net->params + net->g->params[op->bias].offset, &bias_mem));
        if (net->training)
            TRY(dn_make_mem(net, &b_md, net->grads + net->g->params[op->bias].offset, &dbias_mem));
    }
    int fwd_kind = net->training ? dnnl_forward_training : dnnl_forward_inference;
    int cin_off = 0;
    for (int part = 0; part < op->n_in; part++) {
        const tensor *src = &net->t[op->in[part]];
        int cin = net->g->tensors[op->in[part]].c;
        const int ws = op->kind == CZ_OP_CONV ? net->g->params[op->weight].shape[2] : op->kernel;
        if (op->kind == CZ_OP_CONV)
            dn_dims4(d, cout, cin, ws, ws);
        else
            dn_dims4(d, cout, cin, op->kernel, op->kernel);
        DNN(dnnl_memory_desc_init_by_tag(&w_any, 4, d, dnnl_f32, dnnl_format_tag_any));
        /* Part 0 writes the output (with bias); later parts add into it. */
        const dnnl_memory_desc_t *want_dst = part == 0 ? &dst_any : &out_md;
        const dnnl_memory_desc_t *bias = part == 0 && has_bias ? &b_md : NULL;
        /* bf16: the part reads bf16 copies of its source, weights and output
         * gradient (fp32 weights and results stay the masters). */
        const int bf = net->opt.bf16 && bf16_fits(net, op, part, &src->md, &w_any, bias, want_dst, fwd_kind,
                                                   src->needs_diff);
        dnnl_memory_desc_t src_md = src->md, wt_any = w_any;
        dnnl_memory_t src_mem = src->mem;
        if (bf) {
            src_md = with_type(&src->md, dnnl_bf16);
            wt_any = with_type(&w_any, dnnl_bf16);
            TRY(bf16_activation(net, op->in[part], op_id, &src_mem));
            any_bf = 1;
        }
        dnnl_primitive_desc_t fpd;
        dnnl_status_t s;
        TRY(forward_pd(net, op, part, fwd_kind, &src_md, &wt_any, bias, want_dst, &fpd, &s));
        if (!fpd)
            return cz_fail(CZ_ERR_BACKEND, "layer %s: oneDNN cannot build the forward pass: %s",
                           op->name, dnnl_status2str(s));
        union {
            dnnl_convolution_desc_t c;
            dnnl_deconvolution_desc_t dc;
        } desc;
        if (part == 0) {
            out_md = *dn_query(fpd, dnnl_query_dst_md);
            TRY(dn_set_tensor(net, op->out, &out_md));
            out_bf_md = with_type(&out_md, dnnl_bf16);
        }
        if (bf && net->training && !net->t[op->out].dbf) { /* filled at the op's backward start, below */
            float *buf;
            TRY(dn_make_buffer(net, &out_bf_md, "bf16 gradient", &buf, &net->t[op->out].dbf));
        }
        /* the output gradient as this part reads it */
        const dnnl_memory_desc_t *ddst_md = bf ? &out_bf_md : &out_md;
        dnnl_memory_t ddst_mem = bf ? net->t[op->out].dbf : net->t[op->out].dmem;
        dnnl_memory_desc_t wplain_md;
        dnnl_memory_t wplain, wfwd;
        TRY(weight_view(net, op, net->params, cin_off, cin, &wplain_md, &wplain));
        TRY(weights_for(net, &net->fwd, op_id, wplain, &wplain_md, dn_query(fpd, dnnl_query_weights_md),
                        &wfwd));
        dnnl_primitive_t p;
        step *st;
        int fast = 0; /* (wfwd above still feeds backward-data) */
        if (op->kind == CZ_OP_DECONV && !bf)
            TRY(deconv_forward_1x1(net, op_id, src, &out_md, &fast));
        else if (op->kind == CZ_OP_CONV && !bf && is_ref(fpd))
            TRY(conv_forward_padded(net, op_id, part, cin_off, src, fwd_kind, &fast));
        if (!fast)
            TRY(add_forward_step(net, op_id, fpd, src_mem, wfwd, bias ? bias_mem : NULL, net->t[op->out].mem));

        if (net->training) {
            /* Backward steps are stored in reverse later: build weights first
             * so that, reversed, data runs... order within an op is free. */
            dnnl_primitive_desc_t wpd;
            dnnl_memory_desc_t dw_any = w_any;
            TRY(op_conv_desc(op, net->g, 0, PASS_BACKWARD_WEIGHTS, &src_md, &dw_any, bias, ddst_md, &desc));
            s = dnnl_primitive_desc_create(&wpd, &desc, NULL, net->engine, fpd);
            if (s != dnnl_success)
                return cz_fail(CZ_ERR_BACKEND, "layer %s: oneDNN cannot build backward-weights: %s",
                               op->name, dnnl_status2str(s));
            TRY(dn_keep_pd(net, wpd));
            int wide = 0;
            if (!bf && is_ref(wpd))
                TRY(conv_backward_weights_padded(net, op_id, part, cin_off, src, bias != NULL, &wide));
            if (!wide) {
                /* oneDNN has no fast backward-weights for some source layouts
                 * (a one-channel NCHW input): let it pick the source layout and
                 * reorder the source into it. */
                dnnl_memory_t wsrc = src_mem;
                const dnnl_memory_desc_t *wsrc_md = &src_md;
                if (!bf && is_ref(wpd) && !net->opt.no_alt_src) {
                    dnnl_memory_desc_t src_any;
                    DNN(dnnl_memory_desc_init_by_tag(&src_any, 4, src->md.dims, dnnl_f32,
                                                     dnnl_format_tag_any));
                    dnnl_memory_desc_t dw_any2 = w_any;
                    TRY(op_conv_desc(op, net->g, 0, PASS_BACKWARD_WEIGHTS, &src_any, &dw_any2, bias, &out_md,
                                     &desc));
                    dnnl_primitive_desc_t alt;
                    if (dnnl_primitive_desc_create(&alt, &desc, NULL, net->engine, fpd) == dnnl_success) {
                        TRY(dn_keep_pd(net, alt));
                        if (!is_ref(alt)) {
                            wpd = alt;
                            wsrc_md = dn_query(wpd, dnnl_query_src_md);
                            float *buf;
                            TRY(dn_make_buffer(net, wsrc_md, "reordered source", &buf, &wsrc));
                        }
                    }
                }
                const dnnl_memory_desc_t *dw_md = dn_query(wpd, dnnl_query_diff_weights_md);
                dnnl_memory_desc_t gplain_md;
                dnnl_memory_t gplain, dw;
                TRY(weight_view(net, op, net->grads, cin_off, cin, &gplain_md, &gplain));
                int direct = dnnl_memory_desc_equal(&gplain_md, dw_md);
                if (direct) {
                    dw = gplain;
                } else {
                    float *buf;
                    TRY(dn_make_buffer(net, dw_md, "weight gradient", &buf, &dw));
                }
                TRY(dn_make_prim(net, wpd, &p));
                /* bwd list is built in reverse execution order, then flipped:
                 * push the reorder first so it runs after the primitive. */
                if (!direct)
                    TRY(dn_add_reorder(net, &net->bwd, op_id, dw, dw_md, gplain, &gplain_md));
                st = dn_add_step(net, &net->bwd, p, CZ_PROF_CONV_BWD_WEIGHTS, op_id);
                if (!st)
                    return CZ_ERR_NOMEM;
                dn_arg(st, DNNL_ARG_SRC, wsrc);
                dn_arg(st, DNNL_ARG_DIFF_DST, ddst_mem);
                dn_arg(st, DNNL_ARG_DIFF_WEIGHTS, dw);
                if (bias)
                    dn_arg(st, DNNL_ARG_DIFF_BIAS, dbias_mem);
                if (wsrc != src_mem) /* pushed after, so it runs before */
                    TRY(dn_add_reorder(net, &net->bwd, op_id, src->mem, &src->md, wsrc, wsrc_md));
            }

            if (src->needs_diff) {
                dnnl_primitive_desc_t dpd;
                dnnl_memory_desc_t w_any2 = wt_any;
                TRY(op_conv_desc(op, net->g, 0, PASS_BACKWARD_DATA, &src->md, &w_any2, NULL, ddst_md, &desc));
                s = dnnl_primitive_desc_create(&dpd, &desc, NULL, net->engine, fpd);
                if (s != dnnl_success)
                    return cz_fail(CZ_ERR_BACKEND, "layer %s: oneDNN cannot build backward-data: %s",
                                   op->name, dnnl_status2str(s));
                TRY(dn_keep_pd(net, dpd));
                int wide = 0;
                if (op->kind == CZ_OP_DECONV && !bf && is_ref(dpd))
                    TRY(deconv_backward_data_padded(net, op_id, src, &wide));
                if (!wide) {
                    TRY(dn_make_prim(net, dpd, &p));
                    dnnl_memory_t target, wbwd;
                    int id = op->in[part];
                    TRY(dn_diff_target(net, id, op_id, &target));
                    st = dn_add_step(net, &net->bwd, p, CZ_PROF_CONV_BWD_DATA, op_id);
                    if (!st)
                        return CZ_ERR_NOMEM;
                    step *pending = st;
                    /* weights in backward-data layout: reuse the forward copy when
                     * the layouts agree, else a reorder that runs before */
                    const dnnl_memory_desc_t *wb_md = dn_query(dpd, dnnl_query_weights_md);
                    if (dnnl_memory_desc_equal(wb_md, dn_query(fpd, dnnl_query_weights_md))) {
                        wbwd = wfwd;
                    } else {
                        int idx = (int)(pending - net->bwd.v);
                        TRY(weights_for(net, &net->bwd, op_id, wplain, &wplain_md, wb_md, &wbwd));
                        pending = &net->bwd.v[idx]; /* the list may have moved */
                    }
                    dn_arg(pending, DNNL_ARG_DIFF_DST, ddst_mem);
                    dn_arg(pending, DNNL_ARG_WEIGHTS, wbwd);
                    dn_arg(pending, DNNL_ARG_DIFF_SRC, target);
                }
            }
        }
        cin_off += cin;
    }
    /* The bf16 output gradient: pushed last, so it runs first in the op's
     * backward, once every consumer has written the fp32 gradient. */
    if (net->training && any_bf)
        TRY(dn_add_reorder(net, &net->bwd, op_id, net->t[op->out].dmem, &out_md, net->t[op->out].dbf,
                           &out_bf_md));
    return CZ_OK;
}
