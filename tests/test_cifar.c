/* CIFAR-10 file handling on synthetic files made here: loading, truncated
 * files, bad labels, and verify's report of wrong MD5s and missing files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cifar_impl.h"
#include "colorize/dataset.h"
#include "test.h"

static char dir[64];

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* Write `count` records: label (i % 10), pixel bytes from a simple formula;
 * `cut` bytes are dropped from the end, `bad` (if >= 0) gets label 42. */
static int write_records(const char *name, int count, int cut, int bad)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    long total = (long)count * CZ_CIFAR_RECORD - cut, written = 0;
    for (int i = 0; i < count; i++) {
        unsigned char rec[CZ_CIFAR_RECORD];
        rec[0] = (unsigned char)(i == bad ? 42 : i % 10);
        for (int j = 0; j < CZ_CIFAR_PIXELS; j++)
            rec[1 + j] = (unsigned char)(i * 31 + j * 7);
        long n = total - written < CZ_CIFAR_RECORD ? total - written : CZ_CIFAR_RECORD;
        if (n > 0 && fwrite(rec, 1, (size_t)n, fp) != (size_t)n) {
            fclose(fp);
            return 0;
        }
        written += n;
    }
    return fclose(fp) == 0;
}

/* A full-size file of zeros (sparse: no disk used): label 0 everywhere. */
static int write_zero_file(const char *name)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    int ok = ftruncate(fileno(fp), CZ_CIFAR_FILE_BYTES) == 0;
    return (fclose(fp) == 0) && ok;
}

static void remove_in(const char *name)
{
    char path[256];
    path_in(path, sizeof path, name);
    remove(path);
}

