/* A tiny tape-based network runner over the reference operators, for the
 * tests that replay the PyTorch vectors (tests/vectors/, tools/make_vectors.py)
 * through whole networks: test_ref_vgg.c, test_ref_unet.c, test_ref_resnet.c.
 *
 * Parameters are named exactly as in the PyTorch state_dict and loaded on
 * first use from the tensors "param.<name>" of the vector file; each has a
 * value, a gradient and Adam moments. Every forward op appends a node to the
 * tape; rn_backward walks the tape in reverse, so a network is written once,
 * as its forward pass. Activations live until rn_reset. All failures abort
 * the test with a message (this is test code). */
#ifndef CZ_REF_NET_H
#define CZ_REF_NET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/safetensors.h"
#include "util.h"
#include "ref_ops.h"
#include "test.h"

#define RN_MAX_PARAMS 256
#define RN_MAX_NODES 256

static inline void *rn_alloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory (%zu x %zu)\n", n, size);
        exit(1);
    }
    return p;
}

/* An activation: values x and gradient g, both [n, c, h, w]. */
typedef struct rn_tensor {
    float *x, *g;
    int n, c, h, w;
} rn_tensor;

static inline size_t rn_numel(const rn_tensor *t) { return (size_t)t->n * t->c * t->h * t->w; }

typedef struct rn_param {
    char name[128];
    float *x, *g, *m, *v; /* value, gradient, Adam moments */
    size_t size;
    int trainable; /* 0 for running statistics */
} rn_param;

typedef enum rn_op { RN_CONV, RN_CONVT, RN_BN, RN_RELU, RN_POOL, RN_CAT, RN_ADD } rn_op;

typedef struct rn_node {
    rn_op op;
    rn_tensor *a, *b, *out; /* inputs and output */
    rn_param *w, *bias;     /* conv / BN weight and bias */
    ref_conv geom;
    float *mean, *var;      /* BN batch statistics */
    int32_t *argmax;        /* max-pool winners */
} rn_node;

typedef struct rn_net {
    const cz_st_file *vec;
    rn_param params[RN_MAX_PARAMS];
    int nparams;
    rn_node tape[RN_MAX_NODES];
    int nnodes;
    int adam_t;
} rn_net;

static inline void rn_die(const char *what)
{
    fprintf(stderr, "ref_net: %s: %s\n", what, cz_last_error());
    exit(1);
}

/* The parameter (or buffer) `name`, loaded from "param.<name>" on first use
 * with the given shape checked. */
static inline rn_param *rn_get(rn_net *net, const char *name, int ndim, const int64_t *shape, int trainable)
{
    for (int i = 0; i < net->nparams; i++)
        if (strcmp(net->params[i].name, name) == 0)
            return &net->params[i];
    if (net->nparams == RN_MAX_PARAMS)
        rn_die("too many parameters");
    rn_param *p = &net->params[net->nparams++];
    char key[160];
    if (snprintf(p->name, sizeof p->name, "%s", name) >= (int)sizeof p->name ||
        snprintf(key, sizeof key, "param.%s", p->name) >= (int)sizeof key)
        rn_die("parameter name too long");
    const cz_st_tensor *t;
    if (cz_st_expect(net->vec, key, CZ_ST_F32, ndim, shape, &t))
        rn_die(key);
    p->size = t->numel;
    p->trainable = trainable;
    p->x = rn_alloc(p->size, sizeof(float));
    p->g = rn_alloc(p->size, sizeof(float));
    p->m = rn_alloc(p->size, sizeof(float));
    p->v = rn_alloc(p->size, sizeof(float));
    if (cz_st_copy_f32(t, p->x))
        rn_die(key);
    return p;
}

static inline rn_tensor *rn_new(int n, int c, int h, int w)
{
    rn_tensor *t = rn_alloc(1, sizeof *t);
    *t = (rn_tensor){rn_alloc((size_t)n * c * h * w, sizeof(float)), rn_alloc((size_t)n * c * h * w, sizeof(float)),
                     n, c, h, w};
    return t;
}

static inline void rn_free_tensor(rn_tensor *t)
{
    if (t) {
        free(t->x);
        free(t->g);
        free(t);
    }
}

