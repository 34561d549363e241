/* Every PyTorch vector file (tests/vectors/, tools/make_vectors.py) opens
 * with the C reader and is self-consistent: metadata, shapes of the batch
 * tensors, one gradient per trainable parameter with the parameter's shape,
 * running statistics for every BatchNorm, targets in range, bins equal to
 * cz_chroma_bin of the stored U, V (SPEC §3), and the stored loss equal to
 * the reference loss of the stored output (rtol 1e-5: float32 PyTorch sums
 * against a double-accumulated reference). */
#include <string.h>

#include "colorize/colorspace.h"
#include "colorize/safetensors.h"
#include "ref_ops.h"
#include "test.h"

static long meta_long(const cz_st_file *f, const char *key)
{
    const char *s = cz_st_metadata(f, key);
    char *end;
    long v = s ? strtol(s, &end, 10) : -1;
    CHECK(s && *end == '\0' && v > 0);
    return s && *end == '\0' ? v : -1;
}

static void *xalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void check_file(const char *dir, const char *arch, const char *head)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/%s_%s.safetensors", dir, arch, head);
    cz_st_file *f;
    if (cz_st_open(&f, path)) {
        test_checks++, test_failures++;
        fprintf(stderr, "%s\n", cz_last_error());
        return;
    }
    const char *m_arch = cz_st_metadata(f, "arch"), *m_head = cz_st_metadata(f, "head");
    CHECK(m_arch && strcmp(m_arch, arch) == 0);
    CHECK(m_head && strcmp(m_head, head) == 0);
    CHECK(cz_st_metadata(f, "colorspace") && strcmp(cz_st_metadata(f, "colorspace"), "yuv-bt601") == 0);
    const long width = meta_long(f, "width"), n = meta_long(f, "batch"), out = meta_long(f, "out");
    CHECK(meta_long(f, "bins") == CZ_BINS);
    const int cls = strcmp(head, "cls") == 0;
    CHECK(out == (cls ? 2 * CZ_BINS : 2));
    CHECK(width == 8);
    if (width <= 0 || n <= 0 || out <= 0) {
        cz_st_close(f);
        return;
    }
    const int64_t s_in[4] = {n, 1, 32, 32}, s_uv[4] = {n, 2, 32, 32}, s_out[4] = {n, out, 32, 32};
    const int64_t s_loss[1] = {1}, s_adam[1] = {4};
    const cz_st_tensor *t_in, *t_uv, *t_bins, *t_out, *t_loss, *t_adam;
    CHECK(cz_st_expect(f, "input", CZ_ST_F32, 4, s_in, &t_in) == CZ_OK);
    CHECK(cz_st_expect(f, "target_uv", CZ_ST_F32, 4, s_uv, &t_uv) == CZ_OK);
    CHECK(cz_st_expect(f, "target_bins", CZ_ST_I64, 4, s_uv, &t_bins) == CZ_OK);
    CHECK(cz_st_expect(f, "output", CZ_ST_F32, 4, s_out, &t_out) == CZ_OK);
    CHECK(cz_st_expect(f, "loss", CZ_ST_F32, 1, s_loss, &t_loss) == CZ_OK);
    CHECK(cz_st_expect(f, "adam_losses", CZ_ST_F32, 1, s_adam, &t_adam) == CZ_OK);
    if (!t_in || !t_uv || !t_bins || !t_out || !t_loss || !t_adam) {
        fprintf(stderr, "%s\n", cz_last_error());
        cz_st_close(f);
        return;
    }

    /* Targets and bins. */
    const size_t plane = 32 * 32, nuv = (size_t)n * 2 * plane;
    float *uv = xalloc(nuv, sizeof *uv), *y = xalloc(t_in->numel, sizeof *y);
    int64_t *bins64 = xalloc(nuv, sizeof *bins64);
    int32_t *bins = xalloc(nuv, sizeof *bins);
    cz_st_copy_f32(t_uv, uv);
    cz_st_copy_f32(t_in, y);
    cz_st_copy_i64(t_bins, bins64);
    int ok_y = 1, ok_uv = 1, ok_bins = 1;
    for (size_t i = 0; i < t_in->numel; i++)
        ok_y &= y[i] >= 0 && y[i] <= 1;
    for (long b = 0; b < n; b++)
        for (int ch = 0; ch < 2; ch++) {
            const float max = ch == 0 ? CZ_U_MAX : CZ_V_MAX;
            for (size_t i = 0; i < plane; i++) {
                size_t k = ((size_t)b * 2 + ch) * plane + i;
                ok_uv &= fabsf(uv[k]) <= max;
                ok_bins &= bins64[k] == cz_chroma_bin(uv[k], max);
                bins[k] = (int32_t)bins64[k];
            }
        }
    CHECK(ok_y);
    CHECK(ok_uv);
    CHECK(ok_bins);

    /* The stored loss is the SPEC §3 loss of the stored output. */
    float *o = xalloc(t_out->numel, sizeof *o), loss, adam[4];
    cz_st_copy_f32(t_out, o);
    cz_st_copy_f32(t_loss, &loss);
    cz_st_copy_f32(t_adam, adam);
    double ref = cls ? ref_loss_cls_forward(o, bins, (int)n, 32, 32) : ref_loss_reg_forward(o, uv, (int)n, 32, 32);
    CHECK_CLOSE(ref, loss, 0, 1e-5);
    CHECK(adam[0] == loss);
    CHECK(adam[1] < adam[0] && adam[2] < adam[1] && adam[3] < adam[2]); /* Adam descends on one batch */

    /* Parameters, gradients, running statistics. */
    int nparam = 0, ngrad = 0, nrunning = 0, nbt = 0, finite = 1;
    for (int i = 0; i < cz_st_count(f); i++) {
        const cz_st_tensor *t = cz_st_at(f, i);
        if (t->dtype == CZ_ST_F32) {
            float *v = xalloc(t->numel, sizeof *v);
            cz_st_copy_f32(t, v);
            for (size_t k = 0; k < t->numel; k++)
                finite &= isfinite(v[k]) != 0;
            free(v);
        }
        if (strncmp(t->name, "param.", 6) != 0)
            continue;
        const char *name = t->name + 6;
        char key[256];
        nparam++;
        if (ends_with(name, "num_batches_tracked")) {
            int64_t c = -1;
            CHECK(t->dtype == CZ_ST_I64 && t->ndim == 0 && cz_st_copy_i64(t, &c) == CZ_OK && c == 0);
            nbt++;
        } else if (ends_with(name, "running_mean") || ends_with(name, "running_var")) {
            snprintf(key, sizeof key, "running.%s", name);
            CHECK(cz_st_expect(f, key, CZ_ST_F32, t->ndim, t->shape, NULL) == CZ_OK);
            nrunning++;
        } else {
            snprintf(key, sizeof key, "grad.%s", name);
            CHECK(cz_st_expect(f, key, CZ_ST_F32, t->ndim, t->shape, NULL) == CZ_OK);
            CHECK(t->ndim == 1 || t->ndim == 4);
            ngrad++;
        }
    }
    CHECK(finite);
    CHECK(nrunning == 2 * nbt && nbt > 0);
    /* Everything in the file is accounted for: 6 batch tensors + params + grads + running. */
    CHECK(cz_st_count(f) == 6 + nparam + ngrad + nrunning);
    printf("%s: %d tensors (%d params, %d grads, %d BN layers), N=%ld out=%ld, loss %.6f\n", path,
           cz_st_count(f), nparam, ngrad, nbt, n, out, loss);
    free(uv), free(y), free(bins64), free(bins), free(o);
    cz_st_close(f);
}

int main(void)
{
    const char *dir = getenv("COLORIZE_SOURCE_DIR");
    if (!dir)
        dir = ".";
    const char *archs[3] = {"vgg", "unet", "resnet"}, *heads[2] = {"reg", "cls"};
    for (int a = 0; a < 3; a++)
        for (int h = 0; h < 2; h++)
            check_file(dir, archs[a], heads[h]);
    TEST_END();
}
