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

void cz_train_defaults(cz_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->arch = CZ_ARCH_UNET;
    c->head = CZ_HEAD_REG;
    c->width = 16;
    c->epochs = 10;
    c->batch = 128;
    cz_optim_defaults(&c->optim);
    c->schedule = CZ_SCHED_CONST;
    c->flip = 1;
    c->split = CZ_SPLIT_SEEDED;
    c->out_dir = "runs/train";
    c->eval_batch = 250;
}

/* Append the recipe keys to a JSON object whose closing brace is at buf[0]. */
static void recipe_json(const cz_train_config *c, char *buf, size_t size)
{
    char ema[96] = "", tgt[80] = "", mse[48] = "", target[48];
    cz_cls_target_format(&c->cls_loss, target, sizeof target);
    if (c->ema > 0)
        snprintf(ema, sizeof ema, ", \"ema\": %.9g, \"ema_bn\": \"%s\"", c->ema, cz_ema_bn_name(c->ema_bn));
    if (c->cls_loss.target != CZ_CLS_TARGET_ONEHOT)
        snprintf(tgt, sizeof tgt, ", \"target\": \"%s\"", target);
    if (c->cls_loss.mse_weight > 0)
        snprintf(mse, sizeof mse, ", \"loss_mse\": %.9g", c->cls_loss.mse_weight);
    snprintf(buf, size, "%s%s%s}", ema, tgt, mse);
}

void cz_train_config_json(const cz_train_config *c, char *buf, size_t size)
{
    int len = snprintf(buf, size,
             "{\"arch\": \"%s\", \"head\": \"%s\", \"width\": %d, \"epochs\": %d, \"batch\": %d, "
             "\"optim\": \"%s\", \"lr\": %.9g, \"momentum\": %.9g, \"nesterov\": %d, \"wd\": %.9g, "
             "\"schedule\": \"%s\", \"warmup\": %.9g, \"aug\": \"%s\", \"seed\": %llu, "
             "\"split\": \"%s\", \"split_seed\": %llu, \"limit_train\": %d, \"limit_val\": %d}",
             cz_arch_name(c->arch), cz_head_name(c->head), c->width, c->epochs, c->batch,
             cz_optim_kind_name(c->optim.kind), c->optim.lr, c->optim.momentum, c->optim.nesterov,
             c->optim.weight_decay, cz_schedule_name(c->schedule), c->warmup,
             c->flip ? (c->crop ? "flip+crop" : "flip") : (c->crop ? "crop" : "none"),
             (unsigned long long)c->seed, c->split == CZ_SPLIT_OFFICIAL ? "official" : "seeded",
             (unsigned long long)c->split_seed, c->limit_train, c->limit_val);
    if (len > 0 && (size_t)len < size) /* the recipe keys, where they differ from the defaults */
        recipe_json(c, buf + len - 1, size - (size_t)len + 1);
}

