/* Training end to end on a small synthetic dataset: files written, resume
 * is bit-identical (2 epochs straight == 1 epoch + resume + 1 epoch, and an
 * interruption mid-epoch), a diverging run stops cleanly, a mismatched
 * resume is refused, and the written model reloads with identical weights. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colorize/safetensors.h"
#include "model_io.h"
#include "test.h"
#include "train.h"
#include "util.h"

static void make_dataset(cz_dataset *ds, int count)
{
    ds->count = count;
    ds->side = 32;
    ds->pixels = malloc((size_t)count * 3072);
    ds->labels = malloc((size_t)count);
    cz_rng r = {5};
    for (int i = 0; i < count; i++) {
        ds->labels[i] = (uint8_t)(i % 10);
        float base[3] = {cz_rng_uniform(&r), cz_rng_uniform(&r), cz_rng_uniform(&r)};
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++)
                ds->pixels[(size_t)i * 3072 + c * 1024 + p] =
                    (uint8_t)(255 * (0.6f * base[c] + 0.4f * (float)((p * (c + 1)) % 37) / 37.0f));
    }
}

static void config(cz_train_config *c, const char *out, int epochs)
{
    cz_train_defaults(c);
    c->arch = CZ_ARCH_VGG;
    c->width = 8; /* width 4 would run oneDNN's slow reference kernels */
    c->batch = 16;
    c->epochs = epochs;
    c->out_dir = out;
    c->flip = c->crop = 1;
    c->eval_batch = 16;
}

/* Load a file's tensors as a model and compare parameters bit for bit. */
static int same_weights(const char *a, const char *b)
{
    cz_model ma, mb;
    if (cz_model_load(a, &ma) || cz_model_load(b, &mb))
        return 0;
    int same = ma.graph.param_floats == mb.graph.param_floats &&
               memcmp(ma.params, mb.params, ma.graph.param_floats * sizeof(float)) == 0 &&
               memcmp(ma.buffers, mb.buffers, ma.graph.buffer_floats * sizeof(float)) == 0;
    cz_model_free(&ma);
    cz_model_free(&mb);
    return same;
}

static volatile sig_atomic_t stop_flag;

