/* The training loop, its checkpoints and its log. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evaluate.h"
#include "model_io.h"
#include "train.h"
#include "util.h"

/* Everything the loop needs, freed in one place. */
typedef struct trainer {
    const cz_train_config *cfg;
    cz_model model;
    cz_ema ema;        /* when cfg->ema > 0 */
    cz_model ema_view; /* a model over the EMA's slabs, with nets of its own */
    cz_loader *loader;
    const cz_ddp *ddp; /* NULL: a world of one */
    int rank, ranks, accum, micro; /* micro: images per micro-batch */
    float *grad_sum;   /* accum > 1: the micro-batches' gradients, summed */
    cz_cls_loss cls_loss;       /* cfg's, with the HL-Gauss table below */
    cz_hlgauss_table hl_table; /* made once, not at every step */
    int epoch, batch_in_epoch;
    long step;
    double best_val;
    int best_epoch;
    char config_json[1024];
    char resume_key[1024]; /* the configuration less the epoch count */
    char path_state[4096], path_best[4096], path_last[4096], path_log[4096];
} trainer;

static void trainer_free(trainer *t)
{
    cz_loader_free(t->loader);
    free(t->grad_sum);
    cz_ema_view_release(&t->ema_view);
    cz_ema_free(&t->ema);
    cz_model_free(&t->model);
    cz_hlgauss_table_free(&t->hl_table);
}

static void fmt_double(char *buf, size_t n, double x)
{
    snprintf(buf, n, "%.17g", x);
}

/* The EMA slabs and its update count, for a bit-identical resume. */
static cz_status save_ema(const cz_ema *e, cz_st_writer *w)
{
    char updates[32];
    snprintf(updates, sizeof updates, "%ld", e->updates);
    int64_t np = (int64_t)e->n_params, nb = (int64_t)e->n_buffers;
    cz_status st = cz_st_writer_add_f32(w, "ema.params", 1, &np, e->params);
    if (!st)
        st = cz_st_writer_add_f32(w, "ema.buffers", 1, &nb, e->buffers);
    if (!st)
        st = cz_st_writer_set_metadata(w, "ema_updates", updates);
    return st;
}

/* Write OUT/state.safetensors atomically: model, optimiser moments and where
 * the run stands. */
static cz_status save_state(trainer *t)
{
    cz_st_writer *w;
    cz_status st = cz_st_writer_create(&w);
    if (st)
        return st;
    char epoch[32], batch[32], step[32], best[40], best_epoch[32];
    snprintf(epoch, sizeof epoch, "%d", t->epoch);
    snprintf(batch, sizeof batch, "%d", t->batch_in_epoch);
    snprintf(step, sizeof step, "%ld", t->step);
    fmt_double(best, sizeof best, t->best_val);
    snprintf(best_epoch, sizeof best_epoch, "%d", t->best_epoch);
    const cz_kv meta[] = {
        {"kind", "training-state"}, {"config", t->resume_key}, {"epoch", epoch},
        {"batch", batch},           {"step", step},             {"best_val", best},
        {"best_epoch", best_epoch},
    };
    st = cz_model_to_writer(&t->model, t->step, w, meta, (int)(sizeof meta / sizeof meta[0]));
    int64_t n = (int64_t)t->model.opt.n;
    if (!st)
        st = cz_st_writer_add_f32(w, "optim.m", 1, &n, t->model.opt.m);
    if (!st)
        st = cz_st_writer_add_f32(w, "optim.v", 1, &n, t->model.opt.v);
    if (!st && t->cfg->ema > 0)
        st = save_ema(&t->ema, w);
    if (!st)
        st = cz_st_writer_save(w, t->path_state);
    cz_st_writer_free(w);
    return st;
}

