/* The reference networks of ../shared/reference/models.py as graphs. */
#ifndef CZ_MODELS_H
#define CZ_MODELS_H

#include "graph.h"

/* CZ_ARCH_RESUNET is the project's own network (docs/resunet.md): UNet's
 * skip connections with ResNet's residual blocks and max-pool downsampling.
 * RESUNET_GC adds a global-context branch after the bottleneck (with the
 * auxiliary class logits as cz_graph.aux), RESUNET_SE squeeze-and-excitation
 * in every residual block (docs/context.md; twins ResunetGC and ResunetSE of
 * tools/context_modules.py). */
typedef enum cz_arch {
    CZ_ARCH_VGG,
    CZ_ARCH_UNET,
    CZ_ARCH_RESNET,
    CZ_ARCH_RESUNET,
    CZ_ARCH_RESUNET_GC,
    CZ_ARCH_RESUNET_SE,
    CZ_ARCH_COUNT
} cz_arch;

#define CZ_AUX_CLASSES 10 /* the GC branch's class head: CIFAR-10 */

const char *cz_arch_name(cz_arch a);
cz_status cz_arch_parse(const char *text, cz_arch *out);

/* Build arch at base width w with `out` head channels (2 reg, 40 cls) for
 * side x side single-channel input. */
cz_status cz_model_graph(cz_arch arch, int width, int out, int side, cz_graph *g);
/* The same network for an h x w input (multiples of 8). The parameter table
 * does not depend on the input size, so one model's slabs serve every size. */
cz_status cz_model_graph_hw(cz_arch arch, int width, int out, int h, int w, cz_graph *g);

#endif
