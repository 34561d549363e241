/* Graph builder: shape inference and parameter registration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

void cz_graph_init(cz_graph *g)
{
    memset(g, 0, sizeof *g);
    g->input = g->output = g->aux = -1;
}

void cz_graph_free(cz_graph *g)
{
    free(g->tensors);
    free(g->ops);
    free(g->params);
    free(g->buffers);
    memset(g, 0, sizeof *g);
}

/* Grow an array of `size`-byte items to hold one more. */
static int grow(void **arr, int *cap, int n, size_t size, cz_graph *g)
{
    if (n < *cap)
        return 1;
    int ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)ncap * size);
    if (!p) {
        g->failed = 1;
        cz_fail(CZ_ERR_NOMEM, "graph: out of memory");
        return 0;
    }
    *arr = p;
    *cap = ncap;
    return 1;
}

static int new_tensor(cz_graph *g, int c, int h, int w)
{
    if (!grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors, sizeof(cz_tensor_info), g))
        return -1;
    g->tensors[g->n_tensors] = (cz_tensor_info){c, h, w};
    return g->n_tensors++;
}

static int add_info(cz_graph *g, cz_param_info **arr, int *n, int *cap, size_t *floats,
                    const char *name, const char *suffix, int ndim, const int *shape)
{
    if (!grow((void **)arr, cap, *n, sizeof(cz_param_info), g))
        return -1;
    cz_param_info *p = &(*arr)[*n];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s%s", name, suffix);
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->count *= (size_t)shape[i];
    }
    /* Keep each tensor 16-float aligned so vector code never straddles. */
    p->offset = *floats;
    *floats += (p->count + 15) & ~(size_t)15;
    return (*n)++;
}

static int add_param(cz_graph *g, const char *name, const char *suffix, int ndim, const int *shape)
{
    return add_info(g, &g->params, &g->n_params, &g->cap_params, &g->param_floats, name, suffix,
                    ndim, shape);
}

static int add_buffer(cz_graph *g, const char *name, const char *suffix, int ndim, const int *shape)
{
    return add_info(g, &g->buffers, &g->n_buffers, &g->cap_buffers, &g->buffer_floats, name,
                    suffix, ndim, shape);
}

