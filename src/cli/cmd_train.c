/* colorize train: train a network on CIFAR-10 (or a picture folder). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "cli.h"
#include "evaluate.h"
#include "train.h"

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int cmd_train(int argc, char **argv)
{
    cz_train_config cfg;
    cz_train_defaults(&cfg);
    const char *arch = "unet", *head = "reg", *optim = "adam", *sched = "const", *aug = "flip";
    const char *split_name = "seeded", *data = cz_data_default_dir();
    const char *target = "onehot", *ema_bn = "average";
    double lr = cfg.optim.lr, wd = 0, momentum = 0.9, warmup = 0;
    int seed = 0, split_seed = 0, threads = 2, nesterov = 0, resume = 0;
    cli_opt opts[] = {
        {"arch", CLI_OPT_STR, &arch, "network: vgg, unet, resnet or resunet (the project's own)", 0, 0},
        {"head", CLI_OPT_STR, &head, "reg (MSE on U,V) or cls (20+20 bins, cross-entropy)", 0, 0},
        {"width", CLI_OPT_INT, &cfg.width, "base width w", 1, 256},
        {"epochs", CLI_OPT_INT, &cfg.epochs, "epochs", 1, 10000},
        {"batch", CLI_OPT_INT, &cfg.batch, "images per step", 1, 4096},
        {"lr", CLI_OPT_FLOAT, &lr, "peak learning rate", 1e-8, 10},
        {"optim", CLI_OPT_STR, &optim, "adam, adamw or sgd", 0, 0},
        {"momentum", CLI_OPT_FLOAT, &momentum, "SGD momentum", 0, 0.9999},
        {"nesterov", CLI_OPT_FLAG, &nesterov, "SGD with Nesterov momentum", 0, 0},
        {"wd", CLI_OPT_FLOAT, &wd, "weight decay (L2; decoupled for adamw)", 0, 1},
        {"schedule", CLI_OPT_STR, &sched, "const, cosine, linear (both decay to 0 at the end) or onecycle", 0, 0},
        {"warmup", CLI_OPT_FLOAT, &warmup, "epochs of linear warm-up", 0, 1000},
        {"aug", CLI_OPT_STR, &aug, "none, flip or flip+crop", 0, 0},
        {"seed", CLI_OPT_INT, &seed, "seed of initialisation, order and augmentation", 0, 2147483647},
        {"split", CLI_OPT_STR, &split_name, "seeded (50k/5k/5k) or official", 0, 0},
        {"split-seed", CLI_OPT_INT, &split_seed, "seed of the seeded split (SPEC §2)", 0, 2147483647},
        {"data", CLI_OPT_STR, &data, "CIFAR-10 dir, CIFAR-format file or picture folder", 0, 0},
        {"out", CLI_OPT_STR, &cfg.out_dir, "output directory", 0, 0},
        {"threads", CLI_OPT_INT, &threads, "compute threads", 1, 256},
        {"resume", CLI_OPT_FLAG, &resume, "continue from OUT/state.safetensors", 0, 0},
        {"limit-train", CLI_OPT_INT, &cfg.limit_train, "use only N training images (0 = all)", 0, 1e9},
        {"limit-val", CLI_OPT_INT, &cfg.limit_val, "use only N validation images (0 = all)", 0, 1e9},
        {"ema", CLI_OPT_FLOAT, &cfg.ema,
         "decay of a weight EMA, e.g. 0.999 (0 = off); the EMA is validated and saved", 0, 0.999999},
        {"ema-bn", CLI_OPT_STR, &ema_bn,
         "EMA's BatchNorm statistics: average (like the weights) or reestimate (20 batches)", 0, 0},
        {"target", CLI_OPT_STR, &target,
         "cls target: onehot or hlgauss[:SIGMA] (Gaussian SIGMA bins wide; 0.75 if omitted)", 0, 0},
        {"loss-mse", CLI_OPT_FLOAT, &cfg.cls_loss.mse_weight,
         "cls: loss = CE + X x squared error of the mean-decoded U,V (0 = CE only)", 0, 1e6},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("train", "[options]",
                       "Train a colourisation network from scratch. Writes OUT/best.safetensors\n"
                       "(lowest validation chroma MSE), OUT/last.safetensors, OUT/log.jsonl and\n"
                       "OUT/state.safetensors (for --resume); Ctrl-C saves the state and stops.",
                       opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (cz_arch_parse(arch, &cfg.arch) || cz_head_parse(head, &cfg.head) ||
        cz_optim_kind_parse(optim, &cfg.optim.kind) || cz_schedule_parse(sched, &cfg.schedule) ||
        cz_split_parse(split_name, &cfg.split) || cz_cls_target_parse(target, &cfg.cls_loss) ||
        cz_ema_bn_parse(ema_bn, &cfg.ema_bn)) {
        cli_error("train", "%s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    if (strcmp(aug, "none") == 0) {
        cfg.flip = cfg.crop = 0;
    } else if (strcmp(aug, "flip") == 0) {
        cfg.flip = 1;
        cfg.crop = 0;
    } else if (strcmp(aug, "flip+crop") == 0) {
        cfg.flip = cfg.crop = 1;
    } else {
        cli_error("train", "unknown augmentation '%s' (use none, flip or flip+crop)", aug);
        return CLI_EXIT_USAGE;
    }
    cfg.optim.lr = lr;
    cfg.optim.weight_decay = wd;
    cfg.optim.momentum = momentum;
    cfg.optim.nesterov = nesterov;
    cfg.warmup = warmup;
    cfg.seed = (uint64_t)seed;
    cfg.split_seed = (uint64_t)split_seed;
    cfg.resume = resume;
    cfg.stop = &stop_requested;
    cz_backend_set_threads(threads);

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
    cz_model probe;
    if (cz_model_init(&probe, cfg.arch, cfg.head, cfg.width, ds.side, 0)) {
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
        snprintf(loss, sizeof loss, "cross-entropy (%s target) + %g x MSE of the mean-decoded U, V", target,
                 cfg.cls_loss.mse_weight);
    else
        snprintf(loss, sizeof loss, "cross-entropy (%s target)", target);
    if (cfg.ema > 0)
        snprintf(ema, sizeof ema, "%g, BatchNorm statistics %s", cfg.ema, ema_bn);
    else
        snprintf(ema, sizeof ema, "off");
    fprintf(stderr,
            "colorize train\n  network   %s/%s width %d: %zu parameters, %.1f MFLOP/image forward\n"
            "  data      %s: %d images %dx%d; train %d, val %d, test %d (%s split)\n"
            "  recipe    %s lr %g wd %g, %s schedule, batch %d, %d epochs, aug %s, seed %d\n"
            "  loss      %s\n  EMA       %s\n"
            "  threads   %d\n  output    %s%s\n",
            arch, head, cfg.width, cz_graph_param_count(&probe.graph), cz_graph_flops(&probe.graph) / 1e6,
            data, ds.count, ds.side, ds.side, split.n_train, split.n_val, split.n_test, split_name, optim,
            lr, wd, sched, cfg.batch, cfg.epochs, aug, seed, loss, ema, cz_backend_threads(), cfg.out_dir,
            resume ? " (resuming)" : "");
    cz_model_free(&probe);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cz_train_result res;
    cz_status st = cz_train(&cfg, &ds, &split, stderr, &res);
    cz_split_free(&split);
    cz_dataset_free(&ds);
    if (st) {
        cli_error("train", "%s", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    if (res.interrupted)
        return 130;
    fprintf(stderr, "done: best validation chroma MSE %.6f at epoch %d; %.0f s, %.0f img/s; %s/best.safetensors\n",
            res.best_val, res.best_epoch, res.seconds, res.img_per_s, cfg.out_dir);
    return CLI_EXIT_OK;
}
