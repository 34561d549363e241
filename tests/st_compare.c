/* st_compare A B RTOL: do two safetensors files hold the same tensors (names,
 * dtypes, shapes) with close values? Each F32 tensor must have
 * |a - b| / |b| <= RTOL (2-norms; |a - b| <= RTOL when b is zero); I64
 * tensors must be equal. BatchNorm running statistics (names holding
 * "running_") are checked for shape and finiteness only: a data-parallel run
 * keeps rank 0's, which saw fewer batches than one process accumulating the
 * same micro-batches. Prints the worst tensor; exit 0 when all pass, 1 when
 * not, 2 on bad arguments or unreadable files. Used by test_ddp_train.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/safetensors.h"

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* ||a - b|| / ||b|| (absolute when b is zero). */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e;
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

static int compare_tensor(const cz_st_tensor *ta, const cz_st_tensor *tb, double rtol, double *worst,
                          const char **worst_name)
{
    if (ta->dtype != tb->dtype || ta->ndim != tb->ndim || memcmp(ta->shape, tb->shape, sizeof ta->shape) != 0) {
        fprintf(stderr, "st_compare: %s: dtype or shape differs\n", ta->name);
        return 1;
    }
    if (ta->dtype == CZ_ST_I64) {
        if (memcmp(ta->data, tb->data, ta->nbytes) != 0) {
            fprintf(stderr, "st_compare: %s: integer values differ\n", ta->name);
            return 1;
        }
        return 0;
    }
    float *a = malloc(ta->nbytes ? ta->nbytes : 1), *b = malloc(tb->nbytes ? tb->nbytes : 1);
    int bad = 1;
    if (!a || !b) {
        fprintf(stderr, "st_compare: out of memory for %s\n", ta->name);
        goto done;
    }
    if (cz_st_copy_f32(ta, a) || cz_st_copy_f32(tb, b)) {
        fprintf(stderr, "st_compare: %s: %s\n", ta->name, cz_last_error());
        goto done;
    }
    if (!all_finite(a, ta->numel) || !all_finite(b, tb->numel)) {
        fprintf(stderr, "st_compare: %s: not finite\n", ta->name);
        goto done;
    }
    bad = 0;
    if (strstr(ta->name, "running_"))
        goto done;
    double r = rel_diff(a, b, ta->numel);
    if (r > *worst) {
        *worst = r;
        *worst_name = ta->name;
    }
    if (!(r <= rtol)) {
        fprintf(stderr, "st_compare: %s: relative difference %.3g > %.3g\n", ta->name, r, rtol);
        bad = 1;
    }
done:
    free(a);
    free(b);
    return bad;
}

int main(int argc, char **argv)
{
    char *end;
    double rtol = argc == 4 ? strtod(argv[3], &end) : 0;
    if (argc != 4 || end == argv[3] || *end || !(rtol >= 0)) {
        fprintf(stderr, "usage: st_compare A.safetensors B.safetensors RTOL\n");
        return 2;
    }
    cz_st_file *fa = NULL, *fb = NULL;
    if (cz_st_open(&fa, argv[1]) || cz_st_open(&fb, argv[2])) {
        fprintf(stderr, "st_compare: %s\n", cz_last_error());
        cz_st_close(fa);
        return 2;
    }
    int bad = 0, compared = 0;
    if (cz_st_count(fa) != cz_st_count(fb)) {
        fprintf(stderr, "st_compare: %d tensors in %s, %d in %s\n", cz_st_count(fa), argv[1], cz_st_count(fb),
                argv[2]);
        bad = 1;
    }
    double worst = 0;
    const char *worst_name = "(none)";
    for (int i = 0; i < cz_st_count(fa); i++) {
        const cz_st_tensor *ta = cz_st_at(fa, i), *tb = cz_st_find(fb, ta->name);
        if (!tb) {
            fprintf(stderr, "st_compare: %s is missing from %s\n", ta->name, argv[2]);
            bad = 1;
            continue;
        }
        bad |= compare_tensor(ta, tb, rtol, &worst, &worst_name);
        compared++;
    }
    printf("st_compare: %d tensors, worst relative difference %.3g (%s), tolerance %.3g: %s\n", compared, worst,
           worst_name, rtol, bad ? "FAIL" : "ok");
    cz_st_close(fa);
    cz_st_close(fb);
    return bad;
}
