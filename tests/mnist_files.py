"""MNIST files for the tests: where the real test set is (and why its tests skip), and IDX files written by hand
from the format's definition (`write_idx`, `fake_mnist`). Shared by tests/chapter6/ and tests/meta/."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

MNIST_VARIABLE = "TINYGRAD6_TEST_MNIST"
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared/data/mnist"


def mnist_skip_reason(environ: dict[str, str], default: Path = SHARED_MNIST) -> str | None:
    """Why the real-MNIST tests skip, or None when they run. They run when the folder holds the MNIST test set;
    with $TINYGRAD6_TEST_MNIST set they always run (and fail, naming the folder, when it does not hold it), so a
    CI that sets the variable cannot skip them silently."""
    if environ.get(MNIST_VARIABLE):
        return None
    if (default / "t10k-images-idx3-ubyte.gz").is_file():
        return None
    return (f"the real MNIST test set was not found: set ${MNIST_VARIABLE} to a folder holding t10k-*-ubyte.gz (one "
            f"download puts them in ~/.cache/tinygrad6/mnist: python -c 'from tinygrad6 import datasets; "
            f"datasets.mnist()')")


MNIST_DIR = Path(os.environ.get(MNIST_VARIABLE) or SHARED_MNIST)
_MNIST_SKIP = mnist_skip_reason(dict(os.environ))
needs_mnist = pytest.mark.skipif(_MNIST_SKIP is not None, reason=_MNIST_SKIP or "")

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
         np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file written by hand from the format's definition: 0, 0, dtype code, ndim, big-endian dims, data."""
    dtype = array.dtype if array.dtype.itemsize == 1 else array.dtype.newbyteorder(">")
    header = bytes([0, 0, CODES[dtype], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw, compresslevel=1) if gz else raw)
    return path


def fake_mnist(root: Path, n_train: int = 50, n_test: int = 20, seed: int = 0, test_only: bool = False) -> dict:
    """The four (or two) MNIST files with random 28x28 images; returns name -> gz bytes."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    files = {}
    sets = [("t10k", n_test)] + ([] if test_only else [("train", n_train)])
    for prefix, n in sets:
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte.gz"] = write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return {name: path.read_bytes() for name, path in files.items()}
