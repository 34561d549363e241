/* Reference operators: hand-computed forward values on tiny cases, and
 * central finite differences for every gradient of every backward.
 *
 * Gradient checks use the scalar L = sum(out * R) with a fixed random R, so
 * dL/dout = R. Each input element x is moved to x +- eps (the perturbation
 * actually stored in float is used as the denominator) and the numerical
 * derivative (L+ - L-) / (x+ - x-) is compared with the analytic one as
 * |analytic - numeric| <= atol + rtol |numeric|. Forwards accumulate in
 * double and store float, so L carries ~1e-6 of rounding noise; with
 * eps = 1e-2 that is ~1e-4 in the derivative, and the central difference's
 * own O(eps^2) error is below that for these smooth ops. Hence, unless a
 * test says otherwise: eps = 1e-2, atol = 1e-3, rtol = 1e-2.
 * Backward buffers are pre-filled with GRAD_FILL to check that they
 * accumulate (+=) rather than overwrite. */
#include <stdint.h>
#include <string.h>

#include "gradcheck.h"
#include "ref_ops.h"
#include "test.h"

#define EPS 1e-2
#define ATOL 1e-3
#define RTOL 1e-2
#define GRAD_FILL 0.5f

/* ---- conv2d -------------------------------------------------------------- */

typedef struct conv_case {
    ref_conv g;
    int transposed;
    float *in, *weight, *bias, *out, *r;
    size_t n_in, n_w, n_out;
} conv_case;

static void conv_case_forward(conv_case *c)
{
    if (c->transposed)
        ref_conv_transpose2d_forward(c->out, c->in, c->weight, c->bias, &c->g);
    else
        ref_conv2d_forward(c->out, c->in, c->weight, c->bias, &c->g);
}

static double conv_loss(void *ctx)
{
    conv_case *c = ctx;
    conv_case_forward(c);
    return dot(c->out, c->r, c->n_out);
}

static void check_conv_grads(const char *name, ref_conv g, int transposed, int with_bias, rng *r)
{
    conv_case c = {.g = g, .transposed = transposed};
    int ho = transposed ? ref_conv_transpose2d_out_h(&g) : ref_conv2d_out_h(&g);
    int wo = transposed ? ref_conv_transpose2d_out_w(&g) : ref_conv2d_out_w(&g);
    c.n_in = (size_t)g.n * g.cin * g.h * g.w;
    c.n_w = (size_t)g.cout * g.cin * g.kh * g.kw;
    c.n_out = (size_t)g.n * g.cout * ho * wo;
    c.in = rand_buf(r, c.n_in, -1, 1);
    c.weight = rand_buf(r, c.n_w, -1, 1);
    c.bias = with_bias ? rand_buf(r, (size_t)g.cout, -1, 1) : NULL;
    c.out = buf(c.n_out);
    c.r = rand_buf(r, c.n_out, -1, 1);
    float *din = fill_buf(c.n_in, GRAD_FILL), *dw = fill_buf(c.n_w, GRAD_FILL);
    float *db = fill_buf((size_t)g.cout, GRAD_FILL);
    conv_case_forward(&c);
    if (transposed)
        ref_conv_transpose2d_backward(din, dw, with_bias ? db : NULL, c.r, c.in, c.weight, &c.g);
    else
        ref_conv2d_backward(din, dw, with_bias ? db : NULL, c.r, c.in, c.weight, &c.g);
    char what[96];
    snprintf(what, sizeof what, "%s d_input", name);
    gradcheck(what, c.in, c.n_in, din, GRAD_FILL, conv_loss, &c, EPS, ATOL, RTOL);
    snprintf(what, sizeof what, "%s d_weight", name);
    gradcheck(what, c.weight, c.n_w, dw, GRAD_FILL, conv_loss, &c, EPS, ATOL, RTOL);
    if (with_bias) {
        snprintf(what, sizeof what, "%s d_bias", name);
        gradcheck(what, c.bias, (size_t)g.cout, db, GRAD_FILL, conv_loss, &c, EPS, ATOL, RTOL);
    }
    /* NULL gradients are skipped without touching anything else. */
    if (transposed)
        ref_conv_transpose2d_backward(NULL, NULL, NULL, c.r, c.in, c.weight, &c.g);
    else
        ref_conv2d_backward(NULL, NULL, NULL, c.r, c.in, c.weight, &c.g);
    free(c.in), free(c.weight), free(c.bias), free(c.out), free(c.r);
    free(din), free(dw), free(db);
}

