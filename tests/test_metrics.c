/* Every SPEC §4 metric of src/metrics.c on inputs small enough to work out
 * by hand; the arithmetic is in the comments. The JSON report is read back
 * with jansson to check it carries the same numbers. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "metrics.h"
#include "test.h"

#define HW 4 /* 2x2 images */

/* Two images, regression head.
 *   image 0 (label 3): red, green, blue, black; predicted grey (U = V = 0)
 *   image 1 (label 7): four grey 128s; predicted U = 0.1, V = -0.1 */
static void test_regression(void)
{
    static const unsigned char rgb0[HW][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {0, 0, 0}};
    float y[2 * HW], uv[2 * 2 * HW], pred[2 * 2 * HW];
    uint8_t labels[2] = {3, 7};
    for (int p = 0; p < HW; p++) {
        cz_rgb_to_yuv(rgb0[p][0] / 255.0f, rgb0[p][1] / 255.0f, rgb0[p][2] / 255.0f, &y[p], &uv[p], &uv[HW + p]);
        pred[p] = pred[HW + p] = 0;
        y[HW + p] = 128 / 255.0f;
        uv[2 * HW + p] = uv[3 * HW + p] = 0;
        pred[2 * HW + p] = 0.1f;
        pred[3 * HW + p] = -0.1f;
    }
    cz_batch b = {.n = 2, .side = 2, .y = y, .uv = uv, .labels = labels};
    cz_metrics m;
    cz_metrics_init(&m);
    cz_metrics_add(&m, &b, pred, pred, CZ_HEAD_REG);

    /* Squared chroma errors are the truth's U, V (SPEC §1 matrix rows):
     *   image 0 U: .14714119^2 + .28886916^2 + .43601035^2
     *            = .02165053 + .08344539 + .19010503 = .29520095
     *           V: .61497538^2 + .51496512^2 + .10001026^2
     *            = .37819472 + .26518907 + .01000205 = .65338584
     *   image 1 U: 4 * 0.1^2 = 0.04, V: 0.04
     * over 8 pixels: MSE_U = .33520095 / 8 = .04190012,
     *                MSE_V = .69338584 / 8 = .08667323,
     *   chroma MSE = MSE_U + MSE_V = .12857335 (SPEC sums the channels);
     * per class: 3 -> (.29520095 + .65338584) / 4 = .23714670, 7 -> .08 / 4 = .02;
     * grey predictor: image 0's errors only, .94858679 / 8 = .11857335. */
    double px = (double)m.pixels;
    CHECK(m.pixels == 8 && m.images == 2);
    CHECK_CLOSE(m.se_u / px, 0.0419001183, 1e-8, 1e-6);
    CHECK_CLOSE(m.se_v / px, 0.0866732306, 1e-8, 1e-6);
    CHECK_CLOSE(cz_metrics_mse(&m), 0.1285733490, 1e-8, 1e-6);
    CHECK_CLOSE(m.se_class[3] / m.px_class[3], 0.2371466979, 1e-8, 1e-6);
    CHECK_CLOSE(m.se_class[7] / m.px_class[7], 0.02, 1e-8, 1e-6);
    CHECK(m.px_class[0] == 0 && m.px_class[3] == 4 && m.px_class[7] == 4);
    CHECK_CLOSE(m.se_grey / px, 0.1185733490, 1e-8, 1e-6);

    /* 8-bit RGB of the predictions (Y is the true Y):
     *   image 0, grey: 255 * (.299, .587, .114, 0) = 76.245, 149.685, 29.07, 0
     *     -> 76, 150, 29, 0 on all three channels
     *   image 1: R = Y + 1.13983 V, G = Y - .39465 U - .58060 V, B = Y + 2.03211 U
     *     with Y = 128/255: 255 * (.38798, .52056, .70517) = 98.93, 132.74, 179.82
     *     -> (99, 133, 180)
     * squared errors against the originals:
     *   red   (76-255)^2 + 76^2 + 76^2      = 32041 + 5776 + 5776  = 43593
     *   green 150^2 + (150-255)^2 + 150^2   = 22500 + 11025 + 22500 = 56025
     *   blue  29^2 + 29^2 + (29-255)^2      = 841 + 841 + 51076    = 52758
     *   black 0
     *   image 1: 4 * ((99-128)^2 + (133-128)^2 + (180-128)^2) = 4 * 3570 = 14280
     * sum 166656 over 24 values: MSE 6944,
     * PSNR = 10 log10(255^2 / 6944) = 10 log10(9.364199) = 9.714706 dB (once over the split). */
    CHECK_CLOSE(m.rgb_se, 166656.0, 1e-9, 0);
    CHECK(m.rgb_values == 24);
    CHECK_CLOSE(cz_metrics_psnr(&m), 9.714706487, 1e-8, 1e-7);

    /* Colourfulness (Hasler & Süsstrunk, population statistics, per image):
     *   true image 0: rg = R-G = 255, -255, 0, 0; yb = (R+G)/2 - B = 127.5, 127.5, -255, 0
     *     means 0 and 0; variances (2 * 255^2) / 4 = 32512.5 and
     *     (2 * 127.5^2 + 255^2) / 4 = 24384.375; M = sqrt(56896.875) = 238.530658
     *   true image 1: grey, M = 0
     *   predicted image 0: grey, M = 0
     *   predicted image 1: every pixel (99, 133, 180): rg = -34, yb = 116 - 180 = -64,
     *     no spread; M = 0.3 sqrt(34^2 + 64^2) = 0.3 sqrt(5252) = 21.741205
     * averaged per image: true 119.265329, predicted 10.870603. */
    CHECK(m.colorful_images == 2);
    CHECK_CLOSE(m.colorful_true / m.colorful_images, 119.2653292, 1e-6, 1e-7);
    CHECK_CLOSE(m.colorful_pred / m.colorful_images, 10.87060256, 1e-6, 1e-7);
    CHECK(!m.has_cls);

    /* The JSON report carries the same numbers. */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    CHECK(fp != NULL);
    if (!fp)
        return;
    cz_metrics_json(&m, fp, "none", "test");
    fclose(fp);
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    CHECK(j != NULL);
    if (!j) {
        fprintf(stderr, "metrics JSON, byte %d: %s\n%s\n", err.position, err.text, text);
        free(text);
        return;
    }
    CHECK_CLOSE(json_real_value(json_object_get(j, "chroma_mse")), 0.12857335, 1e-7, 0);
    CHECK_CLOSE(json_real_value(json_object_get(j, "mse_u")), 0.04190012, 1e-7, 0);
    CHECK_CLOSE(json_real_value(json_object_get(j, "mse_v")), 0.08667323, 1e-7, 0);
    CHECK_CLOSE(json_real_value(json_object_get(j, "psnr_rgb")), 9.7147, 1e-4, 0);
    CHECK_CLOSE(json_real_value(json_array_get(json_object_get(j, "per_class"), 3)), 0.23714670, 1e-7, 0);
    CHECK_CLOSE(json_real_value(json_object_get(j, "colorfulness_true")), 119.2653, 1e-4, 0);
    CHECK(json_integer_value(json_object_get(j, "images")) == 2 && !json_object_get(j, "bin_acc_u"));
    json_decref(j);
    free(text);
}

