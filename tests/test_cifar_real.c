/* On the real CIFAR-10 (skipped when absent): the files verify, and the
 * data-only reference points of SPEC §2 on the seed-0 test split come out
 * through cz_cifar_load, cz_split_make and the loader. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colorize/colorspace.h"
#include "colorize/dataset.h"
#include "test.h"

/* Mean over pixels of (U - mu)^2 + (V - mv)^2 and of the bin-centre
 * quantisation error, over the images `idx`; also returns mean U, V. */
static void chroma_stats(const cz_dataset *ds, const int *idx, int n, double mu, double mv,
                         double *mse, double *quant, double *mean_u, double *mean_v)
{
    cz_loader_opts o = {.batch = 1000};
    cz_loader *ld = cz_loader_create(ds, idx, n, &o);
    CHECK(ld != NULL);
    if (!ld)
        return;
    double se = 0, qe = 0, su = 0, sv = 0;
    long count = 0;
    const cz_batch *b;
    CHECK(cz_loader_start(ld, 0, 0) == CZ_OK);
    while ((b = cz_loader_next(ld))) {
        int plane = b->side * b->side;
        for (int i = 0; i < b->n; i++)
            for (int p = 0; p < plane; p++) {
                double u = b->uv[(size_t)i * 2 * plane + p];
                double v = b->uv[(size_t)i * 2 * plane + plane + p];
                double qu = cz_bin_center(b->bins[(size_t)i * 2 * plane + p], CZ_U_MAX);
                double qv = cz_bin_center(b->bins[(size_t)i * 2 * plane + plane + p], CZ_V_MAX);
                se += (u - mu) * (u - mu) + (v - mv) * (v - mv);
                qe += (u - qu) * (u - qu) + (v - qv) * (v - qv);
                su += u;
                sv += v;
                count++;
            }
    }
    cz_loader_free(ld);
    *mse = se / count;
    *quant = qe / count;
    *mean_u = su / count;
    *mean_v = sv / count;
}

int main(void)
{
    char dir[4096];
    const char *env = getenv("COLORIZE_DATA"), *src = getenv("COLORIZE_SOURCE_DIR");
    if (env && env[0])
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "%s/data/cifar-10-batches-bin", src ? src : ".");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/test_batch.bin", dir);
    if (access(probe, R_OK) != 0) {
        printf("no CIFAR-10 in %s (run `colorize data fetch` there)\n", dir);
        TEST_SKIP("real CIFAR-10 not present");
    }
    CHECK(cz_cifar_verify(dir, NULL) == CZ_OK);
    cz_dataset ds;
    CHECK(cz_cifar_load(dir, &ds) == CZ_OK);
    if (ds.count != CZ_CIFAR_POOL)
        TEST_END();
    CHECK(ds.labels[0] == 6 && ds.labels[CZ_CIFAR_TRAIN] == 3); /* frog; test starts with cat */
    cz_split s;
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 0, ds.count, &s) == CZ_OK);
    double mse, quant, mu, mv, unused_u, unused_v;
    chroma_stats(&ds, s.train, s.n_train, 0, 0, &mse, &quant, &mu, &mv);
    chroma_stats(&ds, s.test, s.n_test, 0, 0, &mse, &quant, &unused_u, &unused_v);
    CHECK_CLOSE(mse, 0.007916, 5e-7, 0);   /* grey predictor */
    CHECK_CLOSE(quant, 0.000546, 5e-7, 0); /* 20-bin ground truth */
    chroma_stats(&ds, s.test, s.n_test, mu, mv, &mse, &quant, &unused_u, &unused_v);
    CHECK_CLOSE(mse, 0.007557, 5e-7, 0);   /* training-mean predictor */
    cz_split_free(&s);
    cz_dataset_free(&ds);
    TEST_END();
}
