"""The one hook between the engine and the compiled step (`tinygrad6.compile`). While a step is traced, `active`
holds the compile.Tracer recording it, and the core reports what it does through `observe`: each op recorded, each
gradient stored, a module called, a buffer read or written, a tensor's values read as Python data, an in-place
write. Outside a trace `observe` does nothing, so a reader of the engine can skip this file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

active: ContextVar = ContextVar("tracing", default=None)  # the compile.Tracer recording a step, else None

Fn = TypeVar("Fn", bound=Callable)


def observe(event: str, *args) -> None:
    """Report `event` ("op", "grad", "module", "read", "write", "value", "write_in_place") to the tracer, if any."""
    trace = active.get()
    if trace is not None:
        getattr(trace, event)(*args)


def replayed(method: Fn) -> Fn:
    """For a method without arguments whose effect lies outside the graph (an optimizer's `step`): while tracing, the
    call is recorded and run untraced, and a compiled step calls the method again on every replay."""
    @functools.wraps(method)
    def wrapper(self):
        trace = active.get()
        return method(self) if trace is None else trace.call(self, wrapper, method)

    return wrapper  # type: ignore[return-value]
