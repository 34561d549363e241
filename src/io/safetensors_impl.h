/* Private to the safetensors reader and writer: what they both need. */
#ifndef CZ_SAFETENSORS_IMPL_H
#define CZ_SAFETENSORS_IMPL_H

#include <stdlib.h>

#include "colorize/safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (tensor bytes are used as is)"
#endif

#define METADATA_KEY "__metadata__"

/* qsort, skipped for fewer than 2 elements (qsort(NULL, 0, ...) is undefined). */
static inline void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

#endif
