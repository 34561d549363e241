"""The Python package against the CLI: colouring samples/photos/grey/*.png
through colorize.Colorizer gives exactly the pixels `colorize run` writes.
Run by CTest (python_package) with COLORIZE_BIN, COLORIZE_LIB and
COLORIZE_SOURCE_DIR set; PYTHONPATH points at python/."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import colorize

SRC = os.environ.get("COLORIZE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("COLORIZE_BIN")
MODEL = os.path.join(SRC, "models", "colorize.safetensors")
GREY = sorted(glob.glob(os.path.join(SRC, "samples", "photos", "grey", "*.png")))


class ColorizeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cz_python_")
        cls.c = colorize.Colorizer(MODEL)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.tmp.cleanup()

    @unittest.skipUnless(BIN and GREY, "COLORIZE_BIN or the sample photos are missing")
    def test_equals_cli(self):
        out = os.path.join(self.tmp.name, "cli")
        subprocess.run([BIN, "run", "--model", MODEL, os.path.dirname(GREY[0]), "--outdir", out],
                       check=True, stderr=subprocess.DEVNULL)
        for path in GREY:
            with self.subTest(picture=os.path.basename(path)):
                grey = colorize.read_image(path)
                mine = self.c.colorize(grey[:, :, 0] if grey.shape[2] == 1 else grey)
                cli = colorize.read_image(os.path.join(out, os.path.basename(path)))
                self.assertEqual(mine.dtype, np.uint8)
                self.assertEqual(mine.shape, cli.shape)
                self.assertTrue(np.array_equal(mine, cli), "pixels differ from colorize run")
        # and through a PNG written by the package: the same file bytes
        mine_png = os.path.join(self.tmp.name, "mine.png")
        colorize.write_png(mine_png, self.c.colorize(colorize.read_image(GREY[0])))
        with open(mine_png, "rb") as a, open(os.path.join(out, os.path.basename(GREY[0])), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_shapes_and_alpha(self):
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
        self.assertEqual(self.c.colorize(rgb).shape, (37, 53, 3))
        rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
        out = self.c.colorize(rgba)
        self.assertEqual(out.shape, (37, 53, 4))
        self.assertTrue(np.array_equal(out[:, :, 3], rgba[:, :, 3]))
        # a colour input is reduced to its luma: the RGB part matches RGB in
        self.assertTrue(np.array_equal(out[:, :, :3], self.c.colorize(rgba[:, :, :3])))
        # a non-contiguous view is fine
        self.assertEqual(self.c.colorize(rgb[::2, ::3]).shape, (19, 18, 3))

    def test_errors(self):
        with self.assertRaises(TypeError):
            self.c.colorize(np.zeros((8, 8), dtype=np.float32))
        with self.assertRaises(ValueError):
            self.c.colorize(np.zeros((8, 8, 5), dtype=np.uint8))
        with self.assertRaises(colorize.Error) as e:
            colorize.Colorizer(os.path.join(self.tmp.name, "missing.safetensors"))
        self.assertIn("missing.safetensors", str(e.exception))
        with self.assertRaises(colorize.Error):
            colorize.Colorizer(MODEL, decode="median")
        small = colorize.Colorizer(MODEL, max_pixels=100)
        with self.assertRaises(colorize.Error) as e:
            small.colorize(np.zeros((20, 20), dtype=np.uint8))
        self.assertIn("max-pixels limit of 100", str(e.exception))
        small.close()
        with self.assertRaises(colorize.Error) as e:
            colorize.Colorizer(MODEL, precision="fp16")
        self.assertIn("fp32 or bf16", str(e.exception))

    def test_precision(self):
        """fp32 is the default and names itself; bf16 gives nearly the same colours where the CPU has it."""
        grey = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
        with colorize.Colorizer(MODEL, precision="fp32") as c:
            self.assertTrue(np.array_equal(c.colorize(grey), self.c.colorize(grey)))
        try:
            c16 = colorize.Colorizer(MODEL, precision="bf16")
        except colorize.Error as e:  # a CPU without bf16: refused, saying why
            self.assertIn("bf16 instructions", str(e))
            return
        with c16:
            diff = np.abs(c16.colorize(grey).astype(int) - self.c.colorize(grey).astype(int))
            self.assertLessEqual(diff.max(), 3)

    def test_model_info(self):
        info = colorize.model_info(MODEL)
        self.assertEqual(info["arch"], "resunet-gc")
        self.assertEqual(info["head"], "cls")
        self.assertEqual(info["width"], "32")
        self.assertIn("resunet-gc/cls", self.c.description)
        with self.assertRaises(colorize.Error):
            colorize.model_info(os.path.join(SRC, "README.md"))

    def test_default_model_and_options(self):
        with colorize.Colorizer(size=48, decode="annealed:0.5") as c:
            self.assertEqual(c.colorize(np.full((16, 16), 128, dtype=np.uint8)).shape, (16, 16, 3))

    def test_pip_install(self):
        """pip install ./python works offline (no index, no build isolation)."""
        target = os.path.join(self.tmp.name, "site")
        # from a copy: pip builds in the tree it is given (build/, egg-info)
        copy = os.path.join(self.tmp.name, "python")
        shutil.copytree(os.path.join(SRC, "python"), copy, ignore=shutil.ignore_patterns("__pycache__"))
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                            "--no-build-isolation", "--target", target, copy],
                           capture_output=True, text=True)
        if r.returncode != 0 and "No module named pip" in r.stderr:
            self.skipTest("pip is not installed")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(target, "colorize", "_api.py")))


if __name__ == "__main__":
    unittest.main()
