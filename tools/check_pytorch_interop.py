#!/usr/bin/python3
"""Interoperability: a model file written by `colorize train` loads into the
reference PyTorch networks (../shared/reference/models.py, or the project's
twin in tools/make_vectors.py for resunet) with load_state_dict(strict=False)
and gives the same predictions as colorize.

Usage (Debian's PyTorch):
    /usr/bin/python3 tools/check_pytorch_interop.py MODEL [CIFAR_RECORDS_FILE]
It evaluates the model in PyTorch (eval mode, mean decoding for cls) on the
records file (default samples/cifar_test_sample.bin), runs
`build/colorize eval --split all` on the same file, and compares the chroma
MSE. Exit 0 when the two agree to 1e-5 relative.
"""
import importlib.util
import json
import os
import struct
import subprocess
import sys
import tempfile

import torch

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)


def load_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    out = {}
    for k, v in header.items():
        b, e = v['data_offsets']
        dt = {'F32': torch.float32, 'I64': torch.int64}[v['dtype']]
        out[k] = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + e]), dtype=dt).reshape(v['shape'])
    return out, meta


def build(arch, width, out):
    ref = os.path.join(root, '..', 'shared', 'reference', 'models.py')
    if arch in ('vgg', 'unet', 'resnet') and os.path.exists(ref):
        spec = importlib.util.spec_from_file_location('models', ref)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.build(arch, width, out)
    sys.argv = sys.argv[:1]
    if arch in ('resunet-gc', 'resunet-se'):  # the context twins (forward of GC returns (out, aux))
        sys.path.insert(0, here)
        import context_modules
        return {'resunet-gc': context_modules.ResunetGC, 'resunet-se': context_modules.ResunetSE}[arch](width, out)
    spec = importlib.util.spec_from_file_location('twin', os.path.join(here, 'make_vectors.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.NETS[arch](width, out)


def main():
    model_path = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, 'samples', 'cifar_test_sample.bin')
    tensors, meta = load_safetensors(model_path)
    head = meta['head']
    out_ch = 2 if head == 'reg' else 40
    m = build(meta['arch'], int(meta['width']), out_ch)
    missing, unexpected = m.load_state_dict(tensors, strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing), (missing, unexpected)
    m.eval()
    raw = open(data, 'rb').read()
    n = len(raw) // 3073
    rgb = torch.tensor(list(raw), dtype=torch.uint8).reshape(n, 3073)[:, 1:].reshape(n, 3, 32, 32).float() / 255
    mat = torch.tensor([[0.299, 0.587, 0.114], [-0.14714119, -0.28886916, 0.43601035],
                        [0.61497538, -0.51496512, -0.10001026]])
    yuv = torch.einsum('ij,njhw->nihw', mat, rgb)
    with torch.no_grad():
        pred = m(yuv[:, :1])
    if isinstance(pred, tuple):  # (colour output, aux class logits)
        pred = pred[0]
    if head == 'cls':
        centres_u = -0.436 + (torch.arange(20) + 0.5) * (0.872 / 20)
        centres_v = -0.615 + (torch.arange(20) + 0.5) * (1.23 / 20)
        pu = (pred[:, :20].softmax(1) * centres_u[None, :, None, None]).sum(1, keepdim=True)
        pv = (pred[:, 20:].softmax(1) * centres_v[None, :, None, None]).sum(1, keepdim=True)
        pred = torch.cat([pu, pv], 1)
    mse_torch = ((pred - yuv[:, 1:]) ** 2).sum(1).mean().item()
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, 'm.json')
        subprocess.run([os.path.join(root, 'build', 'colorize'), 'eval', '--model', model_path, '--data', data,
                        '--split', 'all', '--json', js], check=True, stdout=subprocess.DEVNULL)
        mse_c = json.load(open(js))['chroma_mse']
    rel = abs(mse_torch - mse_c) / mse_c
    print(f'{model_path}: {n} images, chroma MSE PyTorch {mse_torch:.8f}, colorize {mse_c:.8f}, relative difference {rel:.2e}')
    sys.exit(0 if rel < 1e-5 else 1)


if __name__ == '__main__':
    main()
