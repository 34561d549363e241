/* The seeded split of SPEC §2 (published first indices for seed 0), the
 * partition property, the official split and the RNG helpers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/dataset.h"
#include "test.h"

/* Every index of 0..pool-1 appears exactly once over the three parts. */
static int is_partition(const cz_split *s, int pool)
{
    if (s->n_train + s->n_val + s->n_test != pool)
        return 0;
    unsigned char *seen = calloc((size_t)pool, 1);
    if (!seen)
        return 0;
    const int *parts[3] = {s->train, s->val, s->test};
    int sizes[3] = {s->n_train, s->n_val, s->n_test};
    int ok = 1;
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < sizes[p]; i++) {
            int k = parts[p][i];
            if (k < 0 || k >= pool || seen[k])
                ok = 0;
            else
                seen[k] = 1;
        }
    free(seen);
    return ok;
}

int main(void)
{
    /* splitmix64 from state 0: the first output is the well-known
     * 0xE220A8397B1DCDAF. */
    cz_rng r = {0};
    CHECK(cz_rng_next(&r) == 0xE220A8397B1DCDAFull);
    CHECK(r.state == 0x9E3779B97F4A7C15ull);

    cz_rng u = {12345};
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        float x = cz_rng_uniform(&u);
        CHECK(x >= 0.0f && x < 1.0f);
        sum += x;
    }
    CHECK_CLOSE(sum / 100000, 0.5, 0.01, 0);

    cz_split s;
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 0, CZ_CIFAR_POOL, &s) == CZ_OK);
    CHECK(s.n_train == 50000 && s.n_val == 5000 && s.n_test == 5000);
    static const int train0[5] = {17103, 3854, 34173, 44489, 57167};
    static const int val0[5] = {55250, 43144, 18793, 5952, 30963};
    static const int test0[5] = {22476, 1198, 935, 14813, 59976};
    CHECK(memcmp(s.train, train0, sizeof train0) == 0);
    CHECK(memcmp(s.val, val0, sizeof val0) == 0);
    CHECK(memcmp(s.test, test0, sizeof test0) == 0);
    CHECK(is_partition(&s, CZ_CIFAR_POOL));
    cz_split_free(&s);
    CHECK(s.train == NULL && s.n_train == 0);

    /* Another seed gives another order, still a partition. */
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 1, CZ_CIFAR_POOL, &s) == CZ_OK);
    CHECK(is_partition(&s, CZ_CIFAR_POOL));
    CHECK(memcmp(s.test, test0, sizeof test0) != 0);
    cz_split_free(&s);

    /* Official: 45k train, 5k validation (45,000..49,999), 10k test. */
    CHECK(cz_split_make(CZ_SPLIT_OFFICIAL, 0, CZ_CIFAR_POOL, &s) == CZ_OK);
    CHECK(s.n_train == 45000 && s.n_val == 5000 && s.n_test == 10000);
    CHECK(s.train[0] == 0 && s.train[44999] == 44999);
    CHECK(s.val[0] == 45000 && s.val[4999] == 49999);
    CHECK(s.test[0] == 50000 && s.test[9999] == 59999);
    CHECK(is_partition(&s, CZ_CIFAR_POOL));
    cz_split_free(&s);

    /* Other pool sizes: 90/5/5 %, a partition; official is refused. */
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 7, 1000, &s) == CZ_OK);
    CHECK(s.n_train == 900 && s.n_val == 50 && s.n_test == 50);
    CHECK(is_partition(&s, 1000));
    cz_split_free(&s);
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 7, 10, &s) == CZ_OK);
    CHECK(s.n_val == 1 && s.n_test == 1 && s.n_train == 8);
    CHECK(is_partition(&s, 10));
    cz_split_free(&s);
    CHECK(cz_split_make(CZ_SPLIT_OFFICIAL, 0, 1000, &s) == CZ_ERR_ARG);
    CHECK(strstr(cz_last_error(), "seeded") != NULL);
    CHECK(cz_split_make(CZ_SPLIT_SEEDED, 0, 0, &s) == CZ_ERR_ARG);

    cz_split_kind k;
    CHECK(cz_split_parse("seeded", &k) == CZ_OK && k == CZ_SPLIT_SEEDED);
    CHECK(cz_split_parse("official", &k) == CZ_OK && k == CZ_SPLIT_OFFICIAL);
    CHECK(cz_split_parse("random", &k) == CZ_ERR_ARG);
    CHECK(strstr(cz_last_error(), "random") != NULL);
    TEST_END();
}
