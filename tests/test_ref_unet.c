/* The whole unet network (SPEC §5: vgg with concatenated skips, [up, skip])
 * from the reference operators against PyTorch's vectors; see test_ref_vgg.c
 * for what is compared and the meaning of the tolerances (same values). */
#include "ref_net.h"

static rn_tensor *unet_forward(rn_net *net, rn_tensor *x, int w, int out_ch)
{
    rn_tensor *e1 = rn_cbr(net, rn_cbr(net, x, "e1.0", w), "e1.1", w);                         /* @32 */
    rn_tensor *e2 = rn_cbr(net, rn_cbr(net, rn_pool(net, e1), "e2.0", 2 * w), "e2.1", 2 * w);   /* @16 */
    rn_tensor *e3 = rn_cbr(net, rn_cbr(net, rn_pool(net, e2), "e3.0", 4 * w), "e3.1", 4 * w);   /* @8 */
    rn_tensor *b = rn_cbr(net, rn_cbr(net, rn_pool(net, e3), "b.0", 8 * w), "b.1", 8 * w);      /* @4 */
    rn_tensor *d3 = rn_cat(net, rn_up(net, b, "u3", 4 * w), e3);
    d3 = rn_cbr(net, rn_cbr(net, d3, "d3.0", 4 * w), "d3.1", 4 * w);
    rn_tensor *d2 = rn_cat(net, rn_up(net, d3, "u2", 2 * w), e2);
    d2 = rn_cbr(net, rn_cbr(net, d2, "d2.0", 2 * w), "d2.1", 2 * w);
    rn_tensor *d1 = rn_cat(net, rn_up(net, d2, "u1", w), e1);
    d1 = rn_cbr(net, rn_cbr(net, d1, "d1.0", w), "d1.1", w);
    return rn_conv(net, d1, "head", out_ch, 1, 1, 0, 1);
}

int main(void)
{
    const rn_tolerances tol = {1e-4, 1e-3, 1e-4, 1e-3, 1e-5, 1e-4, 1e-5};
    rn_replay("unet_reg.safetensors", unet_forward, tol);
    rn_replay("unet_cls.safetensors", unet_forward, tol);
    TEST_END();
}