static inline rn_node *rn_push(rn_net *net, rn_op op, rn_tensor *a, rn_tensor *b, rn_tensor *out)
{
    if (net->nnodes == RN_MAX_NODES)
        rn_die("tape full");
    rn_node *nd = &net->tape[net->nnodes++];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->a = a;
    nd->b = b;
    nd->out = out;
    return nd;
}

static inline const char *rn_join(char *buf, size_t size, const char *prefix, const char *leaf)
{
    if (snprintf(buf, size, "%s.%s", prefix, leaf) >= (int)size)
        rn_die("parameter name too long");
    return buf;
}

/* Conv2d(prefix): weight [cout, cin, k, k], optional bias [cout]. */
static inline rn_tensor *rn_conv(rn_net *net, rn_tensor *x, const char *prefix, int cout, int k, int stride,
                                 int pad, int with_bias)
{
    char name[160];
    int64_t ws[4] = {cout, x->c, k, k}, bs[1] = {cout};
    rn_param *w = rn_get(net, rn_join(name, sizeof name, prefix, "weight"), 4, ws, 1);
    rn_param *b = with_bias ? rn_get(net, rn_join(name, sizeof name, prefix, "bias"), 1, bs, 1) : NULL;
    ref_conv g = {x->n, x->c, x->h, x->w, cout, k, k, stride, pad};
    rn_tensor *out = rn_new(x->n, cout, ref_conv2d_out_h(&g), ref_conv2d_out_w(&g));
    ref_conv2d_forward(out->x, x->x, w->x, b ? b->x : NULL, &g);
    rn_node *nd = rn_push(net, RN_CONV, x, NULL, out);
    nd->w = w;
    nd->bias = b;
    nd->geom = g;
    return out;
}

/* ConvTranspose2d(prefix, kernel 2, stride 2): weight [cin, cout, 2, 2], bias. */
static inline rn_tensor *rn_up(rn_net *net, rn_tensor *x, const char *prefix, int cout)
{
    char name[160];
    int64_t ws[4] = {x->c, cout, 2, 2}, bs[1] = {cout};
    rn_param *w = rn_get(net, rn_join(name, sizeof name, prefix, "weight"), 4, ws, 1);
    rn_param *b = rn_get(net, rn_join(name, sizeof name, prefix, "bias"), 1, bs, 1);
    ref_conv g = {x->n, x->c, x->h, x->w, cout, 2, 2, 2, 0};
    rn_tensor *out = rn_new(x->n, cout, ref_conv_transpose2d_out_h(&g), ref_conv_transpose2d_out_w(&g));
    ref_conv_transpose2d_forward(out->x, x->x, w->x, b->x, &g);
    rn_node *nd = rn_push(net, RN_CONVT, x, NULL, out);
    nd->w = w;
    nd->bias = b;
    nd->geom = g;
    return out;
}

/* BatchNorm2d(prefix) in training mode; updates the running statistics. */
static inline rn_tensor *rn_bn(rn_net *net, rn_tensor *x, const char *prefix)
{
    char name[160];
    int64_t cs[1] = {x->c};
    rn_param *gamma = rn_get(net, rn_join(name, sizeof name, prefix, "weight"), 1, cs, 1);
    rn_param *beta = rn_get(net, rn_join(name, sizeof name, prefix, "bias"), 1, cs, 1);
    rn_param *rm = rn_get(net, rn_join(name, sizeof name, prefix, "running_mean"), 1, cs, 0);
    rn_param *rv = rn_get(net, rn_join(name, sizeof name, prefix, "running_var"), 1, cs, 0);
    rn_tensor *out = rn_new(x->n, x->c, x->h, x->w);
    rn_node *nd = rn_push(net, RN_BN, x, NULL, out);
    nd->w = gamma;
    nd->bias = beta;
    nd->mean = rn_alloc((size_t)x->c, sizeof(float));
    nd->var = rn_alloc((size_t)x->c, sizeof(float));
    ref_batchnorm2d_forward_train(out->x, nd->mean, nd->var, x->x, gamma->x, beta->x, x->n, x->c, x->h, x->w);
    ref_batchnorm2d_update_running(rm->x, rv->x, nd->mean, nd->var, x->c, (long)x->n * x->h * x->w,
                                   REF_BN_MOMENTUM);
    return out;
}

