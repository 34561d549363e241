/* The project's RNG (splitmix64) and the train/validation/test splits of
 * SPEC §2. The seeded protocol must match the specification bit for bit:
 * other implementations compare numbers on the same test images. */
#include <stdlib.h>
#include <string.h>

#include "colorize/dataset.h"
#include "util.h"

uint64_t cz_rng_next(cz_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float cz_rng_uniform(cz_rng *r)
{
    /* The top 24 bits fill a float's mantissa exactly, so the result is a
     * multiple of 2^-24 and never rounds up to 1. */
    return (float)(cz_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

void cz_split_free(cz_split *s)
{
    if (!s)
        return;
    free(s->train);
    free(s->val);
    free(s->test);
    memset(s, 0, sizeof *s);
}

cz_status cz_split_parse(const char *text, cz_split_kind *out)
{
    if (text && strcmp(text, "seeded") == 0)
        *out = CZ_SPLIT_SEEDED;
    else if (text && strcmp(text, "official") == 0)
        *out = CZ_SPLIT_OFFICIAL;
    else
        return cz_fail(CZ_ERR_ARG, "unknown split '%s' (use 'seeded' or 'official')",
                       text ? text : "(null)");
    return CZ_OK;
}

/* Copy a[0..n) into a fresh array of n ints. */
static int *split_take(const int *a, int n, const char *what)
{
    int *p = cz_alloc((size_t)n, sizeof *p, what);
    if (p && n)
        memcpy(p, a, (size_t)n * sizeof *p);
    return p;
}

cz_status cz_split_make(cz_split_kind kind, uint64_t seed, int pool, cz_split *out)
{
    memset(out, 0, sizeof *out);
    if (pool <= 0)
        return cz_fail(CZ_ERR_ARG, "cannot split an empty dataset (%d images)", pool);
    if (kind != CZ_SPLIT_SEEDED && kind != CZ_SPLIT_OFFICIAL)
        return cz_fail(CZ_ERR_ARG, "unknown split kind %d", (int)kind);
    if (kind == CZ_SPLIT_OFFICIAL && pool != CZ_CIFAR_POOL)
        return cz_fail(CZ_ERR_ARG, "the official split exists only for CIFAR-10's %d images, "
                       "not %d; use the seeded split", CZ_CIFAR_POOL, pool);
    int *a = cz_alloc((size_t)pool, sizeof *a, "split indices");
    if (!a)
        return CZ_ERR_NOMEM;
    for (int i = 0; i < pool; i++)
        a[i] = i;

    int n_train, n_val;
    if (kind == CZ_SPLIT_OFFICIAL) {
        /* Official order: the last 5,000 training images are held out. */
        n_train = CZ_CIFAR_TRAIN - 5000;
        n_val = 5000;
    } else {
        cz_rng rng = {seed};
        for (int i = pool - 1; i >= 1; i--) {
            int j = (int)(cz_rng_next(&rng) % (uint64_t)(i + 1));
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        if (pool == CZ_CIFAR_POOL) {
            n_train = CZ_CIFAR_TRAIN;
            n_val = 5000;
        } else {
            /* 5 % each for validation and test (at least one image each
             * when there are three or more), the rest for training. */
            n_val = pool / 20;
            if (n_val == 0 && pool >= 3)
                n_val = 1;
            n_train = pool - 2 * n_val;
        }
    }
    out->n_train = n_train;
    out->n_val = n_val;
    out->n_test = pool - n_train - n_val;
    out->train = split_take(a, out->n_train, "train split");
    out->val = split_take(a + n_train, out->n_val, "validation split");
    out->test = split_take(a + n_train + n_val, out->n_test, "test split");
    free(a);
    if (!out->train || !out->val || !out->test) {
        cz_split_free(out);
        return CZ_ERR_NOMEM;
    }
    return CZ_OK;
}
