#!/usr/bin/python3
"""PyTorch twin of the recipe losses and the weight EMA (docs/recipe.md):
writes tests/vectors/recipe.safetensors.

A small batch of classification logits [2, 40, 4, 4] (20 U bins, then 20 V)
with true U, V drawn over their SPEC §1 ranges; a few pixels are placed on
bin edges, at the range ends and just beyond U's (pure blue has
U = 0.43601035 > 0.436). For each case the loss and its gradient w.r.t. the
logits come from autograd in float64:

  case 0  onehot,        lambda 0    (SPEC §3 cross-entropy)
  case 1  hlgauss:0.75,  lambda 0
  case 2  onehot,        lambda 5    (hybrid)
  case 3  hlgauss:0.75,  lambda 5
  case 4  hlgauss:2,     lambda 50

Tensors: logits, target_uv, target_bins (I64), hlgauss_0.75 [2, 40, 4, 4]
(the soft targets), loss [5], ce [5], mse [5], grad.<case> [2, 40, 4, 4];
ema.weights [6, 7] (the weights after steps 0..5, row 0 the initial copy)
and ema.result [7] after 5 updates at decay 0.9 with the warm-up
d_t = min(decay, (1 + t) / (10 + t)), t = updates before this one, each
update ema.lerp_(w, 1 - d_t).

    /usr/bin/python3 tools/make_recipe_vectors.py          # writes tests/vectors/recipe.safetensors
    /usr/bin/python3 tools/make_recipe_vectors.py --check  # compare with the file
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vectors import BINS, U_MAX, V_MAX, chroma_bin, load_safetensors, save_safetensors  # noqa: E402

CASES = [("onehot", 0.0, 0.0), ("hlgauss", 0.75, 0.0), ("onehot", 0.0, 5.0), ("hlgauss", 0.75, 5.0),
         ("hlgauss", 2.0, 50.0)]
EMA_DECAY = 0.9
EMA_STEPS = 5


def centres(vmax):
    """bin centre k = -max + (k + 0.5) 2max/20, shaped to broadcast over [N, 20, H, W]"""
    k = torch.arange(BINS, dtype=torch.float64)
    return (-vmax + (k + 0.5) * (2 * vmax / BINS)).view(1, BINS, 1, 1)


def hlgauss(x, vmax, sigma_bins):
    """Gaussian N(x, (sigma w)^2) integrated over each bin [edge_k, edge_k+1], normalised over the 20 bins.
    x: [N, H, W] -> [N, 20, H, W]"""
    w = 2 * vmax / BINS
    edges = (-vmax + torch.arange(BINS + 1, dtype=torch.float64) * w).view(1, BINS + 1, 1, 1)
    cdf = 0.5 * (1 + torch.erf((edges - x.unsqueeze(1)) / (sigma_bins * w * 2 ** 0.5)))
    mass = cdf[:, 1:] - cdf[:, :-1]
    return mass / mass.sum(dim=1, keepdim=True)


def recipe_loss(logits, uv, bins, target, sigma, lam):
    """CE against the target + lam x squared error of the mean-decoded chroma; each a mean over
    pixels, summed over U and V. Returns (loss, ce, mse)."""
    ce, mse = 0.0, 0.0
    for ch, vmax in enumerate((U_MAX, V_MAX)):
        z = logits[:, ch * BINS:(ch + 1) * BINS]
        if target == "onehot":
            ce = ce + F.cross_entropy(z, bins[:, ch])
        else:
            ce = ce + F.cross_entropy(z, hlgauss(uv[:, ch], vmax, sigma))
        e = (F.softmax(z, dim=1) * centres(vmax)).sum(dim=1)
        mse = mse + ((e - uv[:, ch]) ** 2).mean()
    return ce + lam * mse, ce, mse


def make():
    torch.manual_seed(11)
    n, side = 2, 4
    logits = (torch.randn(n, 2 * BINS, side, side) * 2).float()
    u = (torch.rand(n, side, side) * 2 - 1) * U_MAX
    v = (torch.rand(n, side, side) * 2 - 1) * V_MAX
    w_u, w_v = 2 * U_MAX / BINS, 2 * V_MAX / BINS
    u[0, 0, :4] = torch.tensor([-U_MAX, U_MAX, 0.43601035, -U_MAX + 7 * w_u])
    v[0, 0, :4] = torch.tensor([-0.61497538, 0.61497538, 0.0, -V_MAX + 13 * w_v])
    uv = torch.stack([u, v], dim=1).float()
    bins = torch.stack([chroma_bin(uv[:, 0], U_MAX), chroma_bin(uv[:, 1], V_MAX)], dim=1)
    tensors = {"logits": logits, "target_uv": uv, "target_bins": bins,
               "hlgauss_0.75": torch.cat([hlgauss(uv[:, 0].double(), U_MAX, 0.75),
                                          hlgauss(uv[:, 1].double(), V_MAX, 0.75)], dim=1).float()}
    losses, ces, mses = [], [], []
    for i, (target, sigma, lam) in enumerate(CASES):
        x = logits.double().requires_grad_(True)
        loss, ce, mse = recipe_loss(x, uv.double(), bins, target, sigma, lam)
        loss.backward()
        losses.append(loss.item())
        ces.append(ce.item())
        mses.append(mse.item())
        tensors[f"grad.{i}"] = x.grad.float()
    tensors["loss"] = torch.tensor(losses, dtype=torch.float32)
    tensors["ce"] = torch.tensor(ces, dtype=torch.float32)
    tensors["mse"] = torch.tensor(mses, dtype=torch.float32)

    weights = torch.randn(EMA_STEPS + 1, 7)
    ema = weights[0].clone()
    for t in range(EMA_STEPS):
        d = min(EMA_DECAY, (1 + t) / (10 + t))
        ema.lerp_(weights[t + 1], 1 - d)
    tensors["ema.weights"] = weights
    tensors["ema.result"] = ema
    meta = {"generator": "tools/make_recipe_vectors.py", "torch": torch.__version__,
            "cases": ";".join(f"{t}:{s}:{lam}" for t, s, lam in CASES), "ema_decay": EMA_DECAY}
    return tensors, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "tests", "vectors")))
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare with the file")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    tensors, meta = make()
    path = os.path.join(args.out, "recipe.safetensors")
    if args.check:
        saved, _ = load_safetensors(path)
        assert sorted(saved) == sorted(tensors), f"{path}: tensor names differ"
        worst = max((saved[k].double() - t.double()).abs().max().item() for k, t in tensors.items())
        print(f"{path}: matches (worst abs diff {worst:.3g})")
        return 0
    save_safetensors(path, tensors, meta)
    print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes; losses "
          + " ".join(f"{x:.6f}" for x in tensors["loss"].tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
