/* The batch loader: epoch order, augmentation and RGB -> (Y, UV, bins)
 * conversion, with a background thread that prepares batch k+1 while the
 * caller trains on batch k.
 *
 * Reproducibility: the order of an epoch depends only on (seed, epoch) and
 * the augmentation of a batch only on (seed, epoch, batch index), never on
 * what came before, so cz_loader_start(ld, epoch, k) resumes an interrupted
 * epoch with exactly the batches an uninterrupted run would have seen. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/colorspace.h"
#include "colorize/dataset.h"
#include "util.h"

#define LOADER_PAD 4 /* zero padding of the random crop, pixels per side */

/* Independent streams for the order and the augmentation of an epoch. */
#define LOADER_STREAM_ORDER 0x6f72646572000001ull
#define LOADER_STREAM_AUG 0x6175676d65000002ull

typedef enum loader_slot_state {
    LOADER_SLOT_EMPTY,   /* free for the worker */
    LOADER_SLOT_FILLING, /* the worker is writing it */
    LOADER_SLOT_READY,   /* holds batch `index`, not yet handed out */
    LOADER_SLOT_HELD     /* handed to the caller until its next call */
} loader_slot_state;

typedef struct loader_slot {
    cz_batch batch;
    loader_slot_state state;
    int index; /* batch index within the epoch */
} loader_slot;

struct cz_loader {
    const cz_dataset *ds;
    cz_loader_opts opts;
    int count;      /* images per epoch */
    int *indices;   /* count: the caller's index list */
    int *order;     /* count: this epoch's order; written only while the worker is idle */
    int n_batches;

    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    loader_slot slot[2]; /* batch b lives in slot b % 2 */
    int started;         /* an epoch has been started */
    int epoch;
    int next_produce;    /* next batch the worker prepares */
    int next_consume;    /* next batch the caller receives */
    int held;            /* slot held by the caller, or -1 */
    int busy;            /* the worker is filling a slot (outside the mutex) */
    int quit;
};

/* Mix two words into a seed through splitmix64, so that nearby (seed, epoch,
 * batch) tuples give unrelated streams. */
static uint64_t loader_mix(uint64_t a, uint64_t b)
{
    cz_rng r = {a};
    r.state = cz_rng_next(&r) ^ b;
    return cz_rng_next(&r);
}

static void loader_fill_order(cz_loader *ld, int epoch)
{
    memcpy(ld->order, ld->indices, (size_t)ld->count * sizeof *ld->order);
    if (!ld->opts.shuffle)
        return;
    cz_rng rng = {loader_mix(loader_mix(ld->opts.seed, LOADER_STREAM_ORDER), (uint64_t)epoch)};
    for (int i = ld->count - 1; i >= 1; i--) {
        int j = (int)(cz_rng_next(&rng) % (uint64_t)(i + 1));
        int t = ld->order[i];
        ld->order[i] = ld->order[j];
        ld->order[j] = t;
    }
}

/* Convert image `src` (planar RGB bytes) into image slot `i` of the batch,
 * cropped at offset (ox, oy) in the zero-padded image and optionally
 * mirrored left-right. Without a crop, ox = oy = LOADER_PAD. */
static void loader_convert(cz_batch *b, int i, const uint8_t *src, int side,
                           int ox, int oy, int flip)
{
    size_t plane = (size_t)side * side;
    float *y = b->y + (size_t)i * plane;
    float *u = b->uv + (size_t)i * 2 * plane, *v = u + plane;
    int32_t *bu = b->bins + (size_t)i * 2 * plane, *bv = bu + plane;
    for (int r = 0; r < side; r++) {
        int sr = r + oy - LOADER_PAD;
        for (int c = 0; c < side; c++) {
            int sc = (flip ? side - 1 - c : c) + ox - LOADER_PAD;
            float R = 0, G = 0, B = 0; /* the padding is black */
            if (sr >= 0 && sr < side && sc >= 0 && sc < side) {
                size_t k = (size_t)sr * side + sc;
                R = src[k] / 255.0f; /* SPEC §1: value / 255, divided exactly */
                G = src[plane + k] / 255.0f;
                B = src[2 * plane + k] / 255.0f;
            }
            size_t o = (size_t)r * side + c;
            cz_rgb_to_yuv(R, G, B, &y[o], &u[o], &v[o]);
            bu[o] = cz_chroma_bin(u[o], CZ_U_MAX);
            bv[o] = cz_chroma_bin(v[o], CZ_V_MAX);
        }
    }
}

