/* bf16 precision (cz_model_set_precision "bf16"): every network and head at
 * width 16, batch 16 of 32x32 random images, against the same model in fp32
 * from the same weights. bf16 keeps 8 significant bits, so whole tensors are
 * compared (relative L2 error), not single values.
 *
 * A training pass at initialisation amplifies any rounding: BatchNorm on
 * batch statistics subtracts a mean that is large next to the spread, so
 * an fp32 net whose input alone is moved by 0.2 % (one bf16 rounding) moves
 * its output by about 2 % and its gradient by about 16 % (vgg). The
 * training pass is therefore held to that sensitivity, measured per case:
 *   training output, gradient slab   <= 4 x the fp32 net's response to the
 *                                       0.2 % input change (+ 1 %), cosine >= 0.9
 *   loss                             <= 1 %
 *   inference output (no such amplification)   <= 0.5 %
 * and after 15 Adam steps on one batch the bf16 loss is within 3 % of the
 * fp32 loss (the master weights, Adam's moments and every sum stay fp32).
 * The net's description must name bf16 kernels and no reference kernel.
 * `test_bf16 refuse` (run under DNNL_MAX_CPU_ISA=AVX512_CORE, and on any CPU
 * without bf16) checks that bf16 is refused with a message that says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "colorize/colorize.h"
#include "model.h"
#include "test.h"
#include "util.h"

#define BATCH 16
#define SIDE 32
#define HW (SIDE * SIDE)
#define STEPS 15

static double rel_l2(const float *got, const float *want, size_t n, double *cosine)
{
    double d = 0, w = 0, g = 0, dot = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        w += (double)want[i] * want[i];
        g += (double)got[i] * got[i];
        dot += (double)got[i] * want[i];
    }
    if (cosine)
        *cosine = w > 0 && g > 0 ? dot / sqrt(w * g) : 1;
    return w > 0 ? sqrt(d / w) : sqrt(d);
}

static void make_batch(cz_batch *b, uint64_t seed)
{
    cz_rng r = {seed};
    for (size_t i = 0; i < (size_t)BATCH * HW; i++)
        b->y[i] = cz_rng_uniform(&r);
    for (size_t i = 0; i < (size_t)BATCH * 2 * HW; i++) {
        float max = (i / HW) % 2 ? CZ_V_MAX : CZ_U_MAX;
        b->uv[i] = (2 * cz_rng_uniform(&r) - 1) * max;
        b->bins[i] = cz_chroma_bin(b->uv[i], max);
    }
    for (int i = 0; i < BATCH; i++)
        b->labels[i] = (uint8_t)(cz_rng_next(&r) % CZ_CIFAR_CLASSES);
}

/* The net description's kernels: bf16 ones (jit_bf16, or AMX) and reference ones. */
static void kernels(const cz_model *m, int *bf16, int *refs)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    *bf16 = *refs = 0;
    if (!fp)
        return;
    cz_model_describe(m, fp);
    fclose(fp);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        *bf16 += strstr(line, "bf16") != NULL || strstr(line, "amx") != NULL;
        *refs += strstr(line, "ref") != NULL;
    }
    free(text);
}

/* How far an fp32 training pass moves (output, gradient slab; relative L2)
 * when its input alone is changed by up to 0.2 %, about one bf16 rounding. */