static inline rn_tensor *rn_relu(rn_net *net, rn_tensor *x)
{
    rn_tensor *out = rn_new(x->n, x->c, x->h, x->w);
    ref_relu_forward(out->x, x->x, rn_numel(x));
    rn_push(net, RN_RELU, x, NULL, out);
    return out;
}

static inline rn_tensor *rn_pool(rn_net *net, rn_tensor *x)
{
    rn_tensor *out = rn_new(x->n, x->c, x->h / 2, x->w / 2);
    rn_node *nd = rn_push(net, RN_POOL, x, NULL, out);
    nd->argmax = rn_alloc(rn_numel(out), sizeof(int32_t));
    ref_maxpool2x2_forward(out->x, nd->argmax, x->x, x->n, x->c, x->h, x->w);
    return out;
}

static inline rn_tensor *rn_cat(rn_net *net, rn_tensor *a, rn_tensor *b)
{
    rn_tensor *out = rn_new(a->n, a->c + b->c, a->h, a->w);
    ref_concat_forward(out->x, a->x, b->x, a->n, a->c, b->c, a->h, a->w);
    rn_push(net, RN_CAT, a, b, out);
    return out;
}

static inline rn_tensor *rn_add(rn_net *net, rn_tensor *a, rn_tensor *b)
{
    rn_tensor *out = rn_new(a->n, a->c, a->h, a->w);
    ref_add_forward(out->x, a->x, b->x, rn_numel(a));
    rn_push(net, RN_ADD, a, b, out);
    return out;
}

/* CBR(prefix) = Sequential(conv 3x3 pad 1 no bias, BN, ReLU): names prefix.0, prefix.1 */
static inline rn_tensor *rn_cbr(rn_net *net, rn_tensor *x, const char *prefix, int cout)
{
    char name[160];
    rn_tensor *y = rn_conv(net, x, rn_join(name, sizeof name, prefix, "0"), cout, 3, 1, 1, 0);
    return rn_relu(net, rn_bn(net, y, rn_join(name, sizeof name, prefix, "1")));
}

/* Backward over the tape; the caller has filled the last output's g. */
static inline void rn_backward(rn_net *net)
{
    for (int i = net->nnodes - 1; i >= 0; i--) {
        rn_node *nd = &net->tape[i];
        rn_tensor *a = nd->a, *b = nd->b, *o = nd->out;
        switch (nd->op) {
        case RN_CONV:
            ref_conv2d_backward(a->g, nd->w->g, nd->bias ? nd->bias->g : NULL, o->g, a->x, nd->w->x, &nd->geom);
            break;
        case RN_CONVT:
            ref_conv_transpose2d_backward(a->g, nd->w->g, nd->bias->g, o->g, a->x, nd->w->x, &nd->geom);
            break;
        case RN_BN:
            ref_batchnorm2d_backward(a->g, nd->w->g, nd->bias->g, o->g, a->x, nd->w->x, nd->mean, nd->var, a->n,
                                     a->c, a->h, a->w);
            break;
        case RN_RELU: ref_relu_backward(a->g, o->g, o->x, rn_numel(a)); break;
        case RN_POOL: ref_maxpool2x2_backward(a->g, o->g, nd->argmax, a->n, a->c, a->h, a->w); break;
        case RN_CAT: ref_concat_backward(a->g, b->g, o->g, a->n, a->c, b->c, a->h, a->w); break;
        case RN_ADD: ref_add_backward(a->g, b->g, o->g, rn_numel(a)); break;
        }
    }
}

/* Free every activation made since the last reset (the input included when
 * it was made by rn_new and is passed here). */
static inline void rn_reset(rn_net *net, rn_tensor *input)
{
    for (int i = 0; i < net->nnodes; i++) {
        rn_free_tensor(net->tape[i].out);
        free(net->tape[i].mean);
        free(net->tape[i].var);
        free(net->tape[i].argmax);
    }
    net->nnodes = 0;
    if (input)
        memset(input->g, 0, rn_numel(input) * sizeof(float));
}

static inline void rn_zero_grad(rn_net *net)
{
    for (int i = 0; i < net->nparams; i++)
        memset(net->params[i].g, 0, net->params[i].size * sizeof(float));
}

static inline void rn_adam_step(rn_net *net, float lr, float beta1, float beta2, float eps)
{
    net->adam_t++;
    for (int i = 0; i < net->nparams; i++) {
        rn_param *p = &net->params[i];
        if (p->trainable)
            ref_adam_update(p->x, p->g, p->m, p->v, p->size, lr, beta1, beta2, eps, net->adam_t);
    }
}