/* Everything the loop needs, freed in one place. */
typedef struct trainer {
    const cz_train_config *cfg;
    cz_model model;
    cz_ema ema;        /* when cfg->ema > 0 */
    cz_model ema_view; /* a model over the EMA's slabs, with nets of its own */
    cz_loader *loader;
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
    cz_ema_view_release(&t->ema_view);
    cz_ema_free(&t->ema);
    cz_model_free(&t->model);
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
    const cz_kv meta[] = {{"config", t->config_json}, {"metrics", metrics}};
    return cz_model_save(shipped_model(t), t->step, path, meta, 2);
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
    if ((st = cz_mkdirs(cfg->out_dir)))
        return st;
    snprintf(t.path_state, sizeof t.path_state, "%s/state.safetensors", cfg->out_dir);
    snprintf(t.path_best, sizeof t.path_best, "%s/best.safetensors", cfg->out_dir);
    snprintf(t.path_last, sizeof t.path_last, "%s/last.safetensors", cfg->out_dir);
    snprintf(t.path_log, sizeof t.path_log, "%s/log.jsonl", cfg->out_dir);
    if (access(cfg->out_dir, W_OK) != 0)
        return cz_fail(CZ_ERR_IO, "%s: output directory is not writable", cfg->out_dir);

    if ((st = cz_model_init(&t.model, cfg->arch, cfg->head, cfg->width, ds->side, cfg->seed)))
        goto done;
    if ((st = cz_model_optim_init(&t.model, &cfg->optim)))
        goto done;
    if (cfg->backend && (st = cz_model_set_backend(&t.model, cfg->backend)))
        goto done;
    t.model.cls_loss = recipe_loss ? &cfg->cls_loss : NULL;
    if (cfg->ema > 0) {
        if ((st = cz_ema_init(&t.ema, cfg->ema, cfg->ema_bn, &t.model)))
            goto done;
        cz_ema_view_init(&t.ema_view, &t.ema, &t.model);
    }
    if (cfg->resume) {
        if ((st = load_state(&t)))
            goto done;
    } else if (cz_file_exists(t.path_state)) {
        st = cz_fail(CZ_ERR_ARG, "%s exists: pass --resume to continue that run, or choose another --out",
                     t.path_state);
        goto done;
    }
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
        double loss_sum = 0, t_epoch = cz_now();
        int loss_n = 0;
        const cz_batch *b;
        while ((b = cz_loader_next(t.loader))) {
            double lr = cz_schedule_lr(cfg->schedule, cfg->optim.lr, t.step, total, warm);
            double loss;
            if ((st = cz_model_forward(&t.model, b, &loss, NULL)))
                goto done;
            if (!isfinite(loss)) {
                st = cz_fail(CZ_ERR_NUMERIC,
                             "the loss became %g at epoch %d step %ld: training stopped; the last good "
                             "checkpoint in %s is intact (try a lower --lr)",
                             loss, t.epoch + 1, t.step, cfg->out_dir);
                goto done;
            }
            if ((st = cz_model_backward(&t.model)) || (st = cz_model_step(&t.model, lr)))
                goto done;
            if (cfg->ema > 0)
                cz_ema_update(&t.ema, &t.model);
            t.step++;
            t.batch_in_epoch++;
            steps_here++;
            loss_sum += loss;
            loss_n++;
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
            if (cfg->stop && *cfg->stop) {
                if (tty)
                    fputc('\n', progress);
                if ((st = save_state(&t)))
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
        char raw[64] = ""; /* with an EMA, the raw weights' validation goes to the log too */
        if (cfg->ema > 0) {
            if ((st = cz_evaluate(&t.model, ds, split->val, n_val, cfg->eval_batch, dec, &vm)))
                goto done;
            snprintf(raw, sizeof raw, ", \"val_chroma_mse_raw\": %.8f", cz_metrics_mse(&vm));
            uint64_t bn_seed = cfg->seed + 0x9E3779B97F4A7C15ull * (uint64_t)(t.epoch + 1);
            if (cfg->ema_bn == CZ_EMA_BN_REESTIMATE &&
                (st = cz_ema_reestimate_bn(&t.ema, &t.model, ds, split->train, n_train, cfg->batch,
                                           CZ_EMA_REESTIMATE_BATCHES, bn_seed)))
                goto done;
        }
        if ((st = cz_evaluate(shipped_model(&t), ds, split->val, n_val, cfg->eval_batch, dec, &vm)))
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
                 "\"val_psnr_rgb\": %.4f%s, \"lr\": %.6g, \"train_seconds\": %.2f, \"img_per_s\": %.1f}\n",
                 t.epoch, t.step, loss_n ? loss_sum / loss_n : NAN, val, cz_metrics_psnr(&vm), raw,
                 cz_schedule_lr(cfg->schedule, cfg->optim.lr, t.step - 1, total, warm), train_s,
                 loss_n * (double)cfg->batch / train_s);
        /* Models first, state last: a crash in between resumes this epoch's
         * end from the previous state and rewrites the same files. */
        if ((st = save_model(&t, t.path_last, val, t.epoch)))
            goto done;
        if (improved && (st = save_model(&t, t.path_best, val, t.epoch)))
            goto done;
        if ((st = save_state(&t)) || (st = append_log(t.path_log, line)))
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