static int sensitivity(cz_arch arch, cz_head head, const cz_batch *b, double *s_out, double *s_grad)
{
    cz_model m[2];
    float *out0 = NULL, *g0 = NULL, *y2 = malloc((size_t)BATCH * HW * sizeof(float));
    int bad = !y2;
    cz_rng r = {99};
    for (size_t i = 0; !bad && i < (size_t)BATCH * HW; i++)
        y2[i] = b->y[i] * (1 + 0.002f * (2 * cz_rng_uniform(&r) - 1));
    cz_batch b2 = *b;
    b2.y = y2;
    for (int k = 0; k < 2 && !bad; k++) {
        double loss;
        const float *out;
        bad = cz_model_init(&m[k], arch, head, 16, SIDE, 5) || (m[k].aux_weight = m[k].graph.aux >= 0 ? 0.3 : 0, 0) ||
              cz_model_forward(&m[k], k ? &b2 : b, &loss, &out) || cz_model_backward(&m[k]);
        const size_t n_out = (size_t)BATCH * m[k].out_channels * HW, np = m[k].graph.param_floats;
        if (!bad && k == 0) {
            bad = !(out0 = malloc(n_out * sizeof(float))) || !(g0 = malloc(np * sizeof(float)));
            if (!bad) {
                memcpy(out0, out, n_out * sizeof(float));
                memcpy(g0, m[0].grads, np * sizeof(float));
            }
        } else if (!bad) {
            *s_out = rel_l2(out, out0, n_out, NULL);
            *s_grad = rel_l2(m[1].grads, g0, np, NULL);
        }
        cz_model_free(&m[k]);
    }
    free(out0);
    free(g0);
    free(y2);
    return bad;
}

static void run_case(cz_arch arch, cz_head head, cz_batch *b)
{
    char name[64];
    snprintf(name, sizeof name, "%s/%s", cz_arch_name(arch), cz_head_name(head));
    cz_model m[2]; /* fp32, bf16 */
    double loss[2];
    const float *out[2];
    float *train_out[2] = {NULL, NULL}, *grads[2] = {NULL, NULL}, *pred[2] = {NULL, NULL};
    double s_out = 0, s_grad = 0;
    if (sensitivity(arch, head, b, &s_out, &s_grad)) {
        CHECK(!"sensitivity run");
        return;
    }
    cz_optim_config oc;
    cz_optim_defaults(&oc);
    for (int k = 0; k < 2; k++) {
        CHECK(cz_model_init(&m[k], arch, head, 16, SIDE, 5) == CZ_OK);
        CHECK(cz_model_set_precision(&m[k], k ? "bf16" : "fp32") == CZ_OK);
        CHECK(cz_model_optim_init(&m[k], &oc) == CZ_OK);
        m[k].aux_weight = m[k].graph.aux >= 0 ? 0.3 : 0;
    }
    const size_t n_out = (size_t)BATCH * m[0].out_channels * HW, np = m[0].graph.param_floats;
    for (int k = 0; k < 2; k++) {
        train_out[k] = malloc(n_out * sizeof(float));
        grads[k] = malloc(np * sizeof(float));
        pred[k] = malloc((size_t)BATCH * 2 * HW * sizeof(float));
        if (!train_out[k] || !grads[k] || !pred[k] || cz_model_forward(&m[k], b, &loss[k], &out[k]) ||
            cz_model_backward(&m[k])) {
            CHECK(!"bf16 case set up");
            goto done;
        }
        memcpy(train_out[k], out[k], n_out * sizeof(float));
        memcpy(grads[k], m[k].grads, np * sizeof(float));
    }
    int bf, refs;
    kernels(&m[1], &bf, &refs);
    double cos, e_out = rel_l2(train_out[1], train_out[0], n_out, NULL);
    double e_grad = rel_l2(grads[1], grads[0], np, &cos);
    CHECK(bf > 0);
    CHECK(refs == 0);
    CHECK(e_out <= 4 * s_out + 0.01);
    CHECK_CLOSE(loss[1], loss[0], 0, 0.01);
    CHECK(e_grad <= 4 * s_grad + 0.01 && cos >= 0.9);
    /* inference after the training forward (running statistics updated alike) */
    for (int k = 0; k < 2; k++)
        CHECK(cz_model_predict(&m[k], b->y, BATCH, SIDE, SIDE, (cz_decode){CZ_DECODE_MEAN, 1}, pred[k], NULL) ==
              CZ_OK);
    double e_pred = rel_l2(pred[1], pred[0], (size_t)BATCH * 2 * HW, NULL);
    CHECK(e_pred <= 0.005);
    /* Training on one batch: the same descent. */
    double last[2];
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < STEPS; s++)
            if (cz_model_forward(&m[k], b, &last[k], NULL) || cz_model_backward(&m[k]) || cz_model_step(&m[k], 1e-3)) {
                CHECK(!"training step");
                goto done;
            }
    CHECK(last[0] < loss[0] && last[1] < loss[1]);
    CHECK_CLOSE(last[1], last[0], 0, 0.03);
    printf("%-14s bf16 kernels %3d  output %.4f (fp32 moved %.4f)  loss %.5f/%.5f  grad %.4f (%.4f, cos %.4f)  "
           "predict %.4f  after %d steps %.5f/%.5f\n",
           name, bf, e_out, s_out, loss[1], loss[0], e_grad, s_grad, cos, e_pred, STEPS, last[1], last[0]);
