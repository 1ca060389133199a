"""Data for the chapter's experiments: MNIST (downloaded once, verified, cached), scikit-learn's 8x8 digits (offline),
a train/validation split and mini-batches. Reading IDX files is `idx.read_idx` and downloading one file safely is
`download.download_to`; both are re-exported here (`datasets.read_idx`, `datasets.DownloadError`).

    from tinygrad6 import datasets
    (x_train, t_train), (x_test, t_test) = datasets.mnist()             # 60,000 / 10,000, x in [0, 1], (N, 784)
    (x_train, t_train), (x_test, t_test) = datasets.mnist_test_split("mnist/")  # 8,000 / 2,000
    (x_train, t_train), (x_test, t_test) = datasets.digits()            # 1,500 / 297, (N, 64), no download
    x_tr, t_tr, x_val, t_val = datasets.train_val_split(x_train, t_train, val_ratio=0.2, seed=0)
    for x, t in datasets.batches(x_tr, t_tr, batch_size=100, seed=0): ...

MNIST lives in `root`: the argument, else `$TINYGRAD6_DATA`, else `~/.cache/tinygrad6/mnist`. Missing files are
fetched over HTTPS from `mnist(mirror=...)`, else `$TINYGRAD6_MNIST_MIRROR`, else the mirrors in `MIRRORS` (tried in
order), within a deadline and no longer than their published sizes (`SIZES`), checked against the published MD5
sums in `MD5`, written to a temporary file and renamed only once complete and verified. Files already there are
parsed with `read_idx`, which checks their structure and decompresses no more than their header declares (nothing
is ever unpickled). Only http:// and https:// URLs are downloaded, also after a redirect.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .download import DownloadError, NotHTTPError, Watchdog, download_to
from .idx import read_idx

__all__ = ["MIRRORS", "MD5", "SIZES", "TRAIN_FILES", "TEST_FILES", "DownloadError", "NotHTTPError",
           "read_idx", "mnist", "mnist_test_split", "mnist_files", "default_root", "fetch", "digits",
           "train_val_split", "batches"]

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's S3 mirror of MNIST
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # Google's CVDF mirror
]
"""Base URLs tried in order; a file's URL is base + file name."""

MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
"""The published MD5 sums of the four .gz files: a download is kept only when it matches."""

SIZES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 9912422,
    "train-labels-idx1-ubyte.gz": 28881,
    "t10k-images-idx3-ubyte.gz": 1648877,
    "t10k-labels-idx1-ubyte.gz": 4542,
}
"""The sizes in bytes of the four .gz files: a download that grows past its size is cut off."""

MIRROR_VARIABLE = "TINYGRAD6_MNIST_MIRROR"
"""The environment variable that names a mirror (a base URL) to use instead of `MIRRORS`."""

MNIST_MAX_BYTES = 60000 * 28 * 28  # the largest MNIST file's data (train-images): what read_idx may decompress

TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")



