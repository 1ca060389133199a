"""Data for the chapter's experiments: MNIST (downloaded once, verified, cached), scikit-learn's 8x8 digits (offline),
an IDX reader, a train/validation split and mini-batches.

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

import gzip
import hashlib
import http.client
import math
import os
import socket
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .progress import progress_bar

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

# IDX: 2 zero bytes, a dtype code, the number of dimensions, then one big-endian uint32 per dimension, then the data.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


class DownloadError(OSError):
    """No mirror gave a complete, verified copy of a file (offline, server error, or wrong contents)."""


class NotHTTPError(ValueError):
    """A mirror, or a redirect from one, names a URL that is not http:// or https:// (ftp://, file://, data:...)."""


# -- reading ------------------------------------------------------------------------------------------------------
GZIP_MAX_RATIO = 1032  # deflate, gzip's compression, turns n bytes into at most 1032 * n (258-byte matches, 2 bits)


def read_idx(path: str | os.PathLike, max_bytes: int = 1 << 28) -> np.ndarray:
    """The array stored in an IDX file (gzip-compressed or raw), e.g. (10000, 28, 28) uint8 for t10k-images.

    Checks the magic number (two zero bytes, a known dtype code, at least one dimension), that the header is
    complete and declares a shape a numpy array can have (at most 64 dimensions, a size that fits), and that the
    payload has exactly prod(dims) * itemsize bytes. The header is read first and only as
    many bytes as it declares are decompressed after it (one more byte is refused as trailing bytes): a header
    declaring more than `max_bytes` of data (default 256 MiB; MNIST's largest file holds 47 MB) or more than the
    file can hold (gzip expands at most GZIP_MAX_RATIO times) is refused before any data is read. Anything wrong
    is a ValueError naming the file and the problem."""
    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        compressed = f.read(2) == b"\x1f\x8b"  # gzip magic
        f.seek(0)
        if not compressed:
            return _read_idx_stream(f, path, size, compressed, max_bytes)
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _read_idx_stream(stream, path, size, compressed, max_bytes)
        except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"read_idx: {path}: not a valid gzip file (truncated or corrupted?): {e}") from None