/* Run verify with the report captured into a string (caller frees). */
static cz_status verify_capture(char **text)
{
    size_t len;
    FILE *mem = open_memstream(text, &len);
    if (!mem)
        return CZ_ERR_IO;
    cz_status st = cz_cifar_verify(dir, mem);
    fclose(mem);
    return st;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/cz_test_cifar_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256];
    cz_dataset ds;

    CHECK(strcmp(cz_cifar_class_name(0), "airplane") == 0);
    CHECK(strcmp(cz_cifar_class_name(9), "truck") == 0);
    CHECK(strcmp(cz_cifar_class_name(10), "unknown") == 0);

    /* load_file: any whole number of records. */
    CHECK(write_records("small.bin", 3, 0, -1));
    path_in(path, sizeof path, "small.bin");
    CHECK(cz_cifar_load_file(path, &ds) == CZ_OK);
    CHECK(ds.count == 3 && ds.side == 32);
    if (ds.count == 3) {
        CHECK(ds.labels[0] == 0 && ds.labels[1] == 1 && ds.labels[2] == 2);
        CHECK(ds.pixels[2 * 3072 + 5] == (unsigned char)(2 * 31 + 5 * 7));
        CHECK(ds.pixels[3071] == (unsigned char)(3071 * 7));
    }
    cz_dataset_free(&ds);
    CHECK(ds.pixels == NULL && ds.count == 0);

    /* Truncated by one byte: an error naming the file. */
    CHECK(write_records("cut.bin", 3, 1, -1));
    path_in(path, sizeof path, "cut.bin");
    CHECK(cz_cifar_load_file(path, &ds) == CZ_ERR_FORMAT);
    CHECK(strstr(cz_last_error(), path) != NULL);
    CHECK(ds.pixels == NULL);

    /* A label above 9: an error naming the file and the record. */
    CHECK(write_records("label.bin", 4, 0, 2));
    path_in(path, sizeof path, "label.bin");
    CHECK(cz_cifar_load_file(path, &ds) == CZ_ERR_FORMAT);
    CHECK(strstr(cz_last_error(), path) != NULL);
    CHECK(strstr(cz_last_error(), "record 2") != NULL);

    /* Missing and empty files. */
    path_in(path, sizeof path, "nothing.bin");
    CHECK(cz_cifar_load_file(path, &ds) == CZ_ERR_IO);
    CHECK(strstr(cz_last_error(), "nothing.bin") != NULL);
    CHECK(write_records("empty.bin", 0, 0, -1));
    path_in(path, sizeof path, "empty.bin");
    CHECK(cz_cifar_load_file(path, &ds) == CZ_ERR_FORMAT);

    /* Verify with nothing there: every file reported missing. */
    char *text = NULL;
    CHECK(verify_capture(&text) != CZ_OK);
    CHECK(text && strstr(text, "data_batch_1.bin") && strstr(text, "missing"));
    CHECK(text && strstr(text, "colorize data fetch"));
    CHECK(strstr(cz_last_error(), "data_batch_1.bin") != NULL);
    free(text);

    /* Six full-size files of zeros: sizes and labels right, MD5s wrong. */
    for (int f = 0; f < CZ_CIFAR_FILES; f++)
        CHECK(write_zero_file(cz_cifar_files[f].name));
    text = NULL;
    CHECK(verify_capture(&text) == CZ_ERR_FORMAT);
    CHECK(text && strstr(text, "wrong MD5"));
    CHECK(text && strstr(text, "class counts")); /* all readable: counts shown */
    CHECK(text && strstr(text, "airplane       50000   5000   5000    45000   5000  10000"));
    CHECK(strstr(cz_last_error(), "MD5") != NULL);
    free(text);

    /* The pooled load accepts them (it checks sizes and labels only). */
    CHECK(cz_cifar_load(dir, &ds) == CZ_OK);
    CHECK(ds.count == CZ_CIFAR_POOL && ds.side == 32);
    cz_dataset_free(&ds);

    /* The remaining cases use data_batch_1.bin alone (the others missing),
     * so that no test hashes more than one full file again. */
    for (int f = 1; f < CZ_CIFAR_FILES; f++)
        remove_in(cz_cifar_files[f].name);
    text = NULL;
    CHECK(verify_capture(&text) != CZ_OK);
    CHECK(text && strstr(text, "test_batch.bin    missing"));
    CHECK(text && !strstr(text, "class counts"));
    free(text);
    CHECK(cz_cifar_verify(dir, NULL) != CZ_OK);

    /* data_batch_1.bin replaced by a short file: the load and verify name it. */
    CHECK(write_records("data_batch_1.bin", 10, 0, -1));
    CHECK(cz_cifar_load(dir, &ds) == CZ_ERR_FORMAT);
    CHECK(strstr(cz_last_error(), "data_batch_1.bin") != NULL);
    text = NULL;
    CHECK(verify_capture(&text) != CZ_OK);
    CHECK(text && strstr(text, "data_batch_1.bin  wrong size"));
    free(text);

    /* A label out of range inside a full-size file (the others present: the
     * load checks that all six exist with the right size before reading). */
    for (int f = 0; f < CZ_CIFAR_FILES; f++)
        CHECK(write_zero_file(cz_cifar_files[f].name));
    path_in(path, sizeof path, "data_batch_1.bin");
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        CHECK(fseek(fp, 5L * CZ_CIFAR_RECORD, SEEK_SET) == 0);
        CHECK(fputc(200, fp) == 200);
        CHECK(fclose(fp) == 0);
    }
    CHECK(cz_cifar_load(dir, &ds) == CZ_ERR_FORMAT);
    CHECK(strstr(cz_last_error(), "record 5") && strstr(cz_last_error(), "data_batch_1.bin"));
    text = NULL;
    CHECK(verify_capture(&text) == CZ_ERR_FORMAT);
    CHECK(text && strstr(text, "label out of range: record 5"));
    free(text);

    /* cz_data_default_dir follows $COLORIZE_DATA. */
    setenv("COLORIZE_DATA", "/some/where", 1);
    CHECK(strcmp(cz_data_default_dir(), "/some/where") == 0);
    unsetenv("COLORIZE_DATA");
    CHECK(strcmp(cz_data_default_dir(), "data/cifar-10-batches-bin") == 0);

    const char *names[] = {"small.bin", "cut.bin", "label.bin", "empty.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        remove_in(names[i]);
    for (int f = 0; f < CZ_CIFAR_FILES; f++)
        remove_in(cz_cifar_files[f].name);
    CHECK(rmdir(dir) == 0);
    TEST_END();
}
