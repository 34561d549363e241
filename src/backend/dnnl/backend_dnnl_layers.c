/* oneDNN backend: BatchNorm (with fused ReLU), max pooling, and the
 * residual addition (with ReLU) as C loops over matching layouts. */
#include "backend_dnnl_impl.h"

/* ---- batch normalisation ------------------------------------------------ */

cz_status dn_build_bn(dn_net *net, int op_id)
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
    TRY(dn_keep_pd(net, fpd));
    TRY(dn_set_tensor(net, op->out, dn_query(fpd, dnnl_query_dst_md)));
    dnnl_memory_desc_t vec;
    dnnl_dims_t d = {c};
    TRY(dn_plain_md(&vec, 1, d, dnnl_a));
    const cz_param_info *P = net->g->params, *B = net->g->buffers;
    dnnl_memory_t scale, shift, mean, var, ws = NULL;
    TRY(dn_make_mem(net, &vec, net->params + P[op->gamma].offset, &scale));
    TRY(dn_make_mem(net, &vec, net->params + P[op->beta].offset, &shift));
    if (net->training) {
        TRY(dn_make_buffer(net, &vec, "batch mean", &net->bn_mean[op_id], &mean));
        TRY(dn_make_buffer(net, &vec, "batch variance", &net->bn_var[op_id], &var));
        if (op->relu) {
            float *buf;
            TRY(dn_make_buffer(net, dn_query(fpd, dnnl_query_workspace_md), "workspace", &buf, &ws));
        }
    } else {
        TRY(dn_make_mem(net, &vec, net->buffers + B[op->mean].offset, &mean));
        TRY(dn_make_mem(net, &vec, net->buffers + B[op->var].offset, &var));
    }
    dnnl_primitive_t p;
    TRY(dn_make_prim(net, fpd, &p));
    step *st = dn_add_step(net, &net->fwd, p, CZ_PROF_BN, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    dn_arg(st, DNNL_ARG_SRC, src->mem);
    dn_arg(st, DNNL_ARG_DST, net->t[op->out].mem);
    dn_arg(st, DNNL_ARG_SCALE, scale);
    dn_arg(st, DNNL_ARG_SHIFT, shift);
    dn_arg(st, DNNL_ARG_MEAN, mean);
    dn_arg(st, DNNL_ARG_VARIANCE, var);
    if (ws)
        dn_arg(st, DNNL_ARG_WORKSPACE, ws);
    if (!net->training)
        return CZ_OK;

    dnnl_batch_normalization_desc_t bdesc;
    DNN(dnnl_batch_normalization_backward_desc_init(&bdesc, dnnl_backward, &net->t[op->out].md,
                                                    &src->md, 1e-5f, flags));
    dnnl_primitive_desc_t bpd;
    DNN(dnnl_primitive_desc_create(&bpd, &bdesc, NULL, net->engine, fpd));
    TRY(dn_keep_pd(net, bpd));
    TRY(dn_make_prim(net, bpd, &p));
    dnnl_memory_t dscale, dshift, target;
    TRY(dn_make_mem(net, &vec, net->grads + P[op->gamma].offset, &dscale));
    TRY(dn_make_mem(net, &vec, net->grads + P[op->beta].offset, &dshift));
    TRY(dn_diff_target(net, op->in[0], op_id, &target));
    st = dn_add_step(net, &net->bwd, p, CZ_PROF_BN, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    dn_arg(st, DNNL_ARG_SRC, src->mem);
    dn_arg(st, DNNL_ARG_MEAN, mean);
    dn_arg(st, DNNL_ARG_VARIANCE, var);
    dn_arg(st, DNNL_ARG_DIFF_DST, net->t[op->out].dmem);
    dn_arg(st, DNNL_ARG_SCALE, scale);
    dn_arg(st, DNNL_ARG_SHIFT, shift);
    if (ws)
        dn_arg(st, DNNL_ARG_WORKSPACE, ws);
    dn_arg(st, DNNL_ARG_DIFF_SRC, target);
    dn_arg(st, DNNL_ARG_DIFF_SCALE, dscale);
    dn_arg(st, DNNL_ARG_DIFF_SHIFT, dshift);
    return CZ_OK;
}

/* ---- max pooling ---------------------------------------------------------- */

cz_status dn_build_pool(dn_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    const tensor *src = &net->t[op->in[0]];
    const cz_tensor_info *oi = &net->g->tensors[op->out];
    dnnl_dims_t d, k = {2, 2}, dil = {0, 0}, pad = {0, 0};
    dn_dims4(d, net->batch, oi->c, oi->h, oi->w);
    dnnl_memory_desc_t dst_any;
    DNN(dnnl_memory_desc_init_by_tag(&dst_any, 4, d, dnnl_f32, dnnl_format_tag_any));
    dnnl_pooling_v2_desc_t desc;
    DNN(dnnl_pooling_v2_forward_desc_init(&desc,
                                          net->training ? dnnl_forward_training : dnnl_forward_inference,
                                          dnnl_pooling_max, &src->md, &dst_any, k, k, dil, pad, pad));
    dnnl_primitive_desc_t fpd;
    DNN(dnnl_primitive_desc_create(&fpd, &desc, NULL, net->engine, NULL));
    TRY(dn_keep_pd(net, fpd));
    TRY(dn_set_tensor(net, op->out, dn_query(fpd, dnnl_query_dst_md)));
    dnnl_memory_t ws = NULL;
    if (net->training) {
        float *buf;
        TRY(dn_make_buffer(net, dn_query(fpd, dnnl_query_workspace_md), "pool workspace", &buf, &ws));
    }
    dnnl_primitive_t p;
    TRY(dn_make_prim(net, fpd, &p));
    step *st = dn_add_step(net, &net->fwd, p, CZ_PROF_POOL, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    dn_arg(st, DNNL_ARG_SRC, src->mem);
    dn_arg(st, DNNL_ARG_DST, net->t[op->out].mem);
    if (ws)
        dn_arg(st, DNNL_ARG_WORKSPACE, ws);
    if (!net->training || !src->needs_diff)
        return CZ_OK;
    dnnl_pooling_v2_desc_t bdesc;
    DNN(dnnl_pooling_v2_backward_desc_init(&bdesc, dnnl_pooling_max, &src->md, &net->t[op->out].md,
                                           k, k, dil, pad, pad));
    dnnl_primitive_desc_t bpd;
    DNN(dnnl_primitive_desc_create(&bpd, &bdesc, NULL, net->engine, fpd));
    TRY(dn_keep_pd(net, bpd));
    TRY(dn_make_prim(net, bpd, &p));
    dnnl_memory_t target;
    TRY(dn_diff_target(net, op->in[0], op_id, &target));
    st = dn_add_step(net, &net->bwd, p, CZ_PROF_POOL, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    dn_arg(st, DNNL_ARG_DIFF_DST, net->t[op->out].dmem);
    dn_arg(st, DNNL_ARG_WORKSPACE, ws);
    dn_arg(st, DNNL_ARG_DIFF_SRC, target);
    return CZ_OK;
}

/* ---- residual addition (+ ReLU) ------------------------------------------ */

/* Elementwise over identical layouts; padding lanes stay zero. */
static void fn_add_fwd(dn_net *net, const step *s)
{
    const add_operands *o = &s->add;
    const float *restrict a = net->t[o->in_a].data, *restrict b = o->b_data;
    float *restrict y = net->t[o->out].data;
    size_t n = net->t[o->out].bytes / sizeof(float);
    const int relu = o->relu;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = a[i] + b[i];
        y[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

static void fn_add_bwd(dn_net *net, const step *s)
{
    const add_operands *o = &s->add;
    const float *restrict y = net->t[o->out].data, *restrict dy = net->t[o->out].diff;
    float *restrict da = net->t[o->in_a].diff;
    float *restrict db = o->b_diff ? o->b_diff : net->t[o->in_b].diff;
    size_t n = net->t[o->out].bytes / sizeof(float);
    const int relu = o->relu, acc_a = o->accumulate_a, acc_b = o->accumulate_b;
    const int skip_a = o->skip_a, skip_b = o->skip_b;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = relu && y[i] <= 0.0f ? 0.0f : dy[i];
        if (!skip_a)
            da[i] = acc_a ? da[i] + g : g;
        if (!skip_b)
            db[i] = acc_b ? db[i] + g : g;
    }
}

cz_status dn_build_add(dn_net *net, int op_id)
{
    const cz_op *op = &net->g->ops[op_id];
    const tensor *a = &net->t[op->in[0]], *b = &net->t[op->in[1]];
    add_operands o = {.in_a = op->in[0], .in_b = op->in[1], .out = op->out, .relu = op->relu};
    /* The loops run over a's layout; b is reordered into it when oneDNN
     * chose another layout for it (and its gradient back). */
    int same = dnnl_memory_desc_equal(&a->md, &b->md);
    o.b_data = b->data;
    dnnl_memory_t bconv = NULL, dbconv = NULL;
    if (!same) {
        TRY(dn_make_buffer(net, &a->md, "add operand", &o.b_data, &bconv));
        TRY(dn_add_reorder(net, &net->fwd, op_id, b->mem, &b->md, bconv, &a->md));
    }
    TRY(dn_set_tensor(net, op->out, &a->md));
    step *st = dn_add_step(net, &net->fwd, NULL, CZ_PROF_ELTWISE, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fn_add_fwd;
    st->add = o;
    if (!net->training)
        return CZ_OK;
    o.skip_a = !a->needs_diff;
    o.accumulate_a = a->needs_diff && a->last_consumer != op_id;
    o.skip_b = !b->needs_diff;
    if (b->needs_diff && same) {
        o.accumulate_b = b->last_consumer != op_id;
    } else if (b->needs_diff) {
        /* gradient in a's layout, reordered into b's (accumulating if b
         * has a later consumer); pushed in reverse order */
        dnnl_memory_t target;
        TRY(dn_make_buffer(net, &a->md, "add operand gradient", &o.b_diff, &dbconv));
        TRY(dn_diff_target(net, op->in[1], op_id, &target));
        TRY(dn_add_reorder(net, &net->bwd, op_id, dbconv, &a->md, target, &b->md));
    }
    st = dn_add_step(net, &net->bwd, NULL, CZ_PROF_ELTWISE, op_id);
    if (!st)
        return CZ_ERR_NOMEM;
    st->fn = fn_add_bwd;
    st->add = o;
    return CZ_OK;
}
