"""Where an op was created: the user's line, the library line, and the variable a simple assignment names.

Used when `record_source()` or `detect_anomaly()` is on (see `Op.record`). Which files are the library is decided
by the package's own location: every file inside the tinygrad6 package (the engine's core, whose frames an op only
passes through, and the rest: functional, nn, the experiments...); the standard library is never the user's line.
"""

from __future__ import annotations

import ast
import functools
import linecache
import os
import sys
import sysconfig
from dataclasses import dataclass
from types import CodeType, FrameType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# the engine's own machinery: an op is never "created" on one of these lines, only passed through them
_CORE = tuple(os.path.join(_PACKAGE_DIR, f) for f in ("tensor.py", "op.py", "modes.py", "autograd.py", "locations.py",
                                                          "errors.py", "contextdecorator.py", "ops" + os.sep))
_TENSOR_PY = os.path.join(os.path.dirname(__file__), "tensor.py")  # as co_filename spells it
_STDLIB = tuple({os.path.join(sysconfig.get_paths()[k], "") for k in ("stdlib", "platstdlib")})
_kinds: dict[str, str] = {}  # co_filename -> "core", "library", "stdlib" or "user" (cached: one lookup per frame)


def _kind(filename: str) -> str:
    kind = _kinds.get(filename)
    if kind is None:
        path = os.path.abspath(filename)
        if path.startswith(_PACKAGE_DIR):
            kind = "core" if path.startswith(_CORE) else "library"
        elif path.startswith(_STDLIB) or filename.startswith("<frozen"):
            kind = "stdlib"
        else:  # the user's scripts, notebooks, "<stdin>", and third-party packages that call tinygrad6
            kind = "user"
        _kinds[filename] = kind
    return kind


@dataclass(frozen=True)
class Location:
    """Where an op was created. `user`: file:line of the innermost frame outside the tinygrad6 package and the
    standard library (the user's line). `library`: file:line of the innermost tinygrad6 frame outside the engine's
    core, e.g. the line of `BatchNorm1d.forward` that computes xc (None when the user's code called the op
    directly). `name`: the variable a simple assignment on the user's line binds the op's result to, if any."""

    user: str | None
    library: str | None
    name: str | None = None

    def __str__(self) -> str:
        return " via ".join(where for where in (self.user, self.library) if where) or "unknown location"


def locate() -> Location:
    """The Location of the op being created by the caller (one walk up the stack)."""
    frame = sys._getframe(1)
    library = None
    methods = 0  # Tensor methods between the op and the user's line: one means the user's line called the op itself
    while frame is not None:
        filename = frame.f_code.co_filename
        kind = _kind(filename)
        if kind == "user":
            where = f"{filename}:{frame.f_lineno}"
            return Location(where, library, assigned_name(frame) if library is None and methods <= 1 else None)
        if kind == "library" and library is None:
            library = f"{filename}:{frame.f_lineno}"
        methods += filename == _TENSOR_PY
        frame = frame.f_back
    return Location(None, library)


def assigned_name(frame: FrameType) -> str | None:
    """`xc` when `frame` is executing the outermost operation of `xc = <expression>` (a single plain name as the
    target), found from the line's syntax tree and the exact span of the running instruction. None otherwise:
    tuple targets, augmented assignments, and the inner operations of `y = (x * x).sum()` (only `.sum()` is y).
    Needs Python 3.11+ (instruction positions); on older versions it is always None."""
    if not hasattr(frame.f_code, "co_positions"):
        return None
    positions = _positions(frame.f_code)
    index = frame.f_lasti // 2
    if index >= len(positions):
        return None
    return _assignments(frame.f_code.co_filename).get(positions[index])


@functools.lru_cache(maxsize=1024)
def _positions(code: CodeType) -> tuple:
    return tuple(code.co_positions())


def _assignments(filename: str) -> dict[tuple, str]:
    """For every `name = value` in the file: the span (line, end line, column, end column) of value -> name."""
    lines = linecache.getlines(filename)  # the same list object until the file changes and linecache reloads it
    cached = _assignment_cache.get(filename)
    if cached is not None and cached[0] is lines:
        return cached[1]
    spans: dict[tuple, str] = {}
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
            node.target if isinstance(node, ast.AnnAssign) else None)
        if isinstance(target, ast.Name) and node.value is not None:
            v = node.value
            spans[(v.lineno, v.end_lineno, v.col_offset, v.end_col_offset)] = target.id
    _assignment_cache[filename] = (lines, spans)
    return spans


_assignment_cache: dict[str, tuple] = {}


def name_from_caller(result: object, frame: FrameType | None, inputs: tuple = ()) -> None:
    """`h = layer(x)` or `a1 = F.linear(x, W, b)` under record_source(): name the tensor a library function or module
    returned after the variable of the user's line that called it (a library's own name, such as "out", is only a
    default). `frame` is the caller's frame: nothing happens unless it is the user's code and its line is a simple
    assignment of exactly this call, nor when the result is one of the call's inputs (returned unchanged)."""
    if frame is None or _kind(frame.f_code.co_filename) != "user" or any(result is x for x in inputs):
        return
    if getattr(result, "creator", None) is not None:
        name = assigned_name(frame)
        if name:
            result.name = name
