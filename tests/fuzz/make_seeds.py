#!/usr/bin/python3
"""Write the seed corpora of tests/fuzz/corpus/ (run once; the files are
committed). Needs Debian's python3-pil for the JPEG seeds."""
import io
import json
import os
import struct
import zlib

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    with open(os.path.join(HERE, "corpus", target, name), "wb") as f:
        f.write(data)


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))


def png(w, h, depth, ctype, rows, extra=b"", interlace=0, plte=None, trns=None):
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
    if plte:
        out += chunk(b"PLTE", plte)
    if trns:
        out += chunk(b"tRNS", trns)
    return out + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def safetensors(tensors, meta):
    header, data = {}, b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


# PNG: every colour type and depth the reader reduces, small
put("png", "grey1.png", png(8, 2, 1, 0, [b"\xa5", b"\x5a"]))
put("png", "grey8.png", png(3, 2, 8, 0, [b"\x00\x80\xff", b"\x10\x20\x30"]))
put("png", "ga8.png", png(2, 2, 8, 4, [b"\x00\xff\x80\x80", b"\xff\x00\x10\x20"]))
put("png", "rgb16.png", png(2, 1, 16, 2, [bytes(range(12))]))
put("png", "rgba8_interlaced.png", png(1, 1, 8, 6, [b"\x01\x02\x03\x04"], interlace=1))
put("png", "palette_trns.png", png(4, 1, 2, 3, [b"\x1b"], plte=b"\x00\x00\x00\xff\x00\x00\x00\xff\x00\x00\x00\xff",
                                   trns=b"\x00\x80"))
put("png", "text_gamma.png", png(1, 1, 8, 0, [b"\x7f"], extra=chunk(b"tEXt", b"Title\x00seed") +
                                 chunk(b"gAMA", struct.pack(">I", 45455))))
with open(os.path.join(HERE, "..", "data", "hostile", "splt_1950mb.png"), "rb") as f:
    put("png", "splt_1950mb.png", f.read())

# JPEG: grey, colour, progressive, and EXIF orientations 3, 6, 8
img = Image.new("RGB", (6, 4))
img.putdata([(x * 40, y * 60, 128) for y in range(4) for x in range(6)])
for name, kw in [("rgb.jpg", {}), ("progressive.jpg", {"progressive": True})]:
    b = io.BytesIO()
    img.save(b, "JPEG", quality=80, **kw)
    put("jpeg", name, b.getvalue())
b = io.BytesIO()
img.convert("L").save(b, "JPEG", quality=80)
put("jpeg", "grey.jpg", b.getvalue())
for o in (3, 6, 8):
    exif = Image.Exif()
    exif[0x0112] = o
    b = io.BytesIO()
    img.save(b, "JPEG", quality=80, exif=exif.tobytes())
    put("jpeg", "exif_orientation%d.jpg" % o, b.getvalue())

# safetensors / model: small valid files, a real tiny model, the hostile ones
f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
put("safetensors", "two_tensors.safetensors",
    safetensors({"a": ("F32", [2, 3], f32), "n": ("I64", [], struct.pack("<q", 7))}, {"k": "v"}))
put("safetensors", "empty.safetensors", safetensors({}, None))
put("safetensors", "scalar.safetensors", safetensors({"s": ("F32", [], struct.pack("<f", 0.5))}, {}))
for n in ("meta_only_resnet_w1024", "width_plus", "nan_weight_vgg_w1"):
    with open(os.path.join(HERE, "..", "data", "hostile", n + ".safetensors"), "rb") as f:
        d = f.read()
    put("safetensors", n + ".safetensors", d)
    put("model", n + ".safetensors", d)

# CIFAR records: one, two, one with a bad label
def record(label, seed):
    return bytes([label]) + bytes((i * seed) & 255 for i in range(3072))


put("cifar", "one.bin", record(3, 7))
put("cifar", "two.bin", record(0, 5) + record(9, 11))
put("cifar", "bad_label.bin", record(42, 3))

# folder: side byte, then files separated by "\n--\n"
with open(os.path.join(HERE, "corpus", "png", "grey8.png"), "rb") as f:
    p = f.read()
with open(os.path.join(HERE, "corpus", "jpeg", "exif_orientation6.jpg"), "rb") as f:
    j = f.read()
put("folder", "png_and_jpeg", b"\x18" + p + b"\n--\n" + j)
put("folder", "one_png", b"\x00" + p)
put("folder", "broken_and_png", b"\x08" + b"\x89PNG junk" + b"\n--\n" + p)