done:
    for (int k = 0; k < 2; k++) {
        free(train_out[k]);
        free(grads[k]);
        free(pred[k]);
        cz_model_free(&m[k]);
    }
}

static int refuse(void)
{
    cz_model m;
    if (cz_model_init(&m, CZ_ARCH_VGG, CZ_HEAD_REG, 8, SIDE, 1))
        return 1;
    CHECK(cz_model_set_precision(&m, "bf16") == CZ_ERR_ARG);
    CHECK(strstr(cz_last_error(), "bf16 instructions") != NULL);
    CHECK(cz_model_set_precision(&m, "fp16") == CZ_ERR_ARG);
    CHECK(strstr(cz_last_error(), "fp32 or bf16") != NULL);
    CHECK(cz_model_set_precision(&m, "fp32") == CZ_OK);
    cz_model_free(&m);
    /* every command refuses it as a usage error (exit 2) before any work */
    const char *bin = getenv("COLORIZE_BIN"), *src = getenv("COLORIZE_SOURCE_DIR");
    if (bin && src) {
        static const char *const cmds[] = {"train --epochs 1 --out bf16_refused", "eval",
                                           "bench --arch vgg --width 8", "run %s/docs/img/ship_curves.png -o bf16.png"};
        for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
            char args[1024], line[2048];
            snprintf(args, sizeof args, cmds[i], src);
            snprintf(line, sizeof line, "'%s' %s --precision bf16 2>/dev/null", bin, args);
            int rc = system(line);
            CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
            if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 2))
                fprintf(stderr, "  %s: exit %d, want 2\n", line, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
        }
    }
    TEST_END();
}

int main(int argc, char **argv)
{
    cz_set_threads(1);
    if (argc > 1 && strcmp(argv[1], "refuse") == 0) {
        if (cz_backend_bf16_available())
            TEST_SKIP("this CPU has bf16 (run under DNNL_MAX_CPU_ISA=AVX512_CORE)");
        return refuse();
    }
    if (!cz_backend_bf16_available())
        TEST_SKIP("no bf16 instructions on this CPU (AVX512_BF16 or AMX)");
    float *y = malloc((size_t)BATCH * HW * sizeof(float)), *uv = malloc((size_t)BATCH * 2 * HW * sizeof(float));
    int32_t *bins = malloc((size_t)BATCH * 2 * HW * sizeof(int32_t));
    uint8_t labels[BATCH];
    if (!y || !uv || !bins)
        return 1;
    cz_batch b = {.y = y, .uv = uv, .bins = bins, .labels = labels, .n = BATCH, .side = SIDE};
    make_batch(&b, 3);
    for (int a = 0; a < CZ_ARCH_COUNT; a++)
        for (int h = 0; h < 2; h++)
            run_case((cz_arch)a, h ? CZ_HEAD_CLS : CZ_HEAD_REG, &b);
    /* the ref backend does not run bf16 */
    cz_model m;
    CHECK(cz_model_init(&m, CZ_ARCH_VGG, CZ_HEAD_REG, 16, SIDE, 1) == CZ_OK);
    CHECK(cz_model_set_precision(&m, "bf16") == CZ_OK && cz_model_set_backend(&m, "ref") == CZ_OK);
    CHECK(cz_model_predict(&m, y, 1, SIDE, SIDE, (cz_decode){CZ_DECODE_MEAN, 1}, uv, NULL) == CZ_ERR_ARG);
    CHECK(strstr(cz_last_error(), "dnnl backend only") != NULL);
    cz_model_free(&m);
    free(y);
    free(uv);
    free(bins);
    TEST_END();
}
