#!/usr/bin/python3
"""PyTorch side of the speed comparison (issue: engine speed).

Measures, like `colorize bench --json`, training images/s of a full step
(forward, loss, backward, Adam) and inference images/s for one
configuration, median of --steps steps after --warmup, and prints one JSON
object. PyTorch is tuned as well as it goes on these machines: 2 threads,
channels_last, OpenBLAS single-threaded (set by bench/compare.sh together with
tcmalloc preloading), model from ../shared/reference/models.py.

Run through bench/compare.sh; needs Debian's python3-torch.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
for cand in (os.path.join(here, '..', '..', 'shared', 'reference'), os.path.join(here, '..', 'shared', 'reference')):
    if os.path.exists(os.path.join(cand, 'models.py')):
        sys.path.insert(0, cand)
        break
import models  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--arch', default='unet')
    ap.add_argument('--head', default='reg', choices=['reg', 'cls'])
    ap.add_argument('--width', type=int, default=32)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--layout', default='channels_last', choices=['channels_last', 'contiguous'])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = 2 if a.head == 'reg' else 40
    fmt = torch.channels_last if a.layout == 'channels_last' else torch.contiguous_format
    m = models.build(a.arch, a.width, out).to(memory_format=fmt)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.rand(a.batch, 1, 32, 32).contiguous(memory_format=fmt)
    uv = (torch.rand(a.batch, 2, 32, 32) - 0.5) * 0.8
    bins = torch.randint(0, 20, (a.batch, 2, 32, 32))

    def loss_fn(y):
        if a.head == 'reg':
            return ((y - uv) ** 2).sum(1).mean()
        return F.cross_entropy(y[:, :20], bins[:, 0]) + F.cross_entropy(y[:, 20:], bins[:, 1])

    m.train()
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(m(x))
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    m.eval()
    itimes = []
    with torch.no_grad():
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            m(x)
            if i >= a.warmup:
                itimes.append(time.perf_counter() - t0)
    flops = models.conv_flops(m) * a.batch * 3  # forward + two backward passes
    tr = statistics.median(times)
    print(json.dumps({'impl': 'pytorch ' + torch.__version__, 'arch': a.arch, 'head': a.head,
                      'width': a.width, 'batch': a.batch, 'threads': a.threads, 'layout': a.layout,
                      'train_img_s': a.batch / tr, 'infer_img_s': a.batch / statistics.median(itimes),
                      'gflops_train': flops / tr / 1e9,
                      'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == '__main__':
    main()
