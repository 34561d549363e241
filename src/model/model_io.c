/* Saving and loading models as safetensors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_io.h"

static void shape64(const cz_param_info *p, int64_t *s)
{
    for (int i = 0; i < p->ndim; i++)
        s[i] = p->shape[i];
}

cz_status cz_model_to_writer(const cz_model *m, long batches_tracked, cz_st_writer *w,
                             const cz_kv *meta, int n_meta)
{
    const cz_graph *g = &m->graph;
    int64_t s[4];
    cz_status st;
    for (int i = 0; i < g->n_params; i++) {
        shape64(&g->params[i], s);
        if ((st = cz_st_writer_add_f32(w, g->params[i].name, g->params[i].ndim, s,
                                       m->params + g->params[i].offset)))
            return st;
    }
    for (int i = 0; i < g->n_buffers; i++) {
        shape64(&g->buffers[i], s);
        if ((st = cz_st_writer_add_f32(w, g->buffers[i].name, g->buffers[i].ndim, s,
                                       m->buffers + g->buffers[i].offset)))
            return st;
        /* one num_batches_tracked per BatchNorm, after its running_var */
        const char *suffix = ".running_var";
        size_t n = strlen(g->buffers[i].name), k = strlen(suffix);
        if (n > k && strcmp(g->buffers[i].name + n - k, suffix) == 0) {
            char name[CZ_NAME_MAX + 32];
            snprintf(name, sizeof name, "%.*s.num_batches_tracked", (int)(n - k), g->buffers[i].name);
            int64_t v = batches_tracked;
            if ((st = cz_st_writer_add_i64(w, name, 0, NULL, &v)))
                return st;
        }
    }
    char width[16], side[16];
    snprintf(width, sizeof width, "%d", m->width);
    snprintf(side, sizeof side, "%d", m->side);
    const cz_kv base[] = {
        {"arch", cz_arch_name(m->arch)}, {"width", width}, {"head", cz_head_name(m->head)},
        {"bins", "20"}, {"colorspace", "yuv-bt601"}, {"side", side}, {"format", "colorize-model-1"},
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if ((st = cz_st_writer_set_metadata(w, base[i].key, base[i].value)))
            return st;
    for (int i = 0; i < n_meta; i++)
        if ((st = cz_st_writer_set_metadata(w, meta[i].key, meta[i].value)))
            return st;
    return CZ_OK;
}

cz_status cz_model_save(const cz_model *m, long batches_tracked, const char *path,
                        const cz_kv *meta, int n_meta)
{
    cz_st_writer *w;
    cz_status st = cz_st_writer_create(&w);
    if (st)
        return st;
    st = cz_model_to_writer(m, batches_tracked, w, meta, n_meta);
    if (!st)
        st = cz_st_writer_save(w, path);
    cz_st_writer_free(w);
    return st;
}

/* Presence, dtype and shape of every tensor of a set, from the header
 * alone, and finite values: run before any slab is allocated, so that a
 * tiny file naming a huge network costs nothing (issue 13). */
static cz_status check_set(const cz_st_file *f, const cz_param_info *info, int n)
{
    for (int i = 0; i < n; i++) {
        int64_t s[4];
        shape64(&info[i], s);
        const cz_st_tensor *t;
        cz_status st = cz_st_expect(f, info[i].name, CZ_ST_F32, info[i].ndim, s, &t);
        if (st)
            return st;
        const uint8_t *bytes = t->data;
        for (size_t k = 0; k < t->numel; k++) {
            float x;
            memcpy(&x, bytes + 4 * k, sizeof x); /* data is not aligned */
            if (!isfinite(x))
                return cz_fail(CZ_ERR_NUMERIC,
                               "%s: tensor '%s' holds %s at element %zu: the model diverged or "
                               "the file is corrupt; use another checkpoint",
                               cz_st_path(f), info[i].name, isnan(x) ? "NaN" : "infinity", k);
        }
    }
    return CZ_OK;
}

static cz_status check_graph(const cz_st_file *f, const cz_graph *g)
{
    cz_status st = check_set(f, g->params, g->n_params);
    return st ? st : check_set(f, g->buffers, g->n_buffers);
}

