/* Both backends (oneDNN and the reference operators) against PyTorch on the
 * same weights and inputs, through the model verbs: for each network and
 * head (width 8, 32x32, batch 2-3) the forward output,
 * the loss, every parameter gradient, the BatchNorm running statistics and
 * the losses of 3 Adam steps. The vectors are made by tools/make_vectors.py
 * (Debian's PyTorch 1.13) and committed under tests/vectors/; those of the
 * global-context networks (resunet-gc with its auxiliary class loss,
 * resunet-se; width 4, reg head) by tools/make_context_net_vectors.py, which
 * records the width, the labels and the aux loss weight in the file.
 *
 * Tolerances (|a - b| <= atol + rtol |b|), float32 throughout:
 *   output                     atol 1e-5 max|output|, rtol 1e-4
 *   running stats              atol 1e-5, rtol 1e-4
 *   loss                       rtol 1e-5
 *   Adam losses                rtol 1e-3 (Adam's first steps move every weight by
 *                              about lr whatever its gradient's size, so the
 *                              rounding of near-zero gradients shows; at width 8
 *                              both backends land within 6e-4 of PyTorch)
 *   gradients                  atol 1e-5 * max(max|grad of that tensor|,
 *                                          0.1 max|grad of the model|), rtol 1e-3
 * Gradients are compared on the tensor's own scale (BatchNorm over a few
 * pixels divides by small variances), floored by the model's scale for sums
 * that nearly cancel. The vectors avoid activations within 1e-5 of a ReLU or
 * max-pool kink (tools/make_vectors.py), where float32 rounding alone could
 * send a value to the other side and change the gradients visibly. */
#include <stdlib.h>
#include <string.h>

#include "colorize/colorize.h"
#include "colorize/safetensors.h"
#include "model.h"
#include "test.h"
#include "util.h"

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* Count elements outside tolerance; report the worst. */
static void compare(const char *what, const float *got, const float *want, size_t n, double atol,
                    double rtol)
{
    size_t bad = 0, worst_i = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]), tol = atol + rtol * fabs(want[i]);
        if (!(d <= tol))
            bad++;
        if (d - tol > worst || !(d == d)) {
            worst = d - tol;
            worst_i = i;
        }
    }
    if (getenv("CZ_PARITY_STATS")) {
        double sum = 0, mx = 0, ref = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - want[i]);
            sum += d;
            mx = fmax(mx, d);
            ref = fmax(ref, fabs(want[i]));
        }
        printf("    %-28s max|d| %.3g  mean|d| %.3g  max|want| %.3g\n", what, mx, sum / n, ref);
    }
    test_checks++;
    if (bad) {
        test_failures++;
        fprintf(stderr, "  %s: %zu of %zu values off; worst [%zu] got %.8g want %.8g\n", what, bad, n,
                worst_i, got[worst_i], want[worst_i]);
    }
}

static float *tensor_f32(cz_st_file *f, const char *name, size_t *n)
{
    const cz_st_tensor *t = cz_st_find(f, name);
    if (!t || t->dtype != CZ_ST_F32)
        return NULL;
    float *v = malloc(t->numel * sizeof(float));
    if (v && cz_st_copy_f32(t, v)) {
        free(v);
        return NULL;
    }
    if (n)
        *n = t->numel;
    return v;
}

/* A non-negative metadata number, or def when absent. */
static double meta_number(const cz_st_file *f, const char *key, double def)
{
    const char *v = cz_st_metadata(f, key);
    return v ? atof(v) : def;
}

