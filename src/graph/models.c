/* VGG, UNet and ResNet exactly as ../shared/reference/models.py (names,
 * shapes, order of operations). */
#include <stdio.h>
#include <string.h>

#include "models.h"

static const char *arch_names[CZ_ARCH_COUNT] = {"vgg", "unet", "resnet", "resunet"};

const char *cz_arch_name(cz_arch a)
{
    return (unsigned)a < CZ_ARCH_COUNT ? arch_names[a] : "?";
}

cz_status cz_arch_parse(const char *text, cz_arch *out)
{
    for (int i = 0; i < CZ_ARCH_COUNT; i++)
        if (strcmp(text, arch_names[i]) == 0) {
            *out = (cz_arch)i;
            return CZ_OK;
        }
    return cz_fail(CZ_ERR_ARG, "unknown architecture '%s' (use vgg, unet, resnet or resunet)", text);
}

/* Sequential(CBR, CBR) named NAME.0 and NAME.1 */
static int cbr2(cz_graph *g, const char *name, const int *in, int n_in, int c)
{
    char a[CZ_NAME_MAX], b[CZ_NAME_MAX];
    snprintf(a, sizeof a, "%s.0", name);
    snprintf(b, sizeof b, "%s.1", name);
    int t = cz_graph_cbr(g, a, in, n_in, c);
    return cz_graph_cbr(g, b, &t, 1, c);
}

static int one(cz_graph *g, const char *name, int in, int c)
{
    return cbr2(g, name, &in, 1, c);
}

static void encoder_decoder(cz_graph *g, int w, int out, int skips)
{
    int x = g->input;
    int e1 = one(g, "e1", x, w);
    int e2 = one(g, "e2", cz_graph_pool(g, "pool1", e1), 2 * w);
    int e3 = one(g, "e3", cz_graph_pool(g, "pool2", e2), 4 * w);
    int b = one(g, "b", cz_graph_pool(g, "pool3", e3), 8 * w);
    int u3 = cz_graph_deconv(g, "u3", b, 4 * w, 2, 2);
    int d3 = skips ? cbr2(g, "d3", (int[]){u3, e3}, 2, 4 * w) : one(g, "d3", u3, 4 * w);
    int u2 = cz_graph_deconv(g, "u2", d3, 2 * w, 2, 2);
    int d2 = skips ? cbr2(g, "d2", (int[]){u2, e2}, 2, 2 * w) : one(g, "d2", u2, 2 * w);
    int u1 = cz_graph_deconv(g, "u1", d2, w, 2, 2);
    int d1 = skips ? cbr2(g, "d1", (int[]){u1, e1}, 2, w) : one(g, "d1", u1, w);
    g->output = cz_graph_conv(g, "head", &d1, 1, out, 1, 1, 0, 1);
}

/* BasicBlock(a -> b, stride) named NAME: conv1/bn1/conv2/bn2[/shortcut.0/.1],
 * over the channel concatenation of in[0..n_in) (n_in 2 only in resunet's
 * decoder, where the shortcut is then always a 1x1 conv). */
static int basic_block_cat(cz_graph *g, const char *name, const int *in, int n_in, int b, int stride)
{
    char n1[CZ_NAME_MAX], n2[CZ_NAME_MAX];
    int a = 0;
    for (int i = 0; i < n_in; i++)
        a += in[i] >= 0 && in[i] < g->n_tensors ? g->tensors[in[i]].c : 0;
    snprintf(n1, sizeof n1, "%s.conv1", name);
    snprintf(n2, sizeof n2, "%s.bn1", name);
    int y = cz_graph_bn(g, n2, cz_graph_conv(g, n1, in, n_in, b, 3, stride, 1, 0), 1);
    snprintf(n1, sizeof n1, "%s.conv2", name);
    snprintf(n2, sizeof n2, "%s.bn2", name);
    y = cz_graph_bn(g, n2, cz_graph_conv(g, n1, &y, 1, b, 3, 1, 1, 0), 0);
    int sc = in[0];
    if (a != b || stride != 1 || n_in > 1) {
        snprintf(n1, sizeof n1, "%s.shortcut.0", name);
        snprintf(n2, sizeof n2, "%s.shortcut.1", name);
        sc = cz_graph_bn(g, n2, cz_graph_conv(g, n1, in, n_in, b, 1, stride, 0, 0), 0);
    }
    snprintf(n1, sizeof n1, "%s.add", name);
    return cz_graph_add(g, n1, y, sc, 1);
}

