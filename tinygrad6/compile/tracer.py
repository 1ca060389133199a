"""Tracing a step: the Tracer the core reports to (modes.observe), the traps on Python values and on numpy use of
array arguments, and the arguments flattened and keyed for the cache. What the program could not repeat is a Break."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import nn, optim
from ..engine import modes, ops
from ..engine.tensor import Tensor
from ..support import locations, tracing
from .state import IMMUTABLE, root, token


class CompileError(RuntimeError):
    """A step that cannot be compiled under `fullgraph=True`; the message says why, where and what to do."""


class GraphBreakWarning(UserWarning):
    """A compiled step runs eagerly from now on; the message says why, where and what to change."""


@dataclass(frozen=True)
class Break:
    """Why a step cannot be replayed: `reason`, the user's `where` (file:line), and the `fix`."""

    reason: str
    where: str | None = None
    fix: str = ""

    def __str__(self) -> str:
        line = _line_text(self.where)
        at = f" at {locations.shown(self.where)}{f' ({line})' if line else ''}" if self.where else ""
        return f"{self.reason}{at}; {self.fix}" if self.fix else f"{self.reason}{at}"


def _line_text(where: str | None) -> str:
    if not where or ":" not in where:
        return ""
    filename, _, line = where.rpartition(":")
    return linecache.getline(filename, int(line)).strip() if line.isdigit() else ""


class Tracer:
    """What one traced call did, in order: `events`, tuples ("op", op, output), ("read" or "write", module, name,
    tensor), ("grad", leaf, gradient), ("call", object, method). What the program could not repeat is a `Break`.
    The core reports to it through `modes.observe`."""

    def __init__(self, fullgraph: bool = False, grads_before: dict[int, Any] | None = None) -> None:
        self.events: list[tuple] = []
        self.modules: dict[int, nn.Module] = {}
        self.breaks: list[Break] = []
        self.fullgraph = fullgraph
        self.grads: dict[int, tuple[Tensor, Any]] = {}  # id(leaf) -> (leaf, the .grad the program will have set)
        self.grads_before = grads_before or {}  # id(tensor) -> its .grad when the call began

    def broke(self, reason: str, fix: str) -> None:
        found = Break(reason, locations.locate().user, fix)
        if found not in self.breaks:
            self.breaks.append(found)
        if self.fullgraph:
            raise CompileError(f"compile(fullgraph=True): {found}")

    # the events of the core (see modes.observe)
    def op(self, op, out: Tensor) -> None:
        if modes._anomaly.get():
            self.broke("detect_anomaly() is on inside the step", "its checks do not run in a replay; enter it "
                       "outside the compiled step (then the step runs eagerly) or call the step function itself")
        self.events.append(("op", op, out))

    def module(self, module: nn.Module) -> None: self.modules.setdefault(id(module), module)
    def read(self, module: nn.Module, name: str, t: Tensor) -> None: self.events.append(("read", module, name, t))
    def write(self, module: nn.Module, name: str, t: Tensor) -> None: self.events.append(("write", module, name, t))

    def value(self, t: Tensor, what: str) -> None:
        self.broke(f"the step reads a tensor's values as Python data ({what})",
                   "a replay would reuse the traced value: keep it a tensor (where, clip, maximum), or read it from "
                   "the tensor the step returns, after the call")

    def write_in_place(self, t: Tensor, what: str) -> None:
        self.broke(f"the step writes into a tensor in place ({what})",
                   "compute a new tensor instead, and update parameters with an optimizer's step()")

    def argument(self, what: str) -> None:
        self.broke(f"the step computes with numpy on an array argument ({what})",
                   "a replay would reuse the traced batch's result: make it a Tensor first (Tensor(x) / 2, "
                   "Tensor(x).reshape(...), labels.reshape(-1, 1) == Tensor(np.arange(C)) for a one-hot) so the "
                   "ops are recorded")

    def grad(self, leaf: Tensor, g: Tensor) -> None:
        stored, accumulated = leaf.grad, False
        if stored is not None and isinstance(stored.creator, ops.Add) and stored.creator.inputs[1] is g:
            accumulated = True  # `leaf.grad + g` (backward into an existing .grad): not an op of the program
            self.events = [e for e in self.events if not (e[0] == "op" and e[1] is stored.creator)]
        old = stored.creator.inputs[0] if accumulated else None
        if self.expected_grad(leaf) is not old:
            self.broke(f"the .grad of the tensor {_shown(leaf)} was set by the step's own code before backward",
                       "a replay would not set it again: call optimizer.zero_grad() in the step instead of "
                       "assigning .grad")
        if leaf._hooks:
            self.broke(f"a hook is registered on the tensor {_shown(leaf)}", "hooks do not run in a replay: "
                       "remove it (handle.remove()) or run this step eagerly")
        if leaf.creator is not None:
            self.broke(f"the step keeps the gradient of a non-leaf tensor {_shown(leaf)} (retain_grad)",
                       "remove retain_grad()/retain_grads() from the compiled step")
        self.events.append(("grad", leaf, g, accumulated))
        self.grads[id(leaf)] = (leaf, stored)

    def expected_grad(self, t: Tensor) -> Any:
        """The .grad that backward and the optimizers' zero_grad() have left on t so far in this call."""
        return self.grads[id(t)][1] if id(t) in self.grads else self.grads_before.get(id(t), t.grad)

    def call(self, obj: Any, wrapper: Callable, method: Callable) -> Any:
        """Record `obj.method()` and run it untraced (the program calls it again on every replay)."""
        if getattr(type(obj), wrapper.__name__, None) is not wrapper:
            self.broke(f"{type(obj).__name__}.{wrapper.__name__} overrides {method.__qualname__}",
                       "override update() or gradient() instead (they run inside step() on every replay), or run "
                       "this step eagerly")
        if method.__name__ == "step" and isinstance(obj, optim.Optimizer):
            for p in obj.params:
                if p.grad is not self.expected_grad(p):
                    self.broke(f"the .grad of the tensor {_shown(p)} was replaced between backward() and step()",
                               "a replay stores the gradient backward computed: clip or change gradients in an "
                               "Optimizer subclass's gradient() method, or run this step eagerly")
                    break
        self.events.append(("call", obj, method))
        with modes._Mode(tracing.active, None):
            result = method(obj)
        if method.__name__ == "zero_grad" and isinstance(obj, optim.Optimizer):
            self.grads.update((id(p), (p, None)) for p in obj.params)
        return result


