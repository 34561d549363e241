/* Training: epochs over a split with validation, best/last model files,
 * an atomic training-state checkpoint and bit-identical resume. */
#ifndef CZ_TRAIN_H
#define CZ_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include "colorize/dataset.h"
#include "ddp.h"
#include "ema.h"
#include "loss_recipe.h"
#include "model.h"
#include "optim.h"

typedef struct cz_train_config {
    cz_arch arch;
    cz_head head;
    int width;
    int epochs;
    int batch;
    cz_optim_config optim;
    cz_schedule schedule;
    double warmup;      /* epochs of linear warm-up */
    int flip, crop;     /* augmentation */
    uint64_t seed;      /* initialisation, order and augmentation */
    cz_split_kind split;
    uint64_t split_seed;
    const char *out_dir;
    int resume;
    int limit_train, limit_val; /* use only the first N images of a part (0 = all) */
    int eval_batch;
    const char *backend; /* "dnnl" (NULL) or "ref"; not part of the configuration's identity */
    int bf16;            /* bf16 convolutions (cz_model_set_precision); in the identity when on */
    /* Recipe (docs/recipe.md). Absent from the configuration JSON while at
     * their defaults, so that earlier runs keep their resume key. */
    double ema;         /* decay of the weight EMA (0 = off); the EMA is validated and saved */
    cz_ema_bn ema_bn;   /* its BatchNorm statistics */
    cz_cls_loss cls_loss; /* cls head: target and hybrid MSE weight */
    double aux_class;   /* weight of the GC branch's auxiliary class loss (0 = off; docs/context.md) */
    /* Execution layout, not part of the configuration's identity (a run
     * resumes with any of them): each step is `accum` micro-batches of
     * batch / (ranks x accum) images on each of ddp's ranks (NULL: one). */
    int accum;
    const cz_ddp *ddp;
    volatile sig_atomic_t *stop; /* set (e.g. by SIGINT) to checkpoint and stop */
} cz_train_config;

typedef struct cz_train_result {
    double best_val;
    int best_epoch;
    int epochs_done;
    double seconds;
    double img_per_s;
    int interrupted;
} cz_train_result;

/* The option values a person types, by name: NULL leaves a field as it is. */
typedef struct cz_train_names {
    const char *arch, *head, *optim, *schedule, *split, *target, *ema_bn, *aug;
    const char *precision; /* fp32 or bf16 */
} cz_train_names;

void cz_train_defaults(cz_train_config *c);
/* Set c's fields from names ("resnet", "cls", "cosine", "flip+crop", ...);
 * CZ_ERR_ARG naming the value and the choices for an unknown one. */
cz_status cz_train_config_names(cz_train_config *c, const cz_train_names *n);
/* The configuration as a JSON object (written into model metadata). */
void cz_train_config_json(const cz_train_config *c, char *buf, size_t size);
/* The network's parameter count and forward FLOP per 32 x 32 image. */
cz_status cz_train_config_size(const cz_train_config *c, size_t *params, double *flops);

/* Train on ds with the given split. Progress goes to `progress` (updated in
 * place when it is a terminal); a JSONL line per epoch to OUT/log.jsonl.
 * Data-parallel (cfg->ddp of more than one rank): every rank calls this with
 * the same configuration and data; rank 0 alone reads and writes OUT (pass
 * progress NULL on the others). A failure on one rank is not announced to
 * the others: end the job (cz_ddp_abort) rather than return normally. */
cz_status cz_train(const cz_train_config *cfg, const cz_dataset *ds, const cz_split *split,
                   FILE *progress, cz_train_result *res);

#endif
