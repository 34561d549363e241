/* The global-context graph ops (GAP, FC with and without ReLU, BROADCAST,
 * GATE and an auxiliary output) wired through the backends: a small graph
 * that uses each, with tensors read by two ops (gradients that add) and
 * channel counts that are not multiples of oneDNN's block of 8 (padded
 * layouts):
 *
 *   x = conv3x3(input) [5, 4, 4];  v = GAP(x) [5];  h = ReLU(fc1(v)) [6]
 *   y = conv1x1([x, broadcast(h)]) [5, 4, 4];  s = fc2(h) [5]
 *   out = y * sigmoid(s);  aux = fc_aux(v) [3]
 *
 * L = sum(out * R) + sum(aux * Ra). On the reference backend every
 * parameter gradient is checked by central finite differences of L (float32
 * forward, double sums); the oneDNN backend must then give the same output,
 * aux output and gradients (|a - b| <= 1e-4 max|b| + 1e-3 |b|). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "colorize/colorize.h"
#include "colorize/dataset.h"
#include "graph.h"
#include "test.h"

#define N 2
#define EPS 1e-2
#define ATOL 2e-3
#define RTOL 2e-2

static void rand_fill(float *x, size_t n, cz_rng *r, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (2 * cz_rng_uniform(r) - 1) * scale;
}

static int build(cz_graph *g)
{
    cz_graph_init(g);
    int in = cz_graph_input(g, 3, 4, 4);
    int x = cz_graph_conv(g, "c1", &in, 1, 5, 3, 1, 1, 1);
    int v = cz_graph_gap(g, "pool", x);
    int h = cz_graph_fc(g, "fc1", v, 6, 1);
    int hb = cz_graph_broadcast(g, "bcast", h, 4, 4);
    int y = cz_graph_conv(g, "c2", (int[]){x, hb}, 2, 5, 1, 1, 0, 0);
    int s = cz_graph_fc(g, "fc2", h, 5, 0);
    g->output = cz_graph_gate(g, "gate", y, s);
    g->aux = cz_graph_fc(g, "aux", v, 3, 0);
    return !g->failed;
}

typedef struct run {
    const cz_graph *g;
    cz_net *net;
    const float *input, *r, *ra;
    float *out;
} run;

static double objective(run *ru)
{
    if (cz_net_forward(ru->net, ru->input, ru->out))
        return NAN;
    const size_t no = (size_t)N * 5 * 16;
    const float *aux = cz_net_aux_output(ru->net);
    double l = 0;
    for (size_t i = 0; i < no; i++)
        l += (double)ru->out[i] * ru->r[i];
    for (size_t i = 0; i < (size_t)N * 3; i++)
        l += (double)aux[i] * ru->ra[i];
    return l;
}

static void compare(const char *what, const float *got, const float *want, size_t n)
{
    double ref = 0;
    for (size_t i = 0; i < n; i++)
        ref = fmax(ref, fabs(want[i]));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !(fabs((double)got[i] - want[i]) <= 1e-4 * ref + 1e-3 * fabs(want[i]));
    test_checks++;
    if (bad) {
        test_failures++;
        fprintf(stderr, "  dnnl %s: %zu of %zu values off\n", what, bad, n);
    }
}

int main(void)
{
    cz_set_threads(2);
    cz_graph g;
    CHECK(build(&g));
    if (g.failed)
        TEST_END();
    cz_rng rng = {7};
    float *params = malloc(g.param_floats * sizeof(float)), *buffers = malloc((g.buffer_floats + 1) * sizeof(float));
    float *grads[2] = {malloc(g.param_floats * sizeof(float)), malloc(g.param_floats * sizeof(float))};
    const size_t n_in = (size_t)N * 3 * 16, n_out = (size_t)N * 5 * 16, n_aux = (size_t)N * 3;
    float *input = malloc(n_in * sizeof(float)), *r = malloc(n_out * sizeof(float)), *ra = malloc(n_aux * sizeof(float));
    float *out[2] = {malloc(n_out * sizeof(float)), malloc(n_out * sizeof(float))};
    rand_fill(params, g.param_floats, &rng, 0.5f);
    rand_fill(input, n_in, &rng, 1.0f);
    rand_fill(r, n_out, &rng, 1.0f);
    rand_fill(ra, n_aux, &rng, 1.0f);
    const cz_backend_i *be[2] = {&cz_backend_ref, &cz_backend_dnnl};
    cz_net *net[2] = {NULL, NULL};
    float aux_out[2][N * 3];
    for (int k = 0; k < 2; k++) {
        cz_net_config cfg = {.graph = &g, .batch = N, .training = 1, .params = params, .grads = grads[k],
                             .buffers = buffers};
        CHECK(cz_net_create(be[k], &cfg, &net[k]) == CZ_OK);
        if (!net[k])
            TEST_END();
        CHECK(cz_net_forward(net[k], input, out[k]) == CZ_OK);
        memcpy(aux_out[k], cz_net_aux_output(net[k]), sizeof aux_out[k]);
        memcpy(cz_net_aux_grad(net[k]), ra, n_aux * sizeof(float));
        CHECK(cz_net_backward(net[k], r) == CZ_OK);
    }
    /* finite differences on the reference backend */
    run ru = {&g, net[0], input, r, ra, malloc(n_out * sizeof(float))};
    for (int p = 0; p < g.n_params; p++) {
        const cz_param_info *pi = &g.params[p];
        int bad = 0;
        for (size_t i = 0; i < pi->count; i++) {
            float *w = params + pi->offset + i, keep = *w;
            *w = keep + (float)EPS;
            float up = *w;
            double lp = objective(&ru);
            *w = keep - (float)EPS;
            float dn = *w;
            double lm = objective(&ru);
            *w = keep;
            double num = (lp - lm) / ((double)up - dn), ana = grads[0][pi->offset + i];
            if (!(fabs(ana - num) <= ATOL + RTOL * fabs(num)) && bad++ < 3)
                fprintf(stderr, "  %s[%zu]: backward %.6g, finite difference %.6g\n", pi->name, i, ana, num);
        }
        test_checks++;
        test_failures += bad > 0;
        printf("%-12s %zu values: %s\n", pi->name, pi->count, bad ? "FAIL" : "ok");
    }
    /* oneDNN against the reference */
    compare("output", out[1], out[0], n_out);
    compare("aux output", aux_out[1], aux_out[0], n_aux);
    for (int p = 0; p < g.n_params; p++)
        compare(g.params[p].name, grads[1] + g.params[p].offset, grads[0] + g.params[p].offset, g.params[p].count);
    for (int k = 0; k < 2; k++) {
        cz_net_free(net[k]);
        free(grads[k]);
        free(out[k]);
    }
    free(ru.out);
    free(params);
    free(buffers);
    free(input);
    free(r);
    free(ra);
    cz_graph_free(&g);
    TEST_END();
}
