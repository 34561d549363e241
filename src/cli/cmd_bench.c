/* colorize bench: training and inference throughput of the engine. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <jansson.h>

#include "bench.h"
#include "cli.h"
#include "cpu.h"
#include "peak.h"
#include "colorize/colorize.h"
#include "train.h"

/* "key": "value" with the value escaped as JSON (a CPU name is free text). */
static void print_json_string(const char *key, const char *value)
{
    json_t *v = json_string(value);
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    printf("\"%s\": %s", key, text ? text : "null");
    free(text);
    json_decref(v);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

int cmd_bench(int argc, char **argv)
{
    const char *arch_s = NULL, *head_s = "reg", *backend = "dnnl", *target = "onehot", *precision = "fp32";
    cz_cls_loss cls_loss = {0};
    int width = 32, batch = 128, threads = 2, steps = 20, warmup = 3, json = 0, profile = 0, cpu_only = 0;
    cz_backend_options bopt = {0};
    cli_opt opts[] = {
        {"arch", CLI_OPT_STR, &arch_s, "one network (vgg, unet, resnet, resunet, resunet-gc, resunet-se); default: all six at widths 32 and 16, both heads (24 configurations)", 0, 0},
        {"head", CLI_OPT_STR, &head_s, "reg or cls (with --arch)", 0, 0},
        {"width", CLI_OPT_INT, &width, "base width (with --arch)", 1, 256},
        {"batch", CLI_OPT_INT, &batch, "images per step", 1, 4096},
        {"threads", CLI_OPT_INT, &threads, "compute threads", 1, 256},
        {"backend", CLI_OPT_STR, &backend, "dnnl, or ref (the slow reference, for debugging)", 0, 0},
        {"precision", CLI_OPT_STR, &precision, "fp32, or bf16 convolutions (CPUs with AVX512_BF16 or AMX)", 0, 0},
        {"channel-block", CLI_OPT_INT, &bopt.channel_block,
         "dnnl: activations blocked by 8 or 16 channels (0: 16 on AVX-512 unless padding to 16 costs "
         "over 1.7x the FLOPs, as at widths 4-8)",
         0, 16},
        {"deconv-direct", CLI_OPT_FLAG, &bopt.deconv_direct,
         "dnnl: oneDNN's own transposed-convolution forward, not a 1x1 convolution and a spread (for comparison)", 0, 0},
        {"steps", CLI_OPT_INT, &steps, "timed steps (median reported)", 1, 10000},
        {"warmup", CLI_OPT_INT, &warmup, "untimed steps first", 0, 1000},
        {"target", CLI_OPT_STR, &target, "cls: onehot or hlgauss[:SIGMA], as in train", 0, 0},
        {"loss-mse", CLI_OPT_FLOAT, &cls_loss.mse_weight, "cls: the hybrid loss's LAMBDA, as in train", 0,
         1e6},
        {"json", CLI_OPT_FLAG, &json, "print one JSON object (with --arch)", 0, 0},
        {"profile", CLI_OPT_FLAG, &profile, "time each kind of operation (adds synchronisation)", 0, 0},
        {"cpu", CLI_OPT_FLAG, &cpu_only, "print this machine's CPU as the results name it, and exit", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[1];
    int npos, rc = cli_parse("bench", "[--arch A --head H --width W] [options]",
                             "Measure training images/s (forward, loss, backward, Adam) and inference\n"
                             "images/s on synthetic batches: the median of --steps steps after --warmup.\n"
                             "GFLOP/s count the forward's FLOP once for inference and three times for\n"
                             "training; %peak reads them against this machine's fp32 FMA peak (with\n"
                             "--precision bf16: its bf16 dot-product peak), measured\n"
                             "first on the same threads (register-only FMA chains of the widest ISA).",
                             opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    char cpu[400];
    cz_cpu_describe(cpu, sizeof cpu);
    if (cpu_only) { /* one description for the bench scripts' headers too */
        printf("%s\n", cpu);
        return CLI_EXIT_OK;
    }
    if (bopt.channel_block != 0 && bopt.channel_block != 8 && bopt.channel_block != 16) {
        cli_error("bench", "--channel-block %d: give 8, 16 or 0", bopt.channel_block);
        return CLI_EXIT_USAGE;
    }
    cz_train_config cfg; /* the names, read as train reads them */
    cz_train_defaults(&cfg);
    cfg.cls_loss.mse_weight = cls_loss.mse_weight;
    if (cz_train_config_names(&cfg, &(cz_train_names){.target = target})) {
        cli_error("bench", "--target: %s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    if (cz_train_config_names(&cfg, &(cz_train_names){.precision = precision})) {
        cli_error("bench", "--precision: %s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    bopt.bf16 = cfg.bf16;
    cls_loss = cfg.cls_loss;
    const int recipe = cls_loss.target != CZ_CLS_TARGET_ONEHOT || cls_loss.mse_weight > 0;
    cz_set_threads(threads);
    cz_arch archs[CZ_ARCH_COUNT];
    int n_arch = 0, widths[2] = {32, 16}, n_width = 2;
    cz_head heads[2] = {CZ_HEAD_REG, CZ_HEAD_CLS};
    int n_head = 2;
    if (arch_s) {
        if (cz_train_config_names(&cfg, &(cz_train_names){.arch = arch_s, .head = head_s})) {
            cli_error("bench", "%s", cz_last_error());
            return CLI_EXIT_USAGE;
        }
        archs[0] = cfg.arch;
        heads[0] = cfg.head;
        n_arch = n_head = n_width = 1;
        widths[0] = width;
    } else {
        if (json) {
            cli_error("bench", "--json measures one configuration: give --arch");
            return CLI_EXIT_USAGE;
        }
        for (int a = 0; a < CZ_ARCH_COUNT; a++)
            archs[n_arch++] = (cz_arch)a;
    }
    /* The widest instruction set comes first. A full second, best of its
     * windows: in 0.3 s runs half the rate was seen at times (both threads
     * not yet at their AVX-512 clock, or one descheduled). */
    cz_peak peak = {"none", 0, 0};
    if (bopt.bf16) /* bf16 runs are read against the bf16 dot-product peak */
        peak = (cz_peak){"avx512_bf16", threads, cz_peak_measure_bf16(threads, 1.0)};
    else if (cz_peak_measure(&peak, 1, threads, 1.0) < 1)
        peak.gflops = 0;
    if (!(peak.gflops > 0))
        peak.gflops = 0;
    const double pk = peak.gflops > 0 ? 100.0 / peak.gflops : 0;
    if (!json) {
        printf("CPU: %s\n", cpu);
        printf("%s peak: %.1f GFLOP/s (%s, %d threads)\n", bopt.bf16 ? "bf16 dot-product" : "fp32 FMA",
               peak.gflops, peak.isa, peak.threads);
        printf("%-7s %-4s %5s %6s %12s %12s %11s %11s %7s %7s %9s\n", "network", "head", "width", "batch",
               "train img/s", "infer img/s", "train GF/s", "infer GF/s", "tr %pk", "in %pk", "act MiB");
    }
    for (int wi = 0; wi < n_width; wi++)
        for (int a = 0; a < n_arch; a++)
            for (int h = 0; h < n_head; h++) {
                cz_bench_result r;
                if (cz_bench_run(backend, &bopt, recipe ? &cls_loss : NULL, archs[a], heads[h], widths[wi], batch,
                                 steps, warmup, profile, &r)) {
                    cli_error("bench", "%s", cz_last_error());
                    return CLI_EXIT_FAIL;
                }
                /* The convolutions' own rate, against the same peak: how
                 * far the kernels are from it, and how much the rest of
                 * the step costs on top (issue 12). */
                double conv_ms = r.prof[CZ_PROF_CONV_FWD] + r.prof[CZ_PROF_CONV_BWD_DATA] +
                                 r.prof[CZ_PROF_CONV_BWD_WEIGHTS];
                double conv_gflops = profile && conv_ms > 0 && r.train_img_s > 0
                                         ? r.gflops_train * batch / r.train_img_s / (conv_ms * 1e-3)
                                         : 0;
                if (json) {
                    printf("{\"impl\": \"colorize\", \"arch\": \"%s\", \"head\": \"%s\", \"width\": %d, "
                           "\"batch\": %d, \"threads\": %d, \"train_img_s\": %.2f, \"infer_img_s\": %.2f, "
                           "\"gflops_train\": %.2f, \"gflops_infer\": %.2f, \"peak_gflops\": %.2f, "
                           "\"peak_isa\": \"%s\", \"train_peak_fraction\": %.4f, "
                           "\"infer_peak_fraction\": %.4f, \"loss_ms\": %.3f, \"peak_rss_mib\": %.1f, ",
                           r.arch, r.head, widths[wi], batch,
                           cz_threads(), r.train_img_s, r.infer_img_s, r.gflops_train,
                           r.gflops_infer, peak.gflops, peak.isa, r.gflops_train * pk / 100,
                           r.gflops_infer * pk / 100, r.loss_ms, peak_rss_mib());
                    print_json_string("cpu", cpu);
                    if (profile) { /* ms per step by kind, in the object: the line stays JSON */
                        printf(", \"profile_ms\": {");
                        for (int k = 0; k < CZ_PROF_COUNT; k++)
                            printf("\"%s\": %.3f, ", r.prof_names[k], r.prof[k]);
                        printf("\"loss + optimiser\": %.3f}, \"conv_gflops\": %.2f, "
                               "\"conv_peak_fraction\": %.4f",
                               r.other_ms, conv_gflops, conv_gflops * pk / 100);
                    }
                    printf("}\n");
                } else {
                    printf("%-7s %-4s %5d %6d %12.1f %12.1f %11.1f %11.1f %6.1f%% %6.1f%% %9.0f\n",
                           r.arch, r.head, widths[wi], batch,
                           r.train_img_s, r.infer_img_s, r.gflops_train, r.gflops_infer,
                           r.gflops_train * pk, r.gflops_infer * pk, r.mem_mib);
                    if (profile) {
                        for (int k = 0; k < CZ_PROF_COUNT; k++)
                            printf("    %-24s %8.2f ms/step\n", r.prof_names[k], r.prof[k]);
                        printf("    %-24s %8.2f ms/step\n", "loss + optimiser", r.other_ms);
                        printf("    %-24s %8.2f ms/step (timed alone)\n", "of which the loss", r.loss_ms);
                        printf("    %-24s %8.1f GFLOP/s (%.1f%% of peak)\n", "convolutions alone",
                               conv_gflops, conv_gflops * pk);
                    }
                }
                fflush(stdout);
            }
    return CLI_EXIT_OK;
}
