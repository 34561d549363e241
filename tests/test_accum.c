/* Gradient accumulation (train --accum): with one micro-batch cz_train is
 * the plain loop of model verbs over the loader, bit for bit; with two it is
 * that loop with the two halves of each batch forwarded and backpropagated
 * one after the other and their gradients averaged before the step; a batch
 * that does not divide into the micro-batches is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (!ds->pixels || !ds->labels) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    cz_rng r = {14};
    for (int i = 0; i < count; i++) {
        ds->labels[i] = (uint8_t)(i % 10);
        for (int c = 0; c < 3; c++) {
            const float base = cz_rng_uniform(&r);
            for (int p = 0; p < 1024; p++)
                ds->pixels[(size_t)i * 3072 + c * 1024 + p] =
                    (uint8_t)(255 * (0.5f * base + 0.5f * (float)((p * (c + 2)) % 29) / 29.0f));
        }
    }
}

static void config(cz_train_config *c, const char *out, int accum)
{
    cz_train_defaults(c);
    c->arch = CZ_ARCH_UNET;
    c->width = 8;
    c->batch = 8;
    c->epochs = 1;
    c->optim.kind = CZ_OPTIM_SGD;
    c->optim.lr = 0.05;
    c->optim.momentum = 0.9;
    c->flip = c->crop = 1;
    c->limit_train = 32;
    c->limit_val = 8;
    c->eval_batch = 8;
    c->out_dir = out;
    c->accum = accum;
}

/* The training loop written out with the model verbs: each batch in
 * `accum` contiguous micro-batches, gradients averaged in double. */
static int hand_loop(const cz_train_config *c, const cz_dataset *ds, const cz_split *split, cz_model *m)
{
    if (cz_model_init(m, c->arch, c->head, c->width, ds->side, c->seed) || cz_model_optim_init(m, &c->optim))
        return 0;
    cz_loader_opts lo = {.batch = c->batch, .flip = c->flip, .crop = c->crop, .shuffle = 1, .drop_last = 1,
                         .seed = c->seed};
    cz_loader *ld = cz_loader_create(ds, split->train, c->limit_train, &lo);
    const size_t np = m->graph.param_floats;
    double *sum = calloc(np, sizeof *sum);
    int ok = ld && sum && cz_loader_start(ld, 0, 0) == CZ_OK;
    const int micro = c->batch / c->accum, hw = ds->side * ds->side;
    const cz_batch *b;
    while (ok && (b = cz_loader_next(ld))) {
        for (int k = 0; ok && k < c->accum; k++) {
            const size_t at = (size_t)k * micro;
            cz_batch mb = {.n = micro, .side = b->side, .y = b->y + at * hw, .uv = b->uv + at * 2 * hw,
                           .bins = b->bins + at * 2 * hw, .labels = b->labels + at, .indices = b->indices + at};
            double loss;
            ok = cz_model_forward(m, &mb, &loss, NULL) == CZ_OK && cz_model_backward(m) == CZ_OK;
            for (size_t i = 0; ok && c->accum > 1 && i < np; i++)
                sum[i] = (k ? sum[i] : 0) + m->grads[i];
        }
        for (size_t i = 0; ok && c->accum > 1 && i < np; i++)
            m->grads[i] = (float)(sum[i] / c->accum);
        ok = ok && cz_model_step(m, c->optim.lr) == CZ_OK;
    }
    cz_loader_free(ld);
    free(sum);
    return ok;
}

/* max |a - b| / (1e-6 + max |b|) over the parameters, and whether the
 * running statistics are equal bit for bit. */
static double param_diff(const cz_model *a, const cz_model *b, int *same_buffers)
{
    double worst = 0, scale = 1e-6;
    for (size_t i = 0; i < b->graph.param_floats; i++) {
        worst = fmax(worst, fabs((double)a->params[i] - b->params[i]));
        scale = fmax(scale, fabs((double)b->params[i]));
    }
    *same_buffers = memcmp(a->buffers, b->buffers, b->graph.buffer_floats * sizeof(float)) == 0;
    return worst / scale;
}

int main(void)
{
    char dir[] = "/tmp/cz_accum_XXXXXX";
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary directory");
    cz_dataset ds;
    make_dataset(&ds, 200);
    cz_split split;
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 0, ds.count, &split) == CZ_OK);
    char out[512], path[600];
    cz_train_result res;
    for (int accum = 1; accum <= 2; accum++) {
        snprintf(out, sizeof out, "%s/accum%d", dir, accum);
        cz_train_config cfg;
        config(&cfg, out, accum);
        CHECK(cz_train(&cfg, &ds, &split, NULL, &res) == CZ_OK && res.epochs_done == 1);
        snprintf(path, sizeof path, "%s/last.safetensors", out);
        cz_model trained, hand;
        CHECK(cz_model_load(path, &trained) == CZ_OK);
        CHECK(hand_loop(&cfg, &ds, &split, &hand));
        int same_buffers = 0;
        const double d = param_diff(&trained, &hand, &same_buffers);
        if (accum == 1)
            CHECK(d == 0 && same_buffers); /* the plain step, bit for bit */
        else
            CHECK(d < 1e-6 && same_buffers); /* float sum x 1/K against a double mean */
        printf("accum %d: largest parameter difference %.3g of the largest parameter\n", accum, d);
        cz_model_free(&trained);
        cz_model_free(&hand);
    }
    cz_train_config odd;
    snprintf(out, sizeof out, "%s/odd", dir);
    config(&odd, out, 3); /* 8 images do not make 3 equal micro-batches */
    CHECK(cz_train(&odd, &ds, &split, NULL, &res) == CZ_ERR_ARG);
    CHECK(strstr(cz_last_error(), "must divide") != NULL);
    cz_split_free(&split);
    cz_dataset_free(&ds);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_END();
}