static inline void rn_free(rn_net *net)
{
    rn_reset(net, NULL);
    for (int i = 0; i < net->nparams; i++) {
        free(net->params[i].x);
        free(net->params[i].g);
        free(net->params[i].m);
        free(net->params[i].v);
    }
    net->nparams = 0;
}

/* ---- comparing with the vectors ----------------------------------------- */

/* Load an F32 vector tensor of `numel` values (shape checked by the caller). */
static inline float *rn_load(const cz_st_file *vec, const char *name, size_t numel)
{
    const cz_st_tensor *t = cz_st_find(vec, name);
    if (!t || t->dtype != CZ_ST_F32 || t->numel != numel) {
        fprintf(stderr, "%s: missing or mis-shaped tensor '%s'\n", cz_st_path(vec), name);
        exit(1);
    }
    float *p = rn_alloc(numel, sizeof(float));
    cz_st_copy_f32(t, p);
    return p;
}

/* |ours - theirs| <= atol_rel * max|theirs| + rtol |theirs| elementwise:
 * the absolute part scales with the tensor's magnitude, so the tolerance
 * means the same for a gradient of size 1e-4 as for an output of size 1.
 * Returns the worst ratio err / allowed (<= 1 passes) and records a check. */
static inline double rn_compare(const char *what, const float *ours, const float *theirs, size_t n,
                                double atol_rel, double rtol)
{
    double maxabs = 0, worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(theirs[i]) > maxabs)
            maxabs = fabs(theirs[i]);
    for (size_t i = 0; i < n; i++) {
        double allowed = atol_rel * maxabs + rtol * fabs(theirs[i]) + 1e-30;
        double ratio = fabs((double)ours[i] - theirs[i]) / allowed;
        if (!(ratio <= worst)) { /* NaN-safe: NaN becomes the worst */
            worst = isnan(ratio) ? INFINITY : ratio;
            worst_i = i;
        }
    }
    test_checks++;
    if (!(worst <= 1.0)) {
        test_failures++;
        fprintf(stderr, "MISMATCH %s: element %zu ours %.9g pytorch %.9g (max|pytorch| %.3g, %.2fx over)\n", what,
                worst_i, ours[worst_i], theirs[worst_i], maxabs, worst);
    }
    return worst;
}

/* ---- replaying a vector file ------------------------------------------- */

/* Builds the network's forward pass on `input`; returns the head output. */
typedef rn_tensor *(*rn_forward_fn)(rn_net *net, rn_tensor *input, int width, int out_ch);

/* Tolerances of rn_replay, as (atol relative to max|pytorch|, rtol). */
typedef struct rn_tolerances {
    double out_atol, out_rtol;   /* network output of the first forward */
    double grad_atol, grad_rtol; /* every parameter gradient */
    double stat_atol, stat_rtol; /* running mean / var after one forward */
    double loss_rtol;            /* the loss and the 4 losses of the Adam run */
} rn_tolerances;

static inline long rn_meta_long(const cz_st_file *f, const char *key)
{
    const char *s = cz_st_metadata(f, key);
    char *end;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || *end || v <= 0) {
        fprintf(stderr, "%s: bad or missing metadata '%s'\n", cz_st_path(f), key);
        exit(1);
    }
    return v;
}

/* Replay tests/vectors/<file>: forward, loss and backward at the initial
 * parameters, compared tensor by tensor with PyTorch; then 3 Adam steps and a
 * 4th forward, comparing the 4 losses. */
