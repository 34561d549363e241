/* BatchNorm folding (graph_fold.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_fold.h"
#include "util.h"

static void *dup(const void *p, size_t n, size_t size, const char *what)
{
    void *q = cz_alloc(n ? n : 1, size, what);
    if (q && n)
        memcpy(q, p, n * size);
    return q;
}

/* How many ops read tensor t (the graph's output counts as a reader). */
static int readers(const cz_graph *g, int t)
{
    int n = g->output == t;
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_in; k++)
            n += g->ops[i].in[k] == t;
    return n;
}

cz_status cz_fold_graph(const cz_graph *src, cz_folded *f)
{
    memset(f, 0, sizeof *f);
    cz_graph *g = &f->graph;
    cz_graph_init(g);
    /* Room for one new bias per op: the bound on folded convs. */
    g->tensors = dup(src->tensors, (size_t)src->n_tensors, sizeof *src->tensors, "folded tensors");
    g->ops = dup(src->ops, (size_t)src->n_ops, sizeof *src->ops, "folded ops");
    g->params = cz_alloc((size_t)src->n_params + src->n_ops + 1, sizeof *src->params, "folded params");
    g->buffers = dup(src->buffers, (size_t)src->n_buffers, sizeof *src->buffers, "folded buffers");
    f->pairs = cz_alloc((size_t)src->n_ops + 1, sizeof *f->pairs, "fold pairs");
    if (!g->tensors || !g->ops || !g->params || !g->buffers || !f->pairs) {
        cz_folded_free(f);
        return CZ_ERR_NOMEM;
    }
    memcpy(g->params, src->params, (size_t)src->n_params * sizeof *src->params);
    g->n_tensors = g->cap_tensors = src->n_tensors;
    g->n_params = src->n_params;
    g->cap_params = src->n_params + src->n_ops + 1;
    g->n_buffers = g->cap_buffers = src->n_buffers;
    g->param_floats = src->param_floats;
    g->buffer_floats = src->buffer_floats;
    g->input = src->input;
    g->output = src->output;
    g->aux = src->aux;
    /* Walk the source's ops, copying each one unless it is a BatchNorm
     * absorbed by the convolution just before it. */
    int n = 0;
    for (int i = 0; i < src->n_ops; i++) {
        const cz_op *op = &src->ops[i];
        cz_op *prev = n > 0 ? &g->ops[n - 1] : NULL;
        if (op->kind == CZ_OP_BN && prev && prev->kind == CZ_OP_CONV && !prev->relu &&
            op->in[0] == prev->out && readers(src, prev->out) == 1) {
            cz_fold_pair *p = &f->pairs[f->n_pairs++];
            p->conv = n - 1;
            p->weight = prev->weight;
            p->old_bias = prev->bias;
            p->gamma = op->gamma;
            p->beta = op->beta;
            p->mean = op->mean;
            p->var = op->var;
            if (prev->bias < 0) {
                cz_param_info *b = &g->params[g->n_params];
                memset(b, 0, sizeof *b);
                snprintf(b->name, sizeof b->name, "%s.folded_bias", prev->name);
                b->ndim = 1;
                b->shape[0] = g->tensors[prev->out].c;
                b->count = (size_t)b->shape[0];
                b->offset = g->param_floats;
                g->param_floats += b->count;
                prev->bias = g->n_params++;
            }
            p->bias = prev->bias;
            prev->relu = op->relu;
            /* The BatchNorm's output is now the convolution's. */
            const int from = op->out, to = prev->out;
            for (int k = i + 1; k < src->n_ops; k++)
                for (int j = 0; j < src->ops[k].n_in; j++)
                    if (src->ops[k].in[j] == from)
                        g->ops[k].in[j] = to;
            if (g->output == from)
                g->output = to;
            continue;
        }
        g->ops[n++] = g->ops[i]; /* its inputs were renamed by the loop above */
    }
    g->n_ops = n;
    g->cap_ops = src->n_ops;
    return CZ_OK;
}

void cz_folded_free(cz_folded *f)
{
    cz_graph_free(&f->graph);
    free(f->pairs);
    memset(f, 0, sizeof *f);
}

void cz_fold_params(const cz_folded *f, const cz_graph *src, const float *params, const float *buffers,
                    float *out)
{
    memcpy(out, params, src->param_floats * sizeof(float));
    for (int k = 0; k < f->n_pairs; k++) {
        const cz_fold_pair *p = &f->pairs[k];
        const cz_param_info *w = &f->graph.params[p->weight];
        const int cout = w->shape[0];
        const size_t per = w->count / (size_t)cout;
        const float *gamma = params + src->params[p->gamma].offset, *beta = params + src->params[p->beta].offset;
        const float *mean = buffers + src->buffers[p->mean].offset, *var = buffers + src->buffers[p->var].offset;
        const float *b0 = p->old_bias >= 0 ? params + src->params[p->old_bias].offset : NULL;
        float *wo = out + w->offset, *bo = out + f->graph.params[p->bias].offset;
        for (int c = 0; c < cout; c++) {
            /* in double: the folded path must match the unfused one to 1e-5 */
            const double s = gamma[c] / sqrt((double)var[c] + CZ_BN_EPS);
            for (size_t j = 0; j < per; j++)
                wo[(size_t)c * per + j] = (float)(wo[(size_t)c * per + j] * s);
            bo[c] = (float)(((b0 ? b0[c] : 0.0) - mean[c]) * s + beta[c]);
        }
    }
}
