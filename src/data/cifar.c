/* CIFAR-10 binary files: loading (pooled or one file) and verification of
 * presence, sizes, MD5s and labels (SPEC §2). */
#include <errno.h>
#include <md5.h> /* libmd */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cifar_impl.h"
#include "colorize/dataset.h"
#include "util.h"

const cz_cifar_file_info cz_cifar_files[CZ_CIFAR_FILES] = {
    {"data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25"},
    {"data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692"},
    {"data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421"},
    {"data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb"},
    {"data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d"},
    {"test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d"},
};

static const char *const cifar_class_names[CZ_CIFAR_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck"};

const char *cz_cifar_class_name(int k)
{
    if (k < 0 || k >= CZ_CIFAR_CLASSES)
        return "unknown";
    return cifar_class_names[k];
}

const char *cz_data_default_dir(void)
{
    const char *env = getenv("COLORIZE_DATA");
    return env && env[0] ? env : "data/cifar-10-batches-bin";
}

cz_status cz_cifar_join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return cz_fail(CZ_ERR_ARG, "%s/%s: path too long", dir, name);
    return CZ_OK;
}

/* Read `count` records from an open file into pixels/labels, checking each
 * label (records are numbered from 0 within the file in messages). */
static cz_status cifar_read_records(FILE *fp, const char *path, int count,
                                    uint8_t *pixels, uint8_t *labels)
{
    for (int i = 0; i < count; i++) {
        uint8_t *px = pixels + (size_t)i * CZ_CIFAR_PIXELS;
        if (fread(&labels[i], 1, 1, fp) != 1 ||
            fread(px, 1, CZ_CIFAR_PIXELS, fp) != CZ_CIFAR_PIXELS)
            return cz_fail(CZ_ERR_IO, "%s: read failed at record %d (file changed or "
                           "unreadable?)", path, i);
        if (labels[i] >= CZ_CIFAR_CLASSES)
            return cz_fail(CZ_ERR_FORMAT, "%s: record %d has label %d, expected 0..9: "
                           "not a CIFAR-10 file or corrupt; run `colorize data fetch`",
                           path, i, labels[i]);
    }
    return CZ_OK;
}