static inline void rn_replay(const char *file, rn_forward_fn forward, rn_tolerances tol)
{
    const char *src = getenv("COLORIZE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/%s", src ? src : ".", file);
    cz_st_file *vec;
    if (cz_st_open(&vec, path))
        rn_die("opening the vectors (run tools/make_vectors.py)");
    const int width = (int)rn_meta_long(vec, "width"), n = (int)rn_meta_long(vec, "batch");
    const int out_ch = (int)rn_meta_long(vec, "out");
    const char *head = cz_st_metadata(vec, "head");
    const int cls = head && strcmp(head, "cls") == 0;
    const int side = 32;
    const size_t plane = (size_t)side * side;

    rn_tensor *input = rn_new(n, 1, side, side);
    float *tmp = rn_load(vec, "input", rn_numel(input));
    memcpy(input->x, tmp, rn_numel(input) * sizeof(float));
    free(tmp);
    float *target_uv = rn_load(vec, "target_uv", (size_t)n * 2 * plane);
    int32_t *bins = rn_alloc((size_t)n * 2 * plane, sizeof *bins);
    const cz_st_tensor *tb = cz_st_find(vec, "target_bins");
    if (!tb || tb->dtype != CZ_ST_I64 || tb->numel != (size_t)n * 2 * plane)
        rn_die("target_bins");
    int64_t *bins64 = rn_alloc(tb->numel, sizeof *bins64);
    cz_st_copy_i64(tb, bins64);
    for (size_t i = 0; i < tb->numel; i++)
        bins[i] = (int32_t)bins64[i];
    free(bins64);

    rn_net *net = rn_alloc(1, sizeof *net);
    net->vec = vec;
    double losses[4];
    for (int step = 0; step < 4; step++) {
        double t0 = cz_now();
        rn_zero_grad(net);
        rn_tensor *out = forward(net, input, width, out_ch);
        if (out->c != out_ch || out->h != side || out->w != side)
            rn_die("output shape");
        losses[step] = cls ? ref_loss_cls_forward(out->x, bins, n, side, side)
                           : ref_loss_reg_forward(out->x, target_uv, n, side, side);
        if (step < 3) {
            if (cls)
                ref_loss_cls_backward(out->g, out->x, bins, n, side, side, 1.0);
            else
                ref_loss_reg_backward(out->g, out->x, target_uv, n, side, side, 1.0);
            rn_backward(net);
        }
        if (step == 0) {
            float *want = rn_load(vec, "output", rn_numel(out));
            double worst = rn_compare("output", out->x, want, rn_numel(out), tol.out_atol, tol.out_rtol);
            printf("%s: output %zu values, worst %.3f of tolerance\n", file, rn_numel(out), worst);
            free(want);
            float *want_loss = rn_load(vec, "loss", 1);
            CHECK_CLOSE(losses[0], want_loss[0], 0, tol.loss_rtol);
            printf("%s: loss ours %.9g pytorch %.9g\n", file, losses[0], want_loss[0]);
            free(want_loss);
            double worst_grad = 0, worst_stat = 0;
            int ngrad = 0, nstat = 0;
            for (int i = 0; i < net->nparams; i++) {
                rn_param *p = &net->params[i];
                char key[160];
                rn_join(key, sizeof key, p->trainable ? "grad" : "running", p->name);
                float *w = rn_load(vec, key, p->size);
                double r = p->trainable ? rn_compare(key, p->g, w, p->size, tol.grad_atol, tol.grad_rtol)
                                        : rn_compare(key, p->x, w, p->size, tol.stat_atol, tol.stat_rtol);
                if (p->trainable) {
                    worst_grad = r > worst_grad ? r : worst_grad;
                    ngrad++;
                } else {
                    worst_stat = r > worst_stat ? r : worst_stat;
                    nstat++;
                }
                free(w);
            }
            /* every gradient in the file was produced by some parameter */
            int in_file = 0;
            for (int i = 0; i < cz_st_count(vec); i++)
                in_file += strncmp(cz_st_at(vec, i)->name, "grad.", 5) == 0;
            CHECK(in_file == ngrad);
            printf("%s: %d gradients, worst %.3f of tolerance; %d running stats, worst %.3f\n", file, ngrad,
                   worst_grad, nstat, worst_stat);
        }
        if (step < 3)
            rn_adam_step(net, 1e-3f, 0.9f, 0.999f, 1e-8f);
        rn_reset(net, input);
        printf("%s: step %d loss %.9g (%.2f s)\n", file, step, losses[step], cz_now() - t0);
    }
    float *want = rn_load(vec, "adam_losses", 4);
    for (int i = 0; i < 4; i++)
        CHECK_CLOSE(losses[i], want[i], 0, tol.loss_rtol);
    printf("%s: adam losses pytorch %.9g %.9g %.9g %.9g\n", file, want[0], want[1], want[2], want[3]);
    free(want);
    rn_free(net);
    free(net);
    rn_free_tensor(input);
    free(target_uv);
    free(bins);
    cz_st_close(vec);
}

#endif
