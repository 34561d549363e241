/* oneDNN backend, the core: object bookkeeping, gradient accumulation and
 * the gradient memory plan, building a net from a graph, running it. The
 * layers are built in backend_dnnl_conv.c and backend_dnnl_layers.c.
 *
 * Each op becomes one primitive (and its backward passes); activations stay
 * in oneDNN's channel-blocked layout and are reordered only at the edges:
 * weights from PyTorch's layout in the parameter slab, gradients back into
 * it, and the network's input and output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_dnnl_impl.h"
#include "util.h"

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

cz_status dn_keep_pd(dn_net *net, dnnl_primitive_desc_t pd)
{
    if (!push((void **)&net->pds, &net->n_pds, &net->cap_pds, sizeof pd)) {
        dnnl_primitive_desc_destroy(pd);
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    }
    net->pds[net->n_pds++] = pd;
    return CZ_OK;
}

cz_status dn_make_prim(dn_net *net, dnnl_primitive_desc_t pd, dnnl_primitive_t *out)
{
    DNN(dnnl_primitive_create(out, pd));
    if (!push((void **)&net->prims, &net->n_prims, &net->cap_prims, sizeof *out)) {
        dnnl_primitive_destroy(*out);
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    }
    net->prims[net->n_prims++] = *out;
    return CZ_OK;
}

cz_status dn_make_mem(dn_net *net, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t *out)
{
    DNN(dnnl_memory_create(out, md, net->engine, handle));
    if (!push((void **)&net->mems, &net->n_mems, &net->cap_mems, sizeof *out)) {
        dnnl_memory_destroy(*out);
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    }
    net->mems[net->n_mems++] = *out;
    return CZ_OK;
}

float *dn_make_block(dn_net *net, size_t bytes, const char *what)
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
cz_status dn_make_buffer(dn_net *net, const dnnl_memory_desc_t *md, const char *what,
                             float **data, dnnl_memory_t *mem)
{
    *data = dn_make_block(net, dnnl_memory_desc_get_size(md), what);
    if (!*data)
        return CZ_ERR_NOMEM;
    return dn_make_mem(net, md, *data, mem);
}

step *dn_add_step(dn_net *net, step_list *l, dnnl_primitive_t prim, cz_prof_kind prof, int op)
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

void dn_arg(step *s, int what, dnnl_memory_t m)
{
    s->args[s->nargs].arg = what;
    s->args[s->nargs].memory = m;
    s->nargs++;
}

const dnnl_memory_desc_t *dn_query(dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

void dn_dims4(dnnl_dims_t d, int n, int c, int h, int w)
{
    d[0] = n;
    d[1] = c;
    d[2] = h;
    d[3] = w;
}

dnnl_format_tag_t dn_activation_tag(const dn_net *net)
{
    if (net->opt.any_layout)
        return dnnl_format_tag_any;
    return net->block == 16 ? dnnl_aBcd16b : dnnl_aBcd8b;
}

/* c channels as blocks of `block` store them. */
static int padded_channels(int c, int block)
{
    return (c + block - 1) / block * block;
}

/* The FLOPs per image of a net's convolutions as the kernels compute them:
 * every blocked channel count rounded up to the block (the input is plain). */
static double padded_conv_flops(const cz_graph *g, int block)
{
    double flops = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const cz_op *op = &g->ops[i];
        if (op->kind != CZ_OP_CONV && op->kind != CZ_OP_DECONV)
            continue;
        const cz_tensor_info *out = &g->tensors[op->out];
        const int k = op->kind == CZ_OP_CONV ? g->params[op->weight].shape[2] : op->kernel;
        const double cout = padded_channels(out->c, block);
        for (int p = 0; p < op->n_in; p++) {
            const cz_tensor_info *in = &g->tensors[op->in[p]];
            const double cin = op->in[p] == g->input ? in->c : padded_channels(in->c, block);
            const double cells = op->kind == CZ_OP_CONV ? out->h * out->w : in->h * in->w;
            flops += 2 * cin * cout * cells * k * k;
        }
    }
    return flops;
}

