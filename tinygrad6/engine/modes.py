"""Modes that change how ops are recorded: grad mode, retained grads, anomaly detection, scopes, source capture.

Each mode lives in a `contextvars.ContextVar`, so it is local to a thread or asyncio task and is restored
when its `with` block ends, even on an exception.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from ..support.contextdecorator import decorate

_grad_enabled: ContextVar[bool] = ContextVar("grad_enabled", default=True)
_retain_grads: ContextVar[bool] = ContextVar("retain_grads", default=False)
_anomaly: ContextVar[bool] = ContextVar("detect_anomaly", default=False)
_record_source: ContextVar[bool] = ContextVar("record_source", default=False)
_scope: ContextVar[tuple[str, ...]] = ContextVar("scope", default=())

Fn = TypeVar("Fn", bound=Callable)


class _Mode:
    """A context manager (and decorator) that sets one ContextVar for the duration of a block.

    As a decorator it enters a fresh copy on every call, so threads and recursive calls never share its state; a
    decorated generator has the mode on while its body runs (each resumption), not while the caller runs; a
    decorated `async def` has it on for its whole body."""

    def __init__(self, var: ContextVar, value) -> None:
        self._var, self._value, self._tokens = var, value, []

    def __enter__(self):
        self._tokens.append(self._var.set(self._value))
        return self

    def __exit__(self, *exc) -> None:
        self._var.reset(self._tokens.pop())

    def _fresh(self) -> _Mode:
        return _Mode(self._var, self._value)

    def __call__(self, fn: Fn) -> Fn:
        return decorate(fn, self._fresh)


def no_grad() -> _Mode:
    """Inside this block (or decorated function) ops build no graph and results have requires_grad=False."""
    return _Mode(_grad_enabled, False)


def enable_grad() -> _Mode:
    """Turn graph building back on inside a `no_grad` block."""
    return _Mode(_grad_enabled, True)


def is_grad_enabled() -> bool:
    return _grad_enabled.get()


def retain_grads() -> _Mode:
    """Every tensor created inside keeps its `.grad` after backward, not only the leaves (for looking at everything)."""
    return _Mode(_retain_grads, True)


def detect_anomaly() -> _Mode:
    """Inside this block the first op whose forward or backward makes NaN or inf raises `AnomalyError`,
    naming the op, its input shapes and the file:line of the user code that created it."""
    return _Mode(_anomaly, True)


def record_source() -> _Mode:
    """Inside this block each op remembers where it was created (`op.location`: the user's file:line and the
    tinygrad6 library line, e.g. inside `BatchNorm1d.forward`), and a tensor made by a simple assignment on the
    user's line (`xc = x - mu`) is named after its variable (`xc`) unless it has a name already.
    Off by default: walking the stack costs time on every op."""
    return _Mode(_record_source, True)


class ScopeName(str):
    """One entry of `op.scope`: equal to the plain name ("Linear"), plus `call_id`, a number unique to the `with
    scope(...)` block that made it, so the renderer can tell two calls of the same layer apart."""

    call_id: int


_scope_calls = itertools.count()


class scope:  # noqa: N801  (used like a function: `with scope("BatchNorm"):`)
    """Every op created inside belongs to the scope `name` (scopes nest: op.scope is a tuple of names); `with
    scope(name) as names` gives that tuple.

    The graph renderer draws each scope as a labelled cluster; calling an `nn.Module` opens one automatically.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._tokens: list = []

    def __enter__(self) -> tuple[str, ...]:
        entry = ScopeName(self.name)
        entry.call_id = next(_scope_calls)
        self._tokens.append(_scope.set(_scope.get() + (entry,)))
        return _scope.get()

    def __exit__(self, *exc) -> None:
        _scope.reset(self._tokens.pop())

    def __call__(self, fn: Fn) -> Fn:  # as a decorator: a fresh scope per call (threads, recursion, generators)
        return decorate(fn, lambda: scope(self.name))