static cz_status meta_long(const cz_st_file *f, const char *key, long *out)
{
    const char *v = cz_st_metadata(f, key);
    char *end;
    if (!v)
        return cz_fail(CZ_ERR_FORMAT, "%s: training state lacks '%s'", cz_st_path(f), key);
    *out = strtol(v, &end, 10);
    if (end == v || *end)
        return cz_fail(CZ_ERR_FORMAT, "%s: bad '%s' value '%s'", cz_st_path(f), key, v);
    return CZ_OK;
}

static cz_status load_ema(cz_ema *e, const cz_st_file *f)
{
    int64_t np = (int64_t)e->n_params, nb = (int64_t)e->n_buffers;
    const cz_st_tensor *p, *b;
    cz_status st;
    if ((st = meta_long(f, "ema_updates", &e->updates)) ||
        (st = cz_st_expect(f, "ema.params", CZ_ST_F32, 1, &np, &p)) ||
        (st = cz_st_expect(f, "ema.buffers", CZ_ST_F32, 1, &nb, &b)) || (st = cz_st_copy_f32(p, e->params)))
        return st;
    return cz_st_copy_f32(b, e->buffers);
}

static cz_status load_state(trainer *t)
{
    cz_st_file *f;
    cz_status st = cz_st_open(&f, t->path_state);
    if (st)
        return cz_fail(st, "%s (nothing to resume: train without --resume first)", cz_last_error());
    const char *kind = cz_st_metadata(f, "kind"), *config = cz_st_metadata(f, "config");
    const char *best = cz_st_metadata(f, "best_val");
    long epoch, batch, step, best_epoch;
    if (!kind || strcmp(kind, "training-state") != 0 || !config || !best) {
        st = cz_fail(CZ_ERR_FORMAT, "%s: not a colorize training state", t->path_state);
        goto done;
    }
    /* (states written before --epochs could change keyed the whole configuration) */
    if (strcmp(config, t->resume_key) != 0 && strcmp(config, t->config_json) != 0) {
        st = cz_fail(CZ_ERR_ARG,
                     "%s was written with another configuration:\n  saved: %s\n  now:   %s\n"
                     "resume with the same options, or use another --out",
                     t->path_state, config, t->resume_key);
        goto done;
    }
    if ((st = meta_long(f, "epoch", &epoch)) || (st = meta_long(f, "batch", &batch)) ||
        (st = meta_long(f, "step", &step)) || (st = meta_long(f, "best_epoch", &best_epoch)))
        goto done;
    if ((st = cz_model_read_tensors(f, &t->model)))
        goto done;
    int64_t n = (int64_t)t->model.opt.n;
    const cz_st_tensor *m, *v;
    if ((st = cz_st_expect(f, "optim.m", CZ_ST_F32, 1, &n, &m)) ||
        (st = cz_st_expect(f, "optim.v", CZ_ST_F32, 1, &n, &v)) || (st = cz_st_copy_f32(m, t->model.opt.m)) ||
        (st = cz_st_copy_f32(v, t->model.opt.v)))
        goto done;
    if (t->cfg->ema > 0 && (st = load_ema(&t->ema, f)))
        goto done;
    t->epoch = (int)epoch;
    t->batch_in_epoch = (int)batch;
    t->step = step;
    t->model.opt.step = step;
    t->best_val = strtod(best, NULL);
    t->best_epoch = (int)best_epoch;
done:
    cz_st_close(f);
    return st;
}

/* What is validated, saved and shipped: the EMA when there is one. */
static cz_model *shipped_model(trainer *t)
{
    return t->cfg->ema > 0 ? &t->ema_view : &t->model;
}

