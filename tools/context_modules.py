#!/usr/bin/python3
"""PyTorch twin modules for issue 11's global context (docs/context.md). The C
engine's resunet-gc and resunet-se (src/models.c) are their twins: same
state_dict names and shapes, checked against these modules by
tests/test_parity.c on vectors from tools/make_context_net_vectors.py.

  GlobalContext   the bottleneck [N, C, 4, 4] pooled over the whole image
                  (global average) -> fc (C -> D) -> ReLU -> broadcast to every
                  position -> fuse: conv 1x1 over [x, broadcast] (C + D -> C,
                  no bias) + BatchNorm + ReLU (SPEC §5 "CBR" with a 1x1
                  kernel); plus an auxiliary 10-way CIFAR-10 class head,
                  aux: Linear(C -> 10), on the pooled vector (training only)
  SqueezeExcite   s = sigmoid(fc2(ReLU(fc1(avgpool(y))))), y * s per channel
                  (Hu et al. 2018), C -> max(C // 4, 4) -> C, with biases
  SEBlock         the reference BasicBlock with SqueezeExcite on the residual
                  branch (after bn2, before the addition)
  ResunetGC       resunet (docs/resunet.md) with GlobalContext after the
                  bottleneck b; forward returns (output, aux logits)
  ResunetSE       resunet with every BasicBlock an SEBlock

    /usr/bin/python3 tools/context_modules.py        # self-test: shapes, gradcheck, counts

The self-test checks every new module's backward against float64 finite
differences (torch.autograd.gradcheck), that GlobalContext's fusion equals
its decomposition into a 1x1 conv over x plus a per-image bias (how the C
engine can run it without materialising the broadcast), and prints
parameters and conv MFLOP per 32x32 image at width 16.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_vectors as mv  # noqa: E402
from make_vectors import Block, Resunet  # noqa: E402

CLASSES = 10


class GlobalContext(nn.Module):
    """x [N, C, H, W] -> (fused [N, C, H, W], aux logits [N, 10])"""

    def __init__(self, c, d=None):
        super().__init__()
        d = d or c
        self.fc = nn.Linear(c, d)                                   # gc.fc.weight [D, C], .bias [D]
        self.fuse = nn.Sequential(nn.Conv2d(c + d, c, 1, bias=False),  # gc.fuse.0.weight [C, C+D, 1, 1]
                                  nn.BatchNorm2d(c), nn.ReLU(inplace=True))  # gc.fuse.1.*
        self.aux = nn.Linear(c, CLASSES)                            # gc.aux.weight [10, C], .bias [10]

    def forward(self, x):
        g = x.mean(dim=(2, 3))                                      # [N, C]
        h = F.relu(self.fc(g))                                      # [N, D]
        hb = h[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.fuse(torch.cat([x, hb], dim=1)), self.aux(g)


class SqueezeExcite(nn.Module):
    def __init__(self, c, reduction=4):
        super().__init__()
        r = max(c // reduction, 4)
        self.fc1 = nn.Linear(c, r)  # se.fc1.weight [R, C], .bias [R]
        self.fc2 = nn.Linear(r, c)  # se.fc2.weight [C, R], .bias [C]

    def forward(self, y):
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(y.mean(dim=(2, 3))))))
        return y * s[:, :, None, None]


class SEBlock(Block):
    """BasicBlock (make_vectors.Block) with squeeze-excitation on the residual branch."""

    def __init__(self, a, b, stride=1):
        super().__init__(a, b, stride)
        self.se = SqueezeExcite(b)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.se(self.bn2(self.conv2(y)))
        s = y + self.shortcut(x)
        if mv.KINKS_ON[0]:  # the residual sum enters a ReLU (make_vectors.kink_margin)
            mv.KINKS.append(s.detach().clone())
        return self.relu(s)


class ResunetGC(Resunet):
    def __init__(self, w, out, d=None):
        super().__init__(w, out)
        self.gc = GlobalContext(8 * w, d)

    def forward(self, x):
        e1 = self.e1(self.stem(x))
        e2 = self.e2(self.pool(e1))
        e3 = self.e3(self.pool(e2))
        b, aux = self.gc(self.b(self.pool(e3)))
        d3 = self.d3(torch.cat([self.u3(b), e3], dim=1))
        d2 = self.d2(torch.cat([self.u2(d3), e2], dim=1))
        d1 = self.d1(torch.cat([self.u1(d2), e1], dim=1))
        return self.head(d1), aux


class ResunetSE(Resunet):
    def __init__(self, w, out):
        super().__init__(w, out)
        self.e1, self.e2, self.e3 = SEBlock(w, w), SEBlock(w, 2 * w), SEBlock(2 * w, 4 * w)
        self.b = nn.Sequential(SEBlock(4 * w, 8 * w), SEBlock(8 * w, 8 * w))
        self.d3, self.d2, self.d1 = SEBlock(8 * w, 4 * w), SEBlock(4 * w, 2 * w), SEBlock(2 * w, w)


def aux_loss(aux_logits, labels, weight):
    """weight x CE of the class head; 0 (and no labels needed) when weight is 0"""
    return weight * F.cross_entropy(aux_logits, labels) if weight > 0 else aux_logits.sum() * 0


def flops(model):
    """2 x MACs of convs, transposed convs and linear layers per 32x32 image"""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Linear):
            total[0] += 2 * m.in_features * m.out_features
            return
        kh, kw = m.kernel_size
        if isinstance(m, nn.ConvTranspose2d):
            total[0] += 2 * inp[0][0].numel() * m.out_channels * kh * kw
        else:
            total[0] += 2 * out[0].numel() * m.in_channels * kh * kw

    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 32, 32))
    for h in hooks:
        h.remove()
    return total[0]


def selftest():
    torch.manual_seed(0)
    # gradcheck in float64 (eval mode: BatchNorm with running statistics, a smooth map
    # apart from the ReLU kinks, which random inputs avoid with probability 1)
    gc = GlobalContext(6, 5).double().eval()
    x = torch.randn(2, 6, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: gc(t)[0].sum(dim=(2, 3)) + gc(t)[1][:, :1], (x,))
    se = SqueezeExcite(8).double()
    y = torch.randn(2, 8, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(se, (y,))
    blk = SEBlock(4, 8).double().eval()
    z = torch.randn(2, 4, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(blk, (z,))
    # the fusion as the engine can run it: conv1x1(W_x) over x, plus W_h h as a per-image bias
    with torch.no_grad():
        w = gc.fuse[0].weight[:, :, 0, 0]
        h = F.relu(gc.fc(x.mean(dim=(2, 3))))
        pre = torch.einsum("oc,nchw->nohw", w[:, :6], x) + (h @ w[:, 6:].T)[:, :, None, None]
        assert torch.allclose(gc.fuse[2](gc.fuse[1](pre)), gc(x)[0])
    # whole networks: shapes, the aux loss, state_dict names
    for name, net in (("resunet", Resunet(16, 40)), ("resunet_gc", ResunetGC(16, 40)),
                      ("resunet_se", ResunetSE(16, 40))):
        out = net.train()(torch.rand(3, 1, 32, 32))
        out, aux = out if isinstance(out, tuple) else (out, None)
        assert out.shape == (3, 40, 32, 32)
        loss = out.square().mean()
        if aux is not None:
            assert aux.shape == (3, CLASSES)
            loss = loss + aux_loss(aux, torch.tensor([0, 3, 9]), 0.1)
        loss.backward()
        params = sum(p.numel() for p in net.parameters())
        new = [k for k in net.state_dict() if ".se." in k or k.startswith("gc.")]
        print(f"{name:11s} w16 cls: {params:9,d} parameters, {flops(net) / 1e6:6.1f} MFLOP/image; "
              f"new tensors: {', '.join(new[:6])}{' ...' if len(new) > 6 else ''}")
    print("gradcheck and fusion decomposition: ok")
    return 0


if __name__ == "__main__":
    sys.exit(selftest())
