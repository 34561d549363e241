/* The reference backend: runs any cz_graph with the slow, obviously-correct
 * operators of ref_ops.c on plain NCHW tensors, one buffer per tensor. It is
 * what the fast backend is compared against (tests/test_backends.c) and a
 * debugging aid (`--backend ref`).
 *
 * Backward zeroes every gradient and lets the operators accumulate, so a
 * tensor read by several operations needs no special care. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ref_context.h"
#include "ref_ops.h"
#include "util.h"

typedef struct ref_net {
    const cz_graph *g;
    int batch, training;
    float *params, *grads, *buffers;
    float **x, **dx;        /* per tensor: values and (training) gradient */
    float **mean, **var;    /* per BN op: batch statistics */
    int32_t **argmax;       /* per pool op: the winners */
    float *cat, *dcat, *tmp; /* a concatenated input, its gradient, a pre-ReLU gradient */
    float *daux;             /* training: d loss / d aux output, filled by the caller */
    size_t bytes;
    double margin; /* of the last forward (cz_backend_i.kink_margin) */
    double prof[CZ_PROF_COUNT]; /* not measured: the ref backend is not timed */
} ref_net;

static size_t numel(const ref_net *r, int id)
{
    const cz_tensor_info *t = &r->g->tensors[id];
    return (size_t)r->batch * t->c * t->h * t->w;
}

static void *ref_block(ref_net *r, size_t n, size_t size, const char *what)
{
    void *p = cz_alloc_aligned(n ? n : 1, size, what);
    if (p)
        r->bytes += n * size;
    return p;
}

static void ref_free(void *impl)
{
    ref_net *r = impl;
    if (!r)
        return;
    for (int i = 0; r->x && i < r->g->n_tensors; i++) {
        free(r->x[i]);
        free(r->dx ? r->dx[i] : NULL);
    }
    for (int i = 0; r->mean && i < r->g->n_ops; i++) {
        free(r->mean[i]);
        free(r->var[i]);
        free(r->argmax[i]);
    }
    free(r->x);
    free(r->dx);
    free(r->mean);
    free(r->var);
    free(r->argmax);
    free(r->cat);
    free(r->dcat);
    free(r->tmp);
    free(r->daux);
    free(r);
}

static cz_status ref_create(const cz_net_config *cfg, void **out)
{
    ref_net *r = cz_alloc(1, sizeof *r, "net");
    if (!r)
        return CZ_ERR_NOMEM;
    const cz_graph *g = cfg->graph;
    r->g = g;
    r->batch = cfg->batch;
    r->training = cfg->training;
    r->params = cfg->params;
    r->grads = cfg->grads;
    r->buffers = cfg->buffers;
    int nt = g->n_tensors, no = g->n_ops;
    r->x = cz_alloc((size_t)nt, sizeof(float *), "tensors");
    r->dx = r->training ? cz_alloc((size_t)nt, sizeof(float *), "tensors") : NULL;
    r->mean = cz_alloc((size_t)no, sizeof(float *), "bn stats");
    r->var = cz_alloc((size_t)no, sizeof(float *), "bn stats");
    r->argmax = cz_alloc((size_t)no, sizeof(int32_t *), "pool winners");
    if (!r->x || (r->training && !r->dx) || !r->mean || !r->var || !r->argmax)
        goto nomem;
    size_t largest = 0;
    for (int i = 0; i < nt; i++) {
        size_t n = numel(r, i);
        largest = n > largest ? n : largest;
        if (!(r->x[i] = ref_block(r, n, sizeof(float), "activation")))
            goto nomem;
        if (r->training && i != g->input && !(r->dx[i] = ref_block(r, n, sizeof(float), "gradient")))
            goto nomem;
    }
    size_t cat = 0;
    for (int i = 0; i < no; i++) {
        const cz_op *op = &g->ops[i];
        const cz_tensor_info *o = &g->tensors[op->out];
        if (op->kind == CZ_OP_BN && (!(r->mean[i] = ref_block(r, (size_t)o->c, sizeof(float), "bn mean")) ||
                                     !(r->var[i] = ref_block(r, (size_t)o->c, sizeof(float), "bn var"))))
            goto nomem;
        if (op->kind == CZ_OP_POOL && !(r->argmax[i] = ref_block(r, numel(r, op->out), sizeof(int32_t), "argmax")))
            goto nomem;
        if (op->kind == CZ_OP_CONV && op->n_in == 2) {
            size_t n = numel(r, op->in[0]) + numel(r, op->in[1]);
            cat = n > cat ? n : cat;
        }
    }
    if (!(r->cat = ref_block(r, cat, sizeof(float), "concatenation")) ||
        !(r->dcat = ref_block(r, cat, sizeof(float), "concatenation gradient")) ||
        !(r->tmp = ref_block(r, largest, sizeof(float), "gradient scratch")))
        goto nomem;
    if (r->training && g->aux >= 0 && !(r->daux = ref_block(r, numel(r, g->aux), sizeof(float), "aux gradient")))
        goto nomem;
    if (r->daux)
        memset(r->daux, 0, numel(r, g->aux) * sizeof(float));
    *out = r;
    return CZ_OK;
nomem:
    ref_free(r);
    return CZ_ERR_NOMEM;
}

