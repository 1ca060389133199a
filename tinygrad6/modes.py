"""Modes that change how ops are recorded: grad mode, retained grads, anomaly detection, scopes, source capture.

Each mode lives in a `contextvars.ContextVar`, so it is local to a thread or asyncio task and is restored
when its `with` block ends, even on an exception.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import itertools
import linecache
import os
import sys
import sysconfig
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import TypeVar

_grad_enabled: ContextVar[bool] = ContextVar("grad_enabled", default=True)
_retain_grads: ContextVar[bool] = ContextVar("retain_grads", default=False)
_anomaly: ContextVar[bool] = ContextVar("detect_anomaly", default=False)
_record_source: ContextVar[bool] = ContextVar("record_source", default=False)
_scope: ContextVar[tuple[str, ...]] = ContextVar("scope", default=())

F = TypeVar("F", bound=Callable)


class _Mode:
    """A context manager (and decorator) that sets ContextVars for the duration of a block: `_Mode({var: value})`.

    As a decorator it enters a fresh copy on every call, so threads and recursive calls never share its state; a
    decorated generator has the mode on while its body runs (each resumption), not while the caller runs; a
    decorated `async def` has it on for its whole body."""

    def __init__(self, settings: dict[ContextVar, object]) -> None:
        self._settings, self._tokens = settings, []

    def __enter__(self):
        self._tokens.append([var.set(value) for var, value in self._settings.items()])
        return self

    def __exit__(self, *exc) -> None:
        for token in reversed(self._tokens.pop()):
            token.var.reset(token)

    def _fresh(self) -> _Mode:
        return _Mode(self._settings)

    def __call__(self, fn: F) -> F:
        return decorate(fn, self._fresh)


def decorate(fn: F, make_context: Callable[[], contextlib.AbstractContextManager]) -> F:
    """`fn` run inside `make_context()`, a new context per call: for plain functions the call, for generator
    functions every step of the generator's body, for `async def` the whole coroutine."""
    if inspect.isasyncgenfunction(fn):
        raise TypeError(f"{fn.__qualname__}: an async generator cannot be decorated with a mode; use `with` "
                        f"inside its body instead")
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            with make_context():
                gen = fn(*args, **kwargs)
            resume, arg = gen.send, None
            while True:
                try:
                    with make_context():
                        value = resume(arg)
                except StopIteration as stop:
                    return stop.value
                try:
                    arg = yield value
                    resume = gen.send
                except GeneratorExit:
                    with make_context():
                        gen.close()
                    raise
                except BaseException as e:  # thrown in by the caller: thrown into the body, under the mode
                    resume, arg = gen.throw, e

        return generator  # type: ignore[return-value]
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def coroutine(*args, **kwargs):
            with make_context():
                return await fn(*args, **kwargs)

        return coroutine  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_context():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def no_grad() -> _Mode:
    """Inside this block (or decorated function) ops build no graph and results have requires_grad=False."""
    return _Mode({_grad_enabled: False})


def enable_grad() -> _Mode:
    """Turn graph building back on inside a `no_grad` block."""
    return _Mode({_grad_enabled: True})


def is_grad_enabled() -> bool:
    return _grad_enabled.get()


def retain_grads() -> _Mode:
    """Every tensor created inside keeps its `.grad` after backward, not only the leaves (for looking at everything)."""
    return _Mode({_retain_grads: True})


def detect_anomaly() -> _Mode:
    """Inside this block the first op whose forward or backward makes NaN or inf raises `AnomalyError`,
    naming the op, its input shapes and the file:line of the user code that created it."""
    return _Mode({_anomaly: True})


def record_source() -> _Mode:
    """Inside this block each op remembers where it was created (`op.location`: the user's file:line and the
    tinygrad6 library line, e.g. inside `BatchNorm1d.forward`), and a tensor made by a simple assignment on the
    user's line (`xc = x - mu`) is named after its variable (`xc`) unless it has a name already.
    Off by default: walking the stack costs time on every op."""
    return _Mode({_record_source: True})


class ScopeName(str):
    """One entry of `op.scope`: equal to the plain name ("Linear"), plus `call`, a number unique to the `with
    scope(...)` block that made it, so the renderer can tell two calls of the same layer apart."""

    call: int


_scope_calls = itertools.count()


class scope:  # noqa: N801  (used like a function: `with scope("BatchNorm"):`)
    """Every op created inside belongs to the scope `name` (scopes nest: op.scope is a tuple of names); `with
    scope(name) as names` gives that tuple.

    The graph renderer draws each scope as a labelled cluster; calling an `nn.Module` opens one automatically.
    (A class rather than a generator function: it is entered once per layer call, and this is three times cheaper.)"""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tokens: list = []

    def __enter__(self) -> tuple[str, ...]:
        entry = ScopeName(self.name)
        entry.call = next(_scope_calls)
        self._tokens.append(_scope.set(_scope.get() + (entry,)))
        return _scope.get()

    def __exit__(self, *exc) -> None:
        _scope.reset(self._tokens.pop())

    def __call__(self, fn: F) -> F:  # as a decorator: a fresh scope per call (threads, recursion, generators)
        return decorate(fn, lambda: scope(self.name))


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# the engine's own machinery: an op is never "created" on one of these lines, only passed through them
_CORE = tuple(os.path.join(_PACKAGE_DIR, f) for f in ("tensor.py", "op.py", "modes.py", "autograd.py", "ops" + os.sep))
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


def user_source() -> str | None:
    """file:line of the innermost stack frame outside the tinygrad6 package and the standard library."""
    return locate().user


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
