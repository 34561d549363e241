/* The CPU a figure was measured on, named as /proc/cpuinfo names it. Virtual
 * machines often report only "AMD EPYC": the family and model numbers tell
 * Zen 4 (family 25) from Zen 5 (family 26), whose AVX-512 peaks differ by 2x. */
#ifndef CZ_CPU_H
#define CZ_CPU_H

#include <stddef.h>

/* Writes "MODEL NAME (family F, model M)" into buf (or "unknown CPU" where
 * /proc/cpuinfo cannot be read) and returns buf. */
char *cz_cpu_describe(char *buf, size_t size);
/* The same from a file in /proc/cpuinfo's format (the first CPU's lines). */
char *cz_cpu_describe_from(const char *path, char *buf, size_t size);

#endif
