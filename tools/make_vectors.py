#!/usr/bin/python3
"""PyTorch twin of colorize: writes the reference vectors in tests/vectors/.

For every architecture (vgg, unet, resnet) and head (reg: 2 outputs, cls: 40
logits) at width 8 on 32x32 inputs, this script builds the network in train
mode from a fixed seed, draws a random batch (Y in [0,1]; U, V uniform over
their SPEC §1 ranges; bins per SPEC §3), runs forward + loss + backward, then
3 Adam steps (lr 1e-3, betas (0.9, 0.999), eps 1e-8, same batch) and one more
forward, and stores in tests/vectors/{arch}_{head}.safetensors:

  param.<name>    every state_dict entry at initialisation (F32; the
                  BatchNorm num_batches_tracked counters as I64 scalars)
  input           [N,1,32,32]  luma Y
  target_uv       [N,2,32,32]  U, V
  target_bins     [N,2,32,32]  I64 bin of U, bin of V (SPEC §3)
  output          [N,out,32,32] network output of the first forward
  loss            [1]          loss of the first forward (SPEC §3)
  grad.<name>     gradient of that loss for every parameter
  running.<name>  running_mean / running_var after the first forward
  adam_losses     [4]          loss before Adam step 1, after steps 1, 2, 3
  __metadata__    arch, width, head, batch, out, bins, colorspace, seed,
                  adam, generator, torch

N = 3 for vgg, 2 for unet and resnet. The networks are defined here, not
imported, with exactly the module structure, state_dict names and shapes of
/work/shared/reference/models.py (SPEC §5); when that file exists the script
asserts that the two agree.

Regenerate (Debian's PyTorch, not a pyenv python):

    /usr/bin/python3 tools/make_vectors.py            # writes tests/vectors/
    /usr/bin/python3 tools/make_vectors.py --out DIR  # elsewhere
    /usr/bin/python3 tools/make_vectors.py --check    # compare with the files

The numbers depend slightly on the PyTorch build and CPU (oneDNN kernels);
the C tests compare with tolerances, so regenerated files stay usable. The
files are written with the standard library only (struct + json), since the
safetensors package is not installed.
"""
import argparse
import importlib.util
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

U_MAX = 0.436
V_MAX = 0.615
BINS = 20
WIDTH = 8
SIDE = 32
ARCHS = ("vgg", "unet", "resnet", "resunet")
REFERENCE_ARCHS = ("vgg", "unet", "resnet")  # those of ../shared/reference/models.py
HEADS = {"reg": 2, "cls": 2 * BINS}
BATCH = {"vgg": 3, "unet": 2, "resnet": 2, "resunet": 2}
ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
ADAM_STEPS = 3
REFERENCE_MODELS = "/work/shared/reference/models.py"


# ---- the networks (SPEC §5) -------------------------------------------------

def cbr(a, b):
    """conv 3x3 pad 1 without bias + BatchNorm + ReLU"""
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True))


def up(a, b):
    """transposed conv 2x2 stride 2 with bias"""
    return nn.ConvTranspose2d(a, b, kernel_size=2, stride=2)


def pair(a, b):
    return nn.Sequential(cbr(a, b), cbr(b, b))


class Vgg(nn.Module):
    def __init__(self, w, out):
        super().__init__()
        self.e1, self.e2, self.e3, self.b = pair(1, w), pair(w, 2 * w), pair(2 * w, 4 * w), pair(4 * w, 8 * w)
        self.pool = nn.MaxPool2d(2)
        self.u3, self.d3 = up(8 * w, 4 * w), pair(4 * w, 4 * w)
        self.u2, self.d2 = up(4 * w, 2 * w), pair(2 * w, 2 * w)
        self.u1, self.d1 = up(2 * w, w), pair(w, w)
        self.head = nn.Conv2d(w, out, 1)

    def forward(self, x):
        x = self.e1(x)
        x = self.e2(self.pool(x))
        x = self.e3(self.pool(x))
        x = self.b(self.pool(x))
        x = self.d3(self.u3(x))
        x = self.d2(self.u2(x))
        x = self.d1(self.u1(x))
        return self.head(x)


