/* The machine's fp32 FMA peak, measured: register-only chains of fused
 * multiply-adds per instruction set, on every thread at once. It is the
 * ceiling that engine throughput is read against (docs/engine.md). */
#ifndef CZ_PEAK_H
#define CZ_PEAK_H

typedef struct cz_peak {
    const char *isa;  /* "avx512", "avx2" or "scalar" */
    int threads;
    double gflops;    /* fp32 GFLOP/s over all threads (an FMA counts 2) */
} cz_peak;

/* Measure each instruction set the CPU has (widest first) for about
 * `seconds` each on `threads` threads (0 = every OpenMP thread); fills up to
 * max entries and returns how many. */
int cz_peak_measure(cz_peak *out, int max, int threads, double seconds);
/* The bf16 dot-product peak (AVX512_BF16's vdpbf16ps: a product and its sum
 * count 2), GFLOP/s over `threads` threads; 0 where the CPU lacks it. */
double cz_peak_measure_bf16(int threads, double seconds);

#endif
