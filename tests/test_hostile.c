/* Tiny hostile files from issue 13 (tests/data/hostile/): each is refused
 * quickly, with a message naming the file and the problem, and without
 * allocating more than a little memory. Each check runs in a child whose
 * address space is capped (tests/memcap.h) and whose peak RSS is read. */
#include <stdlib.h>
#include <string.h>

#include "colorize/dataset.h"
#include "colorize/image.h"
#include "memcap.h"
#include "test.h"

#define PEAK_MB_MAX 200

static char data_dir[3072];

static void data_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", data_dir, name);
}

/* 8 bytes of PNG signature, a valid 16x16 IHDR, then an sPLT chunk whose
 * length field claims 1.95 GB; the file ends there (93 bytes). */
static int png_splt(void *arg)
{
    (void)arg;
    char p[4096];
    data_path(p, sizeof p, "splt_1950mb.png");
    cz_image img;
    cz_status st = cz_image_read(p, &img);
    if (st != CZ_ERR_FORMAT || img.pixels || !strstr(cz_last_error(), "splt_1950mb.png")) {
        fprintf(stderr, "splt_1950mb.png: status %d: %s\n", st, cz_last_error());
        return 1;
    }
    return 0;
}

/* cz_cifar_load on a folder with a short data_batch_1.bin (one record) and
 * nothing else: refused before the 184 MB pool exists. */
static int cifar_short(void *arg)
{
    const char *dir = arg;
    cz_dataset ds;
    cz_status st = cz_cifar_load(dir, &ds);
    if (st != CZ_ERR_FORMAT || ds.pixels || !strstr(cz_last_error(), "data_batch_1.bin")) {
        fprintf(stderr, "short CIFAR: status %d: %s\n", st, cz_last_error());
        return 1;
    }
    return 0;
}

static int cifar_missing(void *arg)
{
    const char *dir = arg;
    cz_dataset ds;
    cz_status st = cz_cifar_load(dir, &ds);
    if (st != CZ_ERR_IO || ds.pixels || !strstr(cz_last_error(), "data_batch_1.bin")) {
        fprintf(stderr, "missing CIFAR: status %d: %s\n", st, cz_last_error());
        return 1;
    }
    return 0;
}

static void check_child(const char *what, int (*fn)(void *), void *arg, int cap_mb)
{
    long peak;
    int rc = memcap_run(fn, arg, cap_mb, &peak);
    printf("%-28s exit %d, peak RSS %ld MB\n", what, rc, peak);
    CHECK(rc == 0);
    CHECK(peak >= 0 && peak < PEAK_MB_MAX);
}

int main(void)
{
    const char *src = getenv("COLORIZE_SOURCE_DIR");
    if (!src)
        TEST_SKIP("COLORIZE_SOURCE_DIR not set (run through ctest)");
    snprintf(data_dir, sizeof data_dir, "%s/tests/data/hostile", src);
    /* no cap: libpng copes with a failed malloc, so only the RSS of an
     * allocation that succeeds shows the bug */
    check_child("PNG, sPLT of 1.95 GB", png_splt, NULL, 0);

    char tmp[] = "/tmp/cz_hostile_XXXXXX", p[4096];
    if (mkdtemp(tmp)) {
        check_child("CIFAR, all six missing", cifar_missing, tmp, 100);
        snprintf(p, sizeof p, "%s/data_batch_1.bin", tmp);
        FILE *fp = fopen(p, "wb");
        static const unsigned char record[1 + 3072];
        CHECK(fp && fwrite(record, sizeof record, 1, fp) == 1);
        if (fp)
            fclose(fp);
        check_child("CIFAR, one short file", cifar_short, tmp, 100);
        remove(p);
        rmdir(tmp);
    }
    TEST_END();
}
