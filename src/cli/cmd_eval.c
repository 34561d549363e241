/* colorize eval: every SPEC §4 metric of a model on the test or validation split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "colorize/colorize.h"
#include "evaluate.h"
#include "paths.h"
#include "sample_grid.h"
#include "train.h"
#include "util.h"

/* A value that is not a finite number is printed as "n/a"; the reason
 * follows the table. */
static void print_value(const char *fmt, double v, int *absent)
{
    if (isfinite(v)) {
        printf(fmt, v);
        return;
    }
    printf("%*s", 8, "n/a");
    *absent = 1;
}

static void print_table(const cz_metrics *m, const cz_model *model, const char *path, const char *split,
                        const char *decode)
{
    double px = (double)m->pixels;
    int no_class = 0;
    char what[96];
    cz_evaluate_describe(model, what, sizeof what);
    printf("model          %s (%s)\n", path, what);
    printf("split          %s: %ld images, decode %s\n", split, m->images, decode);
    printf("chroma MSE     %.6f   (grey baseline %.6f)\n", cz_metrics_mse(m), m->se_grey / px);
    printf("MSE U / V      %.6f / %.6f\n", m->se_u / px, m->se_v / px);
    double psnr = cz_metrics_psnr(m);
    if (isinf(psnr)) /* null in --json */
        printf("PSNR (RGB)     n/a (infinite: the prediction matches every pixel)\n");
    else
        printf("PSNR (RGB)     %.2f dB\n", psnr);
    printf("colourfulness  %.2f predicted, %.2f ground truth\n",
           m->colorful_images ? m->colorful_pred / (double)m->colorful_images : 0,
           m->colorful_images ? m->colorful_true / (double)m->colorful_images : 0);
    if (m->has_cls)
        printf("bin accuracy   U %.4f  V %.4f   cross-entropy %.4f\n", (double)m->correct_u / px,
               (double)m->correct_v / px, m->ce / px);
    int any = 0;
    for (int k = 0; k < CZ_CIFAR_CLASSES; k++)
        any |= m->px_class[k] > 0;
    if (!any)
        return;
    printf("per class      ");
    for (int k = 0; k < CZ_CIFAR_CLASSES; k++) {
        printf("%s%s ", k == 0 ? "" : (k % 4 == 0 ? "\n               " : "   "), cz_cifar_class_name(k));
        print_value("%.6f", cz_metrics_class_mse(m, k), &no_class);
    }
    putchar('\n');
    if (no_class)
        printf("               n/a: no image of that class in this split (null in --json)\n");
}