static cz_status save_model(trainer *t, const char *path, double val, int epoch)
{
    char metrics[256];
    snprintf(metrics, sizeof metrics, "{\"val_chroma_mse\": %.8f, \"epoch\": %d, \"decode\": \"mean\"}",
             val, epoch);
    char parallel[128];
    snprintf(parallel, sizeof parallel, "{\"ranks\": %d, \"accum\": %d, \"micro_batch\": %d}", t->ranks,
             t->accum, t->micro);
    const cz_kv meta[] = {{"config", t->config_json}, {"metrics", metrics}, {"parallel", parallel}};
    return cz_model_save(shipped_model(t), t->step, path, meta, 3);
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, n, "--");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(fmod(s, 3600) / 60));
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static cz_status append_log(const char *path, const char *line)
{
    FILE *fp = fopen(path, "a");
    if (!fp)
        return cz_fail(CZ_ERR_IO, "%s: cannot append to the training log", path);
    int bad = fputs(line, fp) < 0;
    bad |= fclose(fp) != 0;
    return bad ? cz_fail(CZ_ERR_IO, "%s: write failed", path) : CZ_OK;
}

static int limit(int n, int lim)
{
    return lim > 0 && lim < n ? lim : n;
}

/* Images [first, first + n) of b, as a batch of their own (no copy). */
static void micro_batch(const cz_batch *b, int first, int n, cz_batch *out)
{
    const size_t hw = (size_t)b->side * b->side, at = (size_t)first;
    out->n = n;
    out->side = b->side;
    out->y = b->y + at * hw;
    out->uv = b->uv + at * 2 * hw;
    out->bins = b->bins + at * 2 * hw;
    out->labels = b->labels + at;
    out->indices = b->indices + at;
}

/* One optimiser step on the global batch b: this rank's accum micro-batches
 * (micro-batch j of the global batch is images [j*micro, (j+1)*micro); rank r
 * takes j = r*accum .. r*accum+accum-1), gradients averaged over them and
 * over the ranks, so the update is that of one step on all of b except for
 * the BatchNorm batch statistics, which are per micro-batch. *loss is the
 * mean loss over the global batch; *stop is 1 when any rank was asked to
 * stop, so that all ranks stop after the same step. */
static cz_status train_step(trainer *t, const cz_batch *b, double lr, double *loss, int *stop)
{
    cz_model *m = &t->model;
    const size_t np = m->graph.param_floats;
    double sum = 0;
    cz_status st;
    for (int k = 0; k < t->accum; k++) {
        cz_batch mb;
        micro_batch(b, (t->rank * t->accum + k) * t->micro, t->micro, &mb);
        double l;
        if ((st = cz_model_forward(m, &mb, &l, NULL)) || (st = cz_model_backward(m)))
            return st;
        sum += l;
        if (t->accum > 1 && k == 0)
            memcpy(t->grad_sum, m->grads, np * sizeof *m->grads);
        else if (t->accum > 1)
            for (size_t i = 0; i < np; i++)
                t->grad_sum[i] += m->grads[i];
    }
    if (t->accum > 1) { /* backward overwrites m->grads: the mean goes back there */
        const float scale = 1.0f / (float)t->accum;
        for (size_t i = 0; i < np; i++)
            m->grads[i] = t->grad_sum[i] * scale;
    }
    double agreed[2] = {t->accum > 1 ? sum / t->accum : sum, t->cfg->stop && *t->cfg->stop};
    if (t->ranks > 1) {
        if ((st = cz_ddp_allreduce_mean(t->ddp, m->grads, np)) ||
            (st = cz_ddp_allreduce_sum_f64(t->ddp, agreed, 2)))
            return st;
        agreed[0] /= t->ranks;
    }
    *loss = agreed[0];
    *stop = agreed[1] > 0;
    /* Every rank sees the same loss, so all refuse the step together. */
    if (!isfinite(*loss))
        return cz_fail(CZ_ERR_NUMERIC,
                       "the loss became %g at epoch %d step %ld: training stopped; the last good "
                       "checkpoint in %s is intact (try a lower --lr)",
                       *loss, t->epoch + 1, t->step, t->cfg->out_dir);
    return cz_model_step(m, lr);
}

/* Rank 0's model, optimiser, EMA and place in the run on every rank: the
 * initial weights (the same seed gives the same ones, but a rank must not
 * depend on that) and a resumed state, which rank 0 alone reads. */
