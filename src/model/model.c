/* Model slabs and PyTorch-style initialisation (the verbs: model_verbs.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "util.h"

static void fill_uniform(float *x, size_t n, float bound, cz_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (2.0f * cz_rng_uniform(rng) - 1.0f) * bound;
}

cz_status cz_model_create(cz_model *m, cz_arch arch, cz_head head, int width, int side)
{
    memset(m, 0, sizeof *m);
    m->arch = arch;
    m->head = head;
    m->width = width;
    m->side = side;
    m->out_channels = cz_head_channels(head);
    m->backend = &cz_backend_dnnl;
    cz_status st = cz_model_graph(arch, width, m->out_channels, side, &m->graph);
    if (st)
        return st;
    /* One at a time, stopping at the first failure, so the message names
     * the slab that did not fit. Gradients come with the first training
     * step (model_verbs.c): running a model never allocates them. */
    if (!(m->params = cz_alloc_aligned(m->graph.param_floats, sizeof(float), "parameters")) ||
        !(m->buffers = cz_alloc_aligned(m->graph.buffer_floats + 1, sizeof(float),
                                        "BatchNorm running statistics"))) {
        cz_model_free(m);
        return CZ_ERR_NOMEM;
    }
    return CZ_OK;
}

cz_status cz_model_init(cz_model *m, cz_arch arch, cz_head head, int width, int side, uint64_t seed)
{
    cz_status st = cz_model_create(m, arch, head, width, side);
    if (st)
        return st;
    cz_rng rng = {seed ^ 0x636f6c6f72697a65ull};
    const cz_graph *g = &m->graph;
    for (int i = 0; i < g->n_ops; i++) {
        const cz_op *op = &g->ops[i];
        if (op->kind == CZ_OP_CONV || op->kind == CZ_OP_DECONV || op->kind == CZ_OP_FC) {
            const cz_param_info *w = &g->params[op->weight];
            /* PyTorch's fan_in is size(1) * kh * kw for both conv kinds
             * (for ConvTranspose2d that is the output channel count), and
             * in_features for nn.Linear: the same bounds. */
            double fan_in = (double)w->shape[1] * (w->ndim == 4 ? (double)w->shape[2] * w->shape[3] : 1.0);
            float bound = (float)(1.0 / sqrt(fan_in));
            fill_uniform(m->params + w->offset, w->count, bound, &rng);
            if (op->bias >= 0)
                fill_uniform(m->params + g->params[op->bias].offset, g->params[op->bias].count, bound,
                             &rng);
        } else if (op->kind == CZ_OP_BN) {
            const cz_param_info *ga = &g->params[op->gamma], *va = &g->buffers[op->var];
            for (size_t k = 0; k < ga->count; k++) {
                m->params[ga->offset + k] = 1.0f;
                m->buffers[va->offset + k] = 1.0f;
            }
        }
    }
    return CZ_OK;
}

void cz_model_free(cz_model *m)
{
    cz_model_drop_nets(m);
    cz_optim_free(&m->opt);
    cz_graph_free(&m->graph);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    memset(m, 0, sizeof *m);
}
