#!/usr/bin/python3
"""PyTorch reference vectors for the global-context operators
(src/ref_context.c), written to tests/vectors/context_ops.safetensors.

Each operator runs on small seeded inputs with autograd; the file holds the
inputs, the upstream gradient R (the loss is sum(out * R), or the class loss
itself), the output and every input gradient, so tests/test_context_vectors.c
can replay them in C:

    /usr/bin/python3 tools/make_context_vectors.py [--out tests/vectors]
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vectors import save_safetensors  # noqa: E402

N, C, H, W, K = 2, 5, 4, 3, 6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "vectors"))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(11)
    rnd = lambda *shape: (torch.rand(*shape, generator=g) * 2 - 1).requires_grad_(True)  # noqa: E731
    t = {}

    x = rnd(N, C, H, W)
    out = x.mean(dim=(2, 3))
    r = torch.rand(out.shape, generator=g)
    (out * r).sum().backward()
    t.update({"avgpool.x": x, "avgpool.r": r, "avgpool.out": out, "avgpool.dx": x.grad})

    x, w, b = rnd(N, K), rnd(C, K), rnd(C)
    out = F.linear(x, w, b)
    r = torch.rand(out.shape, generator=g)
    (out * r).sum().backward()
    t.update({"linear.x": x, "linear.weight": w, "linear.bias": b, "linear.r": r, "linear.out": out,
              "linear.dx": x.grad, "linear.dweight": w.grad, "linear.dbias": b.grad})

    x, v = rnd(N, C, H, W), rnd(N, K)
    out = torch.cat([x, v[:, :, None, None].expand(-1, -1, H, W)], dim=1)
    r = torch.rand(out.shape, generator=g)
    (out * r).sum().backward()
    t.update({"concat.x": x, "concat.v": v, "concat.r": r, "concat.out": out, "concat.dx": x.grad,
              "concat.dv": v.grad})

    x, s = rnd(N, C, H, W), rnd(N, C)
    out = x * torch.sigmoid(s)[:, :, None, None]
    r = torch.rand(out.shape, generator=g)
    (out * r).sum().backward()
    t.update({"gate.x": x, "gate.s": s, "gate.r": r, "gate.out": out, "gate.dx": x.grad, "gate.ds": s.grad})

    z = rnd(N, 10)
    label = torch.tensor([3, 7])
    loss = F.cross_entropy(z, label)
    loss.backward()
    t.update({"class.logits": z, "class.label": label.to(torch.int64), "class.loss": loss.reshape(1),
              "class.dlogits": z.grad})

    path = os.path.join(args.out, "context_ops.safetensors")
    save_safetensors(path, {k: v.detach() for k, v in t.items()},
                     {"generator": "tools/make_context_vectors.py", "torch": torch.__version__})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
