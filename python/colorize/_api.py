"""The Python face of libcolorize: numpy arrays in and out."""
import ctypes

import numpy as np

from ._lib import Decode, Error, Image, Options, check, fs, lib


def _as_pixels(array):
    """An HxW, HxWx1..4 uint8 array as a C-contiguous HxWxC one."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise TypeError("colorize: expected a uint8 array, got %s" % a.dtype)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or not 1 <= a.shape[2] <= 4 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError("colorize: expected HxW grey or HxWx3 / HxWx4 colour, got shape %s"
                         % (np.shape(array),))
    return np.ascontiguousarray(a)


class Colorizer:
    """A loaded model. model_path None is the shipped model; size is the
    working resolution (the shorter side the network sees); decode is the
    rule for classification models: "mean", "annealed[:T]" or "mode";
    backend is None (oneDNN) or "ref" (the slow reference operators); flip
    averages the outputs of the picture and its mirror image (on by default);
    precision is "fp32" or "bf16" (bf16 convolutions, on CPUs with AVX512_BF16
    or AMX; refused elsewhere)."""

    def __init__(self, model_path=None, size=32, decode="mean", max_pixels=0, backend=None, flip=True,
                 precision="fp32"):
        self._c = None
        opt = Options()
        opt.working_size = int(size)
        opt.max_pixels = int(max_pixels)
        opt.backend = None if backend is None else backend.encode()
        opt.flip = 1 if flip else -1
        opt.precision = precision.encode()
        check(lib.cz_decode_parse(decode.encode(), ctypes.byref(opt.decode)))
        handle = ctypes.c_void_p()
        check(lib.cz_colorizer_open(None if model_path is None else fs(model_path),
                                    ctypes.byref(opt), ctypes.byref(handle)))
        self._c = handle

    @property
    def description(self):
        """Architecture, head and width of the model, e.g. "resnet/cls w16"."""
        return lib.cz_colorizer_describe(self._handle()).decode()

    def _handle(self):
        if self._c is None:
            raise Error("colorize: the colorizer is closed")
        return self._c

    def colorize(self, array):
        """Colour an HxW grey or HxWx3 colour uint8 array (a colour one is
        reduced to its luma); returns HxWx3 uint8, or HxWx4 with the alpha
        of an HxWx4 (or HxWx2 grey+alpha) input kept."""
        a = _as_pixels(array)
        h, w, ch = a.shape
        rgb = np.empty((h, w, 3), dtype=np.uint8)
        check(lib.cz_colorize_pixels(self._handle(), a.ctypes.data, w, h, ch, w * ch, rgb.ctypes.data))
        if ch in (2, 4):
            return np.concatenate([rgb, a[:, :, ch - 1:]], axis=2)
        return rgb

    def close(self):
        if self._c is not None:
            lib.cz_colorizer_close(self._c)
            self._c = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def model_info(path):
    """The metadata of a model file (arch, width, head, bins, ...) as a dict
    of strings."""
    f = ctypes.c_void_p()
    check(lib.cz_st_open(ctypes.byref(f), fs(path)))
    try:
        info = {}
        for i in range(lib.cz_st_metadata_count(f)):
            k, v = ctypes.c_char_p(), ctypes.c_char_p()
            lib.cz_st_metadata_at(f, i, ctypes.byref(k), ctypes.byref(v))
            info[k.value.decode()] = v.value.decode()
        return info
    finally:
        lib.cz_st_close(f)


def read_image(path):
    """A PNG or JPEG file as HxWxC uint8 (C = 1 grey, 2, 3 RGB or 4 RGBA),
    decoded by libcolorize exactly as `colorize run` decodes it."""
    img = Image()
    check(lib.cz_image_read(fs(path), ctypes.byref(img)))
    try:
        n = img.width * img.height * img.channels
        flat = np.ctypeslib.as_array(img.pixels, shape=(n,))
        return flat.reshape(img.height, img.width, img.channels).copy()
    finally:
        lib.cz_image_free(ctypes.byref(img))


def write_png(path, array):
    """Write an HxW or HxWxC uint8 array as a PNG (atomically)."""
    a = _as_pixels(array)
    img = Image(a.shape[1], a.shape[0], a.shape[2], a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
    check(lib.cz_image_write_png(fs(path), ctypes.byref(img)))
