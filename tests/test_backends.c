/* Every network of src/models.c (vgg, unet, resnet, resunet, resunet-gc,
 * resunet-se x reg, cls at widths 8 and 16, batch 4 of 16x16 images; the
 * GC network with its auxiliary class loss, weight 0.5) on both backends from the same
 * weights and a batch that keeps 1e-5 from every ReLU and max-pool kink: the training forward's output and loss, every parameter gradient,
 * the BatchNorm running statistics, and the inference output afterwards.
 * At width 8 the cls networks run in both activation layouts (nChw8c and
 * nChw16c) whatever this CPU's default.
 * And, through the backend's describe call, that no oneDNN reference
 * kernel (an implementation named "ref...") runs at these widths on 32x32
 * in the default layout.
 *
 * |a - b| <= atol + rtol |b| with b the reference backend's value:
 *   outputs, running statistics   atol 1e-4 * max|b|, rtol 1e-3
 *   loss                          rtol 1e-5
 *   gradients                     atol 1e-4 * max(max|b| of the tensor,
 *                                           0.1 max|b| of the model), rtol 1e-3
 * (float32 sums in oneDNN's order against double-accumulated ones). */
#include <stdlib.h>
#include <string.h>

#include "colorize/colorize.h"
#include "model.h"
#include "test.h"
#include "util.h"

#define BATCH 4
#define SIDE 16 /* 32 is too big a haystack for a batch without near-kinks */
#define KINK_MARGIN 1e-5
#define HW (SIDE * SIDE)
#define AUX_WEIGHT 0.5

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

static void compare(const char *net, const char *what, const float *got, const float *want, size_t n,
                    double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double excess = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]), tol = atol + rtol * fabs(want[i]);
        bad += !(d <= tol);
        if (d - tol > excess || d != d) {
            excess = d - tol;
            worst = i;
        }
    }
    test_checks++;
    if (bad) {
        test_failures++;
        fprintf(stderr, "  %s %s: %zu of %zu off; worst [%zu] dnnl %.8g ref %.8g\n", net, what, bad, n, worst,
                got[worst], want[worst]);
    }
}

/* Lines of the model's net descriptions that name a reference kernel. */
static int ref_kernels(const char *net, const cz_model *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp)
        return -1;
    cz_model_describe(m, fp);
    fclose(fp);
    int lines = 0, refs = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lines += line[0] != '#';
        if (line[0] != '#' && strstr(line, "ref")) {
            refs++;
            printf("  %s runs a reference kernel: %s\n", net, line);
        }
    }
    free(text);
    return lines ? refs : -1;
}

/* A random batch: Y uniform, U and V uniform over their ranges, their bins. */
static void make_batch(cz_batch *b, uint64_t seed)
{
    const size_t hw = HW;
    float *y = b->y, *uv = b->uv;
    int32_t *bins = b->bins;
    cz_rng r = {seed};
    for (size_t i = 0; i < BATCH * hw; i++)
        y[i] = cz_rng_uniform(&r);
    for (size_t i = 0; i < BATCH * 2 * hw; i++) {
        float max = (i / hw) % 2 ? CZ_V_MAX : CZ_U_MAX;
        uv[i] = (2 * cz_rng_uniform(&r) - 1) * max;
        bins[i] = cz_chroma_bin(uv[i], max);
    }
    for (int i = 0; i < BATCH; i++)
        b->labels[i] = (uint8_t)(cz_rng_next(&r) % CZ_CIFAR_CLASSES);
}

/* m: the reference model after a training forward on a batch whose
 * activations keep KINK_MARGIN from every ReLU and max-pool kink (like
 * tools/make_vectors.py's seeds; the backends differ by ~1e-7 there). */
static int forward_clear_of_kinks(cz_model *m, cz_arch arch, cz_head head, int width, cz_batch *b,
                                  double *loss, const float **out)
{
    for (uint64_t seed = 1; seed <= 100; seed++) {
        make_batch(b, seed);
        if (cz_model_init(m, arch, head, width, 32, 11) || cz_model_set_backend(m, "ref"))
            return 0;
        m->aux_weight = AUX_WEIGHT;
        if (cz_model_forward(m, b, loss, out))
            return 0;
        if (cz_net_kink_margin(m->trained->net) >= KINK_MARGIN)
            return 1;
        cz_model_free(m);
    }
    fprintf(stderr, "no batch keeps %g from the kinks\n", KINK_MARGIN);
    return 0;
}

