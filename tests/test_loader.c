/* The batch loader on a synthetic dataset: conversion to Y/UV/bins, flips,
 * zero-padded crops, determinism, mid-epoch resume and epoch coverage. */
#include <stdlib.h>
#include <string.h>

#include "colorize/colorspace.h"
#include "colorize/dataset.h"
#include "test.h"

#define SIDE 8
#define COUNT 37
#define PLANE (SIDE * SIDE)

static cz_dataset make_dataset(void)
{
    cz_dataset ds = {COUNT, SIDE, malloc((size_t)COUNT * 3 * PLANE), malloc(COUNT)};
    if (!ds.pixels || !ds.labels)
        exit(1);
    cz_rng r = {99};
    for (int i = 0; i < COUNT * 3 * PLANE; i++)
        ds.pixels[i] = (uint8_t)(cz_rng_next(&r) >> 56);
    for (int i = 0; i < COUNT; i++)
        ds.labels[i] = (uint8_t)(i % 10);
    return ds;
}

/* Expected Y, U, V of pixel (r, c) of image k after a crop at (ox, oy) of
 * the 4-pixel zero-padded image and an optional mirror. */
static void expect(const cz_dataset *ds, int k, int r, int c, int ox, int oy, int flip,
                   float *y, float *u, float *v)
{
    int sr = r + oy - 4, sc = (flip ? SIDE - 1 - c : c) + ox - 4;
    float R = 0, G = 0, B = 0;
    if (sr >= 0 && sr < SIDE && sc >= 0 && sc < SIDE) {
        const uint8_t *p = ds->pixels + (size_t)k * 3 * PLANE + sr * SIDE + sc;
        R = p[0] / 255.0f;
        G = p[PLANE] / 255.0f;
        B = p[2 * PLANE] / 255.0f;
    }
    cz_rgb_to_yuv(R, G, B, y, u, v);
}

/* Does image i of batch b equal image k under (ox, oy, flip), bins included? */
static int matches(const cz_dataset *ds, const cz_batch *b, int i, int k, int ox, int oy, int flip)
{
    for (int r = 0; r < SIDE; r++)
        for (int c = 0; c < SIDE; c++) {
            float y, u, v;
            int o = r * SIDE + c;
            expect(ds, k, r, c, ox, oy, flip, &y, &u, &v);
            const float *by = b->y + i * PLANE, *bu = b->uv + i * 2 * PLANE;
            const int32_t *bb = b->bins + i * 2 * PLANE;
            if (by[o] != y || bu[o] != u || bu[PLANE + o] != v ||
                bb[o] != cz_chroma_bin(u, CZ_U_MAX) || bb[PLANE + o] != cz_chroma_bin(v, CZ_V_MAX))
                return 0;
        }
    return 1;
}

/* A deep copy of a batch's contents, to compare batches across runs. */
typedef struct saved {
    int n;
    float y[COUNT * PLANE], uv[COUNT * 2 * PLANE];
    int32_t bins[COUNT * 2 * PLANE];
    int indices[COUNT];
} saved;

static void save(saved *s, const cz_batch *b)
{
    memset(s, 0, sizeof *s);
    s->n = b->n;
    memcpy(s->y, b->y, (size_t)b->n * PLANE * sizeof(float));
    memcpy(s->uv, b->uv, (size_t)b->n * 2 * PLANE * sizeof(float));
    memcpy(s->bins, b->bins, (size_t)b->n * 2 * PLANE * sizeof(int32_t));
    memcpy(s->indices, b->indices, (size_t)b->n * sizeof(int));
}

