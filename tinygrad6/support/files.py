"""Writing a file so that it is always either the old file or the new one: `replace_file`.

Every file tinygrad6 writes (`Module.save`, the experiments' PNG and JSON files, the tour's page, the drawings and
step-through pages of `viz`) goes through `replace_file`: the bytes go to a new temporary file in the destination's
folder, are flushed to disk, and the temporary file is renamed over the destination (`os.replace`). So

- an interrupted write never leaves half a file where a good one was;
- a symlink at the destination is replaced by the new file, never followed: the file it pointed to is untouched;
- a failed write removes its temporary file, and a temporary file left by a killed process (kill -9) is removed by
  the next write into that folder once that process has ended (its name, `.NAME.tinygrad6-PID-XXXXXXXX.tmp`, says
  which process made it).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_TEMP_NAME = re.compile(r"\..*\.tinygrad6-(\d+)-[0-9a-f]{8}\.tmp", re.DOTALL)
"""The name of a temporary file of `replace_file`; group 1 is the id of the process that made it."""


def replace_file(path: str | os.PathLike, write: Callable[[BinaryIO], object], where: str | None = None) -> Path:
    """Create or replace the file `path` with what `write(f)` writes into the binary file object `f`; return the path.

    The new file gets the permissions `open(path, "w")` would give: those of the regular file it replaces, else
    0o666 minus the umask. Errors are one line starting with `where` (default: the path) and naming the problem:
    FileNotFoundError when the folder does not exist, the OSError of creating or writing the file otherwise; an
    exception raised by `write` propagates as it is. In every case the destination is left as it was."""
    path = Path(path)
    where = where or str(path)
    folder = path.absolute().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{where}: the folder {folder} does not exist; create it first "
                                f"(os.makedirs({str(folder)!r}))")
    remove_stale_temporaries(folder)
    try:
        fd, tmp = _create_beside(path)
    except OSError as e:
        raise type(e)(f"{where}: cannot create a file in {folder} ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        _remove(tmp)
        if isinstance(e, OSError):
            raise type(e)(f"{where}: could not write it ({e.strerror or e})") from e
        raise
    return path


def write_bytes(path: str | os.PathLike, data: bytes, where: str | None = None) -> Path:
    """`replace_file` with these bytes."""
    return replace_file(path, lambda f: f.write(data), where)


def write_text(path: str | os.PathLike, text: str, where: str | None = None) -> Path:
    """`replace_file` with this text, encoded as UTF-8."""
    return write_bytes(path, text.encode("utf-8"), where)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary files of `replace_file` in `folder` whose process has ended (left by kill -9 or a
    power cut); return their names. Files of running processes, and every other file, are left alone."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMP_NAME.fullmatch(name)
        if match and not _process_alive(int(match.group(1))):
            if _remove(os.path.join(folder, name)):
                removed.append(name)
    return removed


def _create_beside(path: Path) -> tuple[int, str]:
    """A new empty file in `path`'s folder named for this process, as (open descriptor, name), with the permissions
    `open(path, "w")` would give: the mode of the regular file at `path` (not one a symlink there points to), else
    0o666 minus the umask (applied by the OS, which also applies a folder's default ACL; tempfile.mkstemp would
    give 0o600)."""
    try:
        existing = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        existing = None
    while True:
        tmp = str(path.absolute().parent / f".{path.name}.tinygrad6-{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    if existing is not None and stat.S_ISREG(existing.st_mode):
        try:
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
        except BaseException:
            os.close(fd)
            _remove(tmp)
            raise
    return fd, tmp


def _process_alive(pid: int) -> bool:
    """Whether process `pid` runs (True when that cannot be known, so that nothing in use is removed)."""
    if os.name != "posix" or pid <= 0:  # on Windows os.kill(pid, 0) would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _remove(path: str) -> bool:
    try:
        os.remove(path)
    except OSError:
        return False
    return True