/* Open path and return its size in bytes. */
static cz_status cifar_open(const char *path, FILE **fp, long *size)
{
    *fp = fopen(path, "rb");
    if (!*fp)
        return cz_fail(CZ_ERR_IO, "%s: cannot open: %s (run `colorize data fetch`?)",
                       path, strerror(errno));
    struct stat st;
    if (fstat(fileno(*fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(*fp);
        *fp = NULL;
        return cz_fail(CZ_ERR_IO, "%s: not a regular file", path);
    }
    *size = (long)st.st_size;
    return CZ_OK;
}

cz_status cz_cifar_load_file(const char *path, cz_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
    FILE *fp;
    long size;
    cz_status st = cifar_open(path, &fp, &size);
    if (st)
        return st;
    if (size == 0 || size % CZ_CIFAR_RECORD != 0 || size / CZ_CIFAR_RECORD > 1000000000L) {
        fclose(fp);
        return cz_fail(CZ_ERR_FORMAT, "%s: size %ld bytes is not a whole number of "
                       "%d-byte CIFAR records (truncated?)", path, size, CZ_CIFAR_RECORD);
    }
    int count = (int)(size / CZ_CIFAR_RECORD);
    ds->pixels = cz_alloc((size_t)count, CZ_CIFAR_PIXELS, path);
    ds->labels = cz_alloc((size_t)count, 1, path);
    if (!ds->pixels || !ds->labels) {
        fclose(fp);
        cz_dataset_free(ds);
        return CZ_ERR_NOMEM;
    }
    st = cifar_read_records(fp, path, count, ds->pixels, ds->labels);
    fclose(fp);
    if (st) {
        cz_dataset_free(ds);
        return st;
    }
    ds->count = count;
    ds->side = CZ_CIFAR_SIDE;
    return CZ_OK;
}

/* Open all six files and check their sizes before the 184 MB pool is
 * allocated, so a missing or short file costs nothing. The files stay open
 * between the check and the read. */
static cz_status cifar_open_all(const char *dir, FILE *fps[CZ_CIFAR_FILES])
{
    for (int f = 0; f < CZ_CIFAR_FILES; f++)
        fps[f] = NULL;
    for (int f = 0; f < CZ_CIFAR_FILES; f++) {
        char path[4096];
        long size;
        cz_status st = cz_cifar_join(path, sizeof path, dir, cz_cifar_files[f].name);
        if (!st)
            st = cifar_open(path, &fps[f], &size);
        if (!st && size != CZ_CIFAR_FILE_BYTES)
            st = cz_fail(CZ_ERR_FORMAT, "%s: %ld bytes, expected %ld (truncated or not "
                         "CIFAR-10); run `colorize data fetch`", path, size,
                         CZ_CIFAR_FILE_BYTES);
        if (st)
            return st; /* the caller closes what was opened */
    }
    return CZ_OK;
}

cz_status cz_cifar_load(const char *dir, cz_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
    FILE *fps[CZ_CIFAR_FILES];
    cz_status st = cifar_open_all(dir, fps);
    if (!st) {
        ds->pixels = cz_alloc(CZ_CIFAR_POOL, CZ_CIFAR_PIXELS, "CIFAR-10 pixels");
        ds->labels = cz_alloc(CZ_CIFAR_POOL, 1, "CIFAR-10 labels");
        if (!ds->pixels || !ds->labels)
            st = CZ_ERR_NOMEM;
    }
    for (int f = 0; !st && f < CZ_CIFAR_FILES; f++) {
        char path[4096];
        cz_cifar_join(path, sizeof path, dir, cz_cifar_files[f].name); /* fit above */
        size_t first = (size_t)f * CZ_CIFAR_PER_FILE;
        st = cifar_read_records(fps[f], path, CZ_CIFAR_PER_FILE,
                                ds->pixels + first * CZ_CIFAR_PIXELS, ds->labels + first);
    }
    for (int f = 0; f < CZ_CIFAR_FILES; f++)
        if (fps[f])
            fclose(fps[f]);
    if (st) {
        cz_dataset_free(ds);
        return st;
    }
    ds->count = CZ_CIFAR_POOL;
    ds->side = CZ_CIFAR_SIDE;
    return CZ_OK;
}

/* What verify found for one file. */
typedef enum cifar_check {
    CIFAR_CHECK_OK,
    CIFAR_CHECK_MISSING,
    CIFAR_CHECK_SIZE,
    CIFAR_CHECK_LABEL,
    CIFAR_CHECK_MD5,
    CIFAR_CHECK_IO
} cifar_check;

/* Check one file: size, labels and MD5 in a single streaming pass; keep the
 * labels (for the class counts) when the file is readable. */
static cifar_check cifar_check_file(const char *path, const char *want_md5,
                                    uint8_t labels[CZ_CIFAR_PER_FILE], char *why, size_t whysize)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(why, whysize, "missing (%s)", strerror(errno));
        return CIFAR_CHECK_MISSING;
    }
    if ((long)sb.st_size != CZ_CIFAR_FILE_BYTES) {
        snprintf(why, whysize, "wrong size: %lld bytes, expected %ld (truncated or not CIFAR-10)",
                 (long long)sb.st_size, CZ_CIFAR_FILE_BYTES);
        return CIFAR_CHECK_SIZE;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(why, whysize, "cannot open: %s", strerror(errno));
        return CIFAR_CHECK_IO;
    }
    MD5_CTX md5;
    MD5Init(&md5);
    uint8_t rec[CZ_CIFAR_RECORD];
    int bad_record = -1, bad_label = 0;
    for (int i = 0; i < CZ_CIFAR_PER_FILE; i++) {
        if (fread(rec, 1, sizeof rec, fp) != sizeof rec) {
            fclose(fp);
            snprintf(why, whysize, "read failed at record %d", i);
            return CIFAR_CHECK_IO;
        }
        MD5Update(&md5, rec, sizeof rec);
        labels[i] = rec[0];
        if (rec[0] >= CZ_CIFAR_CLASSES && bad_record < 0) {
            bad_record = i;
            bad_label = rec[0];
        }
    }
    fclose(fp);
    char hex[MD5_DIGEST_STRING_LENGTH];
    MD5End(&md5, hex);
    if (bad_record >= 0) {
        snprintf(why, whysize, "label out of range: record %d has label %d, expected 0..9",
                 bad_record, bad_label);
        return CIFAR_CHECK_LABEL;
    }
    if (strcmp(hex, want_md5) != 0) {
        snprintf(why, whysize, "wrong MD5 %s, expected %s (corrupt or modified)", hex, want_md5);
        return CIFAR_CHECK_MD5;
    }
    snprintf(why, whysize, "ok, md5 %s", hex);
    return CIFAR_CHECK_OK;
}

