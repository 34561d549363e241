# Plain setuptools (Debian's python3-setuptools), so that `pip install ./python`
# works offline; the package is pure Python over libcolorize.so.0.
from setuptools import setup

setup(
    name="colorize",
    version="0.1.0",
    description="Put colour back into grey pictures (ctypes over libcolorize.so)",
    packages=["colorize"],
    python_requires=">=3.9",
    install_requires=["numpy"],
)
