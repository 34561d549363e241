/* Tiny hostile files from issue 13 (tests/data/hostile/): each is refused
 * quickly, with a message naming the file and the problem, and without
 * allocating more than a little memory. Each check runs in a child whose
 * address space is capped (tests/memcap.h) and whose peak RSS is read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "colorize/dataset.h"
#include "colorize/image.h"
#include "memcap.h"
#include "model_io.h"
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

/* A model file that must be refused with `status` and a message holding
 * `why` and the file's name. */
typedef struct bad_model {
    const char *name, *why;
    cz_status status;
} bad_model;

static int model_refused(void *arg)
{
    const bad_model *b = arg;
    char p[4096];
    if (b->name[0] == '/')
        snprintf(p, sizeof p, "%s", b->name);
    else
        data_path(p, sizeof p, b->name);
    const char *base = strrchr(p, '/') + 1;
    cz_model m;
    cz_status st = cz_model_load(p, &m);
    if (st == CZ_OK)
        cz_model_free(&m);
    if (st != b->status || !strstr(cz_last_error(), b->why) || !strstr(cz_last_error(), base)) {
        fprintf(stderr, "%s: status %d: %s\n", b->name, st, cz_last_error());
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

    /* metadata naming a 3-26 GB network, no tensors: refused from the header */
    bad_model resnet = {"meta_only_resnet_w1024.safetensors", "no tensor named", CZ_ERR_FORMAT};
    bad_model resunet = {"meta_only_resunet_w1024.safetensors", "no tensor named", CZ_ERR_FORMAT};
    check_child("model, resnet w1024 no data", model_refused, &resnet, 150);
    check_child("model, resunet w1024 no data", model_refused, &resunet, 150);
    /* widths " 1" and "+1" */
    bad_model space = {"width_space.safetensors", "bad metadata width", CZ_ERR_FORMAT};
    bad_model plus = {"width_plus.safetensors", "bad metadata width", CZ_ERR_FORMAT};
    check_child("model, width \" 1\"", model_refused, &space, 150);
    check_child("model, width \"+1\"", model_refused, &plus, 150);
    bad_model nan_file = {"nan_weight_vgg_w1.safetensors", "tensor 'e1.0.0.weight' holds NaN at element 0",
                          CZ_ERR_NUMERIC};
    check_child("model, committed NaN weight", model_refused, &nan_file, 150);

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
        /* a small model with one NaN and one infinite weight */
        cz_model m;
        CHECK(cz_model_init(&m, CZ_ARCH_VGG, CZ_HEAD_REG, 2, 32, 1) == CZ_OK);
        snprintf(p, sizeof p, "%s/nan.safetensors", tmp);
        m.params[m.graph.params[3].offset + 1] = NAN;
        CHECK(cz_model_save(&m, 0, p, NULL, 0) == CZ_OK);
        char why[160];
        snprintf(why, sizeof why, "tensor '%s' holds NaN at element 1", m.graph.params[3].name);
        bad_model nan_model = {p, why, CZ_ERR_NUMERIC};
        check_child("model, a NaN weight", model_refused, &nan_model, 150);
        m.params[m.graph.params[3].offset + 1] = 0;
        m.buffers[m.graph.buffers[0].offset] = -INFINITY;
        CHECK(cz_model_save(&m, 0, p, NULL, 0) == CZ_OK);
        snprintf(why, sizeof why, "tensor '%s' holds infinity at element 0", m.graph.buffers[0].name);
        check_child("model, an infinite statistic", model_refused, &nan_model, 150);
        /* control: the same model, finite, loads */
        m.buffers[m.graph.buffers[0].offset] = 0;
        CHECK(cz_model_save(&m, 0, p, NULL, 0) == CZ_OK);
        cz_model back;
        CHECK(cz_model_load(p, &back) == CZ_OK);
        cz_model_free(&back);
        cz_model_free(&m);
        remove(p);
        rmdir(tmp);
    }
    TEST_END();
}