/* One image, classification head, bins and logits set directly. Each
 * pixel's 20 logits per channel are one of:
 *   A: all 0              -> argmax 0; CE = ln 20
 *   B: ln 19 at the truth -> right;    p = 19 / (19 + 19) = 1/2, CE = ln 2
 *   C: ln 19 elsewhere    -> wrong;    p = 1 / 38,             CE = ln 38 */
static void test_classification(void)
{
    enum { A, B, C };
    static const int kind[2][HW] = {{B, B, C, A}, {B, C, C, A}};
    static const int32_t truth[2][HW] = {{3, 10, 4, 5}, {19, 0, 7, 6}};
    float logits[2 * CZ_BINS * HW] = {0}, y[HW] = {0}, uv[2 * HW] = {0};
    int32_t bins[2 * HW];
    for (int ch = 0; ch < 2; ch++)
        for (int p = 0; p < HW; p++) {
            bins[ch * HW + p] = truth[ch][p];
            int spike = kind[ch][p] == B ? truth[ch][p] : (truth[ch][p] + 1) % CZ_BINS;
            if (kind[ch][p] != A)
                logits[((size_t)ch * CZ_BINS + spike) * HW + p] = logf(19.0f);
        }
    cz_batch b = {.n = 1, .side = 2, .y = y, .uv = uv, .bins = bins};
    cz_metrics m;
    cz_metrics_init(&m);
    cz_metrics_add(&m, &b, logits, uv, CZ_HEAD_CLS);
    /* U: B B C A -> 2 of 4 right (0.5); V: B C C A -> 1 of 4 (0.25).
     * mean CE over 4 pixels of CE_U + CE_V
     *   = (3 ln 2 + 3 ln 38 + 2 ln 20) / 4
     *   = (2.0794415 + 10.9127573 + 5.9914645) / 4 = 4.7459161 */
    CHECK(m.has_cls && m.pixels == 4);
    CHECK(m.correct_u == 2 && m.correct_v == 1);
    CHECK_CLOSE(m.ce / m.pixels, 4.745916142, 1e-6, 1e-6);
    /* No label: no class is scored. */
    long scored = 0;
    for (int k = 0; k < CZ_CIFAR_CLASSES; k++)
        scored += m.px_class[k];
    CHECK(scored == 0);
}

int main(void)
{
    test_regression();
    test_classification();
    TEST_END();
}
