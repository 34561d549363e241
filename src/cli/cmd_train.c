/* colorize train: train a network on CIFAR-10 (or a picture folder). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "colorize/colorize.h"
#include "ddp.h"
#include "train.h"

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Everything `colorize train` takes on its command line. */
typedef struct train_args {
    cz_train_config cfg;
    const char *arch, *head, *optim, *sched, *aug, *split_name, *data, *backend, *target, *ema_bn, *precision;
    double lr, wd, momentum, warmup;
    int seed, split_seed, threads, nesterov, resume, ddp;
} train_args;

/* The option table, bound to a's fields (defaults are a's values). */
#define TRAIN_N_OPTS 32
static void train_opts(train_args *a, cli_opt *o)
{
    cz_train_config *c = &a->cfg;
    const cli_opt t[TRAIN_N_OPTS] = {
        {"arch", CLI_OPT_STR, &a->arch, "network: vgg, unet, resnet, resunet (the project's own), resunet-gc (with a global-context "
         "branch) or resunet-se (with squeeze-excitation); docs/context.md", 0, 0},
        {"head", CLI_OPT_STR, &a->head, "reg (MSE on U,V) or cls (20+20 bins, cross-entropy)", 0, 0},
        {"width", CLI_OPT_INT, &c->width, "base width w", 1, 256},
        {"epochs", CLI_OPT_INT, &c->epochs, "epochs", 1, 10000},
        {"batch", CLI_OPT_INT, &c->batch, "images per step", 1, 4096},
        {"lr", CLI_OPT_FLOAT, &a->lr, "peak learning rate", 1e-8, 10},
        {"optim", CLI_OPT_STR, &a->optim, "adam, adamw or sgd", 0, 0},
        {"momentum", CLI_OPT_FLOAT, &a->momentum, "SGD momentum", 0, 0.9999},
        {"nesterov", CLI_OPT_FLAG, &a->nesterov, "SGD with Nesterov momentum", 0, 0},
        {"wd", CLI_OPT_FLOAT, &a->wd, "weight decay (L2; decoupled for adamw)", 0, 1},
        {"schedule", CLI_OPT_STR, &a->sched, "const, cosine, linear (both decay to 0 at the end) or onecycle", 0, 0},
        {"warmup", CLI_OPT_FLOAT, &a->warmup, "epochs of linear warm-up", 0, 1000},
        {"aug", CLI_OPT_STR, &a->aug, "none, flip or flip+crop", 0, 0},
        {"seed", CLI_OPT_INT, &a->seed, "seed of initialisation, order and augmentation", 0, 2147483647},
        {"split", CLI_OPT_STR, &a->split_name, "seeded (50k/5k/5k) or official", 0, 0},
        {"split-seed", CLI_OPT_INT, &a->split_seed, "seed of the seeded split (SPEC §2)", 0, 2147483647},
        {"data", CLI_OPT_STR, &a->data, "CIFAR-10 dir, CIFAR-format file or picture folder", 0, 0},
        {"out", CLI_OPT_STR, &c->out_dir, "output directory", 0, 0},
        {"threads", CLI_OPT_INT, &a->threads, "compute threads", 1, 256},
        {"backend", CLI_OPT_STR, &a->backend, "dnnl, or ref (the slow reference, for debugging)", 0, 0},
        {"precision", CLI_OPT_STR, &a->precision,
         "fp32, or bf16: convolutions on bf16 copies, fp32 weights, optimiser and sums (CPUs with AVX512_BF16 "
         "or AMX; docs/engine.md)", 0, 0},
        {"resume", CLI_OPT_FLAG, &a->resume, "continue from OUT/state.safetensors", 0, 0},
        {"limit-train", CLI_OPT_INT, &c->limit_train, "use only N training images (0 = all)", 0, 1e9},
        {"limit-val", CLI_OPT_INT, &c->limit_val, "use only N validation images (0 = all)", 0, 1e9},
        {"ema", CLI_OPT_FLOAT, &c->ema,
         "decay of a weight EMA, e.g. 0.999 (0 = off); the EMA is validated and saved", 0, 0.999999},
        {"ema-bn", CLI_OPT_STR, &a->ema_bn,
         "EMA's BatchNorm statistics: average (like the weights) or reestimate (20 batches)", 0, 0},
        {"target", CLI_OPT_STR, &a->target,
         "cls target: onehot or hlgauss[:SIGMA] (Gaussian SIGMA bins wide; 0.75 if omitted)", 0, 0},
        {"loss-mse", CLI_OPT_FLOAT, &c->cls_loss.mse_weight,
         "cls: loss = CE + X x squared error of the mean-decoded U,V (0 = CE only)", 0, 1e6},
        {"aux-class", CLI_OPT_FLOAT, &c->aux_class,
         "resunet-gc: add X x the 10-way CIFAR-10 class cross-entropy of the pooled context vector "
         "(training only; 0 = off, skipped without labels)", 0, 100},
        {"accum", CLI_OPT_INT, &c->accum,
         "micro-batches per step, gradients accumulated (--batch must divide by ranks x K)", 1, 4096},
        {"ddp", CLI_OPT_FLAG, &a->ddp,
         "data-parallel over MPI even if no launcher is detected (mpirun -np N is; docs/distributed.md)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0}};
    memcpy(o, t, sizeof t);
}

static void train_args_defaults(train_args *a)
{
    memset(a, 0, sizeof *a);
    cz_train_defaults(&a->cfg);
    a->arch = "unet";
    a->head = "reg";
    a->optim = "adam";
    a->sched = "const";
    a->aug = "flip";
    a->split_name = "seeded";
    a->data = cz_data_default_dir();
    a->lr = a->cfg.optim.lr;
    a->momentum = 0.9;
    a->threads = 2;
    a->backend = "dnnl";
    a->target = "onehot";
    a->ema_bn = "average";
    a->precision = "fp32";
}

int train_option_type(const char *name)
{
    train_args a;
    cli_opt o[TRAIN_N_OPTS];
    train_args_defaults(&a);
    train_opts(&a, o);
    for (int i = 0; o[i].name; i++)
        if (strcmp(o[i].name, name) == 0)
            return (int)o[i].type;
    return -1;
}

/* Parse and check a train command line; 0, CLI_HELP_SHOWN or CLI_EXIT_USAGE. */
static int train_args_parse(int argc, char **argv, train_args *a)
{
    cli_opt opts[TRAIN_N_OPTS];
    train_args_defaults(a);
    train_opts(a, opts);
    const char *pos[1];
    int npos;
    int rc = cli_parse("train", "[options]",
                       "Train a colourisation network from scratch. Writes OUT/best.safetensors\n"
                       "(lowest validation chroma MSE), OUT/last.safetensors, OUT/log.jsonl and\n"
                       "OUT/state.safetensors (for --resume); Ctrl-C saves the state and stops.\n"
                       "Exit status: 0 done, 1 failure, 2 usage, 3 the loss diverged, 130 interrupted.",
                       opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc;
    cz_train_config *c = &a->cfg;
    const cz_train_names names = {a->arch,   a->head,   a->optim, a->sched,    a->split_name,
                                  a->target, a->ema_bn, a->aug,   a->precision};
    if (cz_train_config_names(c, &names)) {
        cli_error("train", "%s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    c->optim.lr = a->lr;
    c->optim.weight_decay = a->wd;
    c->optim.momentum = a->momentum;
    c->optim.nesterov = a->nesterov;
    c->warmup = a->warmup;
    c->seed = (uint64_t)a->seed;
    c->split_seed = (uint64_t)a->split_seed;
    c->resume = a->resume;
    return 0;
}

int train_args_check(int argc, char **argv)
{
    train_args a;
    return train_args_parse(argc, argv, &a);
}

/* The training run of one rank of `ddp` (a world of one without MPI). */
static int train_run(const train_args *args, const cz_ddp *ddp)
{
    train_args a = *args;
    cz_train_config cfg = a.cfg;
    const int root = ddp->rank == 0;
    cfg.ddp = ddp;
    const char *arch = a.arch, *head = a.head, *optim = a.optim, *sched = a.sched, *aug = a.aug;
    const char *split_name = a.split_name, *data = a.data;
    const double lr = a.lr, wd = a.wd;
    const int seed = a.seed, threads = a.threads, resume = a.resume;
    cfg.stop = &stop_requested;
    cfg.backend = a.backend;
    cz_set_threads(threads);
    if (cfg.batch % (ddp->size * cfg.accum) != 0) {
        if (root)
            cli_error("train", "--batch %d must divide into %d rank(s) x %d micro-batch(es) (--accum) "
                      "of equal size", cfg.batch, ddp->size, cfg.accum);
        return CLI_EXIT_USAGE;
    }

    cz_dataset ds;
    int pooled;
    if (cz_data_open(data, 1, 32, &ds, &pooled)) {
        cli_error("train", "%s", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    cz_split split;
    if (!pooled && cfg.split == CZ_SPLIT_OFFICIAL) {
        cli_error("train", "--split official needs the CIFAR-10 directory, not %s", data);
        cz_dataset_free(&ds);
        return CLI_EXIT_USAGE;
    }
    if (cz_split_make(cfg.split, cfg.split_seed, ds.count, &split)) {
        cli_error("train", "%s", cz_last_error());
        cz_dataset_free(&ds);
        return CLI_EXIT_FAIL;
    }
    size_t params;
    double flops;
    if (cz_train_config_size(&cfg, &params, &flops)) {
        cli_error("train", "%s", cz_last_error());
        cz_split_free(&split);
        cz_dataset_free(&ds);
        return CLI_EXIT_FAIL;
    }
    char json[1024];
    cz_train_config_json(&cfg, json, sizeof json);
    char loss[160], ema[80];
    if (cfg.head == CZ_HEAD_REG)
        snprintf(loss, sizeof loss, "MSE of U, V");
    else if (cfg.cls_loss.mse_weight > 0)
        snprintf(loss, sizeof loss, "cross-entropy (%s target) + %g x MSE of the mean-decoded U, V", a.target,
                 cfg.cls_loss.mse_weight);
    else
        snprintf(loss, sizeof loss, "cross-entropy (%s target)", a.target);
    if (cfg.aux_class > 0) {
        size_t len = strlen(loss);
        snprintf(loss + len, sizeof loss - len, " + %g x auxiliary class cross-entropy", cfg.aux_class);
    }
    if (cfg.ema > 0)
        snprintf(ema, sizeof ema, "%g, BatchNorm statistics %s", cfg.ema, a.ema_bn);
    else
        snprintf(ema, sizeof ema, "off");
    char parallel[160];
    snprintf(parallel, sizeof parallel, "%d rank(s) x %d micro-batch(es) of %d images (global batch %d)",
             ddp->size, cfg.accum, cfg.batch / (ddp->size * cfg.accum), cfg.batch);
    if (root)
        fprintf(stderr,
            "colorize train\n  network   %s/%s width %d: %zu parameters, %.1f MFLOP/image forward\n"
            "  data      %s: %d images %dx%d; train %d, val %d, test %d (%s split)\n"
            "  recipe    %s lr %g wd %g, %s schedule, batch %d, %d epochs, aug %s, seed %d\n%s"
            "  loss      %s\n  EMA       %s\n"
            "  threads   %d per rank\n  parallel  %s\n  output    %s%s\n",
            arch, head, cfg.width, params, flops / 1e6,
            data, ds.count, ds.side, ds.side, split.n_train, split.n_val, split.n_test, split_name, optim,
            lr, wd, sched, cfg.batch, cfg.epochs, aug, seed, cfg.bf16 ? "  precision bf16 convolutions (fp32 weights, optimiser and sums)\n" : "",
            loss, ema, cz_threads(), parallel, cfg.out_dir,
            resume ? " (resuming)" : "");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cz_train_result res;
    cz_status st = cz_train(&cfg, &ds, &split, root ? stderr : NULL, &res);
    cz_split_free(&split);
    cz_dataset_free(&ds);
    if (st) {
        if (ddp->size > 1)
            cli_error("train", "rank %d of %d: %s", ddp->rank, ddp->size, cz_last_error());
        else
            cli_error("train", "%s", cz_last_error());
        return st == CZ_ERR_NUMERIC ? CLI_EXIT_DIVERGED : CLI_EXIT_FAIL;
    }
    if (res.interrupted)
        return 130;
    if (root)
        fprintf(stderr, "done: best validation chroma MSE %.6f at epoch %d; %.0f s, %.0f img/s; %s/best.safetensors\n",
            res.best_val, res.best_epoch, res.seconds, res.img_per_s, cfg.out_dir);
    return CLI_EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = train_args_parse(argc, argv, &a);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    cz_ddp ddp;
    if (cz_ddp_init(&ddp, a.ddp ? 1 : -1)) {
        cli_error("train", "%s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    rc = train_run(&a, &ddp);
    /* A failure may be this rank's alone while the others wait in a
     * collective: end the whole job. (Usage errors are every rank's.) */
    if (rc == CLI_EXIT_FAIL || rc == CLI_EXIT_DIVERGED)
        cz_ddp_abort(&ddp, rc);
    cz_ddp_finalize(&ddp);
    return rc;
}