static int basic_block(cz_graph *g, const char *name, int x, int b, int stride)
{
    return basic_block_cat(g, name, &x, 1, b, stride);
}

/* ResUNet: UNet's topology (max-pool downsampling, transposed-conv
 * upsampling, concatenated skips) with every stage a residual block: the
 * encoder stages and a two-block 4x4 bottleneck are ResNet BasicBlocks, and
 * each decoder stage fuses [up, skip] through a BasicBlock whose shortcut is
 * a 1x1 conv. The architecture search (docs/resunet.md) found max-pooling
 * clearly better than the strided downsampling of resnet here. */
static void resunet(cz_graph *g, int w, int out)
{
    int x = cz_graph_cbr(g, "stem", &g->input, 1, w);                        /* @32 */
    int e1 = basic_block(g, "e1", x, w, 1);                                  /* @32 */
    int e2 = basic_block(g, "e2", cz_graph_pool(g, "pool1", e1), 2 * w, 1);  /* @16 */
    int e3 = basic_block(g, "e3", cz_graph_pool(g, "pool2", e2), 4 * w, 1);  /* @8 */
    int b = basic_block(g, "b.0", cz_graph_pool(g, "pool3", e3), 8 * w, 1);  /* @4 */
    b = basic_block(g, "b.1", b, 8 * w, 1);
    int u3 = cz_graph_deconv(g, "u3", b, 4 * w, 2, 2);
    int d3 = basic_block_cat(g, "d3", (int[]){u3, e3}, 2, 4 * w, 1);         /* @8 */
    int u2 = cz_graph_deconv(g, "u2", d3, 2 * w, 2, 2);
    int d2 = basic_block_cat(g, "d2", (int[]){u2, e2}, 2, 2 * w, 1);         /* @16 */
    int u1 = cz_graph_deconv(g, "u1", d2, w, 2, 2);
    int d1 = basic_block_cat(g, "d1", (int[]){u1, e1}, 2, w, 1);             /* @32 */
    g->output = cz_graph_conv(g, "head", &d1, 1, out, 1, 1, 0, 1);
}

static void resnet(cz_graph *g, int w, int out)
{
    int x = cz_graph_cbr(g, "stem", &g->input, 1, w);
    x = basic_block(g, "s1.0", x, w, 1);
    x = basic_block(g, "s1.1", x, w, 1);
    x = basic_block(g, "s2.0", x, 2 * w, 2);
    x = basic_block(g, "s2.1", x, 2 * w, 1);
    x = basic_block(g, "s3.0", x, 4 * w, 2);
    x = basic_block(g, "s3.1", x, 4 * w, 1);
    x = basic_block(g, "d2", cz_graph_deconv(g, "u2", x, 2 * w, 2, 2), 2 * w, 1);
    x = basic_block(g, "d1", cz_graph_deconv(g, "u1", x, w, 2, 2), w, 1);
    g->output = cz_graph_conv(g, "head", &x, 1, out, 1, 1, 0, 1);
}

cz_status cz_model_graph(cz_arch arch, int width, int out, int side, cz_graph *g)
{
    return cz_model_graph_hw(arch, width, out, side, side, g);
}

cz_status cz_model_graph_hw(cz_arch arch, int width, int out, int h, int w, cz_graph *g)
{
    cz_graph_init(g);
    if (width < 1 || width > 1024 || out < 1 || h < 8 || h % 8 || w < 8 || w % 8)
        return cz_fail(CZ_ERR_ARG,
                       "bad model shape: width %d, outputs %d, input %dx%d (sides must be multiples of 8)",
                       width, out, w, h);
    cz_graph_input(g, 1, h, w);
    switch (arch) {
    case CZ_ARCH_VGG: encoder_decoder(g, width, out, 0); break;
    case CZ_ARCH_UNET: encoder_decoder(g, width, out, 1); break;
    case CZ_ARCH_RESNET: resnet(g, width, out); break;
    case CZ_ARCH_RESUNET: resunet(g, width, out); break;
    default: return cz_fail(CZ_ERR_ARG, "unknown architecture %d", (int)arch);
    }
    if (g->failed) {
        cz_graph_free(g);
        return CZ_ERR_ARG;
    }
    return CZ_OK;
}