static cz_status sync_from_root(trainer *t)
{
    if (t->ranks == 1)
        return CZ_OK;
    cz_model *m = &t->model;
    double where[6] = {t->epoch, t->batch_in_epoch, (double)t->step, t->best_val, t->best_epoch,
                       (double)t->ema.updates};
    struct {
        void *p;
        size_t floats;
    } slabs[] = {{m->params, m->graph.param_floats}, {m->buffers, m->graph.buffer_floats},
                 {m->opt.m, m->opt.n},               {m->opt.v, m->opt.n},
                 {t->ema.params, t->ema.n_params},   {t->ema.buffers, t->ema.n_buffers}};
    cz_status st = cz_ddp_broadcast(t->ddp, where, sizeof where, 0);
    for (size_t i = 0; !st && i < sizeof slabs / sizeof slabs[0]; i++)
        if (slabs[i].p)
            st = cz_ddp_broadcast(t->ddp, slabs[i].p, slabs[i].floats * sizeof(float), 0);
    if (st)
        return st;
    t->epoch = (int)where[0];
    t->batch_in_epoch = (int)where[1];
    t->step = (long)where[2];
    m->opt.step = t->step;
    t->best_val = where[3];
    t->best_epoch = (int)where[4];
    t->ema.updates = (long)where[5];
    return CZ_OK;
}

/* BatchNorm as PyTorch's DDP: each rank trains with its own batch statistics
 * and running statistics; rank 0's are the ones validated and kept. */
static cz_status sync_running_stats(trainer *t)
{
    if (t->ranks == 1)
        return CZ_OK;
    cz_status st = cz_ddp_broadcast(t->ddp, t->model.buffers, t->model.graph.buffer_floats * sizeof(float), 0);
    if (!st && t->cfg->ema > 0)
        st = cz_ddp_broadcast(t->ddp, t->ema.buffers, t->ema.n_buffers * sizeof(float), 0);
    return st;
}

/* The metric sums of every rank added up (counts travel as doubles: exact
 * below 2^53). */
static cz_status metrics_allreduce(const cz_ddp *d, cz_metrics *vm)
{
    enum { K = CZ_CIFAR_CLASSES };
    double *const reals[] = {&vm->se_u,   &vm->se_v,          &vm->se_grey,      &vm->rgb_se,
                             &vm->ce,     &vm->colorful_pred, &vm->colorful_true};
    long *const counts[] = {&vm->pixels,          &vm->rgb_values, &vm->images,
                            &vm->colorful_images, &vm->correct_u,  &vm->correct_v};
    enum { NR = sizeof reals / sizeof reals[0], NC = sizeof counts / sizeof counts[0] };
    double v[NR + NC + 2 * K + 1];
    for (int i = 0; i < NR; i++)
        v[i] = *reals[i];
    for (int i = 0; i < NC; i++)
        v[NR + i] = (double)*counts[i];
    for (int k = 0; k < K; k++) {
        v[NR + NC + k] = vm->se_class[k];
        v[NR + NC + K + k] = (double)vm->px_class[k];
    }
    v[NR + NC + 2 * K] = vm->has_cls;
    cz_status st = cz_ddp_allreduce_sum_f64(d, v, sizeof v / sizeof v[0]);
    if (st)
        return st;
    for (int i = 0; i < NR; i++)
        *reals[i] = v[i];
    for (int i = 0; i < NC; i++)
        *counts[i] = (long)v[NR + i];
    for (int k = 0; k < K; k++) {
        vm->se_class[k] = v[NR + NC + k];
        vm->px_class[k] = (long)v[NR + NC + K + k];
    }
    vm->has_cls = v[NR + NC + 2 * K] > 0;
    return CZ_OK;
}

