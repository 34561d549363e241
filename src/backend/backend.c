/* The backend registry, the cz_net handle that dispatches to a backend's
 * table, and the thread count (OpenMP, shared by backends and the heads). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "colorize/threads.h"
#include "util.h"

const char *const cz_prof_names[CZ_PROF_COUNT] = {
    "conv forward", "conv backward-data", "conv backward-weights", "batchnorm",
    "maxpool", "reorders", "add/relu/accumulate", "context (pool/fc/gate)",
};

struct cz_net {
    const cz_backend_i *be;
    void *impl;
};

static int threads_wanted = 0;

void cz_set_threads(int n)
{
    threads_wanted = n;
    if (n > 0)
        omp_set_num_threads(n);
}

int cz_threads(void)
{
    return omp_get_max_threads();
}

const cz_backend_i *cz_backend_find(const char *name)
{
    static const cz_backend_i *const all[] = {&cz_backend_dnnl, &cz_backend_ref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    cz_fail(CZ_ERR_ARG, "unknown backend '%s' (use dnnl or ref)", name);
    return NULL;
}

cz_status cz_net_create(const cz_backend_i *be, const cz_net_config *cfg, cz_net **out)
{
    *out = NULL;
    if (cfg->batch < 1 || cfg->batch > 1 << 16)
        return cz_fail(CZ_ERR_ARG, "batch size %d out of range", cfg->batch);
    if (cfg->training && !cfg->grads)
        return cz_fail(CZ_ERR_ARG, "training needs a gradient slab");
    /* (the thread that builds may not be the one that set the count) */
    if (threads_wanted > 0)
        omp_set_num_threads(threads_wanted);
    cz_net *net = cz_alloc(1, sizeof *net, "net");
    if (!net)
        return CZ_ERR_NOMEM;
    net->be = be;
    cz_status st = be->create(cfg, &net->impl);
    if (st) {
        free(net);
        return st;
    }
    *out = net;
    return CZ_OK;
}

void cz_net_free(cz_net *net)
{
    if (!net)
        return;
    net->be->free(net->impl);
    free(net);
}

cz_status cz_net_forward(cz_net *net, const float *input, float *output)
{
    return net->be->forward(net->impl, input, output);
}

cz_status cz_net_backward(cz_net *net, const float *d_output)
{
    return net->be->backward(net->impl, d_output);
}

size_t cz_net_memory(const cz_net *net)
{
    return net->be->memory(net->impl);
}

void cz_net_profile(cz_net *net, int enable)
{
    net->be->profile(net->impl, enable);
}

const double *cz_net_profile_times(const cz_net *net)
{
    return net->be->profile_times(net->impl);
}

void cz_net_describe(const cz_net *net, FILE *fp)
{
    net->be->describe(net->impl, fp);
}

double cz_net_kink_margin(const cz_net *net)
{
    return net->be->kink_margin ? net->be->kink_margin(net->impl) : -1;
}

const char *cz_net_backend_name(const cz_net *net)
{
    return net->be->name;
}

const float *cz_net_aux_output(const cz_net *net)
{
    return net->be->aux_output ? net->be->aux_output(net->impl) : NULL;
}

float *cz_net_aux_grad(cz_net *net)
{
    return net->be->aux_grad ? net->be->aux_grad(net->impl) : NULL;
}
