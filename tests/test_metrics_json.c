/* issue 13 #6: absent values in the metrics JSON. A class without images
 * and an infinite PSNR (a perfect prediction) are null, never 0 or inf. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "test.h"

static char *to_json(const cz_metrics *m)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    if (!fp)
        return NULL;
    cz_metrics_json(m, fp, "mean", "test");
    fclose(fp);
    return buf;
}

int main(void)
{
    cz_metrics m;
    cz_metrics_init(&m);
    /* 2 images of class 3, perfect prediction: every RGB error is 0 */
    m.pixels = 2048;
    m.px_class[3] = 2048;
    m.rgb_values = 3 * 2048;
    m.se_grey = 1.0;
    m.images = 2;
    CHECK(isinf(cz_metrics_psnr(&m)));
    CHECK(isnan(cz_metrics_class_mse(&m, 0)));
    CHECK(cz_metrics_class_mse(&m, 3) == 0.0);
    char *j = to_json(&m);
    CHECK(j != NULL);
    if (j) {
        CHECK(strstr(j, "inf") == NULL);
        CHECK(strstr(j, "nan") == NULL);
        CHECK(strstr(j, "\"psnr_rgb\": null") != NULL);
        CHECK(strstr(j, "\"per_class\": [null, null, null, 0.00000000, null") != NULL);
        CHECK(strstr(j, "\"colorfulness_pred\": null") != NULL);
        free(j);
    }
    /* no pixels at all: every mean is absent */
    cz_metrics_init(&m);
    CHECK(isnan(cz_metrics_psnr(&m)));
    j = to_json(&m);
    CHECK(j && strstr(j, "\"chroma_mse\": null, \"mse_u\": null") != NULL);
    free(j);
    TEST_END();
}
