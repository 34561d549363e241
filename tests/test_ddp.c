/* The data-parallel collectives. Run alone it checks the world of one; under
 * `mpirun -np 2` (CTest test_ddp_mpi) it checks the mean, the sum and the
 * broadcast across ranks. */
#include <string.h>

#include "ddp.h"
#include "test.h"

int main(void)
{
    cz_ddp d;
    CHECK(cz_ddp_init(&d, -1) == CZ_OK);
    CHECK(d.size >= 1 && d.rank >= 0 && d.rank < d.size);
    CHECK(cz_ddp_launched() == (d.size > 1 || cz_ddp_launched()));
    enum { N = 1000 };
    static float g[N];
    for (int i = 0; i < N; i++)
        g[i] = (float)(d.rank + 1) * (float)i;
    CHECK(cz_ddp_allreduce_mean(&d, g, N) == CZ_OK);
    /* mean over ranks of (r + 1) * i = i * (size + 1) / 2 */
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += g[i] != (float)i * (float)(d.size + 1) / 2.0f;
    CHECK(bad == 0);
    double s[2] = {1.0, (double)d.rank};
    CHECK(cz_ddp_allreduce_sum_f64(&d, s, 2) == CZ_OK);
    CHECK(s[0] == (double)d.size && s[1] == (double)d.size * (d.size - 1) / 2);
    char word[8];
    snprintf(word, sizeof word, "rank%d", d.rank);
    CHECK(cz_ddp_broadcast(&d, word, sizeof word, 0) == CZ_OK);
    CHECK(strcmp(word, "rank0") == 0);
    CHECK(cz_ddp_barrier(&d) == CZ_OK);
    if (!cz_ddp_available())
        CHECK(cz_ddp_init(&d, 1) != CZ_OK); /* asking for MPI without it is refused */
    if (d.size > 1)
        printf("rank %d of %d\n", d.rank, d.size);
    cz_ddp_finalize(&d);
    TEST_END();
}
