"""`decorate`: a function run inside a context manager, a new one per call, the way a decorator should.

`with no_grad():` is simple; `@no_grad()` on a function is not, when the function is a generator (the mode must be on
while its body runs, not while the caller runs between two `next`s) or a coroutine, or runs in several threads at
once. The modes (`modes.py`) use this for their decorator form.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

Fn = TypeVar("Fn", bound=Callable)


def decorate(fn: Fn, make_context: Callable[[], contextlib.AbstractContextManager]) -> Fn:
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
