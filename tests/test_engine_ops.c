/* Every fast (oneDNN) convolution path against the slow reference ops of
 * src/ref_ops.c, at the channel counts the real networks use: forward
 * output, weight and bias gradients, and the input gradient (seen through
 * the gradient of a 1x1 convolution placed in front).
 * Tolerance: |a - b| <= 1e-4 * max|b| + 1e-3 |b| per tensor (float32 sums
 * over up to 9 * 64 * 128 terms against double-accumulated references). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "colorize/dataset.h"
#include "graph.h"
#include "ref_ops.h"
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
    float *params = calloc(g.param_floats, 4), *grads = calloc(g.param_floats, 4);
    float *in = malloc(n_in * 4), *mid = calloc(n_in, 4), *out = malloc(n_out * 4), *dout = malloc(n_out * 4);
    float *rout = calloc(n_out, 4), *rdmid = calloc(n_in, 4), *rg = calloc(g.param_floats, 4);
    cz_rng r = {42};
    rand_fill(params, g.param_floats, &r, 0.3f);
    rand_fill(in, n_in, &r, 1.0f);
    rand_fill(dout, n_out, &r, 1.0f);
    cz_net *net;
    CHECK(cz_net_create(&g, c->n, 1, params, grads, NULL, &net) == CZ_OK);
    CHECK(cz_net_forward(net, in, out) == CZ_OK);
    CHECK(cz_net_backward(net, dout) == CZ_OK);

    const cz_op *pre = &g.ops[0], *op = &g.ops[1];
    ref_conv gp = {c->n, c->cin, c->h, c->h, c->cin, 1, 1, 1, 0};
    ref_conv go = {c->n, c->cin, c->h, c->h, c->cout, c->k, c->k, c->stride, c->deconv ? 0 : c->pad};
    const float *wp = params + g.params[pre->weight].offset, *bp = params + g.params[pre->bias].offset;
    const float *wo = params + g.params[op->weight].offset;
    const float *bo = op->bias >= 0 ? params + g.params[op->bias].offset : NULL;
    float *gwo = rg + g.params[op->weight].offset, *gbo = op->bias >= 0 ? rg + g.params[op->bias].offset : NULL;
    ref_conv2d_forward(mid, in, wp, bp, &gp);
    if (c->deconv) {
        ref_conv_transpose2d_forward(rout, mid, wo, bo, &go);
        ref_conv_transpose2d_backward(rdmid, gwo, gbo, dout, mid, wo, &go);
    } else {
        ref_conv2d_forward(rout, mid, wo, bo, &go);
        ref_conv2d_backward(rdmid, gwo, gbo, dout, mid, wo, &go);
    }
    ref_conv2d_backward(NULL, rg + g.params[pre->weight].offset, rg + g.params[pre->bias].offset, rdmid, in,
                        wp, &gp);
    compare("output", out, rout, n_out);
    for (int i = 0; i < g.n_params; i++)
        compare(g.params[i].name, grads + g.params[i].offset, rg + g.params[i].offset, g.params[i].count);
    cz_net_free(net);
    cz_graph_free(&g);
    free(params);
    free(grads);
    free(in);
    free(mid);
    free(out);
    free(dout);
    free(rout);
    free(rdmid);
    free(rg);
}

int main(void)
{
    cz_backend_set_threads(2);
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
