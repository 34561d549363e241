/* Weight EMA and BatchNorm re-estimation for it. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ema.h"
#include "util.h"

static const char *bn_names[] = {"average", "reestimate"};

cz_status cz_ema_bn_parse(const char *text, cz_ema_bn *out)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(text, bn_names[i]) == 0) {
            *out = (cz_ema_bn)i;
            return CZ_OK;
        }
    return cz_fail(CZ_ERR_ARG, "unknown EMA BatchNorm rule '%s' (use average or reestimate)", text);
}

const char *cz_ema_bn_name(cz_ema_bn b)
{
    return (unsigned)b < 2 ? bn_names[b] : "?";
}

cz_status cz_ema_init(cz_ema *e, double decay, cz_ema_bn bn, const cz_model *m)
{
    memset(e, 0, sizeof *e);
    if (!(decay >= 0 && decay < 1))
        return cz_fail(CZ_ERR_ARG, "EMA decay %g is outside [0, 1)", decay);
    e->decay = decay;
    e->bn = bn;
    e->n_params = m->graph.param_floats;
    e->n_buffers = m->graph.buffer_floats;
    e->params = cz_alloc_aligned(e->n_params, sizeof(float), "EMA parameters");
    e->buffers = cz_alloc_aligned(e->n_buffers + 1, sizeof(float), "EMA buffers");
    if (!e->params || !e->buffers) {
        cz_ema_free(e);
        return CZ_ERR_NOMEM;
    }
    if (e->n_params)
        memcpy(e->params, m->params, e->n_params * sizeof(float));
    if (e->n_buffers) /* (a model without BatchNorm may have no buffer slab) */
        memcpy(e->buffers, m->buffers, e->n_buffers * sizeof(float));
    return CZ_OK;
}

void cz_ema_free(cz_ema *e)
{
    free(e->params);
    free(e->buffers);
    memset(e, 0, sizeof *e);
}

double cz_ema_decay_at(double decay, long updates)
{
    double warm = (1.0 + (double)updates) / (10.0 + (double)updates);
    return warm < decay ? warm : decay;
}

static void lerp(float *restrict a, const float *restrict b, size_t n, float w)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] += w * (b[i] - a[i]);
}

void cz_ema_update(cz_ema *e, const cz_model *m)
{
    const float w = (float)(1.0 - cz_ema_decay_at(e->decay, e->updates));
    lerp(e->params, m->params, e->n_params, w);
    if (e->bn == CZ_EMA_BN_AVERAGE)
        lerp(e->buffers, m->buffers, e->n_buffers, w);
    e->updates++;
}

void cz_ema_view_init(cz_model *v, const cz_ema *e, const cz_model *m)
{
    memset(v, 0, sizeof *v);
    v->arch = m->arch;
    v->head = m->head;
    v->width = m->width;
    v->side = m->side;
    v->out_channels = m->out_channels;
    v->graph = m->graph; /* shared: shallow copy */
    v->params = e->params;
    v->buffers = e->buffers;
    v->backend = m->backend;
    v->backend_options = m->backend_options;
}

void cz_ema_view_release(cz_model *v)
{
    cz_model_drop_nets(v);
    free(v->grads); /* a training forward on the view would have made them */
    memset(v, 0, sizeof *v);
}

/* In training mode the backend updates each running statistic as
 * r = 0.9 r + 0.1 s (SPEC §5, s the batch mean or unbiased variance).
 * Starting every batch from r = 0 therefore leaves 0.1 s: the batch
 * statistic is r / 0.1, and the cumulative average is kept in double. */
cz_status cz_ema_reestimate_bn(cz_ema *e, const cz_model *m, const cz_dataset *ds, const int *idx,
                               int count, int batch, int batches, uint64_t seed)
{
    if (e->n_buffers == 0 || batches < 1)
        return CZ_OK;
    if (batch > count)
        batch = count;
    const int hw = m->side * m->side;
    cz_net *net = NULL;
    cz_loader *ld = NULL;
    float *grads = cz_alloc_aligned(e->n_params, sizeof(float), "re-estimation gradients");
    float *out = cz_alloc_aligned((size_t)batch * m->out_channels * hw, sizeof(float), "re-estimation output");
    double *sum = cz_alloc(e->n_buffers, sizeof(double), "re-estimation sums");
    cz_status st = CZ_ERR_NOMEM;
    if (!grads || !out || !sum)
        goto done;
    cz_net_config nc = {.graph = &m->graph, .batch = batch, .training = 1, .params = e->params,
                        .grads = grads, .buffers = e->buffers, .options = m->backend_options};
    if ((st = cz_net_create(m->backend, &nc, &net)))
        goto done;
    cz_loader_opts lo = {.batch = batch, .shuffle = 1, .drop_last = 1, .seed = seed};
    if (!(ld = cz_loader_create(ds, idx, count, &lo))) {
        st = CZ_ERR_NOMEM;
        goto done;
    }
    if ((st = cz_loader_start(ld, 0, 0)))
        goto done;
    int done_batches = 0;
    const cz_batch *b;
    while (done_batches < batches && (b = cz_loader_next(ld))) {
        memset(e->buffers, 0, e->n_buffers * sizeof(float));
        if ((st = cz_net_forward(net, b->y, out)))
            goto done;
        for (size_t i = 0; i < e->n_buffers; i++)
            sum[i] += (double)(e->buffers[i] / 0.1f);
        done_batches++;
    }
    for (size_t i = 0; i < e->n_buffers; i++)
        e->buffers[i] = done_batches ? (float)(sum[i] / done_batches) : 0.0f;
    st = CZ_OK;
done:
    cz_loader_free(ld);
    cz_net_free(net);
    free(grads);
    free(out);
    free(sum);
    return st;
}