/* Prepare batch `index` of `epoch` into b; touches no shared state other
 * than the (read-only while busy) order and dataset. */
static void loader_produce(const cz_loader *ld, int epoch, int index, cz_batch *b)
{
    const cz_dataset *ds = ld->ds;
    int side = ds->side, first = index * ld->opts.batch;
    int n = ld->count - first < ld->opts.batch ? ld->count - first : ld->opts.batch;
    size_t image_bytes = (size_t)3 * side * side;
    cz_rng rng = {loader_mix(loader_mix(loader_mix(ld->opts.seed, LOADER_STREAM_AUG),
                                        (uint64_t)epoch), (uint64_t)index)};
    b->n = n;
    b->side = side;
    for (int i = 0; i < n; i++) {
        int k = ld->order[first + i];
        /* Draws happen in a fixed order, only for enabled augmentations. */
        int flip = ld->opts.flip ? cz_rng_uniform(&rng) < 0.5f : 0;
        int ox = LOADER_PAD, oy = LOADER_PAD;
        if (ld->opts.crop) {
            ox = (int)(cz_rng_next(&rng) % (2 * LOADER_PAD + 1));
            oy = (int)(cz_rng_next(&rng) % (2 * LOADER_PAD + 1));
        }
        loader_convert(b, i, ds->pixels + (size_t)k * image_bytes, side, ox, oy, flip);
        b->labels[i] = ds->labels ? ds->labels[k] : 255;
        b->indices[i] = k;
    }
}

static void *loader_worker(void *arg)
{
    cz_loader *ld = arg;
    pthread_mutex_lock(&ld->mutex);
    while (!ld->quit) {
        int p = ld->next_produce;
        loader_slot *s = &ld->slot[p % 2];
        if (!ld->started || p >= ld->n_batches || s->state != LOADER_SLOT_EMPTY) {
            pthread_cond_wait(&ld->cond, &ld->mutex);
            continue;
        }
        int epoch = ld->epoch;
        ld->next_produce++;
        s->state = LOADER_SLOT_FILLING;
        ld->busy = 1;
        pthread_mutex_unlock(&ld->mutex);
        loader_produce(ld, epoch, p, &s->batch);
        pthread_mutex_lock(&ld->mutex);
        s->state = LOADER_SLOT_READY;
        s->index = p;
        ld->busy = 0;
        pthread_cond_broadcast(&ld->cond);
    }
    pthread_mutex_unlock(&ld->mutex);
    return NULL;
}

static void loader_free_batch(cz_batch *b)
{
    free(b->y);
    free(b->uv);
    free(b->bins);
    free(b->labels);
    free(b->indices);
}

/* Free the memory of a loader whose thread is not running. */
static void loader_release(cz_loader *ld)
{
    loader_free_batch(&ld->slot[0].batch);
    loader_free_batch(&ld->slot[1].batch);
    free(ld->order);
    free(ld->indices);
    free(ld);
}

static int loader_alloc_batch(cz_batch *b, int n, int side)
{
    size_t plane = (size_t)side * side;
    b->y = cz_alloc_aligned((size_t)n, plane * sizeof(float), "batch Y");
    b->uv = b->y ? cz_alloc_aligned((size_t)n, 2 * plane * sizeof(float), "batch UV") : NULL;
    b->bins = b->uv ? cz_alloc_aligned((size_t)n, 2 * plane * sizeof(int32_t), "batch bins") : NULL;
    b->labels = b->bins ? cz_alloc((size_t)n, 1, "batch labels") : NULL;
    b->indices = b->labels ? cz_alloc((size_t)n, sizeof(int), "batch indices") : NULL;
    return b->indices != NULL;
}

