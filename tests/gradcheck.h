/* Helpers of the reference-operator tests (test_ref_ops.c,
 * test_ref_context.c): a seeded splitmix64, float buffers, and the central
 * finite-difference check of an analytic gradient (test_ref_ops.c says how
 * the tolerances are chosen). Include after test.h. */
#ifndef CZ_GRADCHECK_H
#define CZ_GRADCHECK_H

#include <stdint.h>

#include "test.h"

typedef struct rng { uint64_t state; } rng;

static inline uint64_t rng_next(rng *r) /* splitmix64 */
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline float rng_uniform(rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)((rng_next(r) >> 40) * (1.0 / 16777216.0));
}

static inline float *buf(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static inline float *rand_buf(rng *r, size_t n, float lo, float hi)
{
    float *p = buf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = rng_uniform(r, lo, hi);
    return p;
}

static inline float *fill_buf(size_t n, float v)
{
    float *p = buf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = v;
    return p;
}

static inline double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Compare analytic[i] - offset with the central difference of f in x[i]. */
static inline void gradcheck(const char *what, float *x, size_t n, const float *analytic, float offset,
                      loss_fn f, void *ctx, double eps, double atol, double rtol)
{
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const float x0 = x[i];
        x[i] = (float)(x0 + eps);
        const double xp = x[i], lp = f(ctx);
        x[i] = (float)(x0 - eps);
        const double xm = x[i], lm = f(ctx);
        x[i] = x0;
        const double num = (lp - lm) / (xp - xm);
        const double ana = (double)analytic[i] - offset;
        const double err = fabs(ana - num);
        if (err > worst)
            worst = err;
        if (!(err <= atol + rtol * fabs(num))) {
            if (bad < 5)
                fprintf(stderr, "%s[%zu]: analytic %.8g numeric %.8g\n", what, i, ana, num);
            bad++;
        }
    }
    test_checks++;
    if (bad) {
        test_failures++;
        fprintf(stderr, "gradcheck %s: %d of %zu elements off (worst abs err %.3g)\n", what, bad, n, worst);
    } else {
        printf("gradcheck %-28s ok (%zu elements, worst abs err %.2g)\n", what, n, worst);
    }
}

#endif
