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
import re
import sys
import sysconfig
from dataclasses import dataclass
from types import CodeType, FrameType

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# the engine and its support: an op is never "created" on one of these lines, only passed through them
_CORE = (os.path.join(_PACKAGE_DIR, "engine", ""), os.path.join(_PACKAGE_DIR, "support", ""))
_TENSOR_PY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "engine", "tensor.py")  # as co_filename spells it
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
        return " via ".join(shown(where) for where in (self.user, self.library) if where) or "unknown location"


def shown(where: str) -> str:
    """file:line as a reader should see it: a notebook cell's line as `<cell N>:line`, N being the execution count
    Jupyter shows beside the cell as [N] (IPython compiles each cell under a temporary file name such as
    /tmp/ipykernel_81/1824229751.py and remembers the count); anything else unchanged."""
    filename, _, line = where.rpartition(":")
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and line.isdigit() else None
    formatted = getattr(getattr(shell, "compile", None), "format_code_name", lambda _: None)(filename)
    match = re.fullmatch(r"In\[(\d+)\]", formatted[1]) if formatted else None
    return f"<cell {match.group(1)}>:{line}" if match else where


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
    target), found from the exact spans of the running instruction and of the next one (the store into xc) and the
    syntax tree of that one statement. None otherwise: tuple targets, augmented assignments, and the inner
    operations of `y = (x * x).sum()` (only `.sum()` is y). Needs Python 3.11+ (instruction positions); on older
    versions it is always None."""
    if not hasattr(frame.f_code, "co_positions"):
        return None
    positions = _positions(frame.f_code)
    index = frame.f_lasti // 2
    if index >= len(positions) or None in positions[index]:
        return None
    span = positions[index]
    # the next instruction (inline caches repeat this one's position): in `name = <this>`, the store into name
    target = next((p for p in positions[index + 1:index + 12] if p != span), None)
    if target is None or None in target or target[0] > span[0]:
        return None
    return _statement_assignments(frame.f_code.co_filename, target[0], span[1]).get((target, span))


@functools.lru_cache(maxsize=1024)
def _positions(code: CodeType) -> tuple:
    return tuple(code.co_positions())


STATEMENT_TAIL = 3  # lines after the value's last line that may still belong to its statement (closing brackets)


def _statement_assignments(filename: str, first: int, last: int) -> dict[tuple, str]:
    """For every `name = value` in the statement that starts on line `first` and reaches at least line `last` of the
    file: (span of name, span of value) -> name, each span (line, end line, column, end column). Only that
    statement is parsed (never the whole file, which may be megabytes), once per file and lines."""
    lines = linecache.getlines(filename)  # the same list object until the file changes and linecache reloads it
    cached = _assignment_cache.get((filename, first, last))
    if cached is not None and cached[0] is lines:
        return cached[1]
    spans: dict[tuple, str] = {}
    for end in range(last, min(last + STATEMENT_TAIL, len(lines)) + 1):
        text = "".join(lines[first - 1:end])
        indented = text[:1].isspace()  # a statement inside a block: parsed as the body of `if 1:`
        try:
            tree = ast.parse("if 1:\n" + text if indented else text)
        except (SyntaxError, ValueError):
            continue
        shift = first - 1 - indented  # parsed line numbers -> the file's
        for node in ast.walk(tree):
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
                node.target if isinstance(node, ast.AnnAssign) else None)
            if isinstance(target, ast.Name) and node.value is not None:
                t, v = target, node.value
                spans[((t.lineno + shift, t.end_lineno + shift, t.col_offset, t.end_col_offset),
                       (v.lineno + shift, v.end_lineno + shift, v.col_offset, v.end_col_offset))] = target.id
        break
    if len(_assignment_cache) > 4096:
        _assignment_cache.clear()
    _assignment_cache[(filename, first, last)] = (lines, spans)
    return spans


_assignment_cache: dict[tuple[str, int, int], tuple] = {}


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
