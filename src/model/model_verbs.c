/* The model verbs: forward (with the head's loss), backward, the optimiser
 * step and prediction, over a cache of nets built by the model's backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "util.h"

static void net_release(cz_model_net *e)
{
    cz_net_free(e->net);
    if (e->folded) {
        cz_folded_free(e->folded);
        free(e->folded);
    }
    free(e->fparams);
    if (e->graph) {
        cz_graph_free(e->graph);
        free(e->graph);
    }
    free(e->out);
    free(e->dout);
    free(e->flip_in);
    free(e->flip_out);
    memset(e, 0, sizeof *e);
}

void cz_model_drop_nets(cz_model *m)
{
    for (int i = 0; i < CZ_MODEL_NETS; i++)
        net_release(&m->nets[i]);
    m->trained = NULL;
}

cz_status cz_model_set_backend(cz_model *m, const char *name)
{
    const cz_backend_i *be = cz_backend_find(name);
    if (!be)
        return CZ_ERR_ARG;
    cz_model_drop_nets(m);
    m->backend = be;
    return CZ_OK;
}

cz_status cz_precision_parse(const char *name, int *bf16)
{
    if (!name || strcmp(name, "fp32") == 0)
        *bf16 = 0;
    else if (strcmp(name, "bf16") == 0)
        *bf16 = 1;
    else
        return cz_fail(CZ_ERR_ARG, "unknown precision '%s' (use fp32 or bf16)", name);
    if (*bf16 && !cz_backend_bf16_available())
        return cz_fail(CZ_ERR_ARG, "precision bf16 needs a CPU with bf16 instructions (AVX512_BF16 or AMX) "
                       "and this one has none: use fp32");
    return CZ_OK;
}

cz_status cz_model_set_precision(cz_model *m, const char *name)
{
    int bf16;
    cz_status st = cz_precision_parse(name, &bf16);
    if (st)
        return st;
    cz_model_drop_nets(m);
    m->backend_options.bf16 = bf16;
    return CZ_OK;
}

cz_status cz_model_optim_init(cz_model *m, const cz_optim_config *cfg)
{
    cz_optim_free(&m->opt);
    return cz_optim_init(&m->opt, cfg, m->graph.param_floats);
}

static cz_status net_build(cz_model *m, cz_model_net *e, int batch, int h, int w, int training)
{
    e->batch = batch;
    e->h = h;
    e->w = w;
    e->training = training;
    const cz_graph *g = &m->graph;
    cz_status st;
    if (h != m->side || w != m->side) {
        if (!(e->graph = cz_alloc(1, sizeof *e->graph, "graph")))
            return CZ_ERR_NOMEM;
        if ((st = cz_model_graph_hw(m->arch, m->width, m->out_channels, h, w, e->graph)))
            return st;
        if (e->graph->param_floats != m->graph.param_floats)
            return cz_fail(CZ_ERR_ARG, "internal: parameter layout differs at %dx%d", w, h);
        g = e->graph;
    }
    if (training && !m->grads &&
        !(m->grads = cz_alloc_aligned(m->graph.param_floats, sizeof(float), "gradients")))
        return CZ_ERR_NOMEM;
    const size_t n = (size_t)batch * m->out_channels * h * w;
    if (!(e->out = cz_alloc_aligned(n, sizeof(float), "network output")) ||
        (training && !(e->dout = cz_alloc_aligned(n, sizeof(float), "output gradient"))))
        return CZ_ERR_NOMEM;
    float *params = m->params;
    if (!training && !m->no_fold) {
        /* Inference runs the BatchNorm-folded twin of the graph. */
        if (!(e->folded = cz_alloc(1, sizeof *e->folded, "folded graph")))
            return CZ_ERR_NOMEM;
        if ((st = cz_fold_graph(g, e->folded)))
            return st;
        if (!(e->fparams = cz_alloc_aligned(e->folded->graph.param_floats, sizeof(float), "folded parameters")))
            return CZ_ERR_NOMEM;
        g = &e->folded->graph;
        params = e->fparams;
    }
    if (m->backend_options.bf16 && m->backend != &cz_backend_dnnl)
        return cz_fail(CZ_ERR_ARG, "precision bf16 runs on the dnnl backend only, not on %s", m->backend->name);
    cz_net_config cfg = {.graph = g, .batch = batch, .training = training, .params = params,
                         .grads = training ? m->grads : NULL, .buffers = m->buffers,
                         .options = m->backend_options};
    return cz_net_create(m->backend, &cfg, &e->net);
}

/* The cached net for this shape, built on first use. */
static cz_status net_get(cz_model *m, int batch, int h, int w, int training, cz_model_net **out)
{
    cz_model_net *e = NULL, *victim = &m->nets[0];
    for (int i = 0; i < CZ_MODEL_NETS && !e; i++) {
        cz_model_net *c = &m->nets[i];
        if (c->net && c->batch == batch && c->h == h && c->w == w && c->training == training)
            e = c;
        else if (!c->net || (victim->net && c->last_use < victim->last_use))
            victim = c;
    }
    if (!e) {
        if (victim == m->trained)
            m->trained = NULL;
        net_release(victim);
        cz_status st = net_build(m, victim, batch, h, w, training);
        if (st) {
            net_release(victim);
            return st;
        }
        e = victim;
    }
    e->last_use = ++m->clock;
    *out = e;
    return CZ_OK;
}