static void run_case(cz_arch arch, cz_head head, int width, int block, cz_batch *b, const cz_batch *b32)
{
    char net[80];
    snprintf(net, sizeof net, "%s/%s w%d%s", cz_arch_name(arch), cz_head_name(head), width,
             block == 8 ? " nChw8c" : block == 16 ? " nChw16c" : "");
    printf("%s\n", net);
    cz_model m[2]; /* dnnl, ref */
    double loss[2];
    const float *out[2];
    const size_t n_out = (size_t)BATCH * cz_head_channels(head) * HW;
    float *train_out[2];
    CHECK(forward_clear_of_kinks(&m[1], arch, head, width, b, &loss[1], &out[1]));
    CHECK(cz_model_init(&m[0], arch, head, width, 32, 11) == CZ_OK);
    m[0].backend_options.channel_block = block;
    m[0].aux_weight = AUX_WEIGHT;
    CHECK(cz_model_forward(&m[0], b, &loss[0], &out[0]) == CZ_OK);
    if (m[1].graph.aux >= 0) { /* the aux loss took part */
        CHECK(m[0].aux_ce > 0 && m[1].aux_ce > 0);
        CHECK_CLOSE(m[0].aux_ce, m[1].aux_ce, 0, 1e-5);
    }
    for (int k = 0; k < 2; k++) {
        train_out[k] = malloc(n_out * sizeof(float));
        memcpy(train_out[k], out[k], n_out * sizeof(float));
        CHECK(cz_model_backward(&m[k]) == CZ_OK);
    }
    const cz_graph *g = &m[1].graph;
    compare(net, "output", train_out[0], train_out[1], n_out, 1e-4 * max_abs(train_out[1], n_out), 1e-3);
    CHECK_CLOSE(loss[0], loss[1], 0, 1e-5);
    double gscale = max_abs(m[1].grads, g->param_floats);
    for (int i = 0; i < g->n_params; i++) {
        const cz_param_info *p = &g->params[i];
        const float *want = m[1].grads + p->offset;
        compare(net, p->name, m[0].grads + p->offset, want, p->count,
                1e-4 * fmax(max_abs(want, p->count), 0.1 * gscale), 1e-3);
    }
    for (int i = 0; i < g->n_buffers; i++) {
        const cz_param_info *p = &g->buffers[i];
        const float *want = m[1].buffers + p->offset;
        compare(net, p->name, m[0].buffers + p->offset, want, p->count, 1e-4 * max_abs(want, p->count), 1e-3);
    }
    /* Inference with the running statistics just updated. */
    cz_decode d = {CZ_DECODE_MEAN, CZ_DEFAULT_TEMPERATURE};
    for (int k = 0; k < 2; k++)
        CHECK(cz_model_predict(&m[k], b->y, BATCH, SIDE, SIDE, d, NULL, &out[k]) == CZ_OK);
    compare(net, "inference output", out[0], out[1], n_out, 1e-4 * max_abs(out[1], n_out), 1e-3);
    for (int k = 0; k < 2; k++) {
        free(train_out[k]);
        cz_model_free(&m[k]);
    }
    /* The kernels of the training net at the production size (at 16x16 the
     * 2x2 bottleneck does take oneDNN's reference backward-weights), in the
     * layout this CPU gets. */
    if (block)
        return;
    CHECK(cz_model_init(&m[0], arch, head, width, 32, 11) == CZ_OK);
    CHECK(cz_model_forward(&m[0], b32, &loss[0], NULL) == CZ_OK);
    CHECK(ref_kernels(net, &m[0]) == 0);
    cz_model_free(&m[0]);
}

int main(void)
{
    cz_set_threads(2);
    float *y = malloc(BATCH * HW * sizeof(float)), *uv = malloc(BATCH * 2 * HW * sizeof(float));
    int32_t *bins = malloc(BATCH * 2 * HW * sizeof(int32_t));
    uint8_t labels[BATCH];
    cz_batch b = {.y = y, .uv = uv, .bins = bins, .labels = labels, .n = BATCH, .side = SIDE};
    cz_batch b32 = {.y = calloc(BATCH * 1024, sizeof(float)), .uv = calloc(BATCH * 2048, sizeof(float)),
                    .bins = calloc(BATCH * 2048, sizeof(int32_t)), .n = BATCH, .side = 32};
    static const int widths[] = {4, 8, 12, 16};
    for (int w = 0; w < 4; w++)
        for (int a = 0; a < CZ_ARCH_COUNT; a++)
            for (int h = 0; h < 2; h++)
                run_case((cz_arch)a, (cz_head)h, widths[w], 0, &b, &b32);
    /* Both activation layouts whatever this CPU's default. */
    for (int block = 8; block <= 16; block += 8)
        for (int a = 0; a < CZ_ARCH_COUNT; a++)
            run_case((cz_arch)a, CZ_HEAD_CLS, 8, block, &b, &b32);
    cz_model m;
    double loss;
    CHECK(cz_model_init(&m, CZ_ARCH_VGG, CZ_HEAD_REG, 8, 32, 1) == CZ_OK);
    m.backend_options.channel_block = 12; /* no such layout */
    CHECK(cz_model_forward(&m, &b32, &loss, NULL) == CZ_ERR_ARG);
    cz_model_free(&m);

    /* The detector sees a reference kernel where one runs: the first
     * convolution's backward-weights when its source is not reordered. */
    CHECK(cz_model_init(&m, CZ_ARCH_VGG, CZ_HEAD_REG, 8, 32, 1) == CZ_OK);
    m.backend_options.no_alt_src = 1;
    CHECK(cz_model_forward(&m, &b32, &loss, NULL) == CZ_OK);
    CHECK(ref_kernels("vgg/reg w8 without the source reorder", &m) > 0);
    cz_model_free(&m);
    free(y);
    free(uv);
    free(bins);
    free(b32.y);
    free(b32.uv);
    free(b32.bins);
    TEST_END();
}
