/* A network with its parameter, gradient and buffer slabs. */
#ifndef CZ_MODEL_H
#define CZ_MODEL_H

#include <stdint.h>

#include "graph.h"
#include "models.h"

typedef enum cz_head { CZ_HEAD_REG = 0, CZ_HEAD_CLS = 1 } cz_head;

typedef struct cz_model {
    cz_arch arch;
    cz_head head;
    int width, side, out_channels;
    cz_graph graph;
    float *params;  /* graph.param_floats */
    float *grads;   /* same layout */
    float *buffers; /* graph.buffer_floats: BatchNorm running statistics */
} cz_model;

const char *cz_head_name(cz_head h);
cz_status cz_head_parse(const char *text, cz_head *out);

/* Build the graph and slabs, initialised as PyTorch initialises the layers
 * (kaiming-uniform(a=sqrt(5)) weights, uniform biases, BN 1/0, running 0/1),
 * drawn from a splitmix64 stream seeded with seed. */
cz_status cz_model_init(cz_model *m, cz_arch arch, cz_head head, int width, int side, uint64_t seed);
void cz_model_free(cz_model *m);

#endif
