/* Global-context reference operators: hand-worked forward values, then
 * central finite differences for every gradient (L = sum(out * R), as in
 * test_ref_ops.c), with backward buffers pre-filled to check they add. */
#include <stdint.h>
#include <string.h>

#include "gradcheck.h"
#include "ref_context.h"
#include "test.h"

#define EPS 1e-2
#define ATOL 1e-3
#define RTOL 1e-2
#define FILL 0.5f

static rng rng_state = {42};

/* ---- one context per operator: inputs, output, the weights R of L ------ */

enum { N = 2, C = 3, H = 3, W = 2, K = 4, HW = H * W };

typedef struct ctx {
    float *x, *v, *s, *wt, *b, *out, *r;
    uint8_t label[N];
    int which;
} ctx;

static double loss(void *p)
{
    ctx *c = p;
    switch (c->which) {
    case 0:
        ref_global_avgpool_forward(c->out, c->x, N, C, H, W);
        return dot(c->out, c->r, N * C);
    case 1:
        ref_linear_forward(c->out, c->v, c->wt, c->b, N, K, C);
        return dot(c->out, c->r, N * C);
    case 2:
        ref_concat_broadcast_forward(c->out, c->x, c->v, N, C, K, H, W);
        return dot(c->out, c->r, (size_t)N * (C + K) * HW);
    case 3:
        ref_channel_gate_forward(c->out, c->x, c->s, N, C, H, W);
        return dot(c->out, c->r, (size_t)N * C * HW);
    default:
        return ref_class_loss_forward(c->v, c->label, N, K);
    }
}

int main(void)
{
    /* Hand-worked forwards. */
    {
        const float x[1 * 2 * 2 * 2] = {1, 2, 3, 4, -1, -1, 1, 5};
        float g[2];
        ref_global_avgpool_forward(g, x, 1, 2, 2, 2);
        CHECK_CLOSE(g[0], 2.5, 1e-7, 0);
        CHECK_CLOSE(g[1], 1.0, 1e-7, 0);
        const float in[2] = {1, -2}, wt[3 * 2] = {1, 0, 0, 1, 2, 3}, b[3] = {0.5f, 0, -1};
        float y[3];
        ref_linear_forward(y, in, wt, b, 1, 2, 3);
        CHECK_CLOSE(y[0], 1.5, 1e-7, 0); /* 1*1 + 0*-2 + 0.5 */
        CHECK_CLOSE(y[1], -2.0, 1e-7, 0);
        CHECK_CLOSE(y[2], -5.0, 1e-7, 0); /* 2 - 6 - 1 */
        const float v[1] = {7};
        float cat[3 * 4];
        ref_concat_broadcast_forward(cat, x, v, 1, 2, 1, 2, 2);
        CHECK(memcmp(cat, x, sizeof x) == 0);
        CHECK(cat[8] == 7 && cat[11] == 7);
        const float s[2] = {0, 1000};
        float gy[8];
        ref_channel_gate_forward(gy, x, s, 1, 2, 2, 2);
        CHECK_CLOSE(gy[0], 0.5, 1e-7, 0); /* sigmoid(0) = 1/2 */
        CHECK_CLOSE(gy[7], 5.0, 1e-6, 0); /* sigmoid(1000) = 1, finite */
        const float z[2 * 3] = {0, 0, 0, 1000, 0, 0};
        const uint8_t lab[2] = {1, 0};
        /* image 0: log 3; image 1: ~0 (the right logit dominates) */
        CHECK_CLOSE(ref_class_loss_forward(z, lab, 2, 3), log(3.0) / 2, 1e-6, 0);
    }

    /* Gradients by finite differences. */
    ctx c = {.x = rand_buf(&rng_state, (size_t)N * C * HW, -1, 1), .v = rand_buf(&rng_state, N * K, -1, 1), .s = rand_buf(&rng_state, N * C, -2, 2),
             .wt = rand_buf(&rng_state, C * K, -1, 1), .b = rand_buf(&rng_state, C, -1, 1), .out = rand_buf(&rng_state, (size_t)N * (C + K) * HW, 0, 0),
             .r = rand_buf(&rng_state, (size_t)N * (C + K) * HW, -1, 1), .label = {3, 1}};
    float *dx = fill_buf((size_t)N * C * HW, FILL), *dv = fill_buf(N * K, FILL), *ds = fill_buf(N * C, FILL),
          *dw = fill_buf(C * K, FILL), *db = fill_buf(C, FILL);

    c.which = 0;
    ref_global_avgpool_backward(dx, c.r, N, C, H, W);
    gradcheck("avgpool dx", c.x, (size_t)N * C * HW, dx, FILL, loss, &c, EPS, ATOL, RTOL);

    c.which = 1;
    ref_linear_backward(dv, dw, db, c.r, c.v, c.wt, N, K, C);
    gradcheck("linear dx", c.v, N * K, dv, FILL, loss, &c, EPS, ATOL, RTOL);
    gradcheck("linear dweight", c.wt, C * K, dw, FILL, loss, &c, EPS, ATOL, RTOL);
    gradcheck("linear dbias", c.b, C, db, FILL, loss, &c, EPS, ATOL, RTOL);

    c.which = 2;
    for (size_t i = 0; i < (size_t)N * C * HW; i++)
        dx[i] = FILL;
    for (int i = 0; i < N * K; i++)
        dv[i] = FILL;
    ref_concat_broadcast_backward(dx, dv, c.r, N, C, K, H, W);
    gradcheck("concat_broadcast dx", c.x, (size_t)N * C * HW, dx, FILL, loss, &c, EPS, ATOL, RTOL);
    gradcheck("concat_broadcast dv", c.v, N * K, dv, FILL, loss, &c, EPS, ATOL, RTOL);

    c.which = 3;
    for (size_t i = 0; i < (size_t)N * C * HW; i++)
        dx[i] = FILL;
    ref_channel_gate_backward(dx, ds, c.r, c.x, c.s, N, C, H, W);
    gradcheck("gate dx", c.x, (size_t)N * C * HW, dx, FILL, loss, &c, EPS, ATOL, RTOL);
    gradcheck("gate ds", c.s, N * C, ds, FILL, loss, &c, EPS, ATOL, RTOL);

    c.which = 4;
    for (int i = 0; i < N * K; i++)
        dv[i] = FILL;
    ref_class_loss_backward(dv, c.v, c.label, N, K, 1.0f);
    gradcheck("class loss dlogits", c.v, N * K, dv, FILL, loss, &c, EPS, ATOL, RTOL);

    free(c.x), free(c.v), free(c.s), free(c.wt), free(c.b), free(c.out), free(c.r);
    free(dx), free(dv), free(ds), free(dw), free(db);
    TEST_END();
}