static void test_conv_forward_by_hand(void)
{
    /* 1 channel 3x3 input 1..9, all-ones 3x3 kernel, pad 1: each output is
     * the sum of its in-bounds 3x3 neighbourhood, plus the bias 0.5. */
    const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float ones[9], out[9], bias = 0.5f;
    for (int i = 0; i < 9; i++)
        ones[i] = 1;
    ref_conv g = {.n = 1, .cin = 1, .h = 3, .w = 3, .cout = 1, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
    ref_conv2d_forward(out, in, ones, &bias, &g);
    const float expect[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    for (int i = 0; i < 9; i++)
        CHECK_CLOSE(out[i], expect[i] + 0.5f, 0, 0);
    /* Kernel with a single 1 at (0,0) shifts the image down-right by one. */
    float shift[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0};
    ref_conv2d_forward(out, in, shift, NULL, &g);
    const float expect_shift[9] = {0, 0, 0, 0, 1, 2, 0, 4, 5};
    for (int i = 0; i < 9; i++)
        CHECK_CLOSE(out[i], expect_shift[i], 0, 0);
    /* Stride 2, pad 1: 2x2 output centred on the input corners. */
    g.stride = 2;
    CHECK(ref_conv2d_out_h(&g) == 2 && ref_conv2d_out_w(&g) == 2);
    ref_conv2d_forward(out, in, ones, NULL, &g);
    CHECK_CLOSE(out[0], 12, 0, 0);
    CHECK_CLOSE(out[1], 16, 0, 0);
    CHECK_CLOSE(out[2], 24, 0, 0);
    CHECK_CLOSE(out[3], 28, 0, 0);
    /* Two input channels, 1x1 kernel: a weighted channel sum. */
    const float in2[8] = {1, 2, 3, 4, 10, 20, 30, 40};
    const float w2[2] = {2, -1};
    ref_conv g2 = {.n = 1, .cin = 2, .h = 2, .w = 2, .cout = 1, .kh = 1, .kw = 1, .stride = 1, .pad = 0};
    ref_conv2d_forward(out, in2, w2, NULL, &g2);
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(out[i], 2 * in2[i] - in2[4 + i], 0, 0);
}

static void test_conv_transpose_forward_by_hand(void)
{
    /* 2x2 stride 2 of a single pixel = the kernel times the pixel + bias. */
    const float in[1] = {3};
    const float weight[4] = {1, 2, 3, 4}; /* [cin=1, cout=1, 2, 2] */
    float bias = 0.5f, out[16];
    ref_conv g = {.n = 1, .cin = 1, .h = 1, .w = 1, .cout = 1, .kh = 2, .kw = 2, .stride = 2, .pad = 0};
    CHECK(ref_conv_transpose2d_out_h(&g) == 2 && ref_conv_transpose2d_out_w(&g) == 2);
    ref_conv_transpose2d_forward(out, in, weight, &bias, &g);
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(out[i], 3 * weight[i] + 0.5f, 0, 0);
    /* A 2x2 image: every pixel paints its own disjoint 2x2 block. */
    const float in2[4] = {1, -2, 10, 0.5f};
    g.h = g.w = 2;
    ref_conv_transpose2d_forward(out, in2, weight, NULL, &g);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            CHECK_CLOSE(out[y * 4 + x], in2[(y / 2) * 2 + x / 2] * weight[(y % 2) * 2 + x % 2], 0, 0);
    /* Weight layout [in, out, kh, kw]: two output channels from one input. */
    const float w2[8] = {1, 1, 1, 1, 2, 2, 2, 2};
    const float b2[2] = {0, 1};
    g.h = g.w = 1;
    g.cout = 2;
    ref_conv_transpose2d_forward(out, in, w2, b2, &g);
    for (int i = 0; i < 4; i++) {
        CHECK_CLOSE(out[i], 3, 0, 0);
        CHECK_CLOSE(out[4 + i], 7, 0, 0);
    }
}

/* ---- batchnorm ----------------------------------------------------------- */

typedef struct bn_case {
    int n, c, h, w;
    float *in, *gamma, *beta, *out, *mean, *var, *r;
} bn_case;

static double bn_loss(void *ctx)
{
    bn_case *b = ctx;
    ref_batchnorm2d_forward_train(b->out, b->mean, b->var, b->in, b->gamma, b->beta, b->n, b->c, b->h, b->w);
    return dot(b->out, b->r, (size_t)b->n * b->c * b->h * b->w);
}

static void test_batchnorm_grads(rng *r)
{
    bn_case b = {.n = 3, .c = 2, .h = 3, .w = 4};
    size_t count = (size_t)b.n * b.c * b.h * b.w;
    b.in = rand_buf(r, count, -2, 2);
    b.gamma = rand_buf(r, (size_t)b.c, 0.5f, 1.5f);
    b.beta = rand_buf(r, (size_t)b.c, -1, 1);
    b.out = buf(count);
    b.mean = buf((size_t)b.c);
    b.var = buf((size_t)b.c);
    b.r = rand_buf(r, count, -1, 1);
    float *din = fill_buf(count, GRAD_FILL), *dg = fill_buf((size_t)b.c, GRAD_FILL);
    float *dbeta = fill_buf((size_t)b.c, GRAD_FILL);
    bn_loss(&b);
    ref_batchnorm2d_backward(din, dg, dbeta, b.r, b.in, b.gamma, b.mean, b.var, b.n, b.c, b.h, b.w);
    /* BN is not linear in its input; eps 1e-3 keeps the O(eps^2) term small
     * (the rounding noise grows to ~1e-3, inside atol). */
    gradcheck("batchnorm d_input", b.in, count, din, GRAD_FILL, bn_loss, &b, 1e-3, 2e-3, RTOL);
    gradcheck("batchnorm d_gamma", b.gamma, (size_t)b.c, dg, GRAD_FILL, bn_loss, &b, EPS, ATOL, RTOL);
    gradcheck("batchnorm d_beta", b.beta, (size_t)b.c, dbeta, GRAD_FILL, bn_loss, &b, EPS, ATOL, RTOL);
    free(b.in), free(b.gamma), free(b.beta), free(b.out), free(b.mean), free(b.var), free(b.r);
    free(din), free(dg), free(dbeta);
}

static void test_batchnorm_by_hand(void)
{
    /* One channel, values 1,2 | 3,4 over a batch of 2: mean 2.5, biased
     * variance 1.25, unbiased 5/3. */
    const float in[4] = {1, 2, 3, 4};
    const float gamma = 2, beta = 0.5f;
    float out[4], mean, var;
    ref_batchnorm2d_forward_train(out, &mean, &var, in, &gamma, &beta, 2, 1, 1, 2);
    CHECK_CLOSE(mean, 2.5, 1e-7, 0);
    CHECK_CLOSE(var, 1.25, 1e-7, 0);
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(out[i], 2 * (in[i] - 2.5) / sqrt(1.25 + 1e-5) + 0.5, 1e-6, 0);
    float rm = 0, rv = 1;
    ref_batchnorm2d_update_running(&rm, &rv, &mean, &var, 1, 4, REF_BN_MOMENTUM);
    CHECK_CLOSE(rm, 0.25, 1e-7, 0);
    CHECK_CLOSE(rv, 0.9 + 0.1 * 5.0 / 3.0, 1e-6, 0);
    /* Inference uses the running statistics, not the batch's. */
    ref_batchnorm2d_forward_eval(out, in, &gamma, &beta, &rm, &rv, 2, 1, 1, 2);
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(out[i], 2 * (in[i] - rm) / sqrt(rv + 1e-5) + 0.5, 1e-6, 0);
    /* A constant channel normalises to beta (variance 0, eps keeps it finite). */
    const float flat[4] = {3, 3, 3, 3};
    ref_batchnorm2d_forward_train(out, &mean, &var, flat, &gamma, &beta, 1, 1, 2, 2);
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(out[i], 0.5, 1e-7, 0);
}

/* ---- relu, maxpool, concat, add ---------------------------------------- */

typedef struct pw_case {
    int n, c, h, w, c2;
    float *a, *b, *out, *r;
    int32_t *argmax;
    size_t n_out;
    int op; /* 0 relu, 1 maxpool, 2 concat, 3 add */
} pw_case;

static double pw_loss(void *ctx)
{
    pw_case *p = ctx;
    size_t count = (size_t)p->n * p->c * p->h * p->w;
    switch (p->op) {
    case 0: ref_relu_forward(p->out, p->a, count); break;
    case 1: ref_maxpool2x2_forward(p->out, p->argmax, p->a, p->n, p->c, p->h, p->w); break;
    case 2: ref_concat_forward(p->out, p->a, p->b, p->n, p->c, p->c2, p->h, p->w); break;
    default: ref_add_forward(p->out, p->a, p->b, count); break;
    }
    return dot(p->out, p->r, p->n_out);
}

static void test_relu_grads(rng *r)
{
    pw_case p = {.n = 2, .c = 3, .h = 4, .w = 5, .op = 0};
    size_t count = (size_t)p.n * p.c * p.h * p.w;
    p.a = rand_buf(r, count, -1, 1);
    for (size_t i = 0; i < count; i++) /* keep |x| > 5 eps: no kink crossing */
        if (fabsf(p.a[i]) < 0.05f)
            p.a[i] = p.a[i] < 0 ? -0.3f : 0.3f;
    p.out = buf(count);
    p.r = rand_buf(r, count, -1, 1);
    p.n_out = count;
    float *din = fill_buf(count, GRAD_FILL);
    pw_loss(&p);
    ref_relu_backward(din, p.r, p.out, count);
    gradcheck("relu d_input", p.a, count, din, GRAD_FILL, pw_loss, &p, EPS, ATOL, RTOL);
    CHECK(p.out[0] == (p.a[0] > 0 ? p.a[0] : 0));
    free(p.a), free(p.out), free(p.r), free(din);
}

static void test_maxpool(rng *r)
{
    /* By hand: 4x4 -> 2x2, with a tie in the last window (first wins). */
    const float in[16] = {1, 5, 2, 0, 3, 4, 8, 7, -1, -2, 6, 6, -3, -4, 6, 6};
    float out[4];
    int32_t am[4];
    ref_maxpool2x2_forward(out, am, in, 1, 1, 4, 4);
    CHECK(out[0] == 5 && out[1] == 8 && out[2] == -1 && out[3] == 6);
    CHECK(am[0] == 1 && am[1] == 6 && am[2] == 8 && am[3] == 10);

    /* Gradient: distinct values 0.1 apart (no ties within 2 eps), odd height
     * and width to exercise the floor (last row/column never pooled). */
    pw_case p = {.n = 2, .c = 2, .h = 5, .w = 7, .op = 1};
    size_t count = (size_t)p.n * p.c * p.h * p.w;
    p.a = buf(count);
    for (size_t i = 0; i < count; i++)
        p.a[i] = 0.1f * (float)i;
    for (size_t i = count - 1; i > 0; i--) { /* Fisher-Yates shuffle */
        size_t j = (size_t)(rng_next(r) % (i + 1));
        float t = p.a[i];
        p.a[i] = p.a[j];
        p.a[j] = t;
    }
    p.n_out = (size_t)p.n * p.c * (p.h / 2) * (p.w / 2);
    p.out = buf(p.n_out);
    p.argmax = calloc(p.n_out, sizeof *p.argmax);
    if (!p.argmax)
        exit(1);
    p.r = rand_buf(r, p.n_out, -1, 1);
    float *din = fill_buf(count, GRAD_FILL);
    pw_loss(&p);
    ref_maxpool2x2_backward(din, p.r, p.argmax, p.n, p.c, p.h, p.w);
    gradcheck("maxpool2x2 d_input", p.a, count, din, GRAD_FILL, pw_loss, &p, EPS, ATOL, RTOL);
    free(p.a), free(p.out), free(p.argmax), free(p.r), free(din);
}

static void test_concat_add(rng *r)
{
    pw_case p = {.n = 2, .c = 2, .c2 = 3, .h = 3, .w = 2, .op = 2};
    size_t na = (size_t)p.n * p.c * p.h * p.w, nb = (size_t)p.n * p.c2 * p.h * p.w;
    p.a = rand_buf(r, na, -1, 1);
    p.b = rand_buf(r, nb, -1, 1);
    p.n_out = na + nb;
    p.out = buf(p.n_out);
    p.r = rand_buf(r, p.n_out, -1, 1);
    pw_loss(&p);
    /* by hand: image 1, channel 2 of the output is channel 0 of b */
    size_t plane = (size_t)p.h * p.w;
    CHECK(p.out[(1 * 5 + 2) * plane + 3] == p.b[(1 * 3 + 0) * plane + 3]);
    CHECK(p.out[(1 * 5 + 1) * plane + 4] == p.a[(1 * 2 + 1) * plane + 4]);
    float *da = fill_buf(na, GRAD_FILL), *db = fill_buf(nb, GRAD_FILL);
    ref_concat_backward(da, db, p.r, p.n, p.c, p.c2, p.h, p.w);
    gradcheck("concat d_a", p.a, na, da, GRAD_FILL, pw_loss, &p, EPS, ATOL, RTOL);
    gradcheck("concat d_b", p.b, nb, db, GRAD_FILL, pw_loss, &p, EPS, ATOL, RTOL);
    free(p.a), free(p.b), free(p.out), free(p.r), free(da), free(db);

    pw_case q = {.n = 2, .c = 3, .h = 2, .w = 2, .op = 3};
    size_t count = (size_t)q.n * q.c * q.h * q.w;
    q.a = rand_buf(r, count, -1, 1);
    q.b = rand_buf(r, count, -1, 1);
    q.n_out = count;
    q.out = buf(count);
    q.r = rand_buf(r, count, -1, 1);
    pw_loss(&q);
    CHECK(q.out[5] == q.a[5] + q.b[5]);
    da = fill_buf(count, GRAD_FILL);
    db = fill_buf(count, GRAD_FILL);
    ref_add_backward(da, db, q.r, count);
    gradcheck("add d_a", q.a, count, da, GRAD_FILL, pw_loss, &q, EPS, ATOL, RTOL);
    gradcheck("add d_b", q.b, count, db, GRAD_FILL, pw_loss, &q, EPS, ATOL, RTOL);
    free(q.a), free(q.b), free(q.out), free(q.r), free(da), free(db);
}

/* ---- losses -------------------------------------------------------------- */

typedef struct loss_case {
    int n, h, w, cls;
    float *pred, *target;
    int32_t *bins;
} loss_case;

static double loss_value(void *ctx)
{
    loss_case *l = ctx;
    return l->cls ? ref_loss_cls_forward(l->pred, l->bins, l->n, l->h, l->w)
                  : ref_loss_reg_forward(l->pred, l->target, l->n, l->h, l->w);
}

static void test_losses(rng *r)
{
    /* Regression by hand: every prediction off by d gives 2 d^2 per pixel. */
    float pred[2 * 2 * 3], target[2 * 2 * 3];
    for (int i = 0; i < 12; i++) {
        target[i] = rng_uniform(r, -0.4f, 0.4f);
        pred[i] = target[i] + 0.25f;
    }
    CHECK_CLOSE(ref_loss_reg_forward(pred, target, 2, 1, 3), 2 * 0.0625, 1e-6, 0);

    /* Classification by hand: all-zero logits cost ln 20 per channel. */
    float logits[2 * REF_CLS_CHANNELS * 3] = {0};
    int32_t bins[2 * 2 * 3];
    for (int i = 0; i < 12; i++)
        bins[i] = (int32_t)(rng_next(r) % REF_BINS);
    CHECK_CLOSE(ref_loss_cls_forward(logits, bins, 2, 1, 3), 2 * log(20.0), 1e-9, 1e-9);
    /* Huge logits stay finite: 1000 on the right bin costs ~0, on a wrong
     * bin costs 1000. */
    const int plane = 3;
    for (int b = 0; b < 2; b++)
        for (int ch = 0; ch < 2; ch++)
            for (int i = 0; i < plane; i++) {
                int t = bins[(b * 2 + ch) * plane + i];
                int k = ch == 0 ? t : (t + 1) % REF_BINS;
                logits[(b * REF_CLS_CHANNELS + ch * REF_BINS + k) * plane + i] = 1000;
            }
    double l = ref_loss_cls_forward(logits, bins, 2, 1, 3);
    CHECK(isfinite(l));
    CHECK_CLOSE(l, 1000, 1e-6, 1e-9);
    float dl[2 * REF_CLS_CHANNELS * 3] = {0};
    ref_loss_cls_backward(dl, logits, bins, 2, 1, 3, 1.0);
    int finite = 1;
    for (int i = 0; i < 2 * REF_CLS_CHANNELS * 3; i++)
        finite &= isfinite(dl[i]);
    CHECK(finite);

    /* Gradients by finite differences. */
    loss_case c = {.n = 2, .h = 3, .w = 2};
    size_t plane2 = (size_t)c.h * c.w, n2 = (size_t)c.n * 2 * plane2;
    c.pred = rand_buf(r, n2, -0.5f, 0.5f);
    c.target = rand_buf(r, n2, -0.5f, 0.5f);
    float *dpred = fill_buf(n2, GRAD_FILL);
    ref_loss_reg_backward(dpred, c.pred, c.target, c.n, c.h, c.w, 1.0);
    gradcheck("loss_reg d_pred", c.pred, n2, dpred, GRAD_FILL, loss_value, &c, EPS, 1e-5, 1e-4);
    free(c.pred), free(c.target), free(dpred);

    c.cls = 1;
    size_t n40 = (size_t)c.n * REF_CLS_CHANNELS * plane2;
    c.pred = rand_buf(r, n40, -3, 3);
    c.bins = calloc(n2, sizeof *c.bins);
    if (!c.bins)
        exit(1);
    for (size_t i = 0; i < n2; i++)
        c.bins[i] = (int32_t)(rng_next(r) % REF_BINS);
    float *dlog = fill_buf(n40, GRAD_FILL);
    ref_loss_cls_backward(dlog, c.pred, c.bins, c.n, c.h, c.w, 1.0);
    gradcheck("loss_cls d_logits", c.pred, n40, dlog, GRAD_FILL, loss_value, &c, EPS, 1e-5, 1e-3);
    free(c.pred), free(c.bins), free(dlog);
}

/* ---- Adam ---------------------------------------------------------------- */

static void test_adam(void)
{
    /* Step 1: bias correction makes the update lr * g / (|g| + eps'). */
    float p[3] = {1, 1, 1}, g[3] = {0.5f, -2, 0}, m[3] = {0}, v[3] = {0};
    ref_adam_update(p, g, m, v, 3, 1e-3f, 0.9f, 0.999f, 1e-8f, 1);
    CHECK_CLOSE(p[0], 1 - 1e-3, 1e-7, 0);
    CHECK_CLOSE(p[1], 1 + 1e-3, 1e-7, 0);
    CHECK(p[2] == 1);
    /* Step 2 with the same gradient: m/bc1 = g, v/bc2 = g^2, same step. */
    ref_adam_update(p, g, m, v, 3, 1e-3f, 0.9f, 0.999f, 1e-8f, 2);
    CHECK_CLOSE(p[0], 1 - 2e-3, 1e-6, 0);
    CHECK_CLOSE(p[1], 1 + 2e-3, 1e-6, 0);
}

int main(void)
{
    rng r = {12345};
    test_conv_forward_by_hand();
    test_conv_transpose_forward_by_hand();
    check_conv_grads("conv3x3 s1 p1 bias",
                     (ref_conv){.n = 2, .cin = 3, .h = 5, .w = 6, .cout = 4, .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 0, 1, &r);
    check_conv_grads("conv3x3 s2 p1",
                     (ref_conv){.n = 2, .cin = 2, .h = 7, .w = 6, .cout = 3, .kh = 3, .kw = 3, .stride = 2, .pad = 1}, 0, 0, &r);
    check_conv_grads("conv1x1 s2 bias",
                     (ref_conv){.n = 2, .cin = 3, .h = 6, .w = 5, .cout = 2, .kh = 1, .kw = 1, .stride = 2, .pad = 0}, 0, 1, &r);
    check_conv_grads("conv3x2 s2 p0",
                     (ref_conv){.n = 1, .cin = 2, .h = 6, .w = 7, .cout = 2, .kh = 3, .kw = 2, .stride = 2, .pad = 0}, 0, 1, &r);
    check_conv_grads("convT2x2 s2 bias",
                     (ref_conv){.n = 2, .cin = 3, .h = 3, .w = 4, .cout = 2, .kh = 2, .kw = 2, .stride = 2, .pad = 0}, 1, 1, &r);
    check_conv_grads("convT3x3 s2 p1 bias",
                     (ref_conv){.n = 2, .cin = 2, .h = 3, .w = 3, .cout = 3, .kh = 3, .kw = 3, .stride = 2, .pad = 1}, 1, 1, &r);
    check_conv_grads("convT3x3 s1",
                     (ref_conv){.n = 1, .cin = 2, .h = 2, .w = 3, .cout = 2, .kh = 3, .kw = 3, .stride = 1, .pad = 0}, 1, 0, &r);
    test_batchnorm_by_hand();
    test_batchnorm_grads(&r);
    test_relu_grads(&r);
    test_maxpool(&r);
    test_concat_add(&r);
    test_losses(&r);
    test_adam();
    TEST_END();
}