# -- reading ------------------------------------------------------------------------------------------------------
def _read_pair(root: Path, images_file: str, labels_file: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8, checked to belong together."""
    images = read_idx(root / images_file, max_bytes=MNIST_MAX_BYTES)
    labels = read_idx(root / labels_file, max_bytes=MNIST_MAX_BYTES)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"mnist: {root / images_file}: expected (N, 28, 28) uint8 images, got {images.shape} "
                         f"{images.dtype}")
    if labels.ndim != 1 or labels.dtype != np.uint8 or len(labels) != len(images):
        raise ValueError(f"mnist: {root / labels_file}: expected {len(images)} uint8 labels to match "
                         f"{images_file}, got {labels.shape} {labels.dtype}")
    if labels.size and labels.max() > 9:
        raise ValueError(f"mnist: {root / labels_file}: labels must be digits 0..9, found {labels.max()}")
    return images, labels


def _prepare(x: np.ndarray, t: np.ndarray, normalize: bool, flatten: bool, one_hot: bool, scale: float,
             side: int) -> tuple[np.ndarray, np.ndarray]:
    """The book's load_mnist options: x as float32 in [0, 1] (normalize) or raw values; (N, side*side) (flatten)
    or (N, 1, side, side); t as int64 labels or (N, 10) one-hot float32 rows."""
    x = x.astype(np.float32) / np.float32(scale) if normalize else x
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, side, side)
    t = t.astype(np.int64)
    if one_hot:
        t = np.eye(10, dtype=np.float32)[t]
    return x, t


# -- MNIST --------------------------------------------------------------------------------------------------------
def default_root() -> Path:
    """$TINYGRAD6_DATA if set, else ~/.cache/tinygrad6/mnist."""
    env = os.environ.get("TINYGRAD6_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tinygrad6" / "mnist"


def mnist(root: str | os.PathLike | None = None, download: bool = True, normalize: bool = True,
          flatten: bool = True, one_hot: bool = False, mirror: str | None = None) -> Arrays:
    """MNIST as `(x_train, t_train), (x_test, t_test)`: 60,000 and 10,000 handwritten digits.

    x: float32 in [0, 1] of shape (N, 784) (normalize, flatten), else uint8 values 0..255 and/or (N, 1, 28, 28).
    t: int64 labels 0..9, or (N, 10) float32 one-hot rows with one_hot=True.
    root: folder of the four IDX .gz files; default `default_root()`. Missing files are downloaded when
    `download` is true (see `fetch`), else a FileNotFoundError says where they are expected.
    mirror: the base URL to download from instead of `MIRRORS` (a file's URL is mirror/name, e.g.
    "https://example.org/mnist/"); default `$TINYGRAD6_MNIST_MIRROR` when set. The MD5 sums are checked all the
    same."""
    root = Path(root).expanduser() if root is not None else default_root()
    mirror = mirror or os.environ.get(MIRROR_VARIABLE) or None
    mirrors = None if mirror is None else [mirror if mirror.endswith("/") else mirror + "/"]
    files = TRAIN_FILES + TEST_FILES
    missing = [name for name in files if not (root / name).is_file()]
    if missing and not download:
        hint = (" Only the test set is there: use datasets.mnist_test_split(root) for an 8,000/2,000 split of it."
                if set(missing) == set(TRAIN_FILES) else "")
        raise FileNotFoundError(f"mnist: {', '.join(missing)} not found in {root}; call mnist(download=True) to "
                                f"fetch them, or put the four MNIST .gz files there (or point $TINYGRAD6_DATA at "
                                f"a folder that has them).{hint}")
    for name in missing:
        fetch(name, root, mirrors=mirrors)
    x_train, t_train = _read_pair(root, *TRAIN_FILES)
    x_test, t_test = _read_pair(root, *TEST_FILES)
    return (_prepare(x_train, t_train, normalize, flatten, one_hot, 255.0, 28),
            _prepare(x_test, t_test, normalize, flatten, one_hot, 255.0, 28))


def mnist_test_split(root: str | os.PathLike | None = None, train_size: int = 8000, seed: int = 0,
                     normalize: bool = True, flatten: bool = True, one_hot: bool = False) -> Arrays:
    """Only MNIST's 10,000 test images (t10k-*.gz in `root`), shuffled with `seed` and split into `train_size`
    training and 10,000 - train_size test images (8,000 / 2,000 by default). Never downloads.

    The shuffle matters: the first 5,000 test images were written by Census Bureau employees and are cleaner
    than the last 5,000 (written by students), so a plain cut would test on harder digits than it trains on."""
    root = Path(root).expanduser() if root is not None else default_root()
    missing = [name for name in TEST_FILES if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"mnist_test_split: {', '.join(missing)} not found in {root}")
    x, t = _read_pair(root, *TEST_FILES)
    if not 0 < train_size < len(x):
        raise ValueError(f"mnist_test_split: train_size must be between 1 and {len(x) - 1}, got {train_size}")
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = order[:train_size], order[train_size:]
    return (_prepare(x[train], t[train], normalize, flatten, one_hot, 255.0, 28),
            _prepare(x[test], t[test], normalize, flatten, one_hot, 255.0, 28))


def mnist_files(root: str | os.PathLike | None = None) -> str | None:
    """Which MNIST files `root` holds: "all" (the four), "test" (only the two test-set files) or None."""
    root = Path(root).expanduser() if root is not None else default_root()
    has = {name: (root / name).is_file() for name in TRAIN_FILES + TEST_FILES}
    if all(has.values()):
        return "all"
    if has[TEST_FILES[0]] and has[TEST_FILES[1]]:
        return "test"
    return None


# -- downloading --------------------------------------------------------------------------------------------------
def fetch(name: str, root: str | os.PathLike, mirrors: list[str] | None = None, md5: dict[str, str] | None = None,
          timeout: float = 30.0, deadline: float = 600.0, max_bytes: int | None = None,
          progress: bool = True) -> Path:
    """Download `name` into `root` from the first mirror that gives a complete copy whose MD5 matches, and return
    its path. The bytes go to a temporary file in `root`, renamed to `name` only when complete and verified; a
    failed attempt leaves nothing behind. mirrors/md5 default to the module's `MIRRORS`/`MD5` (a name missing
    from md5 is checked for completeness only). progress: a bar on stderr when it is a terminal (`progress_bar`).

    timeout: seconds to wait for a connection, or for any bytes on it. deadline: seconds one attempt (one
    mirror) may take in all, headers and body, however steadily a slow server trickles. max_bytes: the most a
    download may grow to, default SIZES[name] (else 64 MiB): a longer one is cut off. The DownloadError lists
    every mirror's failure and starts with "offline?" only when no mirror could be connected to. Only http:// and
    https:// URLs are followed, also after redirects: any other (ftp://, file://, data:) is that mirror's failure
    (NotHTTPError), never opened."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    mirrors = MIRRORS if mirrors is None else mirrors
    md5 = MD5 if md5 is None else md5
    max_bytes = SIZES.get(name, 64 << 20) if max_bytes is None else max_bytes
    failures, unreachable = [], []
    for base in mirrors:
        url = base + name
        with Watchdog(deadline) as watchdog:
            try:
                return download_to(root / name, url, md5.get(name), max_bytes, timeout, progress, watchdog,
                                   check=read_idx)
            except (OSError, ValueError, http.client.HTTPException) as e:  # URLError and timeouts are OSErrors
                reason = getattr(e, "reason", None) or e
                if watchdog.expired:
                    reason = f"not complete within the {deadline:g} s deadline (the server is too slow)"
                elif watchdog.connected and isinstance(reason, TimeoutError):
                    reason = f"connected, then the server sent nothing for {timeout:g} s (stalled)"
                failures.append(f"{url}: {reason}")
                unreachable.append(not watchdog.connected and not isinstance(e, NotHTTPError))
    lead = "offline? " if unreachable and all(unreachable) else ""
    raise DownloadError(f"mnist: {lead}could not download {name} into {root} ({'; '.join(failures)}); put the MNIST "
                        f".gz files there yourself, set $TINYGRAD6_DATA to a folder that has them, or use another "
                        f"mirror: mnist(mirror=URL) or ${MIRROR_VARIABLE}")