def _shown(t: Tensor) -> str:
    return f"{t.name!r} of shape {t.shape}" if t.name else f"of shape {t.shape}"


def trace(fn: Callable, *args: Any) -> tuple[Tracer, Any]:
    """Run `fn(*args)` once under trace mode; returns the tracer and what fn returned."""
    recorded = Tracer()
    with modes._Mode(tracing.active, recorded):
        return recorded, fn(*args)


class ArgumentArray(np.ndarray):
    """An ndarray argument of the step while it is traced: `Tensor(x)` and passing it to tinygrad6 functions are
    recorded as the argument, but computing with it in numpy (x / 2, x[0], x.copy(), np.mean(x)) is reported to
    the tracer: a program could not recompute it for the next batch."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _report(f"numpy.{ufunc.__name__}")
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        return getattr(ufunc, method)(*[_plain(x) for x in inputs], **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        _report(f"numpy.{func.__name__}")
        return func(*_plain(list(args)), **_plain(kwargs))

    @property
    def T(self):
        _report("x.T")
        return _plain(self).T


def _report(what: str) -> None:
    tracing.observe("argument", what)


def _reading(name: str) -> Callable:
    def method(self, *args, **kwargs):
        _report(f"x.{name.strip('_')}()" if not name.startswith("__") else name)
        return getattr(_plain(self), name)(*args, **kwargs)
    method.__name__ = name
    return method


for _name in ("__getitem__", "__setitem__", "__iter__", "__bool__", "__float__", "__int__", "__index__",
              "__complex__", "__repr__", "__str__", "__format__", "__reduce__", "__reduce_ex__", "__copy__",
              "__deepcopy__", "item", "tolist", "tobytes", "copy", "astype", "reshape", "ravel", "flatten", "view",
              "sum", "mean", "max", "min", "std", "var", "prod", "cumsum", "cumprod", "argmax", "argmin", "argsort",
              "sort", "clip", "round", "transpose", "swapaxes", "squeeze", "take", "repeat", "nonzero", "any", "all",
              "dot", "fill", "put", "choose", "compress", "diagonal", "trace", "ptp", "searchsorted", "partition",
              "argpartition", "byteswap", "getfield", "setfield", "resize", "itemset", "tofile", "dump", "dumps"):
    if hasattr(np.ndarray, _name):
        setattr(ArgumentArray, _name, _reading(_name))


def _plain(value: Any) -> Any:
    """ArgumentArrays inside value (lists, tuples, dicts) as plain ndarrays sharing their memory."""
    if isinstance(value, ArgumentArray):
        return np.ndarray.view(value, np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value) if type(value) in (list, tuple) else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def flatten(value: Any, leaves: list) -> Any:
    """The structure of value (tuples, lists and dicts of leaves), appending each leaf to `leaves`."""
    if type(value) in (tuple, list):
        return (type(value).__name__, tuple(flatten(v, leaves) for v in value))
    if type(value) is dict and all(type(k) is str for k in value):
        return ("dict", tuple((k, flatten(v, leaves)) for k, v in value.items()))
    leaves.append(value)
    return "leaf"


def unflatten(structure: Any, leaves: list) -> Any:
    """flatten's inverse: the value of `structure` with leaves taken in order from the front of `leaves`."""
    if structure == "leaf":
        return leaves.pop(0)
    kind, parts = structure
    if kind == "dict":
        return {k: unflatten(s, leaves) for k, s in parts}
    values = [unflatten(s, leaves) for s in parts]
    return tuple(values) if kind == "tuple" else values


def leaf_key(value: Any, roots: list[int]) -> tuple:
    """What a program assumes of one argument: arrays and tensors by shape, dtype, which earlier argument they
    share memory with (and a 0-d array by value), Python and numpy scalars by type and exact value, anything else
    by identity (the cache entry keeps it alive, so the id is not reused)."""
    array = value._data if isinstance(value, Tensor) else value if isinstance(value, np.ndarray) else None
    if array is not None:
        owner = id(root(array))
        alias = roots.index(owner) if owner in roots else -1
        roots.append(owner)
        grad = value.requires_grad if isinstance(value, Tensor) else None
        scalar = array.tobytes() if array.ndim == 0 else None
        return (type(value), array.shape, array.dtype.str, alias, grad, scalar)
    return (type(value), token(value) if isinstance(value, IMMUTABLE) else id(value))

