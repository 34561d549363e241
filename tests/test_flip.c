/* Test-time flip averaging (cz_model.flip_average): the output is the mean
 * of the net's output on y and the mirrored output on mirrored y, so it is
 * mirror-equivariant, which the plain net is not. */
#include <math.h>
#include <stdlib.h>

#include "model.h"
#include "test.h"

enum { N = 2, S = 16, C = 40 };

static void mirror(const float *src, float *dst, int planes)
{
    for (int r = 0; r < planes * S; r++)
        for (int x = 0; x < S; x++)
            dst[r * S + x] = src[r * S + S - 1 - x];
}

int main(void)
{
    static float y[N * S * S], ym[N * S * S], a[N * C * S * S], b[N * C * S * S], t[N * C * S * S];
    for (int i = 0; i < N * S * S; i++)
        y[i] = (float)((i * 37 % 101) / 100.0);
    mirror(y, ym, N);
    cz_model m;
    CHECK(cz_model_init(&m, CZ_ARCH_UNET, CZ_HEAD_CLS, 4, S, 3) == CZ_OK);
    const cz_decode d = {CZ_DECODE_MEAN, CZ_DEFAULT_TEMPERATURE};
    const float *out;
    /* plain: a = net(y), b = net(mirror y) */
    CHECK(cz_model_predict(&m, y, N, S, S, d, NULL, &out) == CZ_OK);
    for (int i = 0; i < N * C * S * S; i++)
        a[i] = out[i];
    CHECK(cz_model_predict(&m, ym, N, S, S, d, NULL, &out) == CZ_OK);
    for (int i = 0; i < N * C * S * S; i++)
        b[i] = out[i];
    mirror(b, t, N * C);
    double plain_gap = 0;
    for (int i = 0; i < N * C * S * S; i++)
        plain_gap = fmax(plain_gap, fabs(a[i] - t[i]));
    CHECK(plain_gap > 1e-3); /* the untrained net is not mirror-symmetric */
    /* averaged: (a + mirror b) / 2, and mirror-equivariant */
    m.flip_average = 1;
    CHECK(cz_model_predict(&m, y, N, S, S, d, NULL, &out) == CZ_OK);
    double worst = 0;
    for (int i = 0; i < N * C * S * S; i++)
        worst = fmax(worst, fabs(out[i] - 0.5 * (a[i] + t[i])));
    CHECK_CLOSE(worst, 0, 1e-6, 0);
    for (int i = 0; i < N * C * S * S; i++)
        a[i] = out[i];
    CHECK(cz_model_predict(&m, ym, N, S, S, d, NULL, &out) == CZ_OK);
    mirror(out, t, N * C);
    worst = 0;
    for (int i = 0; i < N * C * S * S; i++)
        worst = fmax(worst, fabs(a[i] - t[i]));
    CHECK_CLOSE(worst, 0, 1e-6, 0);
    cz_model_free(&m);
    TEST_END();
}
