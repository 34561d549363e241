"""colorize: put colour back into grey pictures (ctypes over libcolorize.so).

    import colorize, numpy as np
    c = colorize.Colorizer()                 # the shipped model, working size 32, mean decoding
    rgb = c.colorize(grey)                   # HxW or HxWx3 uint8 -> HxWx3 (HxWx4 in: alpha kept)

The library is found through $COLORIZE_LIB (a path to libcolorize.so.0), then
the dynamic loader's search path. Errors raise colorize.Error with the
library's one-line reason.
"""
from ._lib import Error
from ._api import Colorizer, model_info, read_image, write_png

__all__ = ["Colorizer", "Error", "model_info", "read_image", "write_png"]
__version__ = "0.1.0"
