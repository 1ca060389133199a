"""The data an experiment runs on: MNIST (all of it, or its test set split in two) or scikit-learn's 8x8 digits, with
a caption saying which."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import datasets


@dataclass
class Data:
    """Training and test arrays (x flattened, in [0, 1]; t integer labels) and a caption saying what they are."""

    name: str  # "mnist" or "digits"
    caption: str
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray

    @property
    def input_size(self) -> int:
        return self.x_train.shape[1]


def load_data(dataset: str | None = None, data_dir: str | Path | None = None, notice=print) -> Data:
    """The data an experiment runs on.

    data_dir: a folder of MNIST IDX files: all four (60,000 / 10,000), or only the two test-set files (their 10,000
        images split 8,000 train / 2,000 test, and the caption says so).
    dataset: "mnist" (from `datasets.default_root()`, downloaded when missing), "digits" (scikit-learn's 8x8
        digits), or None: MNIST when it is already on disk, else digits with a notice."""
    if data_dir is not None:
        kind = datasets.mnist_files(data_dir)
        if kind == "all":
            return _mnist(datasets.mnist(data_dir, download=False), "MNIST (60,000 training / 10,000 test images)")
        if kind == "test":
            return _mnist(datasets.mnist_test_split(data_dir),
                          "MNIST test set only (10,000 real images), split 8,000 train / 2,000 test")
        raise FileNotFoundError(f"--data {data_dir}: no MNIST IDX files there (expected t10k-images-idx3-ubyte.gz "
                                f"and t10k-labels-idx1-ubyte.gz, and optionally the two train-*.gz files)")
    if dataset is None:
        if datasets.mnist_files() is not None:
            return load_data(data_dir=datasets.default_root())
        notice(f"notice: MNIST is not in {datasets.default_root()}; using scikit-learn's 8x8 digits instead "
               f"(--dataset mnist downloads MNIST, --data DIR reads it from a folder)")
        dataset = "digits"
    if dataset == "digits":
        (x_train, t_train), (x_test, t_test) = datasets.digits()
        return Data("digits", "scikit-learn 8x8 digits (1,500 training / 297 test images)",
                    x_train, t_train, x_test, t_test)
    if dataset == "mnist":
        if datasets.mnist_files() == "test":
            return load_data(data_dir=datasets.default_root())
        return _mnist(datasets.mnist(), "MNIST (60,000 training / 10,000 test images)")
    raise ValueError(f"dataset must be 'mnist' or 'digits', got {dataset!r}")


def _mnist(arrays: datasets.Arrays, caption: str) -> Data:
    (x_train, t_train), (x_test, t_test) = arrays
    return Data("mnist", caption, x_train, t_train, x_test, t_test)
