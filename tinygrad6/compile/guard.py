"""Guards: what a program assumes of the state around it, checked before every replay as one generated expression."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn, optim
from ..engine.tensor import Tensor
from .program import Program, _shown
from .state import IMMUTABLE, Names, StepState, token
from .tracer import Tracer

MISSING = object()


def same(a: Any, b: Any) -> bool:
    """a and b are the same immutable value, bit for bit (0.0 and -0.0, 1 and True told apart)."""
    return a is b or token(a) == token(b)


class Guard:
    """Checks run before each replay: every attribute the step's code can read, of every module it called, optimizer
    it stepped, object, global and closure cell it reaches, is what it was when traced. `check()` runs them as one
    generated expression; `failure()` names the first that fails."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"same": same, "MISSING": MISSING}
        self.checks: list[tuple[str, str]] = []  # (expression, what it checks)
        self.held: dict[int, str] = {}

    def name(self, value: Any) -> str:
        if id(value) not in self.held:
            self.held[id(value)] = f"g{len(self.held)}"
            self.namespace[self.held[id(value)]] = value
        return self.held[id(value)]

    def entry(self, holder: dict, key: Any, path: str) -> None:
        """holder[key] stays what it is now: the same value (immutables) or the same object."""
        value = holder.get(key, MISSING)
        got = f"{self.name(holder)}.get({key!r}, MISSING)"
        if isinstance(value, IMMUTABLE) and value is not MISSING and not isinstance(value, (np.generic, np.dtype)):
            self.checks.append((f"same({got}, {self.name(value)})", f"{path} == {value!r}"))
        else:
            self.checks.append((f"{got} is {self.name(value)}", f"{path} is the same object"))

    def items(self, seq: list | tuple, path: str) -> None:
        s = self.name(seq)
        self.checks.append((f"len({s}) == {len(seq)}", f"len({path}) == {len(seq)}"))
        for i, v in enumerate(seq):
            if isinstance(v, IMMUTABLE):
                self.checks.append((f"same({s}[{i}], {self.name(v)})", f"{path}[{i}] == {v!r}"))
            else:
                self.checks.append((f"{s}[{i}] is {self.name(v)}", f"{path}[{i}] is the same object"))

    def tensor(self, t: Tensor, path: str) -> None:
        n = self.name(t)
        self.checks.append((f"{n}.requires_grad is {t.requires_grad} and not {n}._hooks and {n}._data.shape == "
                            f"{t.shape!r} and {n}._data.dtype == {self.name(t.dtype)}",
                            f"{path}: requires_grad={t.requires_grad}, no hook, shape {t.shape}, dtype {t.dtype}"))

    def compile(self) -> None:
        body = " and ".join(f"({text})" for text, _ in self.checks) or "True"
        exec(f"def check():\n    return {body}\n", self.namespace)
        self.check = self.namespace["check"]

    def failure(self) -> str | None:
        for text, what in self.checks:
            if not eval(text, self.namespace):  # noqa: S307  (our own expressions, names and reprs only)
                return what
        return None


def build_guard(recorded: Tracer, program: Program, state: StepState, names: set[str]) -> Guard:
    """The guard of one program; `names`: the attribute names the step's code can read."""
    guard = Guard()
    written = {(id(e[1]), e[2]) for e in recorded.events if e[0] == "write"}
    for module in recorded.modules.values():
        d, path = vars(module), state.path(module) or type(module).__name__
        for key, value in list(d.items()):
            if key in getattr(module, "_buffers", ()) or (id(module), key) in written or (
                    isinstance(value, np.ndarray) and key not in names):
                continue  # buffers (and masks) are read, and written, by the program itself
            guard.entry(d, key, f"{path}.{key}")
            if type(value) in (list, tuple):
                guard.items(value, f"{path}.{key}")
    for t in program.reads:
        guard.tensor(t, state.path(t) or _shown(t))
    for opt in {id(e[1]): e[1] for e in recorded.events if e[0] == "call"}.values():
        if isinstance(opt, optim.Optimizer):
            guard.items(opt.params, f"{state.path(opt) or type(opt).__name__}.params")
    for obj in state.objects:  # what the step's code can name in globals, closures and plain objects
        if isinstance(obj, (Tensor, nn.Module, optim.Optimizer, np.ndarray, np.random.Generator, list, tuple, dict)):
            continue
        holder = obj.namespace if isinstance(obj, Names) else getattr(obj, "__dict__", None)
        if isinstance(holder, dict):
            for key in obj.keys if isinstance(obj, Names) else [k for k in holder if k in names]:
                if key not in holder:
                    continue
                guard.entry(holder, key, f"{state.path(obj)}.{key}")
                if type(holder[key]) in (list, tuple):
                    guard.items(holder[key], f"{state.path(obj)}.{key}")
                elif type(holder[key]) is dict:  # a configuration dict: CONFIG["scale"]
                    for k in holder[key]:
                        guard.entry(holder[key], k, f"{state.path(obj)}.{key}[{k!r}]")
    guard.compile()
    return guard

