/* colorize data export: the small samples the repository ships, made from
 * the seeded split (a CIFAR-format file, and upscaled pictures). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "colorize/colorspace.h"
#include "colorize/dataset.h"
#include "colorize/image.h"
#include "util.h"

static cz_status write_records(const cz_dataset *ds, const int *idx, int count, const char *path)
{
    cz_atomic_file af;
    cz_status st = cz_atomic_open(&af, path);
    if (st)
        return st;
    for (int i = 0; i < count; i++) {
        const uint8_t *px = ds->pixels + (size_t)idx[i] * 3072;
        if (fputc(ds->labels[idx[i]], af.fp) == EOF || fwrite(px, 1, 3072, af.fp) != 3072) {
            cz_atomic_abort(&af);
            return cz_fail(CZ_ERR_IO, "%s: write failed", path);
        }
    }
    return cz_atomic_commit(&af);
}

/* Upscaled colour original and its grey (luma) version. */
static cz_status write_pictures(const cz_dataset *ds, int index, int size, const char *dir)
{
    cz_image rgb = {0}, big = {0}, grey = {0};
    cz_status st = cz_image_alloc(&rgb, 32, 32, 3);
    if (st)
        return st;
    for (int p = 0; p < 1024; p++)
        for (int c = 0; c < 3; c++)
            rgb.pixels[p * 3 + c] = ds->pixels[(size_t)index * 3072 + c * 1024 + p];
    if ((st = cz_image_resize(&rgb, size, size, &big)) || (st = cz_image_alloc(&grey, size, size, 1)))
        goto done;
    for (int p = 0; p < size * size; p++) {
        float y, u, v;
        const uint8_t *s = big.pixels + 3 * p;
        cz_rgb_to_yuv(s[0] / 255.0f, s[1] / 255.0f, s[2] / 255.0f, &y, &u, &v);
        grey.pixels[p] = (uint8_t)(y * 255.0f + 0.5f);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/original/test%05d_%s.png", dir, index, cz_cifar_class_name(ds->labels[index]));
    if ((st = cz_image_write_png(path, &big)))
        goto done;
    snprintf(path, sizeof path, "%s/grey/test%05d_%s.png", dir, index, cz_cifar_class_name(ds->labels[index]));
    st = cz_image_write_png(path, &grey);
done:
    cz_image_free(&rgb);
    cz_image_free(&big);
    cz_image_free(&grey);
    return st;
}

int cmd_data_export(int argc, char **argv)
{
    const char *dir = cz_data_default_dir(), *out = NULL, *png_dir = NULL;
    int count = 300, png_count = 6, png_size = 256;
    cli_opt opts[] = {
        {"dir", CLI_OPT_STR, &dir, "CIFAR-10 directory", 0, 0},
        {"out", CLI_OPT_STR, &out, "write the first N test images as CIFAR records here", 0, 0},
        {"count", CLI_OPT_INT, &count, "images in --out", 1, 5000},
        {"png-dir", CLI_OPT_STR, &png_dir, "write upscaled pictures into DIR/original and DIR/grey", 0, 0},
        {"png-count", CLI_OPT_INT, &png_count, "pictures (first test image of each class in turn)", 1, 1000},
        {"png-size", CLI_OPT_INT, &png_size, "side of the pictures", 32, 4096},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[1];
    int npos, rc = cli_parse("data export", "[--out FILE] [--png-dir DIR]",
                             "Export samples of the seed-0 test split: CIFAR-format records and\n"
                             "upscaled colour/grey pictures (the repository's samples/ are made so).",
                             opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (!out && !png_dir) {
        cli_error("data export", "nothing to do: give --out and/or --png-dir");
        return CLI_EXIT_USAGE;
    }
    cz_dataset ds;
    cz_split split;
    if (cz_cifar_verify(dir, NULL) || cz_cifar_load(dir, &ds)) {
        cli_error("data export", "%s", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    int code = CLI_EXIT_FAIL;
    if (cz_split_make(CZ_SPLIT_SEEDED, 0, ds.count, &split)) {
        cli_error("data export", "%s", cz_last_error());
        cz_dataset_free(&ds);
        return CLI_EXIT_FAIL;
    }
    if (out && write_records(&ds, split.test, count, out)) {
        cli_error("data export", "%s", cz_last_error());
        goto done;
    }
    if (png_dir) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/original", png_dir);
        if (cz_mkdirs(sub))
            goto fail;
        snprintf(sub, sizeof sub, "%s/grey", png_dir);
        if (cz_mkdirs(sub))
            goto fail;
        /* The first test image of each class in turn, for variety. */
        int next[CZ_CIFAR_CLASSES] = {0};
        for (int i = 0; i < png_count; i++) {
            int k = i % CZ_CIFAR_CLASSES, j = next[k];
            while (j < split.n_test && ds.labels[split.test[j]] != k)
                j++;
            if (j == split.n_test)
                break;
            next[k] = j + 1;
            if (write_pictures(&ds, split.test[j], png_size, png_dir))
                goto fail;
        }
    }
    code = CLI_EXIT_OK;
    goto done;
fail:
    cli_error("data export", "%s", cz_last_error());
done:
    cz_split_free(&split);
    cz_dataset_free(&ds);
    return code;
}