cz_status cz_model_forward(cz_model *m, const cz_batch *b, double *loss, const float **out)
{
    cz_model_net *e;
    cz_status st = net_get(m, b->n, b->side, b->side, 1, &e);
    if (st)
        return st;
    m->trained = e;
    if ((st = cz_net_forward(e->net, b->y, e->out)))
        return st;
    *loss = cz_head_loss(m->head, m->cls_loss, e->out, b, e->dout);
    m->aux_ce = NAN;
    float *daux = cz_net_aux_grad(e->net);
    if (daux) {
        m->aux_ce = cz_aux_class_loss(cz_net_aux_output(e->net), b->labels, b->n,
                                      m->graph.tensors[m->graph.aux].c, m->aux_weight, daux);
        if (m->aux_ce == m->aux_ce)
            *loss += m->aux_weight * m->aux_ce;
    }
    if (out)
        *out = e->out;
    return CZ_OK;
}

cz_status cz_model_backward(cz_model *m)
{
    if (!m->trained)
        return cz_fail(CZ_ERR_ARG, "backward without a training forward");
    return cz_net_backward(m->trained->net, m->trained->dout);
}

cz_status cz_model_step(cz_model *m, double lr)
{
    if (!m->opt.m || !m->grads)
        return cz_fail(CZ_ERR_ARG, "optimiser step without an optimiser or gradients");
    cz_optim_step(&m->opt, m->params, m->grads, lr);
    return CZ_OK;
}

/* Rows of n planes of h x w, each mirrored left to right, src into dst. */
static void mirror_rows(const float *src, float *dst, size_t planes, int h, int w)
{
#pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)(planes * h); r++) {
        const float *s = src + (size_t)r * w;
        float *d = dst + (size_t)r * w;
        for (int x = 0; x < w; x++)
            d[x] = s[w - 1 - x];
    }
}

/* e->out = (net(y) + mirror(net(mirror(y)))) / 2. */
static cz_status forward_flip_average(cz_model *m, cz_model_net *e, const float *y, int n, int h, int w)
{
    const size_t in = (size_t)n * h * w, planes = (size_t)n * m->out_channels;
    /* Kept with the net (its batch and size are fixed): a colourising loop
     * does not allocate per call. */
    if (!e->flip_in && !(e->flip_in = cz_alloc_aligned(in, sizeof(float), "mirrored input")))
        return CZ_ERR_NOMEM;
    if (!e->flip_out && !(e->flip_out = cz_alloc_aligned(planes * h * w, sizeof(float), "mirrored output")))
        return CZ_ERR_NOMEM;
    float *ym = e->flip_in, *om = e->flip_out;
    mirror_rows(y, ym, (size_t)n, h, w);
    cz_status st;
    if ((st = cz_net_forward(e->net, ym, om)) || (st = cz_net_forward(e->net, y, e->out)))
        return st;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)(planes * h); r++) {
        float *o = e->out + (size_t)r * w;
        const float *s = om + (size_t)r * w;
        for (int x = 0; x < w; x++)
            o[x] = 0.5f * (o[x] + s[w - 1 - x]);
    }
    return CZ_OK;
}

cz_status cz_model_predict(cz_model *m, const float *y, int n, int h, int w, cz_decode d, float *uv,
                           const float **out)
{
    cz_model_net *e;
    cz_status st = net_get(m, n, h, w, 0, &e);
    if (st)
        return st;
    if (e->folded) /* the weights may have changed since the last call */
        cz_fold_params(e->folded, e->graph ? e->graph : &m->graph, m->params, m->buffers, e->fparams);
    if ((st = m->flip_average ? forward_flip_average(m, e, y, n, h, w) : cz_net_forward(e->net, y, e->out)))
        return st;
    if (uv)
        cz_head_decode(m->head, e->out, n, h * w, d, uv);
    if (out)
        *out = e->out;
    return CZ_OK;
}

size_t cz_model_memory(const cz_model *m)
{
    size_t bytes = 0;
    for (int i = 0; i < CZ_MODEL_NETS; i++)
        if (m->nets[i].net)
            bytes += cz_net_memory(m->nets[i].net);
    return bytes;
}

void cz_model_profile(cz_model *m, int enable)
{
    if (m->trained)
        cz_net_profile(m->trained->net, enable);
}

const double *cz_model_profile_times(const cz_model *m)
{
    static const double none[CZ_PROF_COUNT];
    return m->trained ? cz_net_profile_times(m->trained->net) : none;
}

void cz_model_describe(const cz_model *m, FILE *fp)
{
    for (int i = 0; i < CZ_MODEL_NETS; i++) {
        const cz_model_net *e = &m->nets[i];
        if (!e->net)
            continue;
        fprintf(fp, "# %s net: batch %d, %dx%d, %s\n", cz_net_backend_name(e->net), e->batch, e->w, e->h,
                e->training ? "training" : "inference");
        cz_net_describe(e->net, fp);
    }
}