def _read_idx_stream(stream, path: Path, size: int, compressed: bool, max_bytes: int) -> np.ndarray:
    """read_idx on an open stream of the uncompressed bytes; `size` is the file's size on disk."""
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(f"read_idx: {path}: {len(magic)} bytes is too short for an IDX header (4 bytes of magic)")
    zero, code, ndim = magic[:2], magic[2], magic[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES or ndim == 0:
        raise ValueError(f"read_idx: {path}: bad magic number {magic.hex()} (expected 0000 + dtype code in "
                         f"{sorted(f'{c:02x}' for c in IDX_DTYPES)} + number of dimensions >= 1); not an IDX file")
    sizes = stream.read(4 * ndim)
    header = 4 + 4 * ndim
    if len(sizes) < 4 * ndim:
        raise ValueError(f"read_idx: {path}: header says {ndim} dimensions but the file ends after "
                         f"{4 + len(sizes)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    try:
        np.broadcast_to(np.empty((), dtype), dims)  # a shape numpy can hold (at most 64 axes, a size that fits)
    except ValueError as e:
        raise ValueError(f"read_idx: {path}: its header declares {ndim} dimensions {_short(dims)}, which no numpy "
                         f"array can have ({e}); not an IDX file tinygrad6 can read") from None
    expected = math.prod(dims) * dtype.itemsize  # Python ints: a forged header cannot overflow them
    need = f"dimensions {dims} of {dtype.name} need {expected} bytes of data"
    if expected > max_bytes:
        raise ValueError(f"read_idx: {path}: {need}, more than max_bytes={max_bytes}; not read (pass a larger "
                         f"max_bytes if the file really is that big)")
    if not compressed and size - header != expected:
        what = "truncated" if size - header < expected else "has trailing bytes"
        raise ValueError(f"read_idx: {path}: {what}: {need}, the file has {size - header}")
    if compressed and expected > GZIP_MAX_RATIO * size:
        raise ValueError(f"read_idx: {path}: truncated: {need}, more than a gzip file of {size} bytes can hold "
                         f"(at most {GZIP_MAX_RATIO} times its size)")
    data = np.empty(expected, dtype=np.uint8)
    filled = 0
    while filled < expected and (chunk := stream.read(min(expected - filled, 1 << 20))):
        data[filled:filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        filled += len(chunk)
    if filled < expected:
        raise ValueError(f"read_idx: {path}: truncated: {need}, the file has {filled}")
    if stream.read(1):
        raise ValueError(f"read_idx: {path}: has trailing bytes: {need}, the file has more; not read further")
    return data.view(dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)  # native byte order


def _short(dims: tuple[int, ...]) -> str:
    """The dimensions as text, at most eight of them shown."""
    return str(dims) if len(dims) <= 8 else f"({', '.join(map(str, dims[:8]))}, ...)"


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
        with _Watchdog(deadline) as watchdog:
            try:
                return _download(url, root / name, md5.get(name), max_bytes, timeout, progress, watchdog)
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


def _download(url: str, dest: Path, expected_md5: str | None, max_bytes: int, timeout: float, progress: bool,
              watchdog: _Watchdog) -> Path:
    """One attempt: stream `url` into a temporary file beside `dest`, check length and MD5, rename."""
    _require_http(url)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        digest = hashlib.md5()
        received = 0
        with os.fdopen(fd, "wb") as f, watchdog.open(url, timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > max_bytes:
                raise ValueError(f"the server announces {total} bytes, more than the {max_bytes} bytes expected")
            with progress_bar(total, f"downloading {dest.name}", progress, unit="B", unit_scale=True) as bar:
                while chunk := response.read(1 << 16):
                    received += len(chunk)
                    if received > max_bytes:
                        raise ValueError(f"more than the {max_bytes} bytes expected; stopped there")
                    f.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if watchdog.expired:  # the watchdog closed the connection: what arrived is not the whole file
            raise TimeoutError("deadline passed")
        if total is not None and received != total:
            raise ValueError(f"incomplete download: got {received} of {total} bytes")
        if expected_md5 is not None and digest.hexdigest() != expected_md5:
            raise ValueError(f"MD5 mismatch: got {digest.hexdigest()}, expected {expected_md5}")
        read_idx(tmp)  # the structure must be right as well
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class _Watchdog:
    """The deadline of one download attempt, as a context manager.

    A socket timeout bounds each read only, so a server that sends a byte every few seconds never times out.
    When the deadline passes, the watchdog shuts down the attempt's socket from a timer thread, which ends any
    read in progress, of the headers or of the body. It also records whether a connection was made at all: only
    when none was is "offline?" a fair guess."""

    def __init__(self, seconds: float) -> None:
        self.connected = self.expired = False
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def open(self, url: str, timeout: float):
        """urllib.request.urlopen(url, timeout=timeout) through connections this watchdog watches, for http and
        https only (urllib's ftp, file and data handlers are left out; a redirect elsewhere is refused)."""
        opener = urllib.request.OpenerDirector()
        for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), _WatchedHandler(self),
                        urllib.request.HTTPDefaultErrorHandler(), _HTTPOnlyRedirects(),
                        urllib.request.HTTPErrorProcessor()):
            opener.add_handler(handler)
        return opener.open(url, timeout=timeout)

    def watch(self, sock: socket.socket) -> None:
        self.connected = True
        self._sockets.append(sock)
        if self.expired:  # the deadline passed while connecting
            self._expire()

    def _expire(self) -> None:
        self.expired = True
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed
                pass


class _WatchedConnection:
    """Mixin for http.client's connections: hands each new socket to a _Watchdog."""

    def __init__(self, *args, watchdog: _Watchdog, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.watchdog = watchdog

    def connect(self) -> None:
        super().connect()
        self.watchdog.watch(self.sock)


class _WatchedHTTPConnection(_WatchedConnection, http.client.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, http.client.HTTPSConnection):
    pass


class _WatchedHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """urllib's http and https handlers in one (build_opener then adds neither default), opening watched
    connections."""

    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def http_open(self, req):
        return self.do_open(_WatchedHTTPConnection, req, watchdog=self.watchdog)

    def https_open(self, req):
        return self.do_open(_WatchedHTTPSConnection, req, watchdog=self.watchdog)


class _HTTPOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, but only to http:// and https:// URLs (NotHTTPError otherwise)."""

    def http_error_302(self, req, fp, code, msg, headers):
        target = urllib.parse.urljoin(req.full_url, headers.get("location") or headers.get("uri") or "")
        try:
            _require_http(target, redirected=True)
        except NotHTTPError:
            fp.close()
            raise
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _require_http(url: str, redirected: bool = False) -> None:
    """Raise NotHTTPError unless `url` is an http:// or https:// URL."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        what = f"the server redirected to {url[:200]!r}, which is" if redirected else "this is"
        raise NotHTTPError(f"{what} not a web address: only http:// and https:// URLs are downloaded")


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
