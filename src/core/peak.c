/* FMA peak probe: independent accumulator chains that never touch memory,
 * enough of them to cover the FMA latency on every port (Zen 3/4: 2 ports,
 * 4 cycles; Intel: 2 ports, 4 cycles), so the loop runs at the issue rate. */
#include <immintrin.h>
#include <omp.h>

#include "peak.h"
#include "util.h"

#define CHAINS 12
/* Unrolled, the chains live in registers; rolled, GCC at -O2 keeps them in
 * a stack array and the probe measures store-forwarding latency instead
 * (a third of the real peak). */
#define PEAK_UNROLL _Pragma("GCC unroll 12")

__attribute__((target("avx2,fma"))) static float chains_avx2(long iters)
{
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
        PEAK_UNROLL
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm256_add_ps(s, acc[i]);
    float f[8];
    _mm256_storeu_ps(f, s);
    return f[0] + f[7];
}

__attribute__((target("avx512f"))) static float chains_avx512(long iters)
{
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
        PEAK_UNROLL
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

/* bf16 dot products (vdpbf16ps): each does 32 bf16 products summed into 16
 * fp32 lanes, 64 FLOP, the work of a bf16 convolution's inner loop. */
__attribute__((target("avx512f,avx512bf16"))) static float chains_avx512_bf16(long iters)
{
    __m512 acc[CHAINS];
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.5f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-7f), _mm512_set1_ps(1e-7f));
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
        PEAK_UNROLL
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

static float chains_scalar(long iters)
{
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        acc[i] = (float)i;
    for (long n = 0; n < iters; n++)
        PEAK_UNROLL
        for (int i = 0; i < CHAINS; i++)
            acc[i] = acc[i] * 0.999999f + 1e-7f;
    float s = 0;
    for (int i = 0; i < CHAINS; i++)
        s += acc[i];
    return s;
}

static volatile float sink; /* keeps the chains from being optimised away */

/* GFLOP/s of one kernel on `threads` threads: iterations grow until a run
 * lasts `seconds`, then the best of three. */
static double measure(float (*kernel)(long), int lanes, int threads, double seconds)
{
    long iters = 1 << 14;
    double best = 0;
    for (int round = 0; round < 40; round++) {
        double t0 = cz_now();
#pragma omp parallel num_threads(threads)
        {
            float r = kernel(iters);
#pragma omp critical
            sink += r;
        }
        double dt = cz_now() - t0;
        if (dt < seconds / 3) {
            iters *= 2;
            continue;
        }
        double g = 2.0 * lanes * CHAINS * (double)iters * threads / dt / 1e9; /* lanes: products per instruction */
        if (g > best)
            best = g;
        if (round > 2 && dt >= seconds / 3)
            break;
    }
    return best;
}

int cz_peak_measure(cz_peak *out, int max, int threads, double seconds)
{
    if (threads <= 0)
        threads = omp_get_max_threads();
    int n = 0;
    __builtin_cpu_init();
    if (n < max && __builtin_cpu_supports("avx512f"))
        out[n++] = (cz_peak){"avx512", threads, measure(chains_avx512, 16, threads, seconds)};
    if (n < max && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        out[n++] = (cz_peak){"avx2", threads, measure(chains_avx2, 8, threads, seconds)};
    if (n < max)
        out[n++] = (cz_peak){"scalar", threads, measure(chains_scalar, 1, threads, seconds)};
    return n;
}

double cz_peak_measure_bf16(int threads, double seconds)
{
    if (threads <= 0)
        threads = omp_get_max_threads();
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16"))
        return 0;
    return measure(chains_avx512_bf16, 32, threads, seconds);
}