/* Copy a set checked by check_set into its slab. */
static cz_status read_set(const cz_st_file *f, const cz_param_info *info, int n, float *slab)
{
    for (int i = 0; i < n; i++) {
        cz_status st = cz_st_copy_f32(cz_st_find(f, info[i].name), slab + info[i].offset);
        if (st)
            return st;
    }
    return CZ_OK;
}

cz_status cz_model_read_tensors(const cz_st_file *f, cz_model *m)
{
    cz_status st = check_graph(f, &m->graph);
    if (!st)
        st = read_set(f, m->graph.params, m->graph.n_params, m->params);
    if (!st)
        st = read_set(f, m->graph.buffers, m->graph.n_buffers, m->buffers);
    return st;
}

/* A decimal integer in [lo, hi] written plainly: digits only, no sign,
 * space or leading zero (" 1" and "+1" are not widths). */
static cz_status meta_int(const cz_st_file *f, const char *key, int lo, int hi, int *out)
{
    const char *v = cz_st_metadata(f, key);
    if (!v)
        return cz_fail(CZ_ERR_FORMAT, "%s: not a colorize model (no '%s' in the metadata)",
                       cz_st_path(f), key);
    long x = 0;
    size_t n = strlen(v);
    int ok = n >= 1 && n <= 9 && !(v[0] == '0' && n > 1);
    for (size_t i = 0; ok && i < n; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        x = 10 * x + (v[i] - '0');
    }
    if (!ok || x < lo || x > hi)
        return cz_fail(CZ_ERR_FORMAT, "%s: bad metadata %s=\"%s\" (a plain integer %d..%d)",
                       cz_st_path(f), key, v, lo, hi);
    *out = (int)x;
    return CZ_OK;
}

cz_status cz_model_from_file(const cz_st_file *f, cz_model *m)
{
    const char *arch = cz_st_metadata(f, "arch"), *head = cz_st_metadata(f, "head");
    const char *cs = cz_st_metadata(f, "colorspace");
    if (!arch || !head)
        return cz_fail(CZ_ERR_FORMAT, "%s: not a colorize model (metadata lacks arch/head)",
                       cz_st_path(f));
    if (cs && strcmp(cs, "yuv-bt601") != 0)
        return cz_fail(CZ_ERR_FORMAT, "%s: colour space '%s' is not supported (yuv-bt601 only)",
                       cz_st_path(f), cs);
    cz_arch a;
    cz_head h;
    int width, side = 32, bins = 20;
    cz_status st;
    if ((st = cz_arch_parse(arch, &a)) || (st = cz_head_parse(head, &h)))
        return cz_fail(st, "%s: %s", cz_st_path(f), cz_last_error());
    if ((st = meta_int(f, "width", 1, 1024, &width)))
        return st;
    if (cz_st_metadata(f, "side") && (st = meta_int(f, "side", 8, 4096, &side)))
        return st;
    if (cz_st_metadata(f, "bins") && (st = meta_int(f, "bins", 1, 1000, &bins)))
        return st;
    if (bins != 20)
        return cz_fail(CZ_ERR_FORMAT, "%s: %d bins; colorize uses 20", cz_st_path(f), bins);
    /* Check the file against the graph before allocating its slabs. */
    cz_graph g;
    if ((st = cz_model_graph(a, width, h == CZ_HEAD_CLS ? 40 : 2, side, &g)))
        return cz_fail(st, "%s: %s", cz_st_path(f), cz_last_error());
    st = check_graph(f, &g);
    cz_graph_free(&g);
    if (st)
        return st;
    if ((st = cz_model_create(m, a, h, width, side)))
        return st;
    if ((st = cz_model_read_tensors(f, m))) {
        cz_model_free(m);
        return st;
    }
    return CZ_OK;
}

cz_status cz_model_load(const char *path, cz_model *m)
{
    cz_st_file *f;
    cz_status st = cz_st_open(&f, path);
    if (st)
        return st;
    st = cz_model_from_file(f, m);
    cz_st_close(f);
    return st;
}
