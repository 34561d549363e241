/* VGG, UNet and ResNet exactly as ../shared/reference/models.py (names,
 * shapes, order of operations). */
#include <stdio.h>
#include <string.h>

#include "models.h"

static const char *arch_names[CZ_ARCH_COUNT] = {"vgg", "unet", "resnet", "resunet", "resunet-gc",
                                                "resunet-se"};

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
    return cz_fail(CZ_ERR_ARG, "unknown architecture '%s' (use vgg, unet, resnet, resunet, resunet-gc or resunet-se)", text);
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

/* SqueezeExcite on y [C, H, W] named NAME.se: y x sigmoid(fc2(ReLU(fc1(mean
 * of y)))), fc1 C -> max(C / 4, 4), fc2 back to C (context_modules.py). */
static int squeeze_excite(cz_graph *g, const char *name, int y)
{
    char n1[CZ_NAME_MAX];
    int c = y >= 0 && y < g->n_tensors ? g->tensors[y].c : 1;
    int r = c / 4 > 4 ? c / 4 : 4;
    snprintf(n1, sizeof n1, "%s.se.pool", name);
    int s = cz_graph_gap(g, n1, y);
    snprintf(n1, sizeof n1, "%s.se.fc1", name);
    s = cz_graph_fc(g, n1, s, r, 1);
    snprintf(n1, sizeof n1, "%s.se.fc2", name);
    s = cz_graph_fc(g, n1, s, c, 0);
    snprintf(n1, sizeof n1, "%s.se.gate", name);
    return cz_graph_gate(g, n1, y, s);
}

/* BasicBlock(a -> b, stride) named NAME: conv1/bn1/conv2/bn2[/shortcut.0/.1],
 * over the channel concatenation of in[0..n_in) (n_in 2 only in resunet's
 * decoder, where the shortcut is then always a 1x1 conv); with se, the
 * SEBlock of context_modules.py (squeeze-excitation after bn2). */
static int basic_block_se(cz_graph *g, const char *name, const int *in, int n_in, int b, int stride, int se)
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
    if (se)
        y = squeeze_excite(g, name, y);
    int sc = in[0];
    if (a != b || stride != 1 || n_in > 1) {
        snprintf(n1, sizeof n1, "%s.shortcut.0", name);
        snprintf(n2, sizeof n2, "%s.shortcut.1", name);
        sc = cz_graph_bn(g, n2, cz_graph_conv(g, n1, in, n_in, b, 1, stride, 0, 0), 0);
    }
    snprintf(n1, sizeof n1, "%s.add", name);
    return cz_graph_add(g, n1, y, sc, 1);
}

static int basic_block_cat(cz_graph *g, const char *name, const int *in, int n_in, int b, int stride)
{
    return basic_block_se(g, name, in, n_in, b, stride, 0);
}

static int basic_block(cz_graph *g, const char *name, int x, int b, int stride)
{
    return basic_block_cat(g, name, &x, 1, b, stride);
}

/* GlobalContext of context_modules.py on the bottleneck x [C, H, W], named
 * gc: v = mean of x; h = ReLU(gc.fc(v)) (C -> C); fuse = CBR 1x1 over
 * [x, h broadcast to H x W] (gc.fuse.0 / .1); the class logits gc.aux(v)
 * become the graph's auxiliary output. */
static int global_context(cz_graph *g, int x)
{
    int c = x >= 0 && x < g->n_tensors ? g->tensors[x].c : 1;
    int h = x >= 0 && x < g->n_tensors ? g->tensors[x].h : 1;
    int w = x >= 0 && x < g->n_tensors ? g->tensors[x].w : 1;
    int v = cz_graph_gap(g, "gc.pool", x);
    int hv = cz_graph_fc(g, "gc.fc", v, c, 1);
    int hb = cz_graph_broadcast(g, "gc.broadcast", hv, h, w);
    int f = cz_graph_bn(g, "gc.fuse.1", cz_graph_conv(g, "gc.fuse.0", (int[]){x, hb}, 2, c, 1, 1, 0, 0), 1);
    g->aux = cz_graph_fc(g, "gc.aux", v, CZ_AUX_CLASSES, 0);
    return f;
}

/* ResUNet: UNet's topology (max-pool downsampling, transposed-conv
 * upsampling, concatenated skips) with every stage a residual block: the
 * encoder stages and a two-block 4x4 bottleneck are ResNet BasicBlocks, and
 * each decoder stage fuses [up, skip] through a BasicBlock whose shortcut is
 * a 1x1 conv. The architecture search (docs/resunet.md) found max-pooling
 * clearly better than the strided downsampling of resnet here. */
static void resunet(cz_graph *g, int w, int out, int gc, int se)
{
    int x = cz_graph_cbr(g, "stem", &g->input, 1, w);                                   /* @32 */
    int e1 = basic_block_se(g, "e1", &x, 1, w, 1, se);                                  /* @32 */
    int p1 = cz_graph_pool(g, "pool1", e1);
    int e2 = basic_block_se(g, "e2", &p1, 1, 2 * w, 1, se);                             /* @16 */
    int p2 = cz_graph_pool(g, "pool2", e2);
    int e3 = basic_block_se(g, "e3", &p2, 1, 4 * w, 1, se);                             /* @8 */
    int p3 = cz_graph_pool(g, "pool3", e3);
    int b = basic_block_se(g, "b.0", &p3, 1, 8 * w, 1, se);                             /* @4 */
    b = basic_block_se(g, "b.1", &b, 1, 8 * w, 1, se);
    if (gc)
        b = global_context(g, b);
    int u3 = cz_graph_deconv(g, "u3", b, 4 * w, 2, 2);
    int d3 = basic_block_se(g, "d3", (int[]){u3, e3}, 2, 4 * w, 1, se);                 /* @8 */
    int u2 = cz_graph_deconv(g, "u2", d3, 2 * w, 2, 2);
    int d2 = basic_block_se(g, "d2", (int[]){u2, e2}, 2, 2 * w, 1, se);                 /* @16 */
    int u1 = cz_graph_deconv(g, "u1", d2, w, 2, 2);
    int d1 = basic_block_se(g, "d1", (int[]){u1, e1}, 2, w, 1, se);                     /* @32 */
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
    case CZ_ARCH_RESUNET: resunet(g, width, out, 0, 0); break;
    case CZ_ARCH_RESUNET_GC: resunet(g, width, out, 1, 0); break;
    case CZ_ARCH_RESUNET_SE: resunet(g, width, out, 0, 1); break;
    default: return cz_fail(CZ_ERR_ARG, "unknown architecture %d", (int)arch);
    }
    if (g->failed) {
        cz_graph_free(g);
        return CZ_ERR_ARG;
    }
    return CZ_OK;
}