static void run_case(const char *dir, const char *backend, cz_arch arch, cz_head head)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/%s_%s.safetensors", dir, cz_arch_name(arch),
             cz_head_name(head));
    cz_st_file *f;
    if (cz_st_open(&f, path)) {
        fprintf(stderr, "%s\n", cz_last_error());
        CHECK(0);
        return;
    }
    printf("%s/%s on %s\n", cz_arch_name(arch), cz_head_name(head), backend);
    cz_model m;
    const int width = (int)meta_number(f, "width", 8);
    CHECK(cz_model_init(&m, arch, head, width, 32, 0) == CZ_OK && cz_model_set_backend(&m, backend) == CZ_OK);
    m.aux_weight = meta_number(f, "aux_weight", 0);
    const cz_graph *g = &m.graph;
    char name[256];
    for (int i = 0; i < g->n_params; i++) {
        snprintf(name, sizeof name, "param.%s", g->params[i].name);
        const cz_st_tensor *t = cz_st_find(f, name);
        CHECK(t && t->numel == g->params[i].count && cz_st_copy_f32(t, m.params + g->params[i].offset) == CZ_OK);
    }
    size_t n_in = 0, n_out = 0;
    float *x = tensor_f32(f, "input", &n_in), *want_out = tensor_f32(f, "output", &n_out);
    float *uv = tensor_f32(f, "target_uv", NULL), *want_loss = tensor_f32(f, "loss", NULL);
    float *adam = tensor_f32(f, "adam_losses", NULL);
    const cz_st_tensor *tb = cz_st_find(f, "target_bins");
    CHECK(x && want_out && uv && want_loss && adam && tb);
    if (!(x && want_out && uv && want_loss && adam && tb))
        return;
    int64_t *bins64 = malloc(tb->numel * sizeof(int64_t));
    int32_t *bins = malloc(tb->numel * sizeof(int32_t));
    CHECK(cz_st_copy_i64(tb, bins64) == CZ_OK);
    for (size_t i = 0; i < tb->numel; i++)
        bins[i] = (int32_t)bins64[i];
    cz_batch b = {.y = x, .uv = uv, .bins = bins, .n = (int)(n_in / 1024), .side = 32};
    uint8_t labels[16];
    const cz_st_tensor *tl = cz_st_find(f, "labels");
    if (tl) { /* the class labels of the aux loss */
        int64_t l64[16];
        CHECK(tl->numel == (size_t)b.n && tl->numel <= 16 && cz_st_copy_i64(tl, l64) == CZ_OK);
        for (size_t i = 0; i < tl->numel && i < 16; i++)
            labels[i] = (uint8_t)l64[i];
        b.labels = labels;
    }
    double loss;
    const float *out;
    if (cz_model_forward(&m, &b, &loss, &out)) {
        fprintf(stderr, "%s\n", cz_last_error());
        CHECK(0);
        return;
    }
    compare("output", out, want_out, n_out, 1e-5 * max_abs(want_out, n_out), 1e-4);
    CHECK_CLOSE(loss, want_loss[0], 0, 1e-5);
    CHECK(cz_model_backward(&m) == CZ_OK);
    /* A gradient that is a near-cancelling sum (a bias in front of a
     * BatchNorm is ~0) is compared on the scale of the whole model's. */
    double gscale = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < g->n_params; i++) {
            size_t cnt;
            snprintf(name, sizeof name, "grad.%s", g->params[i].name);
            float *want = tensor_f32(f, name, &cnt);
            if (pass == 0) {
                if (want)
                    gscale = fmax(gscale, max_abs(want, cnt));
            } else {
                CHECK(want && cnt == g->params[i].count);
                if (want && cnt == g->params[i].count)
                    compare(name, m.grads + g->params[i].offset, want, cnt,
                            1e-5 * fmax(max_abs(want, cnt), 0.1 * gscale), 1e-3);
            }
            free(want);
        }
    for (int i = 0; i < g->n_buffers; i++) {
        size_t cnt;
        snprintf(name, sizeof name, "running.%s", g->buffers[i].name);
        float *want = tensor_f32(f, name, &cnt);
        CHECK(want && cnt == g->buffers[i].count);
        if (want && cnt == g->buffers[i].count)
            compare(name, m.buffers + g->buffers[i].offset, want, cnt, 1e-5, 1e-4);
        free(want);
    }
    /* Three Adam steps on the same batch (the first backward is done). */
    cz_optim_config oc;
    cz_optim_defaults(&oc);
    CHECK(cz_model_optim_init(&m, &oc) == CZ_OK);
    for (int k = 1; k <= 3; k++) {
        CHECK(cz_model_step(&m, 1e-3) == CZ_OK);
        CHECK(cz_model_forward(&m, &b, &loss, NULL) == CZ_OK);
        printf("  adam step %d: loss %.7f (PyTorch %.7f)\n", k, loss, adam[k]);
        CHECK_CLOSE(loss, adam[k], 0, 1e-3);
        if (k < 3)
            CHECK(cz_model_backward(&m) == CZ_OK);
    }
    cz_model_free(&m);
    free(x);
    free(want_out);
    free(uv);
    free(want_loss);
    free(adam);
    free(bins64);
    free(bins);
    cz_st_close(f);
}

int main(void)
{
    const char *dir = getenv("COLORIZE_SOURCE_DIR");
    if (!dir)
        dir = ".";
    cz_set_threads(2);
    static const char *const backends[] = {"dnnl", "ref"};
    for (int be = 0; be < 2; be++)
        for (int a = 0; a < CZ_ARCH_COUNT; a++)
            for (int h = 0; h < 2; h++) {
                /* the context networks' vectors: reg only (tests/vectors/README.md) */
                int context = a == CZ_ARCH_RESUNET_GC || a == CZ_ARCH_RESUNET_SE;
                if (!context || h == CZ_HEAD_REG)
                    run_case(dir, backends[be], (cz_arch)a, (cz_head)h);
            }
    TEST_END();
}
