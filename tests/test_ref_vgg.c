/* The whole vgg network (SPEC §5) built from the reference operators must
 * reproduce PyTorch (tests/vectors/vgg_{reg,cls}.safetensors, written by
 * tools/make_vectors.py): output, loss, every parameter gradient and the
 * BatchNorm running statistics after one training-mode forward, then the
 * losses of 3 Adam steps. This pins the semantics of the reference ops
 * (BatchNorm batch statistics and running update, transposed-conv weight
 * layout, max-pool, both losses' normalisation, Adam) to PyTorch's.
 *
 * Tolerances, elementwise |ours - pytorch| <= atol * max|pytorch| + rtol * |pytorch|
 * (both sides are float32 with different summation orders):
 *   output       atol 1e-4, rtol 1e-3
 *   gradients    atol 1e-4, rtol 1e-3 (per tensor; atol scales with the tensor)
 *   running mean/var  atol 1e-5, rtol 1e-4
 *   loss and the 4 Adam-run losses  rtol 1e-5
 * Observed on the generating machine: 2-5% of these budgets. */
#include "ref_net.h"

static rn_tensor *vgg_forward(rn_net *net, rn_tensor *x, int w, int out_ch)
{
    x = rn_cbr(net, rn_cbr(net, x, "e1.0", w), "e1.1", w);                        /* @32 */
    x = rn_cbr(net, rn_cbr(net, rn_pool(net, x), "e2.0", 2 * w), "e2.1", 2 * w);  /* @16 */
    x = rn_cbr(net, rn_cbr(net, rn_pool(net, x), "e3.0", 4 * w), "e3.1", 4 * w);  /* @8 */
    x = rn_cbr(net, rn_cbr(net, rn_pool(net, x), "b.0", 8 * w), "b.1", 8 * w);    /* @4 */
    x = rn_cbr(net, rn_cbr(net, rn_up(net, x, "u3", 4 * w), "d3.0", 4 * w), "d3.1", 4 * w); /* @8 */
    x = rn_cbr(net, rn_cbr(net, rn_up(net, x, "u2", 2 * w), "d2.0", 2 * w), "d2.1", 2 * w); /* @16 */
    x = rn_cbr(net, rn_cbr(net, rn_up(net, x, "u1", w), "d1.0", w), "d1.1", w);             /* @32 */
    return rn_conv(net, x, "head", out_ch, 1, 1, 0, 1);
}

int main(void)
{
    const rn_tolerances tol = {1e-4, 1e-3, 1e-4, 1e-3, 1e-5, 1e-4, 1e-5};
    rn_replay("vgg_reg.safetensors", vgg_forward, tol);
    rn_replay("vgg_cls.safetensors", vgg_forward, tol);
    TEST_END();
}
