/* Inference over dataset images with metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "model_io.h"
#include "util.h"

cz_status cz_evaluate_load(const char *path, const char *backend, const char *precision, cz_model *m)
{
    cz_status st = cz_model_load(path, m);
    if (!st && ((backend && (st = cz_model_set_backend(m, backend))) ||
                (precision && (st = cz_model_set_precision(m, precision)))))
        cz_model_free(m);
    return st;
}

void cz_evaluate_describe(const cz_model *m, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s, width %d", cz_arch_name(m->arch), cz_head_name(m->head), m->width);
}

void cz_evaluate_unload(cz_model *m)
{
    cz_model_free(m);
}

cz_status cz_evaluate(cz_model *m, const cz_dataset *ds, const int *idx, int count, int batch,
                      cz_decode decode, cz_metrics *out)
{
    cz_metrics_init(out);
    if (count <= 0)
        return cz_fail(CZ_ERR_ARG, "nothing to evaluate (empty split)");
    if (ds->side != m->side)
        return cz_fail(CZ_ERR_ARG, "dataset images are %dx%d but the model expects %dx%d", ds->side,
                       ds->side, m->side, m->side);
    if (batch > count)
        batch = count;
    const int hw = m->side * m->side;
    cz_loader *ld = NULL;
    float *x = cz_alloc_aligned((size_t)batch * hw, sizeof(float), "eval input");
    float *uv = cz_alloc_aligned((size_t)batch * 2 * hw, sizeof(float), "eval chroma");
    cz_status st = CZ_ERR_NOMEM;
    if (!x || !uv)
        goto done;
    cz_loader_opts opts = {.batch = batch, .shuffle = 0, .drop_last = 0};
    ld = cz_loader_create(ds, idx, count, &opts);
    if (!ld) {
        st = CZ_ERR_NOMEM;
        goto done;
    }
    if ((st = cz_loader_start(ld, 0, 0)))
        goto done;
    const cz_batch *b;
    while ((b = cz_loader_next(ld))) {
        /* A short last batch is padded with zeros: inference BatchNorm
         * treats images independently, so padding changes nothing. */
        memcpy(x, b->y, (size_t)b->n * hw * sizeof(float));
        if (b->n < batch)
            memset(x + (size_t)b->n * hw, 0, (size_t)(batch - b->n) * hw * sizeof(float));
        const float *y;
        if ((st = cz_model_predict(m, x, batch, m->side, m->side, decode, uv, &y)))
            goto done;
        cz_metrics_add(out, b, y, uv, m->head);
    }
    st = CZ_OK;
done:
    cz_loader_free(ld);
    free(x);
    free(uv);
    return st;
}
