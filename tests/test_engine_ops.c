/* Every fast (oneDNN) convolution path against the reference backend (the
 * slow ops of src/ref_ops.c), at the channel counts the real networks use:
 * forward output, weight and bias gradients, and the input gradient (seen
 * through the gradient of a 1x1 convolution placed in front).
 * Tolerance: |a - b| <= 1e-4 * max|b| + 1e-3 |b| per tensor (float32 sums
 * over up to 9 * 64 * 128 terms against double-accumulated references). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "colorize/colorize.h"
#include "colorize/dataset.h"
#include "graph.h"
#include "test.h"

static void rand_fill(float *x, size_t n, cz_rng *r, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (2 * cz_rng_uniform(r) - 1) * scale;
}

static void compare(const char *what, const float *got, const float *want, size_t n)
{
    double ref = 0;
    for (size_t i = 0; i < n; i++)
        ref = fmax(ref, fabs(want[i]));
    size_t bad = 0, worst = 0;
    double wd = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= 1e-4 * ref + 1e-3 * fabs(want[i])))
            bad++;
        if (d > wd) {
            wd = d;
            worst = i;
        }
    }
    test_checks++;
    if (bad) {
        test_failures++;
        fprintf(stderr, "  %s: %zu of %zu off; worst [%zu] got %.7g want %.7g\n", what, bad, n, worst,
                got[worst], want[worst]);
    }
}

typedef struct conv_case {
    int deconv, n, cin, h, cout, k, stride, pad, bias;
} conv_case;

static void run_case(const conv_case *c)
{
    printf("%s n%d cin%d h%d cout%d k%d s%d p%d%s\n", c->deconv ? "deconv" : "conv", c->n, c->cin, c->h,
           c->cout, c->k, c->stride, c->pad, c->bias ? " bias" : "");
    cz_graph g;
    cz_graph_init(&g);
    int x = cz_graph_input(&g, c->cin, c->h, c->h);
    int a = cz_graph_conv(&g, "pre", &x, 1, c->cin, 1, 1, 0, 1);
    int y = c->deconv ? cz_graph_deconv(&g, "op", a, c->cout, c->k, c->stride)
                      : cz_graph_conv(&g, "op", &a, 1, c->cout, c->k, c->stride, c->pad, c->bias);
    g.output = y;
    CHECK(!g.failed);
    if (g.failed)
        return;
    const cz_tensor_info *oi = &g.tensors[y];
    size_t n_in = (size_t)c->n * c->cin * c->h * c->h, n_out = (size_t)c->n * oi->c * oi->h * oi->w;
    float *params = calloc(g.param_floats, 4), *in = malloc(n_in * 4), *dout = malloc(n_out * 4);
    float *out[2], *grads[2];
    cz_rng r = {42};
    rand_fill(params, g.param_floats, &r, 0.3f);
    rand_fill(in, n_in, &r, 1.0f);
    rand_fill(dout, n_out, &r, 1.0f);
    const cz_backend_i *be[2] = {&cz_backend_dnnl, &cz_backend_ref};
    for (int k = 0; k < 2; k++) {
        out[k] = malloc(n_out * 4);
        grads[k] = calloc(g.param_floats, 4);
        cz_net_config cfg = {.graph = &g, .batch = c->n, .training = 1, .params = params, .grads = grads[k]};
        cz_net *net;
        CHECK(cz_net_create(be[k], &cfg, &net) == CZ_OK);
        CHECK(cz_net_forward(net, in, out[k]) == CZ_OK);
        CHECK(cz_net_backward(net, dout) == CZ_OK);
        cz_net_free(net);
    }
    compare("output", out[0], out[1], n_out);
    for (int i = 0; i < g.n_params; i++)
        compare(g.params[i].name, grads[0] + g.params[i].offset, grads[1] + g.params[i].offset,
                g.params[i].count);
    cz_graph_free(&g);
    for (int k = 0; k < 2; k++) {
        free(out[k]);
        free(grads[k]);
    }
    free(params);
    free(in);
    free(dout);
}

int main(void)
{
    cz_set_threads(2);
    static const conv_case cases[] = {
        {0, 2, 4, 16, 8, 1, 2, 0, 0},   /* resnet shortcut, width 4 */
        {0, 4, 16, 16, 32, 1, 2, 0, 0}, /* resnet shortcut, width 16 */
        {0, 4, 32, 16, 64, 1, 2, 0, 0}, /* resnet shortcut, width 32 */
        {0, 4, 16, 16, 32, 3, 2, 1, 0}, /* strided 3x3 */
        {0, 3, 16, 8, 16, 3, 1, 1, 0},  /* plain 3x3 */
        {0, 2, 4, 8, 4, 3, 1, 1, 0},    /* narrow 3x3 */
        {0, 3, 32, 8, 40, 1, 1, 0, 1},  /* classification head */
        {0, 3, 16, 8, 2, 1, 1, 0, 1},   /* regression head */
        {1, 3, 32, 4, 16, 2, 2, 0, 1},  /* decoder upsampling */
        {1, 2, 8, 4, 4, 2, 2, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    TEST_END();
}
