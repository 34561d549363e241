/* Colour space round trips, bin edges, decoding rules. */
#include "colorize/colorspace.h"
#include "test.h"

int main(void)
{
    /* Round trip over a grid of RGB values. */
    double worst = 0;
    for (int r = 0; r <= 255; r += 15)
        for (int g = 0; g <= 255; g += 15)
            for (int b = 0; b <= 255; b += 15) {
                float y, u, v, r2, g2, b2;
                cz_rgb_to_yuv(r / 255.f, g / 255.f, b / 255.f, &y, &u, &v);
                CHECK(y >= -1e-6f && y <= 1 + 1e-6f);
                CHECK(fabsf(u) <= CZ_U_MAX + 1e-4f && fabsf(v) <= CZ_V_MAX + 1e-4f);
                cz_yuv_to_rgb(y, u, v, &r2, &g2, &b2);
                double e = fmax(fabs(r2 - r / 255.), fmax(fabs(g2 - g / 255.), fabs(b2 - b / 255.)));
                if (e > worst)
                    worst = e;
                unsigned char px[3];
                cz_yuv_to_rgb8(y, u, v, px);
                CHECK(px[0] == r && px[1] == g && px[2] == b);
            }
    CHECK(worst < 2e-6);
    /* Known values: pure blue has U = 0.436, pure red has V = 0.615. */
    float y, u, v;
    cz_rgb_to_yuv(0, 0, 1, &y, &u, &v);
    CHECK_CLOSE(u, 0.43601035, 1e-6, 0);
    cz_rgb_to_yuv(1, 0, 0, &y, &u, &v);
    CHECK_CLOSE(v, 0.61497538, 1e-6, 0);
    /* Out-of-range reconstruction clips. */
    unsigned char px[3];
    cz_yuv_to_rgb8(1.0f, 0.4f, 0.6f, px);
    CHECK(px[0] == 255);
    cz_yuv_to_rgb8(0.0f, 0.4f, 0.6f, px);
    CHECK(px[1] == 0);

    /* Bins: edges and clamping. */
    CHECK(cz_chroma_bin(-CZ_U_MAX, CZ_U_MAX) == 0);
    CHECK(cz_chroma_bin(-1.0f, CZ_U_MAX) == 0);
    CHECK(cz_chroma_bin(CZ_U_MAX, CZ_U_MAX) == 19);
    CHECK(cz_chroma_bin(5.0f, CZ_V_MAX) == 19);
    CHECK(cz_chroma_bin(0.0f, CZ_U_MAX) == 10);
    CHECK(cz_chroma_bin(-1e-4f, CZ_U_MAX) == 9);
    for (int k = 0; k < CZ_BINS; k++) {
        CHECK(cz_chroma_bin(cz_bin_center(k, CZ_U_MAX), CZ_U_MAX) == k);
        CHECK(cz_chroma_bin(cz_bin_center(k, CZ_V_MAX), CZ_V_MAX) == k);
    }
    CHECK_CLOSE(cz_bin_center(0, CZ_U_MAX), -0.436 + 0.0218, 1e-6, 0);

    /* Decoding: one-hot-like logits give the bin centre under every rule. */
    float logits[CZ_BINS];
    cz_decode mean = {CZ_DECODE_MEAN, 1}, mode = {CZ_DECODE_MODE, 1}, ann = {CZ_DECODE_ANNEALED, 0.38f};
    for (int k = 0; k < CZ_BINS; k++)
        logits[k] = k == 3 ? 100.0f : 0.0f;
    CHECK_CLOSE(cz_decode_logits(logits, 1, CZ_U_MAX, mean), cz_bin_center(3, CZ_U_MAX), 1e-6, 0);
    CHECK_CLOSE(cz_decode_logits(logits, 1, CZ_U_MAX, mode), cz_bin_center(3, CZ_U_MAX), 0, 0);
    CHECK_CLOSE(cz_decode_logits(logits, 1, CZ_U_MAX, ann), cz_bin_center(3, CZ_U_MAX), 1e-6, 0);
    /* Uniform logits: the mean is 0 (symmetric centres), mode picks bin 0. */
    for (int k = 0; k < CZ_BINS; k++)
        logits[k] = 0.5f;
    CHECK_CLOSE(cz_decode_logits(logits, 1, CZ_V_MAX, mean), 0.0, 1e-6, 0);
    CHECK_CLOSE(cz_decode_logits(logits, 1, CZ_V_MAX, ann), 0.0, 1e-6, 0);
    CHECK_CLOSE(cz_decode_logits(logits, 1, CZ_V_MAX, mode), cz_bin_center(0, CZ_V_MAX), 0, 0);
    /* Annealing sharpens: two bins with different logits move towards the larger. */
    for (int k = 0; k < CZ_BINS; k++)
        logits[k] = -50.0f;
    logits[4] = 1.0f;
    logits[6] = 0.0f;
    float m = cz_decode_logits(logits, 1, CZ_U_MAX, mean), a = cz_decode_logits(logits, 1, CZ_U_MAX, ann);
    CHECK(fabsf(a - cz_bin_center(4, CZ_U_MAX)) < fabsf(m - cz_bin_center(4, CZ_U_MAX)));
    /* Strided access. */
    float strided[2 * CZ_BINS] = {0};
    strided[2 * 7] = 100.0f;
    CHECK_CLOSE(cz_decode_logits(strided, 2, CZ_U_MAX, mode), cz_bin_center(7, CZ_U_MAX), 0, 0);

    cz_decode d;
    CHECK(cz_decode_parse("annealed:0.5", &d) == CZ_OK && d.rule == CZ_DECODE_ANNEALED && d.temperature == 0.5f);
    CHECK(cz_decode_parse("annealed", &d) == CZ_OK && fabsf(d.temperature - 0.38f) < 1e-7f);
    CHECK(cz_decode_parse("mode", &d) == CZ_OK && d.rule == CZ_DECODE_MODE);
    CHECK(cz_decode_parse("annealed:-1", &d) != CZ_OK);
    CHECK(cz_decode_parse("median", &d) != CZ_OK);
    TEST_END();
}
