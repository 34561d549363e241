/* The bench's measurements (colorize bench): training and inference
 * throughput of the engine through the model verbs. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util.h"

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cz_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Synthetic batch: the engine's speed does not depend on the values. A
 * training step is the model's forward (with the loss), backward and Adam
 * step; inference is cz_model_predict. */
/* The head's loss with its gradient on logits of a few units: the median
 * over `steps` calls, in ms. */
static cz_status time_loss(const cz_model *m, const cz_batch *b, int steps, double *t, double *ms)
{
    const size_t n = (size_t)b->n * cz_head_channels(m->head) * 1024;
    float *out = cz_alloc_aligned(n, 4, "logits"), *grad = cz_alloc_aligned(n, 4, "loss gradient");
    if (!out || !grad) {
        free(out);
        free(grad);
        return CZ_ERR_NOMEM;
    }
    cz_rng rng = {11};
    for (size_t i = 0; i < n; i++)
        out[i] = 4 * cz_rng_uniform(&rng) - 2;
    for (int i = 0; i < steps; i++) {
        double t0 = cz_now();
        cz_head_loss(m->head, m->cls_loss, out, b, grad);
        t[i] = cz_now() - t0;
    }
    *ms = median(t, steps) * 1e3;
    free(out);
    free(grad);
    return CZ_OK;
}

cz_status cz_bench_run(const char *backend, const cz_backend_options *options, const cz_cls_loss *cls_loss,
                       cz_arch arch, cz_head head, int width, int batch, int steps, int warmup, int profile,
                       cz_bench_result *r)
{
    memset(r, 0, sizeof *r);
    r->arch = cz_arch_name(arch);
    r->head = cz_head_name(head);
    r->prof_names = cz_prof_names;
    if (profile && warmup < 1)
        warmup = 1; /* the training net exists only after a first step: nothing to profile before */
    cz_model m;
    cz_status st = cz_model_init(&m, arch, head, width, 32, 1);
    if (st)
        return st;
    if (options)
        m.backend_options = *options;
    cz_cls_loss loss = {0};
    cz_hlgauss_table table = {0};
    if (head == CZ_HEAD_CLS && cls_loss) {
        loss = *cls_loss;
        if ((st = cz_cls_loss_prepare(&loss, &table))) {
            cz_model_free(&m);
            return st;
        }
        m.cls_loss = &loss;
    }
    const int hw = 1024;
    cz_optim_config oc;
    cz_optim_defaults(&oc);
    cz_batch b = {.n = batch, .side = 32};
    float *x = cz_alloc_aligned((size_t)batch * hw, 4, "input");
    float *uv = cz_alloc_aligned((size_t)batch * 2 * hw, 4, "target");
    int32_t *bins = cz_alloc_aligned((size_t)batch * 2 * hw, 4, "bins");
    double *t = cz_alloc((size_t)(steps + warmup), sizeof(double), "timings");
    if (!x || !uv || !bins || !t) {
        st = CZ_ERR_NOMEM;
        goto done;
    }
    cz_rng rng = {7};
    for (size_t i = 0; i < (size_t)batch * hw; i++)
        x[i] = cz_rng_uniform(&rng);
    for (size_t i = 0; i < (size_t)batch * 2 * hw; i++) {
        uv[i] = (cz_rng_uniform(&rng) - 0.5f) * 0.8f;
        bins[i] = (int32_t)(cz_rng_next(&rng) % 20);
    }
    b.y = x;
    b.uv = uv;
    b.bins = bins;
    if ((backend && (st = cz_model_set_backend(&m, backend))) || (st = cz_model_optim_init(&m, &oc)))
        goto done;
    double engine = 0, total = 0;
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup && profile)
            cz_model_profile(&m, 1);
        double loss, t0 = cz_now();
        if ((st = cz_model_forward(&m, &b, &loss, NULL)) || (st = cz_model_backward(&m)) ||
            (st = cz_model_step(&m, 1e-3)))
            goto done;
        t[i] = cz_now() - t0;
        if (i >= warmup)
            total += t[i];
    }
    double step_s = median(t + warmup, steps);
    double flops = cz_graph_flops(&m.graph) * batch;
    r->train_img_s = batch / step_s;
    r->gflops_train = 3 * flops / step_s / 1e9; /* forward + backward-data + backward-weights */
    r->mem_mib = cz_model_memory(&m) / 1048576.0;
    if (profile) {
        const double *p = cz_model_profile_times(&m);
        for (int k = 0; k < CZ_PROF_COUNT; k++) {
            r->prof[k] = p[k] / steps * 1e3;
            engine += p[k];
        }
        r->other_ms = (total - engine) / steps * 1e3;
    }
    if ((st = time_loss(&m, &b, steps, t, &r->loss_ms)))
        goto done;
    cz_model_drop_nets(&m); /* the training net's memory is not the inference's */
    for (int i = 0; i < warmup + steps; i++) {
        double t0 = cz_now();
        if ((st = cz_model_predict(&m, x, batch, 32, 32, (cz_decode){CZ_DECODE_MEAN, CZ_DEFAULT_TEMPERATURE}, NULL, NULL)))
            goto done;
        t[i] = cz_now() - t0;
    }
    step_s = median(t + warmup, steps);
    r->infer_img_s = batch / step_s;
    r->gflops_infer = flops / step_s / 1e9;
done:
    cz_model_free(&m);
    cz_hlgauss_table_free(&table);
    free(x);
    free(uv);
    free(bins);
    free(t);
    return st;
}
