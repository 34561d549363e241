/* The global-context reference operators against PyTorch on the same
 * inputs (tests/vectors/context_ops.safetensors, tools/make_context_vectors.py):
 * outputs and every gradient. */
#include <stdlib.h>
#include <string.h>

#include "colorize/safetensors.h"
#include "ref_context.h"
#include "test.h"

enum { N = 2, C = 5, H = 4, W = 3, K = 6, CLASSES = 10 };

static cz_st_file *vec;
static float *owned[64]; /* every buffer, freed at the end */
static int n_owned;

static float *keep(float *p)
{
    if (!p || n_owned == 64)
        exit(1);
    return owned[n_owned++] = p;
}

static float *get(const char *name, size_t n)
{
    const cz_st_tensor *t = cz_st_find(vec, name);
    float *p = keep(calloc(n, sizeof *p));
    if (!t || cz_st_copy_f32(t, p) != CZ_OK) {
        fprintf(stderr, "vectors: %s missing or not %zu floats\n", name, n);
        exit(1);
    }
    return p;
}

static float *zeros(size_t n)
{
    return keep(calloc(n, sizeof(float)));
}

static void same(const char *what, const float *a, const float *b, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= 1e-6 + 1e-5 * fabs((double)b[i])) && bad++ < 3)
            fprintf(stderr, "%s[%zu]: colorize %.9g, torch %.9g\n", what, i, a[i], b[i]);
    CHECK(bad == 0);
}

int main(void)
{
    const char *src = getenv("COLORIZE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/context_ops.safetensors", src ? src : "..");
    if (cz_st_open(&vec, path) != CZ_OK)
        TEST_SKIP("tests/vectors/context_ops.safetensors not found (set COLORIZE_SOURCE_DIR)");
    const size_t X = (size_t)N * C * H * W;

    float *x = get("avgpool.x", X), *r = get("avgpool.r", N * C), *o = zeros(N * C), *dx = zeros(X);
    ref_global_avgpool_forward(o, x, N, C, H, W);
    ref_global_avgpool_backward(dx, r, N, C, H, W);
    same("avgpool.out", o, get("avgpool.out", N * C), N * C);
    same("avgpool.dx", dx, get("avgpool.dx", X), X);

    float *lx = get("linear.x", N * K), *lw = get("linear.weight", C * K), *lb = get("linear.bias", C),
          *lr = get("linear.r", N * C), *lo = zeros(N * C), *ldx = zeros(N * K), *ldw = zeros(C * K),
          *ldb = zeros(C);
    ref_linear_forward(lo, lx, lw, lb, N, K, C);
    ref_linear_backward(ldx, ldw, ldb, lr, lx, lw, N, K, C);
    same("linear.out", lo, get("linear.out", N * C), N * C);
    same("linear.dx", ldx, get("linear.dx", N * K), N * K);
    same("linear.dweight", ldw, get("linear.dweight", C * K), C * K);
    same("linear.dbias", ldb, get("linear.dbias", C), C);

    const size_t CAT = (size_t)N * (C + K) * H * W;
    float *cx = get("concat.x", X), *cv = get("concat.v", N * K), *cr = get("concat.r", CAT), *co = zeros(CAT),
          *cdx = zeros(X), *cdv = zeros(N * K);
    ref_concat_broadcast_forward(co, cx, cv, N, C, K, H, W);
    ref_concat_broadcast_backward(cdx, cdv, cr, N, C, K, H, W);
    same("concat.out", co, get("concat.out", CAT), CAT);
    same("concat.dx", cdx, get("concat.dx", X), X);
    same("concat.dv", cdv, get("concat.dv", N * K), N * K);

    float *gx = get("gate.x", X), *gs = get("gate.s", N * C), *gr = get("gate.r", X), *go = zeros(X),
          *gdx = zeros(X), *gds = zeros(N * C);
    ref_channel_gate_forward(go, gx, gs, N, C, H, W);
    ref_channel_gate_backward(gdx, gds, gr, gx, gs, N, C, H, W);
    same("gate.out", go, get("gate.out", X), X);
    same("gate.dx", gdx, get("gate.dx", X), X);
    same("gate.ds", gds, get("gate.ds", N * C), N * C);

    float *z = get("class.logits", N * CLASSES), *dz = zeros(N * CLASSES), *tl = get("class.loss", 1);
    int64_t lab64[N];
    CHECK(cz_st_copy_i64(cz_st_find(vec, "class.label"), lab64) == CZ_OK);
    uint8_t lab[N] = {(uint8_t)lab64[0], (uint8_t)lab64[1]};
    CHECK_CLOSE(ref_class_loss_forward(z, lab, N, CLASSES), tl[0], 1e-6, 1e-6);
    ref_class_loss_backward(dz, z, lab, N, CLASSES, 1.0f);
    same("class.dlogits", dz, get("class.dlogits", N * CLASSES), N * CLASSES);

    cz_st_close(vec);
    for (int i = 0; i < n_owned; i++)
        free(owned[i]);
    TEST_END();
}