int cmd_eval(int argc, char **argv)
{
    char def_model[4096];
    cz_default_model_path(def_model, sizeof def_model);
    const char *model_path = def_model, *split_part = "test", *decode_text = "mean", *json = NULL;
    const char *backend = "dnnl", *precision = "fp32";
    const char *samples = NULL, *protocol = "seeded", *data = cz_data_default_dir();
    int split_seed = 0, batch = 250, threads = 2, limit = 0, n_samples = 24, flip = 0;
    cli_opt opts[] = {
        {"model", CLI_OPT_STR, &model_path, "model file (.safetensors)", 0, 0},
        {"split", CLI_OPT_STR, &split_part, "test, val, or all (every image of --data)", 0, 0},
        {"decode", CLI_OPT_STR, &decode_text, "cls decoding: mean, annealed[:T] or mode", 0, 0},
        {"json", CLI_OPT_STR, &json, "also write the metrics as JSON to this file", 0, 0},
        {"samples", CLI_OPT_STR, &samples, "write a PNG grid grey | prediction | truth", 0, 0},
        {"n-samples", CLI_OPT_INT, &n_samples, "images in the sample grid", 1, 256},
        {"protocol", CLI_OPT_STR, &protocol, "split protocol: seeded or official", 0, 0},
        {"split-seed", CLI_OPT_INT, &split_seed, "seed of the seeded split", 0, 2147483647},
        {"data", CLI_OPT_STR, &data, "CIFAR-10 dir, CIFAR-format file or picture folder", 0, 0},
        {"limit", CLI_OPT_INT, &limit, "evaluate only the first N images (0 = all)", 0, 1e9},
        {"batch", CLI_OPT_INT, &batch, "images per forward pass", 1, 4096},
        {"threads", CLI_OPT_INT, &threads, "compute threads", 1, 256},
        {"backend", CLI_OPT_STR, &backend, "dnnl, or ref (the slow reference, for debugging)", 0, 0},
        {"precision", CLI_OPT_STR, &precision, "fp32, or bf16 convolutions (CPUs with AVX512_BF16 or AMX)", 0, 0},
        {"flip", CLI_OPT_FLAG, &flip, "test-time flip averaging: mean of the outputs of each image and its mirror", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[1];
    int npos, rc = cli_parse("eval", "[--model FILE] [options]",
                             "Evaluate a model with every metric of SPEC §4: chroma MSE (overall, U, V,\n"
                             "per class), RGB PSNR, colourfulness, and bin accuracy / cross-entropy\n"
                             "for classification models.",
                             opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    cz_decode decode;
    cz_split_kind kind;
    if (cz_decode_parse(decode_text, &decode) || cz_split_parse(protocol, &kind)) {
        cli_error("eval", "%s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    if (strcmp(split_part, "test") != 0 && strcmp(split_part, "val") != 0 && strcmp(split_part, "all") != 0) {
        cli_error("eval", "--split must be test, val or all, not '%s'", split_part);
        return CLI_EXIT_USAGE;
    }
    cz_train_config names; /* the precision read as train reads it: usage errors, exit 2 */
    cz_train_defaults(&names);
    if (cz_train_config_names(&names, &(cz_train_names){.precision = precision})) {
        cli_error("eval", "%s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    cz_set_threads(threads);
    cz_model model;
    cz_status st = cz_evaluate_load(model_path, backend, precision, &model);
    if (st) {
        cli_error("eval", "%s", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    cz_dataset ds;
    cz_split split = {0};
    int pooled, code = CLI_EXIT_FAIL;
    int *every = NULL;
    if (cz_data_open(data, 1, model.side, &ds, &pooled)) {
        cli_error("eval", "%s", cz_last_error());
        cz_evaluate_unload(&model);
        return CLI_EXIT_FAIL;
    }
    if (cz_split_make(kind, (uint64_t)split_seed, ds.count, &split)) {
        cli_error("eval", "%s", cz_last_error());
        goto done;
    }
    int test = strcmp(split_part, "test") == 0, all = strcmp(split_part, "all") == 0;
    const int *idx = test ? split.test : split.val;
    int count = test ? split.n_test : split.n_val;
    if (all) {
        if (!(every = cz_alloc((size_t)ds.count, sizeof(int), "indices")))
            goto done;
        for (int i = 0; i < ds.count; i++)
            every[i] = i;
        idx = every;
        count = ds.count;
    }
    if (limit > 0 && limit < count)
        count = limit;
    model.flip_average = flip;
    cz_metrics m;
    double t0 = cz_now();
    if (cz_evaluate(&model, &ds, idx, count, batch, decode, &m)) {
        cli_error("eval", "%s", cz_last_error());
        goto done;
    }
    char dec[40], split_name[64];
    cz_decode_format(decode, dec, sizeof dec);
    if (flip) /* recorded with the decoding rule in the table and the JSON */
        strncat(dec, "+flip", sizeof dec - strlen(dec) - 1);
    if (all)
        snprintf(split_name, sizeof split_name, "all of %s", data);
    else
        snprintf(split_name, sizeof split_name, "%s (%s, seed %d)", split_part, protocol, split_seed);
    print_table(&m, &model, model_path, split_name, model.head == CZ_HEAD_CLS ? dec : flip ? "flip" : "none (regression)");
    fprintf(stderr, "evaluated %d images in %.1f s\n", count, cz_now() - t0);
    if (json) {
        cz_atomic_file af;
        if (cz_atomic_open(&af, json)) {
            cli_error("eval", "%s", cz_last_error());
            goto done;
        }
        cz_metrics_json(&m, af.fp, model.head == CZ_HEAD_CLS ? dec : flip ? "flip" : "none", split_part);
        fputc('\n', af.fp);
        if (cz_atomic_commit(&af)) {
            cli_error("eval", "%s", cz_last_error());
            goto done;
        }
    }
    if (samples) {
        int n = n_samples < count ? n_samples : count;
        if (cz_write_sample_grid(samples, &model, &ds, idx, n, decode, 4)) {
            cli_error("eval", "%s", cz_last_error());
            goto done;
        }
        fprintf(stderr, "sample grid: %s\n", samples);
    }
    code = CLI_EXIT_OK;
done:
    free(every);
    cz_split_free(&split);
    cz_dataset_free(&ds);
    cz_evaluate_unload(&model);
    return code;
}
