/* Optimisers with PyTorch's exact update rules, over one flat slab, and
 * learning-rate schedules. */
#ifndef CZ_OPTIM_H
#define CZ_OPTIM_H

#include <stddef.h>

#include "colorize/error.h"

typedef enum cz_optim_kind { CZ_OPTIM_ADAM, CZ_OPTIM_ADAMW, CZ_OPTIM_SGD } cz_optim_kind;
typedef enum cz_schedule {
    CZ_SCHED_CONST,
    CZ_SCHED_COSINE,
    CZ_SCHED_ONECYCLE,
    CZ_SCHED_LINEAR
} cz_schedule;

typedef struct cz_optim_config {
    cz_optim_kind kind;
    double lr;
    double beta1, beta2, eps; /* Adam, AdamW */
    double weight_decay;      /* L2 for Adam and SGD, decoupled for AdamW */
    double momentum;          /* SGD */
    int nesterov;             /* SGD */
} cz_optim_config;

typedef struct cz_optim {
    cz_optim_config cfg;
    size_t n;
    float *m, *v; /* first and second moments (SGD: m is the momentum buffer) */
    long step;
} cz_optim;

cz_status cz_optim_kind_parse(const char *text, cz_optim_kind *out);
const char *cz_optim_kind_name(cz_optim_kind k);
cz_status cz_schedule_parse(const char *text, cz_schedule *out);
const char *cz_schedule_name(cz_schedule s);

/* Defaults: Adam betas (0.9, 0.999), eps 1e-8. */
void cz_optim_defaults(cz_optim_config *c);
cz_status cz_optim_init(cz_optim *o, const cz_optim_config *cfg, size_t n);
void cz_optim_free(cz_optim *o);
/* One update of params[0..n) with grads at learning rate lr. */
void cz_optim_step(cz_optim *o, float *params, const float *grads, double lr);

/* Learning rate at step t of total (0-based) with warm_steps of linear
 * warm-up: const, cosine and linear warm up from 0; onecycle warms up from
 * lr/25 (30 % of the run when warm_steps is 0) then anneals by cosine to
 * lr/1e4. After the warm-up, with x = (t - warm) / (total - warm):
 * cosine lr (1 + cos(pi x)) / 2, linear lr (1 - x). Both are exactly 0 at
 * t = total, the end of the budget (as torch's CosineAnnealingLR and LinearLR
 * with T_max = total stepped per batch), so the last update, t = total - 1,
 * uses lr (1 - cos(pi / T)) / 2 resp. lr / T, T = total - warm. */
double cz_schedule_lr(cz_schedule s, double lr, long t, long total, long warm_steps);

#endif
