/* Helpers of the picture tests (test_image*.c, test_dataset_folder.c): a
 * scratch folder, which the including file declares as
 *   static char tmpdir[] = "/tmp/cz_test_NAME_XXXXXX";   (mkdtemp in main)
 * and checks on failed reads. Include after test.h. */
#ifndef CZ_IMAGE_TEST_H
#define CZ_IMAGE_TEST_H

#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "colorize/image.h"

static inline void tpath(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static inline void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            tpath(path, sizeof path, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(tmpdir);
}

/* Entries in tmpdir whose name contains `part`. */
static inline int count_entries(const char *part)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

static inline int write_bytes(const char *name, const void *data, size_t size)
{
    char path[4096];
    tpath(path, sizeof path, name);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    int ok = fwrite(data, 1, size, fp) == size;
    return fclose(fp) == 0 && ok;
}

static inline uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static inline uint8_t pattern(int x, int y, int k) { return (uint8_t)(x * 37 + y * 11 + k * 53 + 5); }

static inline int error_names(const char *name) { return cz_last_error()[0] && strstr(cz_last_error(), name); }

/* A failed read must leave the image empty and name the file. */
static inline void check_failed_read(cz_status st, const cz_image *img, const char *name)
{
    CHECK(st != CZ_OK);
    CHECK(img->pixels == NULL && img->width == 0 && img->height == 0);
    CHECK(error_names(name));
}

/* 300 copies of data with 1 to 4 random bytes changed after the first
 * `keep`: each read either gives a w x h picture (w = 0: any size) or fails,
 * leaving the image empty and naming `name`. copy holds size bytes. */
static inline int damaged_reads_consistent(const uint8_t *data, size_t size, size_t keep, uint32_t seed,
                                           int w, int h, const char *name, uint8_t *copy)
{
    int consistent = 1;
    for (int trial = 0; trial < 300; trial++) {
        cz_image img = {0};
        memcpy(copy, data, size);
        int flips = 1 + (int)(lcg(&seed) % 4);
        for (int f = 0; f < flips; f++)
            copy[keep + lcg(&seed) % (size - keep)] = (uint8_t)lcg(&seed);
        if (cz_image_read_memory(copy, size, name, &img) == CZ_OK)
            consistent &= img.pixels != NULL && (w ? img.width == w && img.height == h : img.width > 0 && img.height > 0);
        else
            consistent &= img.pixels == NULL && error_names(name);
        cz_image_free(&img);
    }
    return consistent;
}

#endif