/* Count classes of the split parts of `kind` over the pooled labels. */
static cz_status cifar_count_split(cz_split_kind kind, const uint8_t *labels, int counts[3][CZ_CIFAR_CLASSES])
{
    cz_split s;
    cz_status st = cz_split_make(kind, 0, CZ_CIFAR_POOL, &s);
    if (st)
        return st;
    memset(counts, 0, 3 * sizeof counts[0]);
    const int *parts[3] = {s.train, s.val, s.test};
    int sizes[3] = {s.n_train, s.n_val, s.n_test};
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < sizes[p]; i++)
            counts[p][labels[parts[p][i]]]++;
    cz_split_free(&s);
    return CZ_OK;
}

static void cifar_print_counts(FILE *out, const uint8_t *labels)
{
    int seeded[3][CZ_CIFAR_CLASSES], official[3][CZ_CIFAR_CLASSES];
    if (cifar_count_split(CZ_SPLIT_SEEDED, labels, seeded) ||
        cifar_count_split(CZ_SPLIT_OFFICIAL, labels, official)) {
        fprintf(out, "class counts: %s\n", cz_last_error());
        return;
    }
    int tot[2][3] = {{0}};
    fprintf(out, "\n%-12s %21s %22s\n", "class counts", "seeded split (seed 0)", "official split");
    fprintf(out, "%-12s %7s %6s %6s %8s %6s %6s\n", "", "train", "val", "test", "train", "val", "test");
    for (int k = 0; k < CZ_CIFAR_CLASSES; k++) {
        fprintf(out, "%-12s %7d %6d %6d %8d %6d %6d\n", cz_cifar_class_name(k), seeded[0][k],
                seeded[1][k], seeded[2][k], official[0][k], official[1][k], official[2][k]);
        for (int p = 0; p < 3; p++) {
            tot[0][p] += seeded[p][k];
            tot[1][p] += official[p][k];
        }
    }
    fprintf(out, "%-12s %7d %6d %6d %8d %6d %6d\n", "total", tot[0][0], tot[0][1], tot[0][2],
            tot[1][0], tot[1][1], tot[1][2]);
}

cz_status cz_cifar_verify(const char *dir, FILE *report)
{
    uint8_t *labels = cz_alloc(CZ_CIFAR_POOL, 1, "CIFAR-10 labels");
    if (!labels)
        return CZ_ERR_NOMEM;
    int bad = 0, readable = 0;
    cifar_check first_check = CIFAR_CHECK_OK;
    char first_path[4096] = "", first_why[256] = "";
    if (report)
        fprintf(report, "CIFAR-10 in %s:\n", dir);
    for (int f = 0; f < CZ_CIFAR_FILES; f++) {
        char path[4096], why[256];
        cz_status st = cz_cifar_join(path, sizeof path, dir, cz_cifar_files[f].name);
        if (st) {
            free(labels);
            return st;
        }
        cifar_check c = cifar_check_file(path, cz_cifar_files[f].md5,
                                         labels + (size_t)f * CZ_CIFAR_PER_FILE, why, sizeof why);
        if (report)
            fprintf(report, "  %-17s %s\n", cz_cifar_files[f].name, why);
        /* Labels are usable for counting when the file could be read in full
         * and every label is in range (a wrong MD5 alone still counts). */
        if (c == CIFAR_CHECK_OK || c == CIFAR_CHECK_MD5)
            readable++;
        if (c != CIFAR_CHECK_OK) {
            if (!bad) {
                first_check = c;
                snprintf(first_path, sizeof first_path, "%s", path);
                snprintf(first_why, sizeof first_why, "%s", why);
            }
            bad++;
        }
    }
    if (readable == CZ_CIFAR_FILES && report)
        cifar_print_counts(report, labels);
    free(labels);
    if (!bad) {
        if (report)
            fprintf(report, "all %d files verified\n", CZ_CIFAR_FILES);
        return CZ_OK;
    }
    if (report)
        fprintf(report, "%d of %d files failed; run `colorize data fetch --dir %s`\n", bad,
                CZ_CIFAR_FILES, dir);
    return cz_fail(first_check == CIFAR_CHECK_MISSING || first_check == CIFAR_CHECK_IO
                       ? CZ_ERR_IO : CZ_ERR_FORMAT,
                   "%s: %s%s; run `colorize data fetch --dir %s`", first_path, first_why,
                   bad > 1 ? " (and other files failed)" : "", dir);
}
