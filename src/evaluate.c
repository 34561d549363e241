/* Inference over dataset images with metrics; dataset opening by path. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "evaluate.h"
#include "util.h"

cz_status cz_evaluate(const cz_model *m, const cz_dataset *ds, const int *idx, int count, int batch,
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
    const int hw = m->side * m->side, C = m->out_channels;
    cz_net *net = NULL;
    cz_loader *ld = NULL;
    float *x = cz_alloc_aligned((size_t)batch * hw, sizeof(float), "eval input");
    float *y = cz_alloc_aligned((size_t)batch * C * hw, sizeof(float), "eval output");
    float *uv = cz_alloc_aligned((size_t)batch * 2 * hw, sizeof(float), "eval chroma");
    cz_status st = CZ_ERR_NOMEM;
    if (!x || !y || !uv)
        goto done;
    st = cz_net_create(&m->graph, batch, 0, m->params, NULL, m->buffers, &net);
    if (st)
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
        if ((st = cz_net_forward(net, x, y)))
            goto done;
        cz_decode_output(y, m->head, b->n, hw, decode, uv);
        cz_metrics_add(out, b, y, uv, m->head);
    }
    st = CZ_OK;
done:
    cz_loader_free(ld);
    cz_net_free(net);
    free(x);
    free(y);
    free(uv);
    return st;
}

cz_status cz_data_open(const char *path, int verify, int side, cz_dataset *ds, int *pooled_cifar)
{
    struct stat sb;
    *pooled_cifar = 0;
    memset(ds, 0, sizeof *ds);
    if (stat(path, &sb) != 0)
        return cz_fail(CZ_ERR_IO, "%s: no such dataset (run `colorize data fetch` or pass --data DIR)",
                       path);
    if (S_ISREG(sb.st_mode))
        return cz_cifar_load_file(path, ds);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/data_batch_1.bin", path);
    if (cz_file_exists(probe)) {
        if (verify) {
            cz_status st = cz_cifar_verify(path, NULL);
            if (st)
                return st; /* its message names the file and the fetch command */
        }
        *pooled_cifar = 1;
        return cz_cifar_load(path, ds);
    }
    snprintf(probe, sizeof probe, "%s/test_batch.bin", path);
    if (cz_file_exists(probe))
        return cz_fail(CZ_ERR_IO, "%s: data_batch_1.bin is missing (run `colorize data fetch`)", path);
    return cz_folder_load(path, side, ds, stderr);
}
