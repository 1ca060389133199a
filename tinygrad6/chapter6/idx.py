"""IDX, the file format of MNIST: read it defensively, so a damaged or forged file is one clear ValueError.

    from tinygrad6.chapter6.idx import read_idx
    images = read_idx("t10k-images-idx3-ubyte.gz")   # (10000, 28, 28) uint8

Nothing is trusted before it is checked: the header is read first, and no more bytes are decompressed than it
declares (nothing is ever unpickled).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

# IDX: 2 zero bytes, a dtype code, the number of dimensions, then one big-endian uint32 per dimension, then the data.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}

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
