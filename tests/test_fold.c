/* BatchNorm folding (graph_fold.h): inference through the folded graph
 * equals the unfused graph within 1e-5 on every network and head, on both
 * backends, with BatchNorm statistics and affine parameters far from their
 * initial 0/1 (so a wrong fold cannot hide); and the folded graph really
 * has fewer BatchNorms. */
#include <math.h>
#include <stdlib.h>

#include "graph_fold.h"
#include "model.h"
#include "test.h"

enum { N = 2, S = 16, W = 8 };

static int count_bn(const cz_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_ops; i++)
        n += g->ops[i].kind == CZ_OP_BN;
    return n;
}

/* Running statistics and affine parameters a trained model could have. */
static void perturb_bn(cz_model *m, uint64_t seed)
{
    cz_rng rng = {seed};
    const cz_graph *g = &m->graph;
    for (int i = 0; i < g->n_ops; i++) {
        const cz_op *op = &g->ops[i];
        if (op->kind != CZ_OP_BN)
            continue;
        const cz_param_info *ga = &g->params[op->gamma], *be = &g->params[op->beta];
        const cz_param_info *mu = &g->buffers[op->mean], *va = &g->buffers[op->var];
        for (size_t k = 0; k < ga->count; k++) {
            m->params[ga->offset + k] = 0.5f + (float)cz_rng_uniform(&rng);
            m->params[be->offset + k] = (float)cz_rng_uniform(&rng) - 0.5f;
            m->buffers[mu->offset + k] = 0.2f * ((float)cz_rng_uniform(&rng) - 0.5f);
            m->buffers[va->offset + k] = 0.05f + 0.5f * (float)cz_rng_uniform(&rng);
        }
    }
}

int main(void)
{
    static float y[N * S * S];
    for (int i = 0; i < N * S * S; i++)
        y[i] = (float)((i * 53 % 97) / 96.0);
    const char *backends[] = {"dnnl", "ref"};
    const cz_decode d = {CZ_DECODE_MEAN, CZ_DEFAULT_TEMPERATURE};
    for (int a = 0; a < CZ_ARCH_COUNT; a++)
        for (int h = 0; h < 2; h++)
            for (int b = 0; b < 2; b++) {
                cz_model m;
                if (cz_model_init(&m, (cz_arch)a, (cz_head)h, W, S, 11) != CZ_OK) {
                    CHECK(0);
                    continue;
                }
                perturb_bn(&m, 5 + a);
                CHECK(cz_model_set_backend(&m, backends[b]) == CZ_OK);
                const size_t n = (size_t)N * m.out_channels * S * S;
                float *plain = malloc(n * sizeof *plain);
                const float *out;
                m.no_fold = 1;
                CHECK(plain && cz_model_predict(&m, y, N, S, S, d, NULL, &out) == CZ_OK);
                if (!plain) {
                    cz_model_free(&m);
                    continue;
                }
                double scale = 0, worst = 0;
                for (size_t i = 0; i < n; i++) {
                    plain[i] = out[i];
                    scale = fmax(scale, fabs(out[i]));
                }
                cz_model_drop_nets(&m);
                m.no_fold = 0;
                CHECK(cz_model_predict(&m, y, N, S, S, d, NULL, &out) == CZ_OK);
                for (size_t i = 0; i < n; i++)
                    worst = fmax(worst, fabs(out[i] - plain[i]));
                if (!(worst <= 1e-5 * fmax(1.0, scale)))
                    fprintf(stderr, "%s/%s on %s: folded differs by %g (outputs up to %g)\n",
                            cz_arch_name((cz_arch)a), cz_head_name((cz_head)h), backends[b], worst, scale);
                CHECK(worst <= 1e-5 * fmax(1.0, scale));
                /* the weights change: the next predict refolds them */
                for (size_t i = 0; i < m.graph.param_floats; i++)
                    m.params[i] *= 0.9f;
                CHECK(cz_model_predict(&m, y, N, S, S, d, NULL, &out) == CZ_OK);
                double moved = 0;
                for (size_t i = 0; i < n; i++)
                    moved = fmax(moved, fabs(out[i] - plain[i]));
                CHECK(moved > 1e-3);
                free(plain);
                cz_folded f;
                CHECK(cz_fold_graph(&m.graph, &f) == CZ_OK);
                CHECK(count_bn(&f.graph) < count_bn(&m.graph));
                cz_folded_free(&f);
                cz_model_free(&m);
            }
    TEST_END();
}
