/* bench/peak: print this machine's measured fp32 FMA peak per instruction
 * set, on one thread and on every thread. Usage: peak [SECONDS] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "peak.h"

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    if (seconds <= 0 || seconds > 60) {
        fprintf(stderr, "usage: peak [SECONDS per measurement, 0-60]\n");
        return 2;
    }
    int all = omp_get_max_threads();
    cz_peak one[3], every[3];
    int n = cz_peak_measure(one, 3, 1, seconds);
    cz_peak_measure(every, 3, all, seconds);
    printf("%-8s %16s %20s\n", "isa", "1 thread GFLOP/s", "all threads GFLOP/s");
    for (int i = 0; i < n; i++)
        printf("%-8s %16.1f %14.1f (%d)\n", one[i].isa, one[i].gflops, every[i].gflops, all);
    double b1 = cz_peak_measure_bf16(1, seconds);
    if (b1 > 0)
        printf("%-8s %16.1f %14.1f (%d)   (bf16 dot products into fp32)\n", "bf16", b1,
               cz_peak_measure_bf16(all, seconds), all);
    return 0;
}
