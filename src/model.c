/* Model slabs and PyTorch-style initialisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/dataset.h"
#include "model.h"
#include "util.h"

const char *cz_head_name(cz_head h)
{
    return h == CZ_HEAD_CLS ? "cls" : "reg";
}

cz_status cz_head_parse(const char *text, cz_head *out)
{
    if (strcmp(text, "reg") == 0) {
        *out = CZ_HEAD_REG;
        return CZ_OK;
    }
    if (strcmp(text, "cls") == 0) {
        *out = CZ_HEAD_CLS;
        return CZ_OK;
    }
    return cz_fail(CZ_ERR_ARG, "unknown head '%s' (use reg or cls)", text);
}

static void fill_uniform(float *x, size_t n, float bound, cz_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (2.0f * cz_rng_uniform(rng) - 1.0f) * bound;
}

cz_status cz_model_init(cz_model *m, cz_arch arch, cz_head head, int width, int side, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->arch = arch;
    m->head = head;
    m->width = width;
    m->side = side;
    m->out_channels = head == CZ_HEAD_CLS ? 40 : 2;
    cz_status st = cz_model_graph(arch, width, m->out_channels, side, &m->graph);
    if (st)
        return st;
    /* One at a time, stopping at the first failure, so the message names
     * the slab that did not fit (a later success would not clear it, but a
     * later failure would overwrite it). */
    if (!(m->params = cz_alloc_aligned(m->graph.param_floats, sizeof(float), "parameters")) ||
        !(m->grads = cz_alloc_aligned(m->graph.param_floats, sizeof(float), "gradients")) ||
        !(m->buffers = cz_alloc_aligned(m->graph.buffer_floats + 1, sizeof(float),
                                        "BatchNorm running statistics"))) {
        cz_model_free(m);
        return CZ_ERR_NOMEM;
    }
    cz_rng rng = {seed ^ 0x636f6c6f72697a65ull};
    const cz_graph *g = &m->graph;
    for (int i = 0; i < g->n_ops; i++) {
        const cz_op *op = &g->ops[i];
        if (op->kind == CZ_OP_CONV || op->kind == CZ_OP_DECONV) {
            const cz_param_info *w = &g->params[op->weight];
            /* PyTorch's fan_in is size(1) * kh * kw for both layer kinds
             * (for ConvTranspose2d that is the output channel count). */
            double fan_in = (double)w->shape[1] * w->shape[2] * w->shape[3];
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
    cz_graph_free(&m->graph);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    memset(m, 0, sizeof *m);
}