/* The geometry of a CONV or DECONV op, and its (possibly concatenated) source. */
static ref_conv conv_geometry(const ref_net *r, const cz_op *op)
{
    const cz_graph *g = r->g;
    const cz_tensor_info *a = &g->tensors[op->in[0]];
    const cz_param_info *w = &g->params[op->weight];
    int cin = a->c + (op->n_in == 2 ? g->tensors[op->in[1]].c : 0);
    ref_conv c = {r->batch, cin, a->h, a->w, g->tensors[op->out].c, w->shape[2], w->shape[3],
                  op->stride, op->kind == CZ_OP_CONV ? op->pad : 0};
    return c;
}

static const float *conv_source(ref_net *r, const cz_op *op)
{
    if (op->n_in == 1)
        return r->x[op->in[0]];
    const cz_tensor_info *a = &r->g->tensors[op->in[0]], *b = &r->g->tensors[op->in[1]];
    ref_concat_forward(r->cat, r->x[op->in[0]], r->x[op->in[1]], r->batch, a->c, b->c, a->h, a->w);
    return r->cat;
}

static float *param(ref_net *r, float *slab, int id)
{
    return id < 0 ? NULL : slab + r->g->params[id].offset;
}

static double min_abs(const float *x, size_t n)
{
    double m = INFINITY;
    for (size_t i = 0; i < n; i++)
        m = fmin(m, fabs(x[i]));
    return m;
}

/* The smallest gap between the two largest values of a 2x2 window whose
 * largest value is positive. */
static double pool_margin(const float *in, int planes, int h, int w)
{
    double m = INFINITY;
    for (int p = 0; p < planes; p++)
        for (int y = 0; y + 1 < h; y += 2)
            for (int x = 0; x + 1 < w; x += 2) {
                const float *a = in + ((size_t)p * h + y) * w + x;
                float v[4] = {a[0], a[1], a[w], a[w + 1]}, top = -INFINITY, second = -INFINITY;
                for (int k = 0; k < 4; k++) {
                    if (v[k] > top) {
                        second = top;
                        top = v[k];
                    } else if (v[k] > second) {
                        second = v[k];
                    }
                }
                if (top > 0)
                    m = fmin(m, (double)top - second);
            }
    return m;
}

