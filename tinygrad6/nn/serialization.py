"""How a Module's state is written to and read from an .npz file, and checked on the way: numpy arrays only, no pickle,
every name, shape, dtype and size checked before anything is written or any data is decompressed, and every refusal
one line naming the file. `Module.save` and `Module.load` are the interface; this is the machinery."""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..support import files


def write_npz(path: str, state: Mapping[str, np.ndarray], where: str) -> None:
    """Write `state` to `path` as an .npz archive (what np.savez writes), through `files.replace_file`; refused
    (before the destination is touched) when `load` could not read it back as it is (see `_check_savable`)."""
    _check_savable(where, state)

    def write(f) -> None:
        with zipfile.ZipFile(f, "w") as archive:
            for key, value in state.items():
                with archive.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, value, allow_pickle=False)

    files.replace_file(path, write, where)


def read_npz(path: str, where: str, current: Mapping[str, np.ndarray], strict: bool) -> dict[str, np.ndarray]:
    """The arrays of the .npz at `path` that `current` (key -> the model's array) has a place for, each checked
    against it (keys as `compare_keys` with `strict`, shapes, dtypes, sizes) before any data is decompressed."""
    with _open_npz(path, where) as archive:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key in members:
                raise ValueError(f"{where}: two arrays named {key!r} in one archive; the file is damaged")
            members[key] = info
        compare_keys(where, current, members, strict)
        wanted = [k for k in current if k in members]
        for key in wanted:
            shape, dtype, data_start = _npy_header(archive, members[key], f"{where}: {key!r}")
            check_fits(where, key, "the file", shape, dtype, current[key])
            declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if members[key].file_size != data_start + declared:
                raise ValueError(f"{where}: {key!r}: its header declares {shape} {dtype}, {declared} bytes of "
                                 f"data, but the archive holds {members[key].file_size - data_start}; the file "
                                 f"is damaged")
        return {key: _npy_data(archive, members[key], f"{where}: {key!r}") for key in wanted}


def compare_keys(where: str, slots: Mapping[str, Any], keys: Mapping[str, Any], strict: bool
                  ) -> tuple[list[str], list[str]]:
    """(missing, unexpected): the model's keys not in `keys`, and the keys not in the model; with strict, either
    is a KeyError listing both."""
    missing = [k for k in slots if k not in keys]
    unexpected = [k for k in keys if k not in slots]
    if strict and (missing or unexpected):
        raise KeyError(f"{where}: missing keys {missing}, unexpected keys {unexpected}; expected exactly "
                       f"{list(slots)}")
    return missing, unexpected


def check_fits(where: str, key: str, source: str, shape: tuple[int, ...], dtype: np.dtype,
                current: np.ndarray) -> None:
    """Refuse a value for `key` whose shape or dtype does not fit the model's array `current`."""
    if dtype.hasobject:
        raise ValueError(f"{where}: {key!r} is an object array in {source} (a pickle), which is never loaded; the "
                         f"model is unchanged")
    if shape != current.shape:
        raise ValueError(f"{where}: {key!r} has shape {shape} in {source} but {current.shape} in the model; the "
                         f"model is unchanged")
    if not np.can_cast(dtype, current.dtype, casting="same_kind"):
        raise ValueError(f"{where}: {key!r} has dtype {dtype} in {source} but {current.dtype} in the model, and "
                         f"{dtype} -> {current.dtype} is not a cast within the same kind; the model is unchanged")


def _check_savable(where: str, state: Mapping[str, np.ndarray]) -> None:
    """Refuse a state that `load` could not read back as it is: an object array (only a pickle holds it), or a key
    that is not printable text or that does not survive as a zip member name (zipfile cuts a name at NUL, for
    instance), or two keys that become one member name."""
    members: dict[str, str] = {}
    for key, value in state.items():
        if value.dtype.hasobject:
            raise TypeError(f"{where}: {key!r} is an object array (dtype {value.dtype}), which an .npz holds only "
                            f"as a pickle and Module.load never unpickles; keep numbers in buffers, e.g. "
                            f"np.asarray(value, dtype=np.float64)")
        member = zipfile.ZipInfo(key + ".npy").filename
        if not key.isprintable() or member != key + ".npy":
            raise ValueError(f"{where}: the name {key!r} cannot be saved: an .npz member name must be printable "
                             f"text (no NUL, escape or other control characters); rename that attribute or dict "
                             f"key. Nothing was written")
        if member in members:
            raise ValueError(f"{where}: the names {members[member]!r} and {key!r} give the same .npz member name "
                             f"{member!r}; rename one. Nothing was written")
        members[member] = key


_NPY_HEADER_LIMIT = 1 << 16  # bytes read to find an .npy header (numpy writes ~128; it refuses more than 10,000)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,  # a damaged or truncated member,
               NotImplementedError, RuntimeError)  # an unknown compression, an encrypted member


def _open_npz(path: str, where: str) -> zipfile.ZipFile:
    """The zip archive at `path`, or one clear error saying what the file is instead."""
    try:
        with open(path, "rb") as f:
            start = f.read(8)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        why = "" if os.path.isdir(folder) else f" (the folder {folder} does not exist)"
        raise FileNotFoundError(f"{where}: no such file{why}") from None
    except OSError as e:
        raise type(e)(f"{where}: cannot read it ({e.strerror or e})") from None
    if not start:
        raise ValueError(f"{where}: the file is empty, not an .npz archive written by Module.save")
    if start.startswith(b"\x93NUMPY"):
        raise ValueError(f"{where}: a .npy file (one array, from np.save), not an .npz archive of named arrays; "
                         f"Module.load reads what Module.save writes")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        if start.startswith(b"PK"):  # a zip's start, but its directory (at the very end) is missing or broken
            raise ValueError(f"{where}: truncated or damaged .npz archive (its directory at the end is missing); "
                             f"save the model again") from None
        raise ValueError(f"{where}: not an .npz archive (it starts with {start!r}); Module.load reads files written "
                         f"by Module.save") from None
    except _ZIP_ERRORS as e:  # a directory entry zipfile cannot take (e.g. a newer "version needed to extract")
        raise ValueError(f"{where}: damaged .npz archive ({_reason(e)}); save the model again") from None


def _reason(error: BaseException) -> str:
    """The first line of an error's message, its control characters escaped (it may quote a name from the file)."""
    text = (str(error).splitlines() or [type(error).__name__])[0]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, where the data starts) from the .npy header at the start of an archive member, decompressing
    at most _NPY_HEADER_LIMIT bytes of it."""
    try:
        with archive.open(info) as member:
            head = io.BytesIO(member.read(min(info.file_size, _NPY_HEADER_LIMIT)))
        version = np.lib.format.read_magic(head)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not one Module.save writes")
        shape, _, dtype = readers[version](head)
    except _ZIP_ERRORS as e:
        raise ValueError(f"{where}: not a readable .npy array ({_reason(e)}); the file is damaged") from None
    return shape, dtype, head.tell()


def _npy_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """The array in an archive member whose header and size were checked by `_npy_header` and `Module.load`."""
    try:
        with archive.open(info) as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except _ZIP_ERRORS as e:
        raise ValueError(f"{where}: damaged data ({_reason(e)})") from None
