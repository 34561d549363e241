/* The whole resnet network (SPEC §5: residual basic blocks, strided 3x3
 * downsampling with a 1x1 conv + BN shortcut, transposed-conv upsampling)
 * from the reference operators against PyTorch's vectors; see test_ref_vgg.c
 * for what is compared and the meaning of the tolerances (same values). */
#include "ref_net.h"

/* BasicBlock(prefix): relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
static rn_tensor *block(rn_net *net, rn_tensor *x, const char *prefix, int cout, int stride)
{
    char a[160], b[160];
    rn_tensor *y = rn_conv(net, x, rn_join(a, sizeof a, prefix, "conv1"), cout, 3, stride, 1, 0);
    y = rn_relu(net, rn_bn(net, y, rn_join(a, sizeof a, prefix, "bn1")));
    y = rn_conv(net, y, rn_join(a, sizeof a, prefix, "conv2"), cout, 3, 1, 1, 0);
    y = rn_bn(net, y, rn_join(a, sizeof a, prefix, "bn2"));
    rn_tensor *s = x;
    if (x->c != cout || stride != 1) {
        rn_join(b, sizeof b, prefix, "shortcut");
        s = rn_conv(net, x, rn_join(a, sizeof a, b, "0"), cout, 1, stride, 0, 0);
        s = rn_bn(net, s, rn_join(a, sizeof a, b, "1"));
    }
    return rn_relu(net, rn_add(net, y, s));
}

static rn_tensor *resnet_forward(rn_net *net, rn_tensor *x, int w, int out_ch)
{
    x = rn_cbr(net, x, "stem", w);                                         /* @32 */
    x = block(net, block(net, x, "s1.0", w, 1), "s1.1", w, 1);             /* @32 */
    x = block(net, block(net, x, "s2.0", 2 * w, 2), "s2.1", 2 * w, 1);     /* @16 */
    x = block(net, block(net, x, "s3.0", 4 * w, 2), "s3.1", 4 * w, 1);     /* @8 */
    x = block(net, rn_up(net, x, "u2", 2 * w), "d2", 2 * w, 1);            /* @16 */
    x = block(net, rn_up(net, x, "u1", w), "d1", w, 1);                    /* @32 */
    return rn_conv(net, x, "head", out_ch, 1, 1, 0, 1);
}

int main(void)
{
    const rn_tolerances tol = {1e-4, 1e-3, 1e-4, 1e-3, 1e-5, 1e-4, 1e-5};
    rn_replay("resnet_reg.safetensors", resnet_forward, tol);
    rn_replay("resnet_cls.safetensors", resnet_forward, tol);
    TEST_END();
}