/* The channel block of a net's activations: 16 on AVX-512 unless padding
 * channel counts up to 16 costs more than its kernels gain over the AVX2
 * kernels that blocks of 8 get. A tensor of fewer channels than its block
 * runs as the wider one it is stored as (the padded paths of
 * backend_dnnl_conv.c), so either block has fast kernels; what differs is
 * the padding. Measured on the Zen 4 (unet/cls, one thread): w12, whose
 * padded FLOPs are 1.2x by 16 what they are by 8, trained 1.5x faster by
 * 16; w8 (1.86x the FLOPs by 16) trained 0.92x as fast. Both put the
 * break-even near 1.7x, the threshold taken (docs/engine.md). It gives 8
 * to widths 4-8 and 16 to 10 and up. */
static int choose_block(const dn_net *net)
{
    if (net->opt.channel_block)
        return net->opt.channel_block;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core) != dnnl_cpu_isa_avx512_core)
        return 8;
    return padded_conv_flops(net->g, 16) <= 1.7 * padded_conv_flops(net->g, 8) ? 16 : 8;
}

cz_status dn_plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag)
{
    DNN(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
    return CZ_OK;
}

/* A reorder step from src to dst (both existing memories) appended to l. */
cz_status dn_add_reorder(dn_net *net, step_list *l, int op, dnnl_memory_t src,
                             const dnnl_memory_desc_t *src_md, dnnl_memory_t dst,
                             const dnnl_memory_desc_t *dst_md)
{
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    DNN(dnnl_reorder_primitive_desc_create(&pd, src_md, net->engine, dst_md, net->engine, NULL));
    TRY(dn_keep_pd(net, pd));
    TRY(dn_make_prim(net, pd, &p));
    step *s = dn_add_step(net, l, p, CZ_PROF_REORDER, op);
    if (!s)
        return CZ_ERR_NOMEM;
    dn_arg(s, DNNL_ARG_FROM, src);
    dn_arg(s, DNNL_ARG_TO, dst);
    return CZ_OK;
}

/* ---- gradient accumulation into a tensor's diff ------------------------ */

/* diff[t] += scratch, both laid out as t.md */
static void fn_accumulate(dn_net *net, const step *s)
{
    tensor *t = &net->t[s->accumulate_into];
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
cz_status dn_diff_target(dn_net *net, int id, int op, dnnl_memory_t *mem)
{
    tensor *t = &net->t[id];
    if (t->last_consumer == op) {
        *mem = t->dmem;
        return CZ_OK;
    }
    TRY(dn_make_mem(net, &t->md, NULL, mem));
    if (!push((void **)&net->scratch_mems, &net->n_scratch_mems, &net->cap_scratch_mems,
              sizeof *mem))
        return cz_fail(CZ_ERR_NOMEM, "backend: out of memory");
    net->scratch_mems[net->n_scratch_mems++] = *mem;
    step *s = dn_add_step(net, &net->bwd, NULL, CZ_PROF_ELTWISE, op);
    if (!s)
        return CZ_ERR_NOMEM;
    s->fn = fn_accumulate;
    s->accumulate_into = id;
    return CZ_OK;
}


/* ---- tensors ------------------------------------------------------------ */

cz_status dn_set_tensor(dn_net *net, int id, const dnnl_memory_desc_t *md)
{
    tensor *t = &net->t[id];
    t->md = *md;
    t->bytes = dnnl_memory_desc_get_size(md);
    TRY(dn_make_buffer(net, md, "activation", &t->data, &t->mem));
    /* gradient memory is assigned after the build (plan_gradients) */
    if (net->training && t->needs_diff)
        TRY(dn_make_mem(net, md, NULL, &t->dmem));
    if (t->bytes > net->scratch_bytes)
        net->scratch_bytes = t->bytes;
    return CZ_OK;
}

/* ---- BatchNorm running statistics ----------------------------------------- */

static void update_running(dn_net *net)
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

static cz_status plan_gradients(dn_net *net)
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
            if (!(blocks[best].ptr = dn_make_block(net, t->bytes, "activation gradients")))
                goto done;
        }
        blocks[best].free_from = end;
        t->diff = blocks[best].ptr;
        dnnl_status_t r = dnnl_memory_set_data_handle(t->dmem, t->diff);
        if (r == dnnl_success && t->dwide)
            r = dnnl_memory_set_data_handle(t->dwide, t->diff);
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

static cz_status build(dn_net *net)
{
    const cz_graph *g = net->g;
    DNN(dnnl_engine_create(&net->engine, dnnl_cpu, 0));
    DNN(dnnl_stream_create(&net->stream, net->engine, dnnl_stream_default_flags));
    net->block = choose_block(net);
    net->t = cz_alloc((size_t)g->n_tensors, sizeof(tensor), "tensors");
    net->bn_mean = cz_alloc((size_t)g->n_ops, sizeof(float *), "bn stats");
    net->bn_var = cz_alloc((size_t)g->n_ops, sizeof(float *), "bn stats");
    if (!net->t || !net->bn_mean || !net->bn_var)
        return CZ_ERR_NOMEM;
    /* Every tensor but the input gets a gradient buffer; the aux output's
     * is the caller's (net->daux, below). */
    for (int i = 0; i < g->n_tensors; i++) {
        net->t[i].needs_diff = i != g->input && i != g->aux;
        net->t[i].last_consumer = -1;
    }
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_in; k++)
            net->t[g->ops[i].in[k]].last_consumer = i;

    /* Input edge: NCHW as the caller passes it. */
    const cz_tensor_info *ii = &g->tensors[g->input];
    dnnl_dims_t d;
    dnnl_memory_desc_t md;
    dn_dims4(d, net->batch, ii->c, ii->h, ii->w);
    TRY(dn_plain_md(&md, 4, d, dnnl_nchw));
    TRY(dn_set_tensor(net, g->input, &md));

    /* Forward steps in op order. Backward steps are pushed in op order too,
     * each op's own steps in reverse, and the list is flipped at the end:
     * layouts are only known once the forward pass of an op is built. */
    for (int i = 0; i < g->n_ops; i++) {
        cz_status st = CZ_OK;
        switch (g->ops[i].kind) {
        case CZ_OP_CONV:
        case CZ_OP_DECONV: st = dn_build_conv(net, i); break;
        case CZ_OP_BN: st = dn_build_bn(net, i); break;
        case CZ_OP_POOL: st = dn_build_pool(net, i); break;
        case CZ_OP_ADD: st = dn_build_add(net, i); break;
        case CZ_OP_GAP:
        case CZ_OP_FC:
        case CZ_OP_BROADCAST:
        case CZ_OP_GATE: st = dn_build_context(net, i); break;
        }
        if (st)
            return st;
    }

    /* Output edge. */
    const cz_tensor_info *oi = &g->tensors[g->output];
    dn_dims4(d, net->batch, oi->c, oi->h, oi->w);
    TRY(dn_plain_md(&md, 4, d, dnnl_nchw));
    TRY(dn_make_mem(net, &md, NULL, &net->out_user));
    TRY(dn_add_reorder(net, &net->fwd, -1, net->t[g->output].mem, &net->t[g->output].md,
                    net->out_user, &md));
    if (net->training) {
        TRY(dn_make_mem(net, &md, NULL, &net->dout_user));
        TRY(dn_add_reorder(net, &net->bwd, -1, net->dout_user, &md, net->t[g->output].dmem,
                        &net->t[g->output].md));
    }
    if (net->training)
        TRY(plan_gradients(net));
    if (net->training && g->aux >= 0) {
        const size_t bytes = (size_t)net->batch * g->tensors[g->aux].c * sizeof(float);
        if (!(net->daux = dn_make_block(net, bytes, "aux gradient")))
            return CZ_ERR_NOMEM;
        memset(net->daux, 0, bytes);
        net->t[g->aux].diff = net->daux;
    }
    net->scratch = dn_make_block(net, net->scratch_bytes, "gradient scratch");
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

static void dn_free(void *impl);

static cz_status dn_create(const cz_net_config *cfg, void **out)
{
    if (cfg->options.bf16 && !cz_backend_bf16_available())
        return cz_fail(CZ_ERR_ARG, "bf16 precision needs a CPU with bf16 instructions (AVX512_BF16 or AMX); "
                       "this one has none that oneDNN uses (%s): use fp32", dn_isa_name());
    int block = cfg->options.channel_block;
    if (block != 0 && block != 8 && block != 16)
        return cz_fail(CZ_ERR_ARG, "channel block %d: 8, 16, or 0 to choose by the CPU and the channel counts", block);
    dn_net *net = cz_alloc(1, sizeof *net, "net");
    if (!net)
        return CZ_ERR_NOMEM;
    net->g = cfg->graph;
    net->batch = cfg->batch;
    net->training = cfg->training;
    net->params = cfg->params;
    net->grads = cfg->grads;
    net->buffers = cfg->buffers;
    net->opt = cfg->options;
    cz_status st = build(net);
    if (st) {
        dn_free(net);
        return st;
    }
    *out = net;
    return CZ_OK;
}

static void dn_free(void *impl)
{
    dn_net *net = impl;
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

static cz_status run(dn_net *net, step *s)
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

static cz_status dn_forward(void *impl, const float *input, float *output)
{
    dn_net *net = impl;
    DNN(dnnl_memory_set_data_handle(net->t[net->g->input].mem, (void *)input));
    DNN(dnnl_memory_set_data_handle(net->out_user, output));
    for (int i = 0; i < net->fwd.n; i++)
        TRY(run(net, &net->fwd.v[i]));
    DNN(dnnl_stream_wait(net->stream));
    if (net->training)
        update_running(net);
    return CZ_OK;
}

static cz_status dn_backward(void *impl, const float *d_output)
{
    dn_net *net = impl;
    if (!net->training)
        return cz_fail(CZ_ERR_ARG, "backward on a net built for inference");
    DNN(dnnl_memory_set_data_handle(net->dout_user, (void *)d_output));
    for (int i = 0; i < net->bwd.n; i++)
        TRY(run(net, &net->bwd.v[i]));
    DNN(dnnl_stream_wait(net->stream));
    return CZ_OK;
}

static size_t dn_memory(const void *impl)
{
    return ((const dn_net *)impl)->bytes;
}

static void dn_profile(void *impl, int enable)
{
    dn_net *net = impl;
    net->profiling = enable;
    if (enable) {
        memset(net->prof, 0, sizeof net->prof);
        for (int i = 0; i < net->fwd.n; i++)
            net->fwd.v[i].seconds = 0;
        for (int i = 0; i < net->bwd.n; i++)
            net->bwd.v[i].seconds = 0;
    }
}

static const double *dn_profile_times(const void *impl)
{
    return ((const dn_net *)impl)->prof;
}

static void describe_list(const dn_net *net, const step_list *l, const char *pass, FILE *fp)
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

static void dn_describe(const void *impl, FILE *fp)
{
    const dn_net *net = impl;
    describe_list(net, &net->fwd, "fwd", fp);
    describe_list(net, &net->bwd, "bwd", fp);
}

static const float *dn_aux_output(const void *impl)
{
    const dn_net *net = impl;
    return net->g->aux >= 0 ? net->t[net->g->aux].data : NULL;
}

static float *dn_aux_grad(void *impl)
{
    return ((dn_net *)impl)->daux;
}

const cz_backend_i cz_backend_dnnl = {
    .name = "dnnl",
    .create = dn_create,
    .forward = dn_forward,
    .backward = dn_backward,
    .describe = dn_describe,
    .memory = dn_memory,
    .profile = dn_profile,
    .profile_times = dn_profile_times,
    .aux_output = dn_aux_output,
    .aux_grad = dn_aux_grad,
    .free = dn_free,
};
