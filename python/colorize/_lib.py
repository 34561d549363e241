"""Loading libcolorize.so and declaring the C functions the package calls."""
import ctypes
import ctypes.util
import os


class Error(RuntimeError):
    """A libcolorize call failed; the message is cz_last_error()."""


class Decode(ctypes.Structure):  # cz_decode
    _fields_ = [("rule", ctypes.c_int), ("temperature", ctypes.c_float)]


class Options(ctypes.Structure):  # cz_colorizer_options
    _fields_ = [("working_size", ctypes.c_int), ("decode", Decode), ("max_pixels", ctypes.c_size_t),
                ("backend", ctypes.c_char_p), ("flip", ctypes.c_int), ("precision", ctypes.c_char_p)]


class Image(ctypes.Structure):  # cz_image
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("channels", ctypes.c_int),
                ("pixels", ctypes.POINTER(ctypes.c_uint8))]


def _load():
    candidates = []
    if os.environ.get("COLORIZE_LIB"):
        candidates.append(os.environ["COLORIZE_LIB"])
    candidates += ["libcolorize.so.0", ctypes.util.find_library("colorize")]
    reasons = []
    for name in candidates:
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            reasons.append(str(e))
    raise ImportError("colorize: cannot load libcolorize.so.0 (%s); install the library "
                      "(cmake --install build, then ldconfig) or set COLORIZE_LIB to its path"
                      % "; ".join(reasons))


lib = _load()

_p = ctypes.c_void_p
_sigs = {
    "cz_last_error": (ctypes.c_char_p, []),
    "cz_decode_parse": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Decode)]),
    "cz_colorizer_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Options), ctypes.POINTER(_p)]),
    "cz_colorizer_close": (None, [_p]),
    "cz_colorizer_describe": (ctypes.c_char_p, [_p]),
    "cz_colorize_pixels": (ctypes.c_int, [_p, _p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, _p]),
    "cz_image_read": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Image)]),
    "cz_image_write_png": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Image)]),
    "cz_image_free": (None, [ctypes.POINTER(Image)]),
    "cz_st_open": (ctypes.c_int, [ctypes.POINTER(_p), ctypes.c_char_p]),
    "cz_st_close": (None, [_p]),
    "cz_st_metadata_count": (ctypes.c_int, [_p]),
    "cz_st_metadata_at": (None, [_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p),
                                 ctypes.POINTER(ctypes.c_char_p)]),
}
for _name, (_res, _args) in _sigs.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def check(status):
    """Raise Error with the library's reason unless status is CZ_OK."""
    if status != 0:
        raise Error(lib.cz_last_error().decode("utf-8", "replace"))


def fs(path):
    """A path as the bytes the C library expects."""
    return os.fsencode(os.fspath(path))
