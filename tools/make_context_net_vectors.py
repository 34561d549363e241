#!/usr/bin/python3
"""PyTorch reference vectors for the global-context networks: resunet-gc
(ResunetGC, with its auxiliary class loss) and resunet-se (ResunetSE) of
tools/context_modules.py, written to tests/vectors/{arch}_reg.safetensors in
the format of tools/make_vectors.py, replayed by tests/test_parity.c.

Width 4 and the reg head only, to keep the files small (about 0.5 MB each;
at width 8 they would be 1.7 MB). resunet-gc's loss is the colour loss plus
AUX_WEIGHT x the class cross-entropy of its aux logits against `labels`
([N] I64, also in the file; metadata `aux_weight`), so its gradients include
the class head's. Seeds are chosen as make_vectors.py chooses them (no
activation within 1e-5 of a ReLU or max-pool kink), the fully connected
layers' outputs included.

    /usr/bin/python3 tools/make_context_net_vectors.py [--out DIR] [--check]
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import context_modules as cm  # noqa: E402
import make_vectors as mv  # noqa: E402

NETS = {"resunet-gc": cm.ResunetGC, "resunet-se": cm.ResunetSE}
WIDTH = 4
HEAD = "reg"
BATCH = 2
AUX_WEIGHT = 0.5


def split_output(result):
    return result if isinstance(result, tuple) else (result, None)


def margin(model, y):
    """make_vectors.kink_margin, plus the fully connected layers' outputs
    (gc.fc and se.fc1 feed a ReLU; the others are checked too, harmlessly)"""
    hooks = [m.register_forward_hook(lambda m_, i, o: mv.KINKS.append(o.detach().clone()))
             for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        return mv.kink_margin(model, y)
    finally:
        for h in hooks:
            h.remove()


def objective(out, aux, uv, bins, labels):
    loss = mv.loss_fn(HEAD, out, uv, bins)
    return loss + AUX_WEIGHT * F.cross_entropy(aux, labels) if aux is not None else loss


def make_config(arch, seed):
    for _ in range(100):
        torch.manual_seed(seed)
        model = NETS[arch](WIDTH, mv.HEADS[HEAD])
        y = torch.rand(BATCH, 1, mv.SIDE, mv.SIDE)
        if margin(model.train(), y) >= mv.KINK_MARGIN:
            break
        seed += 1
    else:
        raise SystemExit(f"{arch}: no seed with a ReLU margin of {mv.KINK_MARGIN}")
    torch.manual_seed(seed)
    model = NETS[arch](WIDTH, mv.HEADS[HEAD]).train()
    init_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    n = BATCH
    y = torch.rand(n, 1, mv.SIDE, mv.SIDE)
    u = (torch.rand(n, 1, mv.SIDE, mv.SIDE) * 2 - 1) * mv.U_MAX
    v = (torch.rand(n, 1, mv.SIDE, mv.SIDE) * 2 - 1) * mv.V_MAX
    uv = torch.cat([u, v], dim=1)
    bins = torch.cat([mv.chroma_bin(u, mv.U_MAX), mv.chroma_bin(v, mv.V_MAX)], dim=1)
    labels = torch.randint(0, cm.CLASSES, (n,))

    opt = torch.optim.Adam(model.parameters(), **mv.ADAM)
    losses, first = [], {}
    for step in range(mv.ADAM_STEPS):
        opt.zero_grad()
        out, aux = split_output(model(y))
        loss = objective(out, aux, uv, bins, labels)
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            first["output"] = out.detach().clone()
            first["loss"] = loss.detach().reshape(1).clone()
            first["grad"] = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
            first["running"] = {k: b.detach().clone() for k, b in model.named_buffers()
                                if k.endswith("running_mean") or k.endswith("running_var")}
        opt.step()
    with torch.no_grad():
        out, aux = split_output(model(y))
        losses.append(objective(out, aux, uv, bins, labels).item())

    tensors = {"input": y, "target_uv": uv, "target_bins": bins, "labels": labels, "output": first["output"],
               "loss": first["loss"], "adam_losses": torch.tensor(losses, dtype=torch.float32)}
    for k, t in init_state.items():
        tensors["param." + k] = t
    for k, t in first["grad"].items():
        tensors["grad." + k] = t
    for k, t in first["running"].items():
        tensors["running." + k] = t
    metadata = {"arch": arch, "width": WIDTH, "head": HEAD, "batch": n, "out": mv.HEADS[HEAD], "bins": mv.BINS,
                "colorspace": "yuv-bt601", "seed": seed, "aux_weight": AUX_WEIGHT if arch == "resunet-gc" else 0,
                "adam": json.dumps({"lr": mv.ADAM["lr"], "beta1": mv.ADAM["betas"][0],
                                    "beta2": mv.ADAM["betas"][1], "eps": mv.ADAM["eps"],
                                    "steps": mv.ADAM_STEPS}),
                "generator": "tools/make_context_net_vectors.py", "torch": torch.__version__}
    return tensors, metadata, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "tests", "vectors")))
    ap.add_argument("--check", action="store_true", help="regenerate in memory and compare with the files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    total = 0
    for i, arch in enumerate(NETS):
        tensors, metadata, losses = make_config(arch, 2000 + 10 * i)
        path = os.path.join(args.out, f"{arch}_{HEAD}.safetensors")
        if args.check:
            saved, _ = mv.load_safetensors(path)
            assert sorted(saved) == sorted(tensors), f"{path}: tensor names differ"
            worst = max((saved[k].double() - t.double()).abs().max().item() for k, t in tensors.items() if t.numel())
            print(f"{path}: matches (worst abs diff {worst:.3g})")
            continue
        mv.save_safetensors(path, tensors, metadata)
        size = os.path.getsize(path)
        total += size
        print(f"{path}: {len(tensors)} tensors, {size} bytes, seed {metadata['seed']}, "
              f"adam losses {' '.join(f'{x:.6f}' for x in losses)}")
    if not args.check:
        print(f"total {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