/* Validation split across the ranks (a contiguous share each), reduced. */
static cz_status validate(trainer *t, cz_model *m, const cz_dataset *ds, const int *val, int n_val,
                          cz_decode dec, cz_metrics *vm)
{
    if (t->ranks == 1)
        return cz_evaluate(m, ds, val, n_val, t->cfg->eval_batch, dec, vm);
    const int lo = (int)((long)n_val * t->rank / t->ranks);
    const int hi = (int)((long)n_val * (t->rank + 1) / t->ranks);
    cz_metrics_init(vm);
    cz_status st = hi > lo ? cz_evaluate(m, ds, val + lo, hi - lo, t->cfg->eval_batch, dec, vm) : CZ_OK;
    return st ? st : metrics_allreduce(t->ddp, vm);
}

cz_status cz_train(const cz_train_config *cfg, const cz_dataset *ds, const cz_split *split,
                   FILE *progress, cz_train_result *res)
{
    memset(res, 0, sizeof *res);
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.best_val = INFINITY;
    t.best_epoch = -1;
    cz_train_config_json(cfg, t.config_json, sizeof t.config_json);
    /* A run may be resumed with more (or fewer) epochs; all else must match. */
    cz_train_config key = *cfg;
    key.epochs = 0;
    cz_train_config_json(&key, t.resume_key, sizeof t.resume_key);
    const int n_train = limit(split->n_train, cfg->limit_train);
    const int n_val = limit(split->n_val, cfg->limit_val);
    cz_status st;
    const int recipe_loss = cfg->cls_loss.target != CZ_CLS_TARGET_ONEHOT || cfg->cls_loss.mse_weight > 0;
    if (recipe_loss && cfg->head != CZ_HEAD_CLS)
        return cz_fail(CZ_ERR_ARG, "soft targets and the hybrid MSE term need the cls head");
    if (n_train < cfg->batch)
        return cz_fail(CZ_ERR_ARG, "the training split has %d images, fewer than one batch of %d",
                       n_train, cfg->batch);
    t.ddp = cfg->ddp;
    t.rank = cfg->ddp ? cfg->ddp->rank : 0;
    t.ranks = cfg->ddp ? cfg->ddp->size : 1;
    t.accum = cfg->accum ? cfg->accum : 1; /* a zeroed configuration means no accumulation */
    if (t.accum < 0 || cfg->batch % (t.ranks * t.accum) != 0)
        return cz_fail(CZ_ERR_ARG,
                       "--batch %d must divide into %d rank(s) x %d micro-batch(es) (--accum) of equal size",
                       cfg->batch, t.ranks, t.accum);
    t.micro = cfg->batch / (t.ranks * t.accum);
    const int root = t.rank == 0; /* reads and writes OUT */
    if (root && (st = cz_mkdirs(cfg->out_dir)))
        return st;
    snprintf(t.path_state, sizeof t.path_state, "%s/state.safetensors", cfg->out_dir);
    snprintf(t.path_best, sizeof t.path_best, "%s/best.safetensors", cfg->out_dir);
    snprintf(t.path_last, sizeof t.path_last, "%s/last.safetensors", cfg->out_dir);
    snprintf(t.path_log, sizeof t.path_log, "%s/log.jsonl", cfg->out_dir);
    if (root && access(cfg->out_dir, W_OK) != 0)
        return cz_fail(CZ_ERR_IO, "%s: output directory is not writable", cfg->out_dir);

    if ((st = cz_model_init(&t.model, cfg->arch, cfg->head, cfg->width, ds->side, cfg->seed)))
        goto done;
    if ((st = cz_model_optim_init(&t.model, &cfg->optim)))
        goto done;
    if ((cfg->backend && (st = cz_model_set_backend(&t.model, cfg->backend))) ||
        (cfg->bf16 && (st = cz_model_set_precision(&t.model, "bf16"))))
        goto done;
    t.cls_loss = cfg->cls_loss;
    if (recipe_loss && (st = cz_cls_loss_prepare(&t.cls_loss, &t.hl_table)))
        goto done;
    t.model.cls_loss = recipe_loss ? &t.cls_loss : NULL;
    if (cfg->aux_class > 0 && t.model.graph.aux < 0) {
        st = cz_fail(CZ_ERR_ARG, "--aux-class needs a network with a global-context branch (resunet-gc), not %s",
                     cz_arch_name(cfg->arch));
        goto done;
    }
    /* The class loss needs labels; a folder of pictures has none (255). */
    const int labelled = ds->labels && n_train > 0 && ds->labels[split->train[0]] < CZ_AUX_CLASSES;
    if (cfg->aux_class > 0 && !labelled && progress)
        fprintf(progress, "note: the dataset has no class labels: training without the auxiliary class loss\n");
    t.model.aux_weight = labelled ? cfg->aux_class : 0;
    if (cfg->ema > 0) {
        if ((st = cz_ema_init(&t.ema, cfg->ema, cfg->ema_bn, &t.model)))
            goto done;
        cz_ema_view_init(&t.ema_view, &t.ema, &t.model);
    }
    if (t.accum > 1 &&
        !(t.grad_sum = cz_alloc_aligned(t.model.graph.param_floats, sizeof(float), "gradient sum"))) {
        st = CZ_ERR_NOMEM;
        goto done;
    }
    if (root && cfg->resume) {
        if ((st = load_state(&t)))
            goto done;
    } else if (root && cz_file_exists(t.path_state)) {
        st = cz_fail(CZ_ERR_ARG, "%s exists: pass --resume to continue that run, or choose another --out",
                     t.path_state);
        goto done;
    }
    if ((st = sync_from_root(&t)))
        goto done;
    cz_loader_opts lo = {.batch = cfg->batch, .flip = cfg->flip, .crop = cfg->crop, .shuffle = 1,
                         .drop_last = 1, .seed = cfg->seed};
    t.loader = cz_loader_create(ds, split->train, n_train, &lo);
    if (!t.loader) {
        st = CZ_ERR_NOMEM;
        goto done;
    }
    const int per_epoch = cz_loader_batches(t.loader);
    const long total = (long)per_epoch * cfg->epochs;
    const long warm = (long)llround(cfg->warmup * per_epoch);
    const int tty = progress && isatty(fileno(progress));
    const double t_start = cz_now();
    long steps_here = 0;
    double last_print = 0;

    while (t.epoch < cfg->epochs) {
        if ((st = cz_loader_start(t.loader, t.epoch, t.batch_in_epoch)))
            goto done;
        double loss_sum = 0, aux_sum = 0, t_epoch = cz_now();
        int loss_n = 0, aux_n = 0;
        const cz_batch *b;
        while ((b = cz_loader_next(t.loader))) {
            double lr = cz_schedule_lr(cfg->schedule, cfg->optim.lr, t.step, total, warm);
            double loss;
            int stop;
            if ((st = train_step(&t, b, lr, &loss, &stop)))
                goto done;
            if (cfg->ema > 0)
                cz_ema_update(&t.ema, &t.model);
            t.step++;
            t.batch_in_epoch++;
            steps_here++;
            loss_sum += loss;
            loss_n++;
            if (t.model.aux_weight > 0 && t.model.aux_ce == t.model.aux_ce) {
                aux_sum += t.model.aux_ce;
                aux_n++;
            }
            double now = cz_now();
            if (progress && (now - last_print > (tty ? 0.5 : 30.0) || t.batch_in_epoch == per_epoch)) {
                last_print = now;
                double rate = steps_here / (now - t_start);
                char eta[32];
                fmt_eta(eta, sizeof eta, (double)(total - t.step) / rate);
                fprintf(progress, "%sepoch %d/%d  step %d/%d  loss %.5f  %.0f img/s  lr %.2e  ETA %s%s",
                        tty ? "\r\033[K" : "", t.epoch + 1, cfg->epochs, t.batch_in_epoch, per_epoch,
                        loss_sum / loss_n, rate * cfg->batch, lr, eta, tty ? "" : "\n");
                fflush(progress);
            }
            if (stop) {
                if (tty)
                    fputc('\n', progress);
                if (root && (st = save_state(&t)))
                    goto done;
                if (progress)
                    fprintf(progress, "interrupted: state saved to %s (continue with --resume)\n",
                            t.path_state);
                res->interrupted = 1;
                goto finish;
            }
        }
        double train_s = cz_now() - t_epoch;
        if (tty)
            fputc('\n', progress);
        /* Validation with mean decoding (SPEC §4). */
        cz_metrics vm;
        cz_decode dec = {CZ_DECODE_MEAN, CZ_DEFAULT_TEMPERATURE};
        if ((st = sync_running_stats(&t)))
            goto done;
        char raw[64] = ""; /* with an EMA, the raw weights' validation goes to the log too */
        char aux[48] = "";  /* with the class loss, its mean cross-entropy (part of train_loss) */
        if (aux_n)
            snprintf(aux, sizeof aux, ", \"train_aux_ce\": %.8f", aux_sum / aux_n);
        if (cfg->ema > 0) {
            if ((st = validate(&t, &t.model, ds, split->val, n_val, dec, &vm)))
                goto done;
            snprintf(raw, sizeof raw, ", \"val_chroma_mse_raw\": %.8f", cz_metrics_mse(&vm));
            uint64_t bn_seed = cfg->seed + 0x9E3779B97F4A7C15ull * (uint64_t)(t.epoch + 1);
            /* on rank 0, whose statistics the others then take */
            if (cfg->ema_bn == CZ_EMA_BN_REESTIMATE && root &&
                (st = cz_ema_reestimate_bn(&t.ema, &t.model, ds, split->train, n_train, cfg->batch,
                                           CZ_EMA_REESTIMATE_BATCHES, bn_seed)))
                goto done;
            if (cfg->ema_bn == CZ_EMA_BN_REESTIMATE && (st = sync_running_stats(&t)))
                goto done;
        }
        if ((st = validate(&t, shipped_model(&t), ds, split->val, n_val, dec, &vm)))
            goto done;
        double val = cz_metrics_mse(&vm);
        t.epoch++;
        t.batch_in_epoch = 0;
        int improved = val < t.best_val;
        if (improved) {
            t.best_val = val;
            t.best_epoch = t.epoch;
        }
        if (progress)
            fprintf(progress, "epoch %d/%d  train loss %.6f  val chroma MSE %.6f%s  (%.0f s, %.0f img/s)\n",
                    t.epoch, cfg->epochs, loss_n ? loss_sum / loss_n : NAN, val, improved ? "  best" : "",
                    train_s, loss_n * (double)cfg->batch / train_s);
        char line[512];
        snprintf(line, sizeof line,
                 "{\"epoch\": %d, \"step\": %ld, \"train_loss\": %.8f, \"val_chroma_mse\": %.8f, "
                 "\"val_psnr_rgb\": %.4f%s%s, \"lr\": %.6g, \"train_seconds\": %.2f, \"img_per_s\": %.1f}\n",
                 t.epoch, t.step, loss_n ? loss_sum / loss_n : NAN, val, cz_metrics_psnr(&vm), raw, aux,
                 cz_schedule_lr(cfg->schedule, cfg->optim.lr, t.step - 1, total, warm), train_s,
                 loss_n * (double)cfg->batch / train_s);
        /* Models first, state last: a crash in between resumes this epoch's
         * end from the previous state and rewrites the same files. */
        if (root && (st = save_model(&t, t.path_last, val, t.epoch)))
            goto done;
        if (root && improved && (st = save_model(&t, t.path_best, val, t.epoch)))
            goto done;
        if (root && ((st = save_state(&t)) || (st = append_log(t.path_log, line))))
            goto done;
    }
finish:
    res->best_val = t.best_val;
    res->best_epoch = t.best_epoch;
    res->epochs_done = t.epoch;
    res->seconds = cz_now() - t_start;
    res->img_per_s = steps_here * (double)cfg->batch / res->seconds;
    st = CZ_OK;
done:
    trainer_free(&t);
    return st;
}