static cz_status ref_forward(void *impl, const float *input, float *output)
{
    ref_net *r = impl;
    const cz_graph *g = r->g;
    memcpy(r->x[g->input], input, numel(r, g->input) * sizeof(float));
    r->margin = INFINITY;
    for (int i = 0; i < g->n_ops; i++) {
        const cz_op *op = &g->ops[i];
        const cz_tensor_info *t = &g->tensors[op->out];
        float *y = r->x[op->out];
        const float *in = r->x[op->in[0]];
        ref_conv c;
        switch (op->kind) {
        case CZ_OP_CONV:
            c = conv_geometry(r, op);
            ref_conv2d_forward(y, conv_source(r, op), param(r, r->params, op->weight),
                               param(r, r->params, op->bias), &c);
            break;
        case CZ_OP_DECONV:
            c = conv_geometry(r, op);
            ref_conv_transpose2d_forward(y, in, param(r, r->params, op->weight),
                                         param(r, r->params, op->bias), &c);
            break;
        case CZ_OP_BN: {
            const float *gamma = param(r, r->params, op->gamma), *beta = param(r, r->params, op->beta);
            float *rm = r->buffers + g->buffers[op->mean].offset, *rv = r->buffers + g->buffers[op->var].offset;
            if (r->training) {
                ref_batchnorm2d_forward_train(y, r->mean[i], r->var[i], in, gamma, beta, r->batch, t->c,
                                              t->h, t->w);
                ref_batchnorm2d_update_running(rm, rv, r->mean[i], r->var[i], t->c,
                                               (long)r->batch * t->h * t->w, REF_BN_MOMENTUM);
            } else {
                ref_batchnorm2d_forward_eval(y, in, gamma, beta, rm, rv, r->batch, t->c, t->h, t->w);
            }
            break;
        }
        case CZ_OP_POOL: {
            const cz_tensor_info *s = &g->tensors[op->in[0]];
            ref_maxpool2x2_forward(y, r->argmax[i], in, r->batch, s->c, s->h, s->w);
            r->margin = fmin(r->margin, pool_margin(in, r->batch * s->c, s->h, s->w));
            break;
        }
        case CZ_OP_ADD:
            ref_add_forward(y, in, r->x[op->in[1]], numel(r, op->out));
            break;
        case CZ_OP_GAP: {
            const cz_tensor_info *s = &g->tensors[op->in[0]];
            ref_global_avgpool_forward(y, in, r->batch, s->c, s->h, s->w);
            break;
        }
        case CZ_OP_FC:
            ref_linear_forward(y, in, param(r, r->params, op->weight), param(r, r->params, op->bias), r->batch,
                               g->tensors[op->in[0]].c, t->c);
            break;
        case CZ_OP_BROADCAST: /* cat of no channels with the broadcast vector */
            ref_concat_broadcast_forward(y, in, in, r->batch, 0, t->c, t->h, t->w);
            break;
        case CZ_OP_GATE:
            ref_channel_gate_forward(y, in, r->x[op->in[1]], r->batch, t->c, t->h, t->w);
            break;
        }
        if (cz_op_has_relu(op)) {
            r->margin = fmin(r->margin, min_abs(y, numel(r, op->out)));
            ref_relu_forward(y, y, numel(r, op->out));
        }
    }
    memcpy(output, r->x[g->output], numel(r, g->output) * sizeof(float));
    return CZ_OK;
}

static cz_status ref_backward(void *impl, const float *d_output)
{
    ref_net *r = impl;
    const cz_graph *g = r->g;
    if (!r->training)
        return cz_fail(CZ_ERR_ARG, "backward on a net built for inference");
    memset(r->grads, 0, g->param_floats * sizeof(float));
    for (int i = 0; i < g->n_tensors; i++)
        if (r->dx[i])
            memset(r->dx[i], 0, numel(r, i) * sizeof(float));
    memcpy(r->dx[g->output], d_output, numel(r, g->output) * sizeof(float));
    if (g->aux >= 0)
        memcpy(r->dx[g->aux], r->daux, numel(r, g->aux) * sizeof(float));
    for (int i = g->n_ops - 1; i >= 0; i--) {
        const cz_op *op = &g->ops[i];
        const cz_tensor_info *t = &g->tensors[op->out];
        const size_t n = numel(r, op->out);
        const float *dy = r->dx[op->out];
        float *din = r->dx[op->in[0]]; /* NULL for the graph input */
        if (cz_op_has_relu(op)) {
            memset(r->tmp, 0, n * sizeof(float));
            ref_relu_backward(r->tmp, dy, r->x[op->out], n);
            dy = r->tmp;
        }
        ref_conv c;
        switch (op->kind) {
        case CZ_OP_CONV: {
            c = conv_geometry(r, op);
            const float *src = conv_source(r, op);
            float *dsrc = din;
            if (op->n_in == 2) {
                memset(r->dcat, 0, (size_t)c.n * c.cin * c.h * c.w * sizeof(float));
                dsrc = r->dcat;
            }
            ref_conv2d_backward(dsrc, param(r, r->grads, op->weight), param(r, r->grads, op->bias), dy, src,
                                param(r, r->params, op->weight), &c);
            if (op->n_in == 2) {
                const cz_tensor_info *a = &g->tensors[op->in[0]];
                ref_concat_backward(din, r->dx[op->in[1]], r->dcat, c.n, a->c, c.cin - a->c, c.h, c.w);
            }
            break;
        }
        case CZ_OP_DECONV:
            c = conv_geometry(r, op);
            ref_conv_transpose2d_backward(din, param(r, r->grads, op->weight), param(r, r->grads, op->bias), dy,
                                          r->x[op->in[0]], param(r, r->params, op->weight), &c);
            break;
        case CZ_OP_BN:
            ref_batchnorm2d_backward(din, param(r, r->grads, op->gamma), param(r, r->grads, op->beta), dy,
                                     r->x[op->in[0]], param(r, r->params, op->gamma), r->mean[i], r->var[i],
                                     r->batch, t->c, t->h, t->w);
            break;
        case CZ_OP_POOL: {
            const cz_tensor_info *s = &g->tensors[op->in[0]];
            if (din)
                ref_maxpool2x2_backward(din, dy, r->argmax[i], r->batch, s->c, s->h, s->w);
            break;
        }
        case CZ_OP_ADD:
            ref_add_backward(din, r->dx[op->in[1]], dy, n);
            break;
        case CZ_OP_GAP: {
            const cz_tensor_info *s = &g->tensors[op->in[0]];
            if (din)
                ref_global_avgpool_backward(din, dy, r->batch, s->c, s->h, s->w);
            break;
        }
        case CZ_OP_FC:
            ref_linear_backward(din, param(r, r->grads, op->weight), param(r, r->grads, op->bias), dy,
                                r->x[op->in[0]], param(r, r->params, op->weight), r->batch,
                                g->tensors[op->in[0]].c, t->c);
            break;
        case CZ_OP_BROADCAST:
            if (din)
                ref_concat_broadcast_backward(NULL, din, dy, r->batch, 0, t->c, t->h, t->w);
            break;
        case CZ_OP_GATE:
            ref_channel_gate_backward(din, r->dx[op->in[1]], dy, r->x[op->in[0]], r->x[op->in[1]], r->batch, t->c,
                                      t->h, t->w);
            break;
        }
    }
    return CZ_OK;
}