cz_loader *cz_loader_create(const cz_dataset *ds, const int *indices, int count,
                            const cz_loader_opts *opts)
{
    if (!ds || !ds->pixels || !opts || !indices) {
        cz_fail(CZ_ERR_ARG, "cz_loader_create: missing dataset, indices or options");
        return NULL;
    }
    if (count <= 0 || opts->batch <= 0 || ds->side <= 0 || ds->side > 4096) {
        cz_fail(CZ_ERR_ARG, "loader: need images (%d), a batch size (%d) and a side (%d) "
                "that are positive", count, opts->batch, ds->side);
        return NULL;
    }
    if (opts->drop_last && count < opts->batch) {
        cz_fail(CZ_ERR_ARG, "loader: batch size %d exceeds the %d images and the last "
                "incomplete batch is dropped: an epoch would be empty; use a smaller --batch",
                opts->batch, count);
        return NULL;
    }
    for (int i = 0; i < count; i++)
        if (indices[i] < 0 || indices[i] >= ds->count) {
            cz_fail(CZ_ERR_ARG, "loader: index %d at position %d is outside the dataset "
                    "(%d images)", indices[i], i, ds->count);
            return NULL;
        }
    cz_loader *ld = cz_alloc(1, sizeof *ld, "loader");
    if (!ld)
        return NULL;
    ld->ds = ds;
    ld->opts = *opts;
    ld->count = count;
    ld->held = -1;
    ld->n_batches = opts->drop_last ? count / opts->batch : (count + opts->batch - 1) / opts->batch;
    int bn = opts->batch < count ? opts->batch : count;
    ld->indices = cz_alloc((size_t)count, sizeof(int), "loader indices");
    ld->order = ld->indices ? cz_alloc((size_t)count, sizeof(int), "loader order") : NULL;
    if (!ld->order || !loader_alloc_batch(&ld->slot[0].batch, bn, ds->side) ||
        !loader_alloc_batch(&ld->slot[1].batch, bn, ds->side)) {
        loader_release(ld); /* cz_alloc has recorded the reason */
        return NULL;
    }
    memcpy(ld->indices, indices, (size_t)count * sizeof(int));
    int err = pthread_mutex_init(&ld->mutex, NULL);
    if (!err) {
        err = pthread_cond_init(&ld->cond, NULL);
        if (!err) {
            err = pthread_create(&ld->thread, NULL, loader_worker, ld);
            if (err)
                pthread_cond_destroy(&ld->cond);
        }
        if (err)
            pthread_mutex_destroy(&ld->mutex);
    }
    if (err) {
        cz_fail(CZ_ERR_NOMEM, "loader: cannot start its thread: %s", strerror(err));
        loader_release(ld);
        return NULL;
    }
    return ld;
}

void cz_loader_free(cz_loader *ld)
{
    if (!ld)
        return;
    pthread_mutex_lock(&ld->mutex);
    ld->quit = 1;
    pthread_cond_broadcast(&ld->cond);
    pthread_mutex_unlock(&ld->mutex);
    pthread_join(ld->thread, NULL);
    pthread_cond_destroy(&ld->cond);
    pthread_mutex_destroy(&ld->mutex);
    loader_release(ld);
}

int cz_loader_batches(const cz_loader *ld)
{
    return ld ? ld->n_batches : 0;
}

cz_status cz_loader_start(cz_loader *ld, int epoch, int first_batch)
{
    if (!ld)
        return cz_fail(CZ_ERR_ARG, "cz_loader_start: no loader");
    if (epoch < 0 || first_batch < 0 || first_batch > ld->n_batches)
        return cz_fail(CZ_ERR_ARG, "loader: cannot start epoch %d at batch %d (an epoch has "
                       "%d batches)", epoch, first_batch, ld->n_batches);
    pthread_mutex_lock(&ld->mutex);
    /* Wait out a batch in preparation: it may read the old order. */
    while (ld->busy)
        pthread_cond_wait(&ld->cond, &ld->mutex);
    loader_fill_order(ld, epoch);
    ld->epoch = epoch;
    ld->started = 1;
    ld->next_produce = ld->next_consume = first_batch;
    ld->held = -1;
    ld->slot[0].state = ld->slot[1].state = LOADER_SLOT_EMPTY;
    pthread_cond_broadcast(&ld->cond);
    pthread_mutex_unlock(&ld->mutex);
    return CZ_OK;
}

const cz_batch *cz_loader_next(cz_loader *ld)
{
    if (!ld)
        return NULL;
    pthread_mutex_lock(&ld->mutex);
    if (ld->held >= 0) { /* the previous batch is given back */
        ld->slot[ld->held].state = LOADER_SLOT_EMPTY;
        ld->held = -1;
        pthread_cond_broadcast(&ld->cond);
    }
    if (!ld->started || ld->next_consume >= ld->n_batches) {
        pthread_mutex_unlock(&ld->mutex);
        return NULL;
    }
    int c = ld->next_consume++;
    loader_slot *s = &ld->slot[c % 2];
    while (!(s->state == LOADER_SLOT_READY && s->index == c))
        pthread_cond_wait(&ld->cond, &ld->mutex);
    s->state = LOADER_SLOT_HELD;
    ld->held = c % 2;
    pthread_mutex_unlock(&ld->mutex);
    return &s->batch;
}
