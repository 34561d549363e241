/* Adam, AdamW and SGD (momentum, Nesterov) exactly as torch.optim does them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "util.h"

static const char *kind_names[] = {"adam", "adamw", "sgd"};
static const char *sched_names[] = {"const", "cosine", "onecycle", "linear"};
#define N_SCHED (int)(sizeof sched_names / sizeof sched_names[0])

cz_status cz_optim_kind_parse(const char *text, cz_optim_kind *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(text, kind_names[i]) == 0) {
            *out = (cz_optim_kind)i;
            return CZ_OK;
        }
    return cz_fail(CZ_ERR_ARG, "unknown optimiser '%s' (use adam, adamw or sgd)", text);
}

const char *cz_optim_kind_name(cz_optim_kind k)
{
    return (unsigned)k < 3 ? kind_names[k] : "?";
}

cz_status cz_schedule_parse(const char *text, cz_schedule *out)
{
    for (int i = 0; i < N_SCHED; i++)
        if (strcmp(text, sched_names[i]) == 0) {
            *out = (cz_schedule)i;
            return CZ_OK;
        }
    return cz_fail(CZ_ERR_ARG, "unknown schedule '%s' (use const, cosine, linear or onecycle)", text);
}

const char *cz_schedule_name(cz_schedule s)
{
    return (unsigned)s < (unsigned)N_SCHED ? sched_names[s] : "?";
}

void cz_optim_defaults(cz_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = CZ_OPTIM_ADAM;
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->momentum = 0.9;
}

cz_status cz_optim_init(cz_optim *o, const cz_optim_config *cfg, size_t n)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->m = cz_alloc_aligned(n, sizeof(float), "optimiser state");
    o->v = cz_alloc_aligned(n, sizeof(float), "optimiser state");
    if (!o->m || !o->v) {
        cz_optim_free(o);
        return CZ_ERR_NOMEM;
    }
    return CZ_OK;
}

void cz_optim_free(cz_optim *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void cz_optim_step(cz_optim *o, float *params, const float *grads, double lr)
{
    const cz_optim_config *c = &o->cfg;
    o->step++;
    const size_t n = o->n;
    float *restrict p = params, *restrict m = o->m, *restrict v = o->v;
    const float *restrict g = grads;
    const float wd = (float)c->weight_decay;
    if (c->kind == CZ_OPTIM_SGD) {
        const float mu = (float)c->momentum, flr = (float)lr;
        const int first = o->step == 1, nesterov = c->nesterov;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i];
            if (mu != 0.0f) {
                m[i] = first ? d : mu * m[i] + d;
                d = nesterov ? d + mu * m[i] : m[i];
            }
            p[i] -= flr * d;
        }
        return;
    }
    const double bc1 = 1.0 - pow(c->beta1, (double)o->step);
    const double bc2 = 1.0 - pow(c->beta2, (double)o->step);
    const float step_size = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const int decoupled = c->kind == CZ_OPTIM_ADAMW;
    const float decay = decoupled ? (float)(1.0 - lr * c->weight_decay) : 1.0f;
    const float l2 = decoupled ? 0.0f : wd;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float pi = p[i] * decay;
        float d = g[i] + l2 * pi;
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        float denom = sqrtf(v[i]) * inv_sqrt_bc2 + eps;
        p[i] = pi - step_size * m[i] / denom;
    }
}

double cz_schedule_lr(cz_schedule s, double lr, long t, long total, long warm_steps)
{
    const double pi = 3.14159265358979323846;
    if (total < 1)
        total = 1;
    if (s == CZ_SCHED_ONECYCLE) {
        long warm = warm_steps > 0 ? warm_steps : (long)(0.3 * (double)total);
        if (warm < 1)
            warm = 1;
        double lo = lr / 25.0, end = lr / 1e4;
        if (t < warm)
            return lo + (lr - lo) * (double)t / (double)warm;
        double x = (double)(t - warm) / (double)(total - warm > 0 ? total - warm : 1);
        return end + (lr - end) * 0.5 * (1.0 + cos(pi * (x > 1 ? 1 : x)));
    }
    if (warm_steps > 0 && t < warm_steps)
        return lr * (double)(t + 1) / (double)warm_steps;
    if (s == CZ_SCHED_COSINE || s == CZ_SCHED_LINEAR) {
        double x = (double)(t - warm_steps) / (double)(total - warm_steps > 0 ? total - warm_steps : 1);
        if (x >= 1)
            return 0.0; /* the end of the budget: exactly zero */
        return s == CZ_SCHED_LINEAR ? lr * (1.0 - x) : lr * 0.5 * (1.0 + cos(pi * x));
    }
    return lr;
}