static int same(const saved *a, const saved *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Run a whole epoch into out[] (at most 8 batches); returns the count. */
static int run_epoch(cz_loader *ld, int epoch, saved *out)
{
    if (cz_loader_start(ld, epoch, 0) != CZ_OK)
        return -1;
    int n = 0;
    const cz_batch *b;
    while ((b = cz_loader_next(ld)) && n < 8)
        save(&out[n++], b);
    return n;
}

int main(void)
{
    cz_dataset ds = make_dataset();
    int all[COUNT];
    for (int i = 0; i < COUNT; i++)
        all[i] = i;
    static saved ep_a[8], ep_b[8], ep_c[8];

    /* Plain: order as given, values exactly those of cz_rgb_to_yuv. */
    cz_loader_opts plain = {.batch = 8, .seed = 5};
    cz_loader *ld = cz_loader_create(&ds, all, COUNT, &plain);
    CHECK(ld != NULL);
    CHECK(cz_loader_batches(ld) == 5);
    CHECK(cz_loader_next(ld) == NULL); /* not started */
    CHECK(cz_loader_start(ld, 0, 0) == CZ_OK);
    int seen = 0, batches = 0;
    const cz_batch *b;
    while ((b = cz_loader_next(ld))) {
        CHECK(b->side == SIDE);
        CHECK(b->n == (batches < 4 ? 8 : 5));
        for (int i = 0; i < b->n; i++) {
            CHECK(b->indices[i] == seen);
            CHECK(b->labels[i] == seen % 10);
            CHECK(matches(&ds, b, i, seen, 4, 4, 0));
            seen++;
        }
        batches++;
    }
    CHECK(seen == COUNT && batches == 5);
    CHECK(cz_loader_next(ld) == NULL); /* stays at the end */
    CHECK(cz_loader_start(ld, 0, 5) == CZ_OK && cz_loader_next(ld) == NULL);
    CHECK(cz_loader_start(ld, 0, 6) == CZ_ERR_ARG);
    CHECK(cz_loader_start(ld, -1, 0) == CZ_ERR_ARG);
    cz_loader_free(ld);

    /* drop_last drops the incomplete batch. */
    cz_loader_opts drop = plain;
    drop.drop_last = 1;
    ld = cz_loader_create(&ds, all, COUNT, &drop);
    CHECK(ld && cz_loader_batches(ld) == 4);
    cz_loader_free(ld);

    /* Flip only: each image is the original or its mirror, both occur. */
    cz_loader_opts fl = plain;
    fl.flip = 1;
    ld = cz_loader_create(&ds, all, COUNT, &fl);
    int flipped = 0, kept = 0, neither = 0;
    for (int epoch = 0; epoch < 3; epoch++) {
        CHECK(cz_loader_start(ld, epoch, 0) == CZ_OK);
        while ((b = cz_loader_next(ld)))
            for (int i = 0; i < b->n; i++) {
                if (matches(&ds, b, i, b->indices[i], 4, 4, 1))
                    flipped++;
                else if (matches(&ds, b, i, b->indices[i], 4, 4, 0))
                    kept++;
                else
                    neither++;
            }
    }
    CHECK(neither == 0 && flipped > 20 && kept > 20);
    cz_loader_free(ld);

    /* Crop only: each image is a crop of the zero-padded original at some
     * offset in [0, 8]^2; offsets vary; shifted images show black borders. */
    cz_loader_opts cr = plain;
    cr.crop = 1;
    ld = cz_loader_create(&ds, all, COUNT, &cr);
    int found = 0, shifted = 0, offsets[9][9] = {{0}};
    CHECK(cz_loader_start(ld, 0, 0) == CZ_OK);
    while ((b = cz_loader_next(ld)))
        for (int i = 0; i < b->n; i++) {
            int hit = 0;
            for (int oy = 0; oy <= 8 && !hit; oy++)
                for (int ox = 0; ox <= 8 && !hit; ox++)
                    if (matches(&ds, b, i, b->indices[i], ox, oy, 0)) {
                        hit = 1;
                        offsets[oy][ox]++;
                        if (ox != 4 || oy != 4) {
                            shifted++;
                            /* A pixel from the padding: black, U = V = 0. */
                            int r = oy < 4 ? 0 : SIDE - 1, c = ox < 4 ? 0 : SIDE - 1;
                            if (oy == 4)
                                r = 0;
                            if (ox == 4)
                                c = 0;
                            int o = r * SIDE + c;
                            CHECK(b->y[i * PLANE + o] == 0.0f);
                            CHECK(b->uv[i * 2 * PLANE + o] == 0.0f);
                            CHECK(b->uv[i * 2 * PLANE + PLANE + o] == 0.0f);
                        }
                    }
            found += hit;
        }
    CHECK(found == COUNT);
    CHECK(shifted > COUNT / 2);
    int distinct = 0;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 9; x++)
            distinct += offsets[y][x] > 0;
    CHECK(distinct > 10);
    cz_loader_free(ld);

    /* Everything on: same seed -> same batches; another epoch or seed ->
     * another order; every index once per epoch. */
    cz_loader_opts full = {.batch = 8, .flip = 1, .crop = 1, .shuffle = 1, .seed = 42};
    cz_loader *l1 = cz_loader_create(&ds, all, COUNT, &full);
    cz_loader *l2 = cz_loader_create(&ds, all, COUNT, &full);
    CHECK(l1 && l2);
    CHECK(run_epoch(l1, 3, ep_a) == 5);
    CHECK(run_epoch(l2, 3, ep_b) == 5);
    int equal = 1;
    for (int k = 0; k < 5; k++)
        equal &= same(&ep_a[k], &ep_b[k]);
    CHECK(equal);
    int count[COUNT] = {0};
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < ep_a[k].n; i++)
            count[ep_a[k].indices[i]]++;
    int once = 1;
    for (int i = 0; i < COUNT; i++)
        once &= count[i] == 1;
    CHECK(once);
    CHECK(run_epoch(l2, 4, ep_c) == 5);
    CHECK(memcmp(ep_a[0].indices, ep_c[0].indices, sizeof ep_a[0].indices) != 0);

    /* Resume: start(epoch, k) gives batches k.. of the full epoch, also
     * when restarting a loader in the middle of an epoch. */
    for (int k = 0; k <= 4; k++) {
        CHECK(cz_loader_start(l2, 3, k) == CZ_OK);
        int j = k;
        while ((b = cz_loader_next(l2))) {
            saved s;
            save(&s, b);
            CHECK(j < 5 && same(&s, &ep_a[j]));
            j++;
            if (j == k + 2 && k == 1) /* abandon this epoch half-way */
                break;
        }
        CHECK(k == 1 ? j == 3 : j == 5);
    }
    cz_loader_free(l1);
    cz_loader_free(l2);

    /* A different seed changes the order. */
    full.seed = 43;
    l1 = cz_loader_create(&ds, all, COUNT, &full);
    CHECK(run_epoch(l1, 3, ep_b) == 5);
    CHECK(memcmp(ep_a[0].indices, ep_b[0].indices, sizeof ep_a[0].indices) != 0);
    cz_loader_free(l1);

    /* A subset of indices (odd ones, reversed): each exactly once. */
    int odd[COUNT / 2];
    for (int i = 0; i < COUNT / 2; i++)
        odd[i] = COUNT - 2 - 2 * i;
    full.batch = 5;
    l1 = cz_loader_create(&ds, odd, COUNT / 2, &full);
    CHECK(l1 && cz_loader_batches(l1) == 4);
    memset(count, 0, sizeof count);
    CHECK(cz_loader_start(l1, 0, 0) == CZ_OK);
    while ((b = cz_loader_next(l1)))
        for (int i = 0; i < b->n; i++)
            count[b->indices[i]]++;
    once = 1;
    for (int i = 0; i < COUNT; i++)
        once &= count[i] == (i % 2 == 1 && i < COUNT - 1);
    CHECK(once);
    /* Rapid restarts and freeing mid-epoch must not hang or race. */
    for (int e = 0; e < 50; e++) {
        CHECK(cz_loader_start(l1, e, e % 4) == CZ_OK);
        if (e % 3)
            CHECK(cz_loader_next(l1) != NULL);
    }
    cz_loader_free(l1);

    /* Bad arguments are errors with a reason, not crashes. */
    full.batch = 0;
    CHECK(cz_loader_create(&ds, all, COUNT, &full) == NULL);
    full.batch = 4;
    int bad[2] = {0, COUNT};
    CHECK(cz_loader_create(&ds, bad, 2, &full) == NULL);
    CHECK(strstr(cz_last_error(), "outside") != NULL);
    full.batch = 100;
    full.drop_last = 1;
    CHECK(cz_loader_create(&ds, all, COUNT, &full) == NULL);
    cz_loader_free(NULL);

    cz_dataset_free(&ds);
    TEST_END();
}