class Unet(nn.Module):
    def __init__(self, w, out):
        super().__init__()
        self.e1, self.e2, self.e3, self.b = pair(1, w), pair(w, 2 * w), pair(2 * w, 4 * w), pair(4 * w, 8 * w)
        self.pool = nn.MaxPool2d(2)
        self.u3, self.d3 = up(8 * w, 4 * w), pair(8 * w, 4 * w)
        self.u2, self.d2 = up(4 * w, 2 * w), pair(4 * w, 2 * w)
        self.u1, self.d1 = up(2 * w, w), pair(2 * w, w)
        self.head = nn.Conv2d(w, out, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(self.pool(e1))
        e3 = self.e3(self.pool(e2))
        b = self.b(self.pool(e3))
        d3 = self.d3(torch.cat([self.u3(b), e3], dim=1))
        d2 = self.d2(torch.cat([self.u2(d3), e2], dim=1))
        d1 = self.d1(torch.cat([self.u1(d2), e1], dim=1))
        return self.head(d1)


class Block(nn.Module):
    """Residual basic block; 1x1 conv + BN shortcut when the shape changes."""

    def __init__(self, a, b, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(a, b, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(b)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(b, b, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(b)
        if a == b and stride == 1:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(a, b, 1, stride=stride, bias=False), nn.BatchNorm2d(b))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = y + self.shortcut(x)
        if KINKS_ON[0]:
            KINKS.append(s.detach().clone())
        return self.relu(s)


class Resnet(nn.Module):
    def __init__(self, w, out):
        super().__init__()
        self.stem = cbr(1, w)
        self.s1 = nn.Sequential(Block(w, w), Block(w, w))
        self.s2 = nn.Sequential(Block(w, 2 * w, 2), Block(2 * w, 2 * w))
        self.s3 = nn.Sequential(Block(2 * w, 4 * w, 2), Block(4 * w, 4 * w))
        self.u2, self.d2 = up(4 * w, 2 * w), Block(2 * w, 2 * w)
        self.u1, self.d1 = up(2 * w, w), Block(w, w)
        self.head = nn.Conv2d(w, out, 1)

    def forward(self, x):
        x = self.s3(self.s2(self.s1(self.stem(x))))
        x = self.d2(self.u2(x))
        x = self.d1(self.u1(x))
        return self.head(x)


class Resunet(nn.Module):
    """The project's own network (docs/resunet.md): UNet's max-pool topology
    with residual stages, a two-block bottleneck, and decoder blocks over
    [up, skip]."""

    def __init__(self, w, out):
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.stem = cbr(1, w)                                   # @32
        self.e1 = Block(w, w)                                   # @32
        self.e2 = Block(w, 2 * w)                               # @16
        self.e3 = Block(2 * w, 4 * w)                           # @8
        self.b = nn.Sequential(Block(4 * w, 8 * w), Block(8 * w, 8 * w))  # @4
        self.u3, self.d3 = up(8 * w, 4 * w), Block(8 * w, 4 * w)  # over [up, skip]
        self.u2, self.d2 = up(4 * w, 2 * w), Block(4 * w, 2 * w)
        self.u1, self.d1 = up(2 * w, w), Block(2 * w, w)
        self.head = nn.Conv2d(w, out, 1)

    def forward(self, x):
        e1 = self.e1(self.stem(x))
        e2 = self.e2(self.pool(e1))
        e3 = self.e3(self.pool(e2))
        b = self.b(self.pool(e3))
        d3 = self.d3(torch.cat([self.u3(b), e3], dim=1))
        d2 = self.d2(torch.cat([self.u2(d3), e2], dim=1))
        d1 = self.d1(torch.cat([self.u1(d2), e1], dim=1))
        return self.head(d1)


NETS = {"vgg": Vgg, "unet": Unet, "resnet": Resnet, "resunet": Resunet}


# ---- SPEC §3: bins and losses ----------------------------------------------

def chroma_bin(x, vmax):
    """clamp(floor((x + max) / (2 max) * 20), 0, 19), in float32 like the C code"""
    t = torch.floor((x + vmax) / (2 * vmax) * BINS)
    return t.clamp(0, BINS - 1).long()


def loss_fn(head, out, uv, bins):
    if head == "reg":
        return ((out - uv) ** 2).sum(dim=1).mean()
    return F.cross_entropy(out[:, :BINS], bins[:, 0]) + F.cross_entropy(out[:, BINS:], bins[:, 1])


# ---- safetensors without the safetensors package ---------------------------

DTYPES = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def save_safetensors(path, tensors, metadata):
    """8-byte LE header length, JSON header (__metadata__ first, then tensors
    sorted by name, padded with spaces to a multiple of 8), then the data in
    the same order. Written to a temporary file and renamed into place."""
    header = {"__metadata__": {k: str(v) for k, v in sorted(metadata.items())}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        code, np_dtype = DTYPES[t.dtype]
        data = t.numpy().astype(np_dtype).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as fp:
        fp.write(struct.pack("<Q", len(text)))
        fp.write(text)
        for data in blobs:
            fp.write(data)
        fp.flush()
        os.fsync(fp.fileno())
    os.replace(tmp, path)


def load_safetensors(path):
    with open(path, "rb") as fp:
        raw = fp.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = {"F32": torch.float32, "I64": torch.int64}[info["dtype"]]
        buf = bytearray(raw[base + begin:base + end])
        out[name] = torch.frombuffer(buf, dtype=dtype).reshape(info["shape"]) if buf else \
            torch.zeros(info["shape"], dtype=dtype)
    return out, meta


# ---- one configuration ------------------------------------------------------

# Values that enter a ReLU during the first forward (BatchNorm outputs and
# residual sums) and the top-two gaps of max-pooling windows. A value within
# float32 rounding of a kink can fall on either side of it in another correct
# implementation and change the gradients visibly; seeds whose activations
# come closer than KINK_MARGIN to a kink are skipped.
KINKS = []
KINKS_ON = [False]  # recorded only inside kink_margin (other users import Block)
KINK_MARGIN = 1e-5


def kink_margin(model, y):
    KINKS.clear()
    hooks = [m.register_forward_hook(lambda m_, i, o: KINKS.append(o.detach().clone()))
             for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    # MaxPool2d(2): the gap between the largest and second largest value of a
    # window (windows whose maximum is 0 route no gradient through the ReLU)
    def pool_gap(m_, i, o):
        w = i[0].detach().unfold(2, 2, 2).unfold(3, 2, 2).reshape(-1, 4)
        top = w.topk(2, dim=1).values
        gap = (top[:, 0] - top[:, 1])[top[:, 0] > 0]
        KINKS.append(gap if gap.numel() else torch.ones(1))
    hooks += [m.register_forward_hook(pool_gap) for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    KINKS_ON[0] = True
    with torch.no_grad():
        model(y)
    KINKS_ON[0] = False
    model.load_state_dict(state)  # undo the running-statistics update
    for h in hooks:
        h.remove()
    margin = min(t.abs().min().item() for t in KINKS)
    KINKS.clear()
    return margin


def make_config(arch, head, seed):
    for _ in range(100):
        torch.manual_seed(seed)
        model = NETS[arch](WIDTH, HEADS[head])
        y = torch.rand(BATCH[arch], 1, SIDE, SIDE)
        if kink_margin(model.train(), y) >= KINK_MARGIN:
            break
        seed += 1
    else:
        raise SystemExit(f"{arch}/{head}: no seed with a ReLU margin of {KINK_MARGIN}")
    torch.manual_seed(seed)
    out_ch = HEADS[head]
    n = BATCH[arch]
    model = NETS[arch](WIDTH, out_ch)
    model.train()
    init_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    y = torch.rand(n, 1, SIDE, SIDE)
    u = (torch.rand(n, 1, SIDE, SIDE) * 2 - 1) * U_MAX
    v = (torch.rand(n, 1, SIDE, SIDE) * 2 - 1) * V_MAX
    uv = torch.cat([u, v], dim=1)
    bins = torch.cat([chroma_bin(u, U_MAX), chroma_bin(v, V_MAX)], dim=1)

    opt = torch.optim.Adam(model.parameters(), **ADAM)
    losses, first = [], {}
    for step in range(ADAM_STEPS):
        opt.zero_grad()
        out = model(y)
        loss = loss_fn(head, out, uv, bins)
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            first["output"] = out.detach().clone()
            first["loss"] = loss.detach().reshape(1).clone()
            first["grad"] = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
            first["running"] = {k: b.detach().clone() for k, b in model.named_buffers()
                                if k.endswith("running_mean") or k.endswith("running_var")}
        opt.step()
    with torch.no_grad():  # still train mode: batch statistics, as above
        losses.append(loss_fn(head, model(y), uv, bins).item())

    KINKS.clear()
    tensors = {"input": y, "target_uv": uv, "target_bins": bins, "output": first["output"],
               "loss": first["loss"], "adam_losses": torch.tensor(losses, dtype=torch.float32)}
    for k, t in init_state.items():
        tensors["param." + k] = t
    for k, t in first["grad"].items():
        tensors["grad." + k] = t
    for k, t in first["running"].items():
        tensors["running." + k] = t
    metadata = {"arch": arch, "width": WIDTH, "head": head, "batch": n, "out": out_ch, "bins": BINS,
                "colorspace": "yuv-bt601", "seed": seed,
                "adam": json.dumps({"lr": ADAM["lr"], "beta1": ADAM["betas"][0], "beta2": ADAM["betas"][1],
                                    "eps": ADAM["eps"], "steps": ADAM_STEPS}),
                "generator": "tools/make_vectors.py", "torch": torch.__version__}
    return tensors, metadata, losses


def check_against_reference():
    """state_dict keys and shapes must equal those of reference/models.py."""
    if not os.path.exists(REFERENCE_MODELS):
        print(f"note: {REFERENCE_MODELS} not found; structure not cross-checked")
        return
    spec = importlib.util.spec_from_file_location("reference_models", REFERENCE_MODELS)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    for arch in REFERENCE_ARCHS:
        for out_ch in HEADS.values():
            for w in (WIDTH, 32):
                mine = {k: tuple(v.shape) for k, v in NETS[arch](w, out_ch).state_dict().items()}
                theirs = {k: tuple(v.shape) for k, v in ref.build(arch, w, out_ch).state_dict().items()}
                assert list(mine) == list(theirs), f"{arch} w={w} out={out_ch}: state_dict keys differ"
                assert mine == theirs, f"{arch} w={w} out={out_ch}: state_dict shapes differ"
            torch.manual_seed(7)  # same construction order -> same initial values
            a = NETS[arch](WIDTH, out_ch).state_dict()
            torch.manual_seed(7)
            b = ref.build(arch, WIDTH, out_ch).state_dict()
            assert all(torch.equal(a[k], b[k]) for k in a), f"{arch}: initial values differ"
    print(f"state_dict names, shapes and seeded initial values match {REFERENCE_MODELS}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "tests", "vectors")),
                    help="output folder (default: tests/vectors)")
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory and compare with the files in --out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    total, worst = 0, 0.0
    for i, arch in enumerate(ARCHS):
        for j, head in enumerate(HEADS):
            seed = 1000 + 10 * i + j
            tensors, metadata, losses = make_config(arch, head, seed)
            path = os.path.join(args.out, f"{arch}_{head}.safetensors")
            if args.check:
                saved, _ = load_safetensors(path)
                assert sorted(saved) == sorted(tensors), f"{path}: tensor names differ"
                for k, t in tensors.items():
                    d = (saved[k].double() - t.double()).abs().max().item() if t.numel() else 0.0
                    worst = max(worst, d)
                print(f"{path}: matches (worst abs diff so far {worst:.3g})")
                continue
            save_safetensors(path, tensors, metadata)
            back, meta = load_safetensors(path)  # self-check of the writer
            assert meta["arch"] == arch and all(torch.equal(back[k], tensors[k]) for k in tensors)
            size = os.path.getsize(path)
            total += size
            print(f"{path}: {len(tensors)} tensors, {size} bytes, "
                  f"adam losses {' '.join(f'{x:.6f}' for x in losses)}")
    if not args.check:
        print(f"total {total} bytes")
        assert total < 12 * 1024 * 1024, "vector files grew past 12 MB"
    check_against_reference()


if __name__ == "__main__":
    sys.exit(main())