static cz_op *new_op(cz_graph *g, cz_op_kind kind, const char *name)
{
    if (!grow((void **)&g->ops, &g->cap_ops, g->n_ops, sizeof(cz_op), g))
        return NULL;
    cz_op *op = &g->ops[g->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    snprintf(op->name, sizeof op->name, "%s", name);
    op->weight = op->bias = op->gamma = op->beta = op->mean = op->var = -1;
    return op;
}

static int bad(cz_graph *g, const char *name, const char *why)
{
    g->failed = 1;
    cz_fail(CZ_ERR_ARG, "layer %s: %s", name, why);
    return -1;
}

static int valid(const cz_graph *g, int t)
{
    return !g->failed && t >= 0 && t < g->n_tensors;
}

int cz_graph_input(cz_graph *g, int c, int h, int w)
{
    g->input = new_tensor(g, c, h, w);
    return g->input;
}

int cz_graph_conv(cz_graph *g, const char *name, const int *in, int n_in, int cout, int kernel,
                  int stride, int pad, int bias)
{
    if (n_in < 1 || n_in > CZ_OP_MAX_IN)
        return bad(g, name, "takes 1 or 2 inputs");
    int cin = 0;
    for (int i = 0; i < n_in; i++) {
        if (!valid(g, in[i]))
            return bad(g, name, "invalid input");
        const cz_tensor_info *a = &g->tensors[in[i]], *b = &g->tensors[in[0]];
        if (a->h != b->h || a->w != b->w)
            return bad(g, name, "concatenated inputs differ in height or width");
        cin += a->c;
    }
    const cz_tensor_info t = g->tensors[in[0]];
    int ho = (t.h + 2 * pad - kernel) / stride + 1, wo = (t.w + 2 * pad - kernel) / stride + 1;
    if (cout <= 0 || kernel <= 0 || stride <= 0 || ho <= 0 || wo <= 0)
        return bad(g, name, "input too small for the kernel");
    char wname[CZ_NAME_MAX];
    snprintf(wname, sizeof wname, "%s", name);
    cz_op *op = new_op(g, CZ_OP_CONV, name);
    if (!op)
        return -1;
    for (int i = 0; i < n_in; i++)
        op->in[i] = in[i];
    op->n_in = n_in;
    op->kernel = kernel;
    op->stride = stride;
    op->pad = pad;
    int ws[4] = {cout, cin, kernel, kernel};
    op->weight = add_param(g, wname, ".weight", 4, ws);
    if (bias)
        op->bias = add_param(g, wname, ".bias", 1, &cout);
    op->out = new_tensor(g, cout, ho, wo);
    return op->out;
}

int cz_graph_deconv(cz_graph *g, const char *name, int in, int cout, int kernel, int stride)
{
    if (!valid(g, in))
        return bad(g, name, "invalid input");
    const cz_tensor_info t = g->tensors[in];
    cz_op *op = new_op(g, CZ_OP_DECONV, name);
    if (!op)
        return -1;
    op->in[0] = in;
    op->n_in = 1;
    op->kernel = kernel;
    op->stride = stride;
    int ws[4] = {t.c, cout, kernel, kernel}; /* PyTorch: [in, out, kh, kw] */
    op->weight = add_param(g, name, ".weight", 4, ws);
    op->bias = add_param(g, name, ".bias", 1, &cout);
    op->out = new_tensor(g, cout, (t.h - 1) * stride + kernel, (t.w - 1) * stride + kernel);
    return op->out;
}

int cz_graph_bn(cz_graph *g, const char *name, int in, int relu)
{
    if (!valid(g, in))
        return bad(g, name, "invalid input");
    const cz_tensor_info t = g->tensors[in];
    cz_op *op = new_op(g, CZ_OP_BN, name);
    if (!op)
        return -1;
    op->in[0] = in;
    op->n_in = 1;
    op->relu = relu;
    op->gamma = add_param(g, name, ".weight", 1, &t.c);
    op->beta = add_param(g, name, ".bias", 1, &t.c);
    op->mean = add_buffer(g, name, ".running_mean", 1, &t.c);
    op->var = add_buffer(g, name, ".running_var", 1, &t.c);
    op->out = new_tensor(g, t.c, t.h, t.w);
    return op->out;
}

int cz_graph_pool(cz_graph *g, const char *name, int in)
{
    if (!valid(g, in))
        return bad(g, name, "invalid input");
    const cz_tensor_info t = g->tensors[in];
    if (t.h % 2 || t.w % 2)
        return bad(g, name, "MaxPool2d(2) needs an even height and width");
    cz_op *op = new_op(g, CZ_OP_POOL, name);
    if (!op)
        return -1;
    op->in[0] = in;
    op->n_in = 1;
    op->out = new_tensor(g, t.c, t.h / 2, t.w / 2);
    return op->out;
}

int cz_graph_add(cz_graph *g, const char *name, int a, int b, int relu)
{
    if (!valid(g, a) || !valid(g, b))
        return bad(g, name, "invalid input");
    const cz_tensor_info ta = g->tensors[a], tb = g->tensors[b];
    if (ta.c != tb.c || ta.h != tb.h || ta.w != tb.w)
        return bad(g, name, "residual addition of tensors of different shapes");
    cz_op *op = new_op(g, CZ_OP_ADD, name);
    if (!op)
        return -1;
    op->in[0] = a;
    op->in[1] = b;
    op->n_in = 2;
    op->relu = relu;
    op->out = new_tensor(g, ta.c, ta.h, ta.w);
    return op->out;
}

int cz_graph_gap(cz_graph *g, const char *name, int in)
{
    if (!valid(g, in))
        return bad(g, name, "invalid input");
    const cz_tensor_info t = g->tensors[in];
    cz_op *op = new_op(g, CZ_OP_GAP, name);
    if (!op)
        return -1;
    op->in[0] = in;
    op->n_in = 1;
    op->out = new_tensor(g, t.c, 1, 1);
    return op->out;
}

int cz_graph_fc(cz_graph *g, const char *name, int in, int out, int relu)
{
    if (!valid(g, in))
        return bad(g, name, "invalid input");
    const cz_tensor_info t = g->tensors[in];
    if (t.h != 1 || t.w != 1)
        return bad(g, name, "a fully connected layer takes a pooled [C, 1, 1] vector");
    if (out <= 0)
        return bad(g, name, "no outputs");
    cz_op *op = new_op(g, CZ_OP_FC, name);
    if (!op)
        return -1;
    op->in[0] = in;
    op->n_in = 1;
    op->relu = relu;
    int ws[2] = {out, t.c}; /* nn.Linear: [out, in] */
    op->weight = add_param(g, name, ".weight", 2, ws);
    op->bias = add_param(g, name, ".bias", 1, &out);
    op->out = new_tensor(g, out, 1, 1);
    return op->out;
}

int cz_graph_broadcast(cz_graph *g, const char *name, int in, int h, int w)
{
    if (!valid(g, in))
        return bad(g, name, "invalid input");
    const cz_tensor_info t = g->tensors[in];
    if (t.h != 1 || t.w != 1 || h <= 0 || w <= 0)
        return bad(g, name, "broadcasts a [C, 1, 1] vector to a positive size");
    cz_op *op = new_op(g, CZ_OP_BROADCAST, name);
    if (!op)
        return -1;
    op->in[0] = in;
    op->n_in = 1;
    op->out = new_tensor(g, t.c, h, w);
    return op->out;
}

int cz_graph_gate(cz_graph *g, const char *name, int x, int s)
{
    if (!valid(g, x) || !valid(g, s))
        return bad(g, name, "invalid input");
    const cz_tensor_info tx = g->tensors[x], ts = g->tensors[s];
    if (ts.c != tx.c || ts.h != 1 || ts.w != 1)
        return bad(g, name, "the gate needs one [C, 1, 1] logit per channel");
    cz_op *op = new_op(g, CZ_OP_GATE, name);
    if (!op)
        return -1;
    op->in[0] = x;
    op->in[1] = s;
    op->n_in = 2;
    op->out = new_tensor(g, tx.c, tx.h, tx.w);
    return op->out;
}

int cz_op_has_relu(const cz_op *op)
{
    return op->relu && (op->kind == CZ_OP_BN || op->kind == CZ_OP_ADD || op->kind == CZ_OP_FC ||
                        op->kind == CZ_OP_CONV);
}

int cz_graph_cbr(cz_graph *g, const char *name, const int *in, int n_in, int cout)
{
    char a[CZ_NAME_MAX], b[CZ_NAME_MAX];
    snprintf(a, sizeof a, "%s.0", name);
    snprintf(b, sizeof b, "%s.1", name);
    int t = cz_graph_conv(g, a, in, n_in, cout, 3, 1, 1, 0);
    return cz_graph_bn(g, b, t, 1);
}

double cz_graph_flops(const cz_graph *g)
{
    double total = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const cz_op *op = &g->ops[i];
        const cz_param_info *w = op->weight >= 0 ? &g->params[op->weight] : NULL;
        if (op->kind == CZ_OP_CONV) {
            const cz_tensor_info *o = &g->tensors[op->out];
            total += 2.0 * o->c * o->h * o->w * (double)w->shape[1] * w->shape[2] * w->shape[3];
        } else if (op->kind == CZ_OP_DECONV) {
            const cz_tensor_info *t = &g->tensors[op->in[0]];
            total += 2.0 * t->c * t->h * t->w * (double)w->shape[1] * w->shape[2] * w->shape[3];
        } else if (op->kind == CZ_OP_FC) {
            total += 2.0 * w->shape[0] * w->shape[1];
        }
    }
    return total;
}

size_t cz_graph_param_count(const cz_graph *g)
{
    size_t n = 0;
    for (int i = 0; i < g->n_params; i++)
        n += g->params[i].count;
    return n;
}

int cz_graph_find_param(const cz_graph *g, const char *name)
{
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0)
            return i;
    return -1;
}

int cz_graph_find_buffer(const cz_graph *g, const char *name)
{
    for (int i = 0; i < g->n_buffers; i++)
        if (strcmp(g->buffers[i].name, name) == 0)
            return i;
    return -1;
}
