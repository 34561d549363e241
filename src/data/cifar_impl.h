/* Private facts about the CIFAR-10 binary files, shared by cifar.c (load,
 * verify) and cifar_fetch.c (fetch). */
#ifndef CZ_CIFAR_IMPL_H
#define CZ_CIFAR_IMPL_H

#include <stddef.h>

#include "colorize/error.h"

#define CZ_CIFAR_PIXELS (3 * 32 * 32)              /* bytes of one image */
#define CZ_CIFAR_RECORD (1 + CZ_CIFAR_PIXELS)      /* label byte + image */
#define CZ_CIFAR_PER_FILE 10000                    /* records per file */
#define CZ_CIFAR_FILE_BYTES ((long)CZ_CIFAR_PER_FILE * CZ_CIFAR_RECORD)
#define CZ_CIFAR_FILES 6

/* data_batch_1..5.bin then test_batch.bin, the pooling order of SPEC §2,
 * with their published MD5s. */
typedef struct cz_cifar_file_info {
    const char *name;
    const char *md5;
} cz_cifar_file_info;

extern const cz_cifar_file_info cz_cifar_files[CZ_CIFAR_FILES];

/* buf = DIR/NAME, or CZ_ERR_ARG if it does not fit. */
cz_status cz_cifar_join(char *buf, size_t size, const char *dir, const char *name);

#endif