static void ref_describe(const void *impl, FILE *fp)
{
    static const cz_prof_kind kind[] = {
        [CZ_OP_CONV] = CZ_PROF_CONV_FWD, [CZ_OP_DECONV] = CZ_PROF_CONV_FWD, [CZ_OP_BN] = CZ_PROF_BN,
        [CZ_OP_POOL] = CZ_PROF_POOL, [CZ_OP_ADD] = CZ_PROF_ELTWISE, [CZ_OP_GAP] = CZ_PROF_CONTEXT,
        [CZ_OP_FC] = CZ_PROF_CONTEXT, [CZ_OP_BROADCAST] = CZ_PROF_CONTEXT, [CZ_OP_GATE] = CZ_PROF_CONTEXT};
    const ref_net *r = impl;
    for (int pass = 0; pass < 1 + r->training; pass++)
        for (int k = 0; k < r->g->n_ops; k++) {
            const cz_op *op = &r->g->ops[pass ? r->g->n_ops - 1 - k : k];
            fprintf(fp, "%s %-22s %-22s %-16s %9.3f ms\n", pass ? "bwd" : "fwd", op->name,
                    cz_prof_names[kind[op->kind]], "ref", 0.0);
        }
}

static size_t ref_memory(const void *impl)
{
    return ((const ref_net *)impl)->bytes;
}

static void ref_profile(void *impl, int enable)
{
    (void)impl;
    (void)enable;
}

static const double *ref_profile_times(const void *impl)
{
    return ((const ref_net *)impl)->prof;
}

static double ref_kink_margin(const void *impl)
{
    return ((const ref_net *)impl)->margin;
}

static const float *ref_aux_output(const void *impl)
{
    const ref_net *r = impl;
    return r->g->aux >= 0 ? r->x[r->g->aux] : NULL;
}

static float *ref_aux_grad(void *impl)
{
    return ((ref_net *)impl)->daux;
}

const cz_backend_i cz_backend_ref = {
    .name = "ref",
    .create = ref_create,
    .forward = ref_forward,
    .backward = ref_backward,
    .describe = ref_describe,
    .memory = ref_memory,
    .profile = ref_profile,
    .profile_times = ref_profile_times,
    .kink_margin = ref_kink_margin,
    .aux_output = ref_aux_output,
    .aux_grad = ref_aux_grad,
    .free = ref_free,
};