int main(void)
{
    char dir[] = "/tmp/cz_train_XXXXXX";
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary directory");
    cz_dataset ds;
    make_dataset(&ds, 240);
    cz_split split;
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 0, ds.count, &split) == CZ_OK);
    char a[512], b[512], c[512], p1[600], p2[600];
    snprintf(a, sizeof a, "%s/straight", dir);
    snprintf(b, sizeof b, "%s/resumed", dir);
    snprintf(c, sizeof c, "%s/interrupted", dir);
    cz_train_config cfg;
    cz_train_result res;

    config(&cfg, a, 2);
    CHECK(cz_train(&cfg, &ds, &split, NULL, &res) == CZ_OK);
    CHECK(res.epochs_done == 2 && res.best_val > 0 && res.best_val < 1);
    snprintf(p1, sizeof p1, "%s/last.safetensors", a);
    CHECK(cz_file_exists(p1));
    snprintf(p2, sizeof p2, "%s/best.safetensors", a);
    CHECK(cz_file_exists(p2));
    snprintf(p2, sizeof p2, "%s/log.jsonl", a);
    CHECK(cz_file_exists(p2));

    /* Interrupted after its first step (the stop flag is already set),
     * then resumed to the end: the same weights as the straight run. */
    config(&cfg, b, 2);
    cz_train_config first = cfg;
    first.stop = &stop_flag;
    stop_flag = 1;
    CHECK(cz_train(&first, &ds, &split, NULL, &res) == CZ_OK && res.interrupted);
    stop_flag = 0;
    cfg.resume = 1;
    CHECK(cz_train(&cfg, &ds, &split, NULL, &res) == CZ_OK && res.epochs_done == 2);
    snprintf(p2, sizeof p2, "%s/last.safetensors", b);
    CHECK(same_weights(p1, p2));

    /* 1 epoch, then --resume with --epochs 2: the same weights again. */
    config(&cfg, c, 1);
    CHECK(cz_train(&cfg, &ds, &split, NULL, &res) == CZ_OK && res.epochs_done == 1);
    config(&cfg, c, 2);
    cfg.resume = 1;
    CHECK(cz_train(&cfg, &ds, &split, NULL, &res) == CZ_OK && res.epochs_done == 2);
    snprintf(p2, sizeof p2, "%s/last.safetensors", c);
    CHECK(same_weights(p1, p2));

    /* The recipe (--ema, --target hlgauss, --loss-mse; both EMA BatchNorm
     * rules): straight == interrupted after a step + resumed, bit for bit,
     * and the files hold the EMA, not the raw weights. */
    for (int bn = 0; bn < 2; bn++) {
        char r1[600], r2[600], q1[700], q2[700];
        snprintf(r1, sizeof r1, "%s/recipe%d_straight", dir, bn);
        snprintf(r2, sizeof r2, "%s/recipe%d_resumed", dir, bn);
        cz_train_config rc;
        config(&rc, r1, 1);
        rc.head = CZ_HEAD_CLS;
        rc.schedule = CZ_SCHED_LINEAR;
        rc.ema = 0.9;
        rc.ema_bn = bn ? CZ_EMA_BN_REESTIMATE : CZ_EMA_BN_AVERAGE;
        rc.cls_loss = (cz_cls_loss){.target = CZ_CLS_TARGET_HLGAUSS, .sigma = 0.75, .mse_weight = 10};
        CHECK(cz_train(&rc, &ds, &split, NULL, &res) == CZ_OK && res.epochs_done == 1);
        cz_train_config rfirst = rc;
        rfirst.out_dir = r2;
        rfirst.stop = &stop_flag;
        stop_flag = 1;
        CHECK(cz_train(&rfirst, &ds, &split, NULL, &res) == CZ_OK && res.interrupted);
        stop_flag = 0;
        rc.out_dir = r2;
        rc.resume = 1;
        CHECK(cz_train(&rc, &ds, &split, NULL, &res) == CZ_OK && res.epochs_done == 1);
        snprintf(q1, sizeof q1, "%s/last.safetensors", r1);
        snprintf(q2, sizeof q2, "%s/last.safetensors", r2);
        CHECK(same_weights(q1, q2));
        /* the saved model is the state's EMA slab, and its config names the recipe */
        cz_st_file *sf, *mf;
        snprintf(q2, sizeof q2, "%s/state.safetensors", r1);
        CHECK(cz_st_open(&sf, q2) == CZ_OK && cz_st_open(&mf, q1) == CZ_OK);
        cz_model lm;
        CHECK(cz_model_load(q1, &lm) == CZ_OK);
        const cz_st_tensor *ep = cz_st_find(sf, "ema.params");
        float *emap = ep ? malloc(ep->numel * sizeof(float)) : NULL;
        CHECK(emap && ep->numel == lm.graph.param_floats && cz_st_copy_f32(ep, emap) == CZ_OK &&
              memcmp(emap, lm.params, ep->numel * sizeof(float)) == 0);
        CHECK(strcmp(cz_st_metadata(sf, "ema_updates"), cz_st_metadata(sf, "step")) == 0);
        const char *mc = cz_st_metadata(mf, "config");
        CHECK(mc && strstr(mc, "\"ema\": 0.9") && strstr(mc, "\"target\": \"hlgauss:0.75\"") &&
              strstr(mc, "\"loss_mse\": 10") && strstr(mc, "\"schedule\": \"linear\""));
        free(emap);
        cz_model_free(&lm);
        cz_st_close(sf);
        cz_st_close(mf);
    }
    /* Soft targets need the cls head. */
    cz_train_config bad;
    config(&bad, c, 1);
    bad.cls_loss.mse_weight = 1;
    CHECK(cz_train(&bad, &ds, &split, NULL, &res) == CZ_ERR_ARG);
    /* Default recipe keys stay out of the configuration (old resume keys hold). */
    char json[1024];
    config(&bad, c, 1);
    cz_train_config_json(&bad, json, sizeof json);
    CHECK(strstr(json, "ema") == NULL && strstr(json, "target") == NULL && json[strlen(json) - 1] == '}');
    snprintf(c, sizeof c, "%s/other", dir);

    /* Resume refused with another configuration, and with nothing to resume. */
    cz_train_config other;
    config(&other, b, 2);
    other.resume = 1;
    other.optim.lr = 5e-4;
    CHECK(cz_train(&other, &ds, &split, NULL, &res) == CZ_ERR_ARG);
    CHECK(strstr(cz_last_error(), "another configuration") != NULL);
    config(&other, c, 2);
    other.resume = 1;
    CHECK(cz_train(&other, &ds, &split, NULL, &res) != CZ_OK);
    CHECK(strstr(cz_last_error(), "nothing to resume") != NULL);
    /* issue 13 #8: the message names the state file it looked for */
    CHECK(strstr(cz_last_error(), "/other/state.safetensors") != NULL);
    /* A second run into an existing output without --resume is refused. */
    config(&other, a, 2);
    CHECK(cz_train(&other, &ds, &split, NULL, &res) == CZ_ERR_ARG);

    /* Divergence: SGD at an absurd rate; the files of the good run stay. */
    config(&other, c, 3);
    other.optim.kind = CZ_OPTIM_SGD;
    other.optim.lr = 1e4;
    cz_status st = cz_train(&other, &ds, &split, NULL, &res);
    CHECK(st == CZ_ERR_NUMERIC);
    CHECK(strstr(cz_last_error(), "training stopped") != NULL);

    /* Round trip through the model writer and reader. */
    cz_model m;
    CHECK(cz_model_load(p1, &m) == CZ_OK);
    snprintf(p2, sizeof p2, "%s/copy.safetensors", dir);
    const cz_kv meta[] = {{"note", "copy"}};
    CHECK(cz_model_save(&m, 7, p2, meta, 1) == CZ_OK);
    CHECK(same_weights(p1, p2));
    cz_st_file *f;
    CHECK(cz_st_open(&f, p2) == CZ_OK);
    CHECK(f && strcmp(cz_st_metadata(f, "arch"), "vgg") == 0 && strcmp(cz_st_metadata(f, "head"), "reg") == 0);
    CHECK(f && strcmp(cz_st_metadata(f, "bins"), "20") == 0 && strcmp(cz_st_metadata(f, "colorspace"), "yuv-bt601") == 0);
    CHECK(f && cz_st_find(f, "e1.0.1.num_batches_tracked") != NULL);
    cz_st_close(f);
    cz_model_free(&m);

    /* A model file of the wrong architecture (metadata says unet). */
    cz_st_writer *w;
    CHECK(cz_st_writer_create(&w) == CZ_OK);
    CHECK(cz_model_load(p1, &m) == CZ_OK);
    CHECK(cz_model_to_writer(&m, 0, w, NULL, 0) == CZ_OK);
    CHECK(cz_st_writer_set_metadata(w, "arch", "unet") == CZ_OK);
    snprintf(p2, sizeof p2, "%s/wrong.safetensors", dir);
    CHECK(cz_st_writer_save(w, p2) == CZ_OK);
    cz_st_writer_free(w);
    cz_model_free(&m);
    CHECK(cz_model_load(p2, &m) != CZ_OK);
    CHECK(strstr(cz_last_error(), "wrong.safetensors") != NULL);

    cz_split_free(&split);
    cz_dataset_free(&ds);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_END();
}
