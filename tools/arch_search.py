#!/usr/bin/env python3
"""Architecture search for the project's own network, in PyTorch on a GPU.

Designing the new model needs many full trainings; one 10-epoch run takes
~20 minutes on the project's 2-core CPU but seconds on a GPU. This tool runs
candidate networks under the calibration protocol (seed-0 split, Adam 1e-3
constant, batch 128, random horizontal flips, 10 epochs, best-validation
checkpoint) and reports their validation chroma MSE (SPEC §4; `mean`
decoding for cls). Only the validation split is used: the test split stays
untouched until the chosen design is trained by `colorize train`.

  pack   (here)  write the train and validation images of the seed-0 split
                 as PNG parts small enough to travel to a GPU machine
  search (GPU)   train every candidate x head x seed, several processes at
                 once, and append one JSON line per run to --out
  selftest       a tiny CPU run of every candidate, to check this file

Candidates are built from SPEC §5's blocks only (CBR, UP, HEAD, the
reference BasicBlock, max-pooling, concatenation), so that the winner needs
no new engine operation in C.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The SPEC §3 bins and losses and the §5 blocks, from the project's PyTorch twin.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vectors import BINS, Block, Unet, cbr, chroma_bin, loss_fn, pair, up  # noqa: E402
from make_vectors import U_MAX as UMAX, V_MAX as VMAX  # noqa: E402

RGB2YUV = [[0.299, 0.587, 0.114],
           [-0.14714119, -0.28886916, 0.43601035],
           [0.61497538, -0.51496512, -0.10001026]]
PART_IMAGES = 11000  # images per PNG part: ~25 MB each


# ---- the seed's split (SPEC §2) ---------------------------------------------

def seeded_split(seed=0, n=60000):
    mask = (1 << 64) - 1
    state = seed
    a = list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        j = z % (i + 1)
        a[i], a[j] = a[j], a[i]
    return a[:50000], a[50000:55000], a[55000:]


def read_cifar(directory):
    names = [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]
    recs = []
    for name in names:
        raw = np.fromfile(os.path.join(directory, name), dtype=np.uint8)
        if raw.size != 10000 * 3073:
            sys.exit(f"{directory}/{name}: wrong size {raw.size}; run 'colorize data fetch'")
        recs.append(raw.reshape(10000, 3073)[:, 1:])
    return np.concatenate(recs).reshape(60000, 3, 32, 32)


def pack(args):
    from PIL import Image
    train, val, test = seeded_split(0)
    assert train[:5] == [17103, 3854, 34173, 44489, 57167], train[:5]
    assert test[:5] == [22476, 1198, 935, 14813, 59976], test[:5]
    images = read_cifar(args.data)[train + val]          # 55000 x 3 x 32 x 32
    os.makedirs(args.out, exist_ok=True)
    for p, start in enumerate(range(0, len(images), PART_IMAGES)):
        block = images[start:start + PART_IMAGES]         # images stacked vertically
        pic = block.transpose(0, 2, 3, 1).reshape(-1, 32, 3)
        path = os.path.join(args.out, f"part{p}.png")
        Image.fromarray(np.ascontiguousarray(pic), "RGB").save(path, optimize=True)
        print(f"{path}: {len(block)} images, {os.path.getsize(path) / 1e6:.1f} MB")
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"train": len(train), "val": len(val), "split": "seeded", "seed": 0}, f)


def load_packed(directories):
    """The parts may lie in several folders (they travel in several calls)."""
    from PIL import Image
    parts = {}
    for d in directories:
        for name in os.listdir(d):
            if name.startswith("part") and name.endswith(".png"):
                parts[int(name[4:-4])] = os.path.join(d, name)
    if sorted(parts) != list(range(len(parts))) or not parts:
        sys.exit(f"missing PNG parts: have {sorted(parts)}")
    pics = [np.asarray(Image.open(parts[k]).convert("RGB")) for k in sorted(parts)]
    images = np.concatenate(pics).reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2)
    if images.shape[0] != 55000:
        sys.exit(f"expected 55000 images, found {images.shape[0]}")
    return np.ascontiguousarray(images[:50000]), np.ascontiguousarray(images[50000:])


def to_yuv(rgb8):
    """uint8 N x 3 x H x W -> (Y N x 1 x H x W, UV N x 2 x H x W), float32"""
    m = torch.tensor(RGB2YUV, dtype=torch.float32, device=rgb8.device)
    yuv = torch.einsum("ij,njhw->nihw", m, rgb8.float() / 255.0)
    return yuv[:, :1].contiguous(), yuv[:, 1:].contiguous()


def decode_mean(logits):
    cu = torch.tensor([-UMAX + (k + 0.5) * 2 * UMAX / BINS for k in range(BINS)], device=logits.device)
    cv = torch.tensor([-VMAX + (k + 0.5) * 2 * VMAX / BINS for k in range(BINS)], device=logits.device)
    pu = torch.softmax(logits[:, :BINS], dim=1)
    pv = torch.softmax(logits[:, BINS:], dim=1)
    return torch.stack([torch.einsum("nkhw,k->nhw", pu, cu), torch.einsum("nkhw,k->nhw", pv, cv)], dim=1)


# ---- candidate networks (SPEC §5 blocks) ------------------------------------

def blocks(a, b, n, stride=1):
    return nn.Sequential(Block(a, b, stride), *[Block(b, b) for _ in range(n - 1)])


class ResunetPool(nn.Module):
    """UNet's max-pool topology with residual stages.

    enc: encoder blocks per stage (e1, e2, e3); bott: blocks at 4x4;
    dec: blocks per decoder stage (the first one over the concatenation).
    pair_stem: the full-resolution stage is unet's CBR pair, not stem + blocks.
    strided: downsample by stride-2 blocks instead of max-pooling (the first
    resunet design).
    """

    def __init__(self, w, out, enc=1, bott=1, dec=1, pair_stem=False, strided=False):
        super().__init__()
        self.pair_stem = pair_stem
        self.down = (lambda x: x) if strided else (lambda x: F.max_pool2d(x, 2))
        s = 2 if strided else 1
        if pair_stem:
            self.e1 = pair(1, w)
        else:
            self.stem, self.e1 = cbr(1, w), blocks(w, w, enc)
        self.e2, self.e3 = blocks(w, 2 * w, enc, s), blocks(2 * w, 4 * w, enc, s)
        self.b = blocks(4 * w, 8 * w, bott, s)
        self.u3, self.d3 = up(8 * w, 4 * w), blocks(8 * w, 4 * w, dec)
        self.u2, self.d2 = up(4 * w, 2 * w), blocks(4 * w, 2 * w, dec)
        self.u1, self.d1 = up(2 * w, w), blocks(2 * w, w, dec)
        self.head = nn.Conv2d(w, out, 1)

    def forward(self, x):
        e1 = self.e1(x) if self.pair_stem else self.e1(self.stem(x))
        e2 = self.e2(self.down(e1))
        e3 = self.e3(self.down(e2))
        b = self.b(self.down(e3))
        d3 = self.d3(torch.cat([self.u3(b), e3], 1))
        d2 = self.d2(torch.cat([self.u2(d3), e2], 1))
        return self.head(self.d1(torch.cat([self.u1(d2), e1], 1)))


class UnetResBottleneck(nn.Module):
    """unet with residual blocks appended at the 4x4 bottleneck."""

    def __init__(self, w, out, extra=2):
        super().__init__()
        self.net = Unet(w, out)
        self.net.b = nn.Sequential(pair(4 * w, 8 * w), *[Block(8 * w, 8 * w) for _ in range(extra)])

    def forward(self, x):
        return self.net(x)


CANDIDATES = {
    "unet": lambda w, o: Unet(w, o),
    "resunet_strided": lambda w, o: ResunetPool(w, o, bott=2, strided=True),
    "rpool": lambda w, o: ResunetPool(w, o),
    "rpool_b2": lambda w, o: ResunetPool(w, o, bott=2),
    "rpool_pairstem": lambda w, o: ResunetPool(w, o, pair_stem=True),
    "rpool_e2b2": lambda w, o: ResunetPool(w, o, enc=2, bott=2),
    "rpool_d2": lambda w, o: ResunetPool(w, o, dec=2, bott=2),
    "unet_rb2": lambda w, o: UnetResBottleneck(w, o, 2),
}


def conv_flops(model):
    total = [0]

    def hook(m, inp, out):
        kh, kw = m.kernel_size
        if isinstance(m, nn.ConvTranspose2d):
            total[0] += 2 * inp[0][0].numel() * m.out_channels * kh * kw
        else:
            total[0] += 2 * out[0].numel() * (m.in_channels // m.groups) * kh * kw

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 32, 32))
    for h in hooks:
        h.remove()
    return total[0]


# ---- one training run (the calibration protocol) ----------------------------

DATA = {}


def init_worker(dirs, device):
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_num_threads(1)
    train, val = load_packed(dirs)
    DATA["train"] = torch.from_numpy(train).to(device)
    DATA["val"] = torch.from_numpy(val).to(device)
    DATA["device"] = device


def evaluate(model, head, images, batch=1000):
    model.eval()
    se, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, images.shape[0], batch):
            y, uv = to_yuv(images[s:s + batch])
            out = model(y)
            pred = out if head == "reg" else decode_mean(out)
            se += ((pred - uv) ** 2).sum(dim=1).sum().item()
            n += y.shape[0] * 32 * 32
    model.train()
    return se / n


def train_one(job):
    arch, head, seed, width = job["arch"], job["head"], job["seed"], job["width"]
    epochs, batch, limit = job["epochs"], job["batch"], job.get("limit")
    device = DATA["device"]
    torch.manual_seed(seed)
    model = CANDIDATES[arch](width, 2 if head == "reg" else 2 * BINS)
    flops = conv_flops(model)
    params = sum(p.numel() for p in model.parameters())
    model.to(device).train()
    if job.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=job["lr"])
    sched = None
    steps_per_epoch = (limit or DATA["train"].shape[0]) // batch
    if job.get("schedule") == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    train = DATA["train"][:limit] if limit else DATA["train"]
    val = DATA["val"][:limit] if limit else DATA["val"]
    curve, best, start = [], float("inf"), time.time()
    for epoch in range(epochs):
        order = torch.randperm(train.shape[0], generator=gen).to(device)
        flips = (torch.rand(train.shape[0], generator=gen) < 0.5).to(device)
        loss_sum = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch:(step + 1) * batch]
            rgb = train[idx]
            f = flips[idx]
            rgb = torch.where(f[:, None, None, None], rgb.flip(3), rgb)
            y, uv = to_yuv(rgb)
            out = model(y)
            bins = None if head == "reg" else \
                torch.stack([chroma_bin(uv[:, 0], UMAX), chroma_bin(uv[:, 1], VMAX)], dim=1)
            loss = loss_fn(head, out, uv, bins)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            loss_sum += loss.detach()
        mse = evaluate(model, head, val)
        best = min(best, mse)
        curve.append({"epoch": epoch + 1, "train_loss": float(loss_sum) / steps_per_epoch, "val": mse})
        if not np.isfinite(mse):
            break
    return dict(job, params=params, mflop=flops / 1e6, best_val=best, curve=curve,
                seconds=round(time.time() - start, 1))


def search(args):
    import multiprocessing as mp
    jobs = []
    archs = args.archs.split(",")
    for arch in archs:
        if arch not in CANDIDATES:
            sys.exit(f"unknown candidate {arch}; known: {', '.join(CANDIDATES)}")
    for seed in range(args.first_seed, args.first_seed + args.seeds):  # seed-major: a cut-off search still covers every candidate
        for arch in archs:
            for head in args.heads.split(","):
                jobs.append(dict(arch=arch, head=head, seed=seed, width=args.width, epochs=args.epochs,
                                 batch=128, lr=args.lr, schedule=args.schedule, limit=args.limit,
                                 channels_last=args.channels_last))
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    print(f"{len(jobs)} runs on {device}, {args.procs} processes", flush=True)
    ctx = mp.get_context("spawn")
    start = time.time()
    with ctx.Pool(args.procs, initializer=init_worker, initargs=(args.data, device)) as pool, \
            open(args.out, "a") as log:
        for k, r in enumerate(pool.imap_unordered(train_one, jobs)):
            log.write(json.dumps(r) + "\n")
            log.flush()
            print(f"[{k + 1}/{len(jobs)} {time.time() - start:6.0f}s] {r['arch']:16s} {r['head']} seed {r['seed']}"
                  f"  best val {r['best_val']:.6f}  ({r['params']} params, {r['mflop']:.1f} MFLOP, "
                  f"{r['seconds']} s)", flush=True)
    summarize(args.out)


def summarize(path):
    rows = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            key = (r["arch"], r["head"], r.get("schedule", "const"), r["width"], r["epochs"])
            rows.setdefault(key, []).append(r)
    print(f"\n{'arch':16s} head sched  w  ep  runs  mean best val   min      max     params  MFLOP")
    for key, rs in sorted(rows.items(), key=lambda kv: np.mean([r["best_val"] for r in kv[1]])):
        v = [r["best_val"] for r in rs]
        print(f"{key[0]:16s} {key[1]:4s} {key[2]:6s} {key[3]:2d} {key[4]:3d} {len(v):4d}  {np.mean(v):.6f}"
              f"  {min(v):.6f} {max(v):.6f} {rs[0]['params']:8d} {rs[0]['mflop']:6.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="write the seed-0 train+val images as PNG parts")
    p.add_argument("--data", default="data/cifar-10-batches-bin")
    p.add_argument("--out", required=True)
    s = sub.add_parser("search", help="train the candidates")
    s.add_argument("--data", nargs="+", required=True, help="folders holding part*.png")
    s.add_argument("--out", required=True, help="JSON lines, appended")
    s.add_argument("--archs", default=",".join(CANDIDATES))
    s.add_argument("--heads", default="reg,cls")
    s.add_argument("--seeds", type=int, default=2)
    s.add_argument("--first-seed", type=int, default=0)
    s.add_argument("--width", type=int, default=16)
    s.add_argument("--epochs", type=int, default=10)
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--schedule", default="const", choices=["const", "cosine"])
    s.add_argument("--procs", type=int, default=8)
    s.add_argument("--limit", type=int, default=None, help="use only the first N train/val images")
    s.add_argument("--channels-last", action="store_true")
    s.add_argument("--cpu", action="store_true")
    m = sub.add_parser("summary", help="table of a results file")
    m.add_argument("path")
    t = sub.add_parser("selftest", help="build every candidate, count, and run a forward")
    args = ap.parse_args()
    if args.cmd == "pack":
        pack(args)
    elif args.cmd == "search":
        search(args)
    elif args.cmd == "summary":
        summarize(args.path)
    else:
        for name, make in CANDIDATES.items():
            for out in (2, 40):
                net = make(16, out)
                y = net(torch.rand(2, 1, 32, 32))
                assert y.shape == (2, out, 32, 32)
                print(f"{name:16s} out {out:2d}: {sum(p.numel() for p in net.parameters()):8d} params, "
                      f"{conv_flops(net) / 1e6:6.1f} MFLOP/img")


if __name__ == "__main__":
    main()
