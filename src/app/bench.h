/* The engine's throughput, for colorize bench: a training step (the model's
 * forward with the loss, backward and Adam step) and inference
 * (cz_model_predict) on synthetic batches. */
#ifndef CZ_BENCH_H
#define CZ_BENCH_H

#include "model.h"

typedef struct cz_bench_result {
    const char *arch, *head;                /* the configuration's names */
    const char *const *prof_names;          /* of prof[] */
    double train_img_s, infer_img_s, gflops_train, gflops_infer, mem_mib;
    double prof[CZ_PROF_COUNT], other_ms; /* ms per step, with profile */
    double loss_ms;                       /* the head's loss with its gradient, alone */
} cz_bench_result;

/* The median of `steps` steps after `warmup` untimed ones, at 32 x 32 on the
 * named backend (NULL: dnnl) with its options (NULL: the defaults); profile
 * times each kind of operation. cls_loss (cls head; NULL: SPEC §3's CE):
 * the recipe's loss, as a training with --target / --loss-mse uses it. */
cz_status cz_bench_run(const char *backend, const cz_backend_options *options, const cz_cls_loss *cls_loss,
                       cz_arch arch, cz_head head, int width, int batch, int steps, int warmup, int profile,
                       cz_bench_result *r);

#endif