# -- scikit-learn's digits ----------------------------------------------------------------------------------------
def digits(normalize: bool = True, flatten: bool = True, one_hot: bool = False, test_size: int = 297,
           seed: int = 0) -> Arrays:
    """The 1,797 8x8 handwritten digits that ship inside scikit-learn (no download), shuffled with `seed` and
    split into 1,500 training and `test_size` test images, in the same tuple shape as `mnist`.

    x: float32 in [0, 1] (the raw values are 0..16) of shape (N, 64), or (N, 1, 8, 8) with flatten=False."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("datasets.digits() needs scikit-learn, part of the `examples` extra: "
                          "pip install -e \".[examples]\" (or pip install scikit-learn)") from None
    bunch = load_digits()
    x, t = bunch.images.astype(np.uint8), bunch.target.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = order[:-test_size], order[-test_size:]
    return (_prepare(x[train], t[train], normalize, flatten, one_hot, 16.0, 8),
            _prepare(x[test], t[test], normalize, flatten, one_hot, 16.0, 8))


# -- splitting and batching ---------------------------------------------------------------------------------------
def train_val_split(x: np.ndarray, t: np.ndarray, val_ratio: float = 0.2,
                    seed: int | np.random.Generator | None = None) -> tuple[np.ndarray, ...]:
    """Shuffle (x, t) together and split off the last `val_ratio` of them as validation data, as the chapter's
    hyper-parameter search does. Returns x_train, t_train, x_val, t_val."""
    if len(x) != len(t):
        raise ValueError(f"train_val_split: x has {len(x)} samples, t has {len(t)}")
    if not 0 < val_ratio < 1:
        raise ValueError(f"train_val_split: val_ratio must be in (0, 1), got {val_ratio}")
    n_val = int(len(x) * val_ratio)
    if n_val == 0 or n_val == len(x):
        raise ValueError(f"train_val_split: val_ratio {val_ratio} of {len(x)} samples leaves an empty split")
    order = np.random.default_rng(seed).permutation(len(x))
    x, t = x[order], t[order]
    return x[n_val:], t[n_val:], x[:n_val], t[:n_val]


def batches(x: np.ndarray, t: np.ndarray, batch_size: int, shuffle: bool = True,
            seed: int | np.random.Generator | None = None, sampling: str = "epoch") -> Iterator[tuple[np.ndarray, ...]]:
    """Mini-batches (x_batch, t_batch) for one epoch.

    sampling="epoch": every sample once, in a shuffled order when `shuffle` (the last batch may be smaller).
    sampling="choice": the book's way, len(x) // batch_size batches of `np.random.choice(len(x), batch_size)`
    (with replacement, so some samples come twice and some not at all)."""
    if len(x) != len(t):
        raise ValueError(f"batches: x has {len(x)} samples, t has {len(t)}")
    if batch_size < 1:
        raise ValueError(f"batches: batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng(seed)
    n = len(x)
    if sampling == "choice":
        for _ in range(max(n // batch_size, 1)):
            mask = rng.choice(n, batch_size)
            yield x[mask], t[mask]
        return
    if sampling != "epoch":
        raise ValueError(f"batches: sampling must be 'epoch' or 'choice', got {sampling!r}")
    order = rng.permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        yield x[index], t[index]
