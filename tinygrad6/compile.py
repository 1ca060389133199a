"""A compiled training step: trace one call of the step, then replay it as a generated straight-line numpy program.

    step = tinygrad6.compile(train_step)   # train_step(x, t): zero_grad, forward, backward, opt.step(), return loss
    loss = step(x, t)                      # the first call traces: it runs the step eagerly, recording what it does
    loss = step(x, t)                      # the second replays the program and checks it against eager, once
    loss = step(x, t)                      # later calls run the program: no Tensor, no Op, one numpy call a line
    print(step.source())                   # the program, with the tensor names of the graph
    print(step.explain())                  # graph breaks and guard failures, with the user's line

The contract: every call returns what the eager step would return, with the same effects, bit for bit; or runs the
step eagerly (a graph break: warned once, with the line and what to change); or, with `fullgraph=True`, raises
`CompileError` before any visible state changed. How: docs/compiled-step.md."""

from __future__ import annotations

import builtins
import inspect
import keyword
import linecache
import re
import sys
import time
import types
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import locations, modes, nn, ops, optim
from . import random as tg_random
from .functional import DropoutMask  # a random op: kept even when unused, so a replay draws what eager draws
from .stepstate import IMMUTABLE, OPAQUE, Names, StepState, TooLarge, differences
from .tensor import Tensor


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
        at = f" at {self.where}{f' ({line})' if line else ''}" if self.where else ""
        return f"{self.reason}{at}; {self.fix}" if self.fix else f"{self.reason}{at}"


def _line_text(where: str | None) -> str:
    if not where or ":" not in where:
        return ""
    filename, _, line = where.rpartition(":")
    return linecache.getline(filename, int(line)).strip() if line.isdigit() else ""


# -- tracing ----------------------------------------------------------------------------------------------------
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
        if leaf._hooks:
            self.broke(f"a hook is registered on the tensor {_shown(leaf)}", "hooks do not run in a replay: "
                       "remove it (handle.remove()) or run this step eagerly")
        if leaf.creator is not None:
            self.broke(f"the step keeps the gradient of a non-leaf tensor {_shown(leaf)} (retain_grad)",
                       "remove retain_grad()/retain_grads() from the compiled step")
        self.events.append(("grad", leaf, g, accumulated))
        self.grads[id(leaf)] = (leaf, stored)

    def call(self, obj: Any, wrapper: Callable, method: Callable) -> Any:
        """Record `obj.method()` and run it untraced (the program calls it again on every replay)."""
        if getattr(type(obj), wrapper.__name__, None) is not wrapper:
            self.broke(f"{type(obj).__name__}.{wrapper.__name__} overrides {method.__qualname__}",
                       "override update() or gradient() instead (they run inside step() on every replay), or run "
                       "this step eagerly")
        if method.__name__ == "step" and isinstance(obj, optim.Optimizer):
            for p in obj.params:
                expected = self.grads.get(id(p), (p, self.grads_before.get(id(p), p.grad)))[1]
                if p.grad is not expected:
                    self.broke(f"the .grad of {_shown(p)} was replaced or edited between backward() and step()",
                               "a replay stores the gradient backward computed: clip or change gradients in an "
                               "Optimizer subclass's gradient() method, or run this step eagerly")
                    break
        self.events.append(("call", obj, method))
        with modes._Mode(modes._tracing, None):
            result = method(obj)
        if method.__name__ == "zero_grad" and isinstance(obj, optim.Optimizer):
            self.grads.update((id(p), (p, None)) for p in obj.params)
        return result


def _shown(t: Tensor) -> str:
    return f"{t.name!r} of shape {t.shape}" if t.name else f"of shape {t.shape}"


def trace(fn: Callable, *args: Any) -> tuple[Tracer, Any]:
    """Run `fn(*args)` once under trace mode; returns the tracer and what fn returned."""
    recorded = Tracer()
    with modes._Mode(modes._tracing, recorded):
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
    modes.observe("argument", what)


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


# -- arguments: flattened to leaves, keyed for the cache ------------------------------------------------------------
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
        root = id(_root(array))
        alias = roots.index(root) if root in roots else -1
        roots.append(root)
        grad = value.requires_grad if isinstance(value, Tensor) else None
        scalar = array.tobytes() if array.ndim == 0 else None
        return (type(value), array.shape, array.dtype.str, alias, grad, scalar)
    if isinstance(value, float):
        return (float, value.hex())
    if isinstance(value, np.generic):
        return (type(value), value.dtype.str, value.tobytes())
    if isinstance(value, IMMUTABLE) and not isinstance(value, (range, slice)):
        return (type(value), value)
    return (type(value), id(value))


# -- code generation ------------------------------------------------------------------------------------------------
COMPARE = {"equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">="}
# ops as numpy expressions: format strings over the arguments ({0}, {1}) and the op's parameters as literals
TEXT = {ops.Add: "{0} + {1}", ops.Sub: "{0} - {1}", ops.Mul: "{0} * {1}", ops.Div: "{0} / {1}", ops.Pow: "{0} ** {1}",
        ops.MatMul: "{0} @ {1}", ops.Neg: "-{0}", ops.Exp: "np.exp({0})", ops.Log: "np.log({0})",
        ops.Sqrt: "np.sqrt({0})", ops.Abs: "np.abs({0})", ops.Tanh: "np.tanh({0})", ops.ReLU: "np.maximum({0}, 0)",
        ops.Reshape: "{0}.reshape({shape})", ops.Transpose: "{0}.transpose({axes})",
        ops.BroadcastTo: "np.broadcast_to({0}, {shape})", ops.Cast: "{0}.astype({dtype})"}
# elementwise ops whose ufunc can write the result into an input's memory (out=)
UFUNC = {ops.Add: "np.add", ops.Sub: "np.subtract", ops.Mul: "np.multiply", ops.Div: "np.divide",
         ops.Neg: "np.negative", ops.Exp: "np.exp", ops.Log: "np.log", ops.Sqrt: "np.sqrt", ops.Tanh: "np.tanh",
         ops.ReLU: "np.maximum"}


def numpy_text(op, args: list[str], local: set[str], literal: Callable[[Any], str]) -> str | None:
    """The numpy expression that computes exactly what `op.forward(*args)` computes, or None (then the program
    calls op.forward itself). `local`: the program's variables (any other argument is a constant); `literal`: the
    source text of a parameter value (a Python literal, or the name of a constant)."""
    kind = type(op)
    if kind in TEXT:
        return TEXT[kind].format(*args, **{k: literal(v) for k, v in op.params.items()})
    if kind is ops.Where and args[2] not in local:  # where(cond, a, 0) as Where.forward computes it (ReLU's backward)
        cond, a, b = (x._data for x in op.inputs)  # with its test of a's finiteness made on every run
        if b.ndim == 0 and b == 0 and b.dtype == a.dtype and a.shape == cond.shape:
            return f"{args[1]} * {args[0]} if np.isfinite({args[1]}.sum()) else np.where({', '.join(args)})"
    if kind is ops.Compare:
        return f"{args[0]} {COMPARE[op.compare]} {args[1]}"
    if kind in (ops.Sum, ops.Mean, ops.Max, ops.Min):
        options = ", ".join(([f"axis={literal(op.axis)}"] if op.axis is not None else []) +
                            (["keepdims=True"] if op.keepdims else []))
        if kind is ops.Mean and op.inputs[0].dtype == np.float64:  # what x.mean computes, without its Python code
            return f"{args[0]}.sum({options}) / {op.inputs[0].size // max(op.output.size, 1)}"
        return f"{args[0]}.{op.name}({options})"
    if kind is ops.SumTo:  # sum_to's own steps, worked out on the traced shapes
        shape, lead = op.inputs[0].shape, op.inputs[0].ndim - len(op.shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(op.shape) if n != shape[lead + i])
        kept = tuple(n for i, n in enumerate(shape) if i not in axes)
        return (f"{args[0]}.sum(axis={literal(axes)})" if axes else args[0]) + (
            "" if kept == op.shape else f".reshape({literal(op.shape)})")


def identifier(text: str | None, default: str) -> str:
    """An ASCII identifier made from text (letters, digits and _ only; never a keyword), or default."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", text if isinstance(text, str) else "").strip("_") or default
    return "v_" + name if name[0].isdigit() or keyword.iskeyword(name) else name


def is_literal(value: Any) -> bool:
    """True when repr(value) is Python source that evaluates to an equal value of the same type."""
    if type(value) in (tuple, list):
        return all(is_literal(v) for v in value)
    if type(value) is float:
        return bool(np.isfinite(value))
    return type(value) in (int, bool, str, type(None))


class Unsupported(Exception):
    """The trace holds something the program cannot repeat (carries the Break)."""


class Program:
    """The straight-line program of one trace: `source` (Python text) and `run` (the function compiled from it)."""

    def __init__(self, recorded: Tracer, fn: Callable, given: list[str], leaves: list, result: Any,
                 known: set[int]) -> None:
        self.namespace: dict[str, Any] = {"np": np, "Tensor": Tensor, "store_grad": store_grad}
        self.taken = set(self.namespace) | set(given) | set(dir(builtins))
        self.fn_name = self._fresh(identifier(getattr(fn, "__name__", None), "step"))
        self.known = known  # ids of the tensors and arrays that existed before the traced call
        self.held: dict[int, str] = {}  # id(object) -> its global name (a parameter, module, optimizer, op)
        self.local = set(given)  # the program's local variables (deleted after their last use)
        self.names: dict[int, str] = {}  # id(tensor) -> its variable in the program
        self.by_array: dict[int, str] = {}  # id(array) -> variable, for tensors sharing a traced array (detach)
        # (target, text, names used, side effect, the ufunc form (ufunc, args, the expression it can replace))
        self.lines: list[tuple[str | None, str, list[str], bool, tuple | None]] = []
        self.arrays: dict[str, np.ndarray] = {}  # variable -> its traced array (memory plan: shapes and aliases)
        self.escaping: set[str] = set()  # variables that leave the program (stored gradients, buffers, the loss)
        self.prologue: list[str] = []
        self.inputs: dict[tuple, str] = {}  # the layout of an argument's array -> its variable
        self.leaf_tensors: dict[int, str] = {}  # id(tensor argument) -> the variable holding the tensor
        for name, value in zip(given, leaves):
            array = value._data if isinstance(value, Tensor) else value if isinstance(value, np.ndarray) else None
            if array is not None:
                self.inputs.setdefault(_layout(array), name)
            if isinstance(value, Tensor):
                self.leaf_tensors[id(value)] = self._fresh(f"{name}_tensor")
                self.prologue.append(f"{self.leaf_tensors[id(value)]}, {name} = {name}, {name}._data")
        self.reads: list[Tensor] = []  # the leaf tensors read on every call (parameters, tensors made before)
        self.shared: dict[type, Callable] = {}  # one forward per op class without parameters
        self.scalars: dict[tuple, str] = {}  # (dtype, bytes) -> the constant's name
        self.constants: set[str] = set()  # names of 0-d constants (an op of constants only is folded)
        self.computed: dict[str, str] = {}  # expression -> the variable holding it (cleared at every effect)
        self.scope: tuple = ()  # the scope of the last op
        self.rngs: list[np.random.Generator] = []  # the generators of the random ops
        # arrays the traced call made with numpy (Tensor(np.arange(C))): kept as constants, so the program is checked
        # against eager on a call with other arguments before it is trusted
        self.fresh: list[str] = []
        self._generate(recorded)
        outputs = result if isinstance(result, tuple) else (result,)
        if not all(o is None or isinstance(o, Tensor) for o in outputs):
            raise Unsupported(Break(f"the step returned {type(result).__name__}",
                                    fix="return the loss tensor (or a tuple of tensors, or None)"))
        out = [self._result(o) for o in outputs]
        self.source = self._text(given, out, isinstance(result, tuple))
        exec(builtins.compile(self.source, f"<compiled {identifier(fn.__qualname__, 'step')}>", "exec"),
             self.namespace)
        self.run = self.namespace[self.fn_name]

    def _result(self, t: Tensor | None) -> str | None:
        if t is None:
            return None
        name = self.names.get(id(t)) or self.by_array.get(id(t._data))
        if name is None:
            raise Unsupported(Break("the step returned a tensor made outside the traced ops",
                                    fix="return the loss tensor the step computed"))
        return name

    def _fresh(self, base: str, sep: str = "_") -> str:
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}{sep}{k}", k + 1
        self.taken.add(name)
        return name

    def _name(self, t: Tensor, default: str) -> str:
        name = self._fresh(identifier(t.name, default))
        self.local.add(name)
        self.names[id(t)] = name
        self.by_array.setdefault(id(t._data), name)
        return name

    def _global(self, value: Any, default: str | None = None) -> str:
        """The global name of value in the program (a module, optimizer, parameter, constant or forward)."""
        if id(value) in self.held:
            return self.held[id(value)]
        name = self._fresh(identifier(default or type(value).__name__.lower(), "c"), "")
        self.namespace[name] = value
        self.held[id(value)] = name
        return name

    def literal(self, value: Any) -> str:
        """Source text for an op's parameter: repr of a plain Python value, else the name of a constant."""
        return repr(value) if is_literal(value) else self._global(value, "const")

    def _use(self, x: Tensor, op, inputs: tuple) -> str:
        """The program's expression for tensor x used by op: its variable, or a new one for a leaf seen first."""
        if (id(x) in self.names and isinstance(x.creator, ops.BroadcastTo) and type(op) in UFUNC
                and any(y.shape == op.output.shape and not isinstance(y.creator, ops.BroadcastTo) for y in inputs)):
            return self._use(x.creator.inputs[0], op, inputs)  # numpy broadcasts it alike, without the view
        if id(x) in self.names:
            return self.names[id(x)]
        a = x._data
        if id(x) in self.leaf_tensors or (_layout(a) in self.inputs and x.creator is None and id(x) not in self.known):
            if x.requires_grad and id(x) not in self.leaf_tensors:
                raise Unsupported(Break(f"a tensor {_shown(x)} made inside the step requires grad",
                                        fix="create it outside the step (or pass it as an argument)"))
            self.names[id(x)] = self.inputs[_layout(a)]  # an argument (x itself, or Tensor(x) made in the step)
        elif id(a) in self.by_array and id(x) not in self.known:  # x.detach(), Tensor(y): another tensor, one array
            self.names[id(x)] = self.by_array[id(a)]
        elif id(x) in self.known:  # a parameter, or a tensor made before the call: read on every call
            self.reads.append(x)
            name = self._name(x, identifier(x.name, "p"))
            self.lines.append((name, f"{self._global(x, 'param_' + name)}._data", [], False, None))
        elif x.requires_grad:
            raise Unsupported(Break(f"a tensor {_shown(x)} made inside the step requires grad",
                                    fix="create it outside the step (or pass it as an argument)"))
        elif (type(op) in (ops.Add, ops.Sub, ops.Mul, ops.Div) and a.ndim == 0 and x.dtype == np.float64
              and np.isfinite(a) and all(y.dtype == np.float64 for y in inputs)
              and any(id(y) in self.names or y is not x for y in inputs)):
            return repr(float(a))  # a float64 scalar: the same value and dtype as a Python float here
        elif a.ndim == 0:  # a scalar constant: one per value and dtype, told apart bit for bit (0.0 and -0.0)
            key = (a.dtype.str, a.tobytes())
            if key not in self.scalars:
                self.scalars[key] = self._global(np.array(a), "zero" if a == 0 else "c")
                self.constants.add(self.scalars[key])
            return self.scalars[key]
        else:  # an array made before the call, by the library, or by the step's own numpy code (kept, and checked)
            if id(a) not in self.known and not getattr(x, "_constant", False):
                self.fresh.append(f"an array of shape {a.shape} made during the traced call")
            self.names[id(x)] = self._global(a, identifier(x.name, "c"))
        return self.names[id(x)]

    def _generate(self, recorded: Tracer) -> None:
        grads = [e[2] for e in recorded.events if e[0] == "grad"]
        # a gradient is stored as a copy unless its array was fresh memory of one tensor (so on every replay too)
        held = Counter(a for a, _ in {(id(x._data), id(x)) for e in recorded.events if e[0] == "op"
                                      for x in (e[2], *e[1].inputs)})  # id(array) -> how many tensors hold it
        copied = {id(g) for g in grads if g.creator is None or g._data.base is not None
                  or held[id(g._data)] != 1 or sum(h is g for h in grads) > 1}
        for event in recorded.events:
            match event:
                case ("op", op, out):
                    self._op(op, out, recorded)
                case ("read", module, attr, t):
                    self.lines.append((self._name(t, attr), _get(self._global(module), attr), [], False, None))
                case ("write", module, attr, t):
                    value = self._use(t, None, ())
                    self._effect(_set(self._global(module), attr, value), value)
                case ("grad", leaf, g, _):
                    holder = self.leaf_tensors.get(id(leaf))
                    if holder is None and id(leaf) not in self.known:
                        raise Unsupported(Break(f"a gradient goes to a tensor {_shown(leaf)} made inside the step",
                                                fix="create tensors that need gradients outside the step"))
                    holder = holder or self._global(leaf, f"param_{identifier(leaf.name, 'p')}")
                    value = self._use(g, None, ())
                    self._effect(f"store_grad({holder}, {value}, {id(g) in copied})", value)
                case ("call", obj, method):
                    self._effect(f"{_get(self._global(obj), method.__name__)}()")
                    for t in self.reads:  # read parameters again after an update: it may rebind their arrays
                        self.names.pop(id(t), None)

    def _op(self, op, out: Tensor, recorded: Tracer) -> None:
        """The line computing `out`, op's output."""
        if out._hooks:
            raise Unsupported(Break(f"a hook is registered on the output of {op.name}", _where(op),
                                    "hooks do not run in a replay: remove it or run this step eagerly"))
        if op.saved:
            raise Unsupported(Break(f"the op {op.name} keeps values from its forward pass (self.save)", _where(op),
                                    "a replay runs forward on new data but backward would read the traced values: "
                                    "let backward read the op's inputs and output (self.inputs, self.output)"))
        for value in _arrays(op.params.values()):
            if isinstance(value, ArgumentArray) or _layout(value) in self.inputs:
                raise Unsupported(Break(f"{op.name} takes an array argument of the step as a parameter", _where(op),
                                        "a replay would reuse the traced batch's index: build a mask with a "
                                        "comparison (one_hot = labels.reshape(-1, 1) == Tensor(np.arange(C))) and "
                                        "use where or *"))
            if id(value) not in self.known and not value.ndim == 0:
                self.fresh.append(f"an array parameter of {op.name} made during the traced call")
        args = [self._use(x, op, op.inputs) for x in op.inputs]
        if op.inputs and all(a in self.constants for a in args):  # constants only: fold the traced value
            self.names[id(out)] = self.scalars.setdefault(("folded", id(out)), self._global(out._data, "c"))
            self.constants.add(self.names[id(out)])
            return
        text = numpy_text(op, args, self.local, self.literal)
        negated = op.inputs[0].creator if type(op) is ops.SumTo and id(op.inputs[0]) in self.names else None
        if isinstance(negated, ops.Neg):  # sum(-x) is -sum(x), bit for bit: one pass over x fewer
            args = [self._use(negated.inputs[0], None, ())]
            text = "-" + numpy_text(op, args, self.local, self.literal)
        if text is None:  # an op without parameters shares one forward per class
            forward = op.forward if op.params else self.shared.setdefault(type(op), type(op)().forward)
            text = f"{self._global(forward, op.name + '_op')}({', '.join(args)})"
        if isinstance(op, DropoutMask):
            self.rngs.append(op.rng)
        elif text in self.computed:
            self.names[id(out)] = self.computed[text]  # the same expression again (x * x's two gradients)
            return
        name = self._name(out, op.name)
        self.computed[text], self.arrays[name] = name, out._data
        ufunc = (UFUNC[type(op)], args + ["0"] * (type(op) is ops.ReLU), text) if type(op) in UFUNC else None
        if type(op) is ops.Where and text.startswith(f"{args[1]} * "):  # numpy_text's a * cond, which may write into a
            ufunc = ("np.multiply", [args[1], args[0]], f"{args[1]} * {args[0]}")
        comment = "  # " + ascii("/".join(op.scope)) if op.scope and op.scope != self.scope else ""  # a layer starts
        self.scope = op.scope
        uses = [a for a in args if a in self.local]
        self.lines.append((name, text + comment, uses, isinstance(op, DropoutMask), ufunc))

    def _effect(self, text: str, value: str | None = None) -> None:
        """A line run for its effect; `value`, the variable it stores somewhere, leaves the program. No expression
        computed before an effect is reused after it."""
        self.escaping.add(value)
        self.computed.clear()
        self.lines.append((None, text, [value] if value in self.local else [], True, None))

    def _text(self, given: list[str], outs: list[str | None], several: bool) -> str:
        """The program: dead lines dropped, each variable deleted after its last use, and an elementwise op whose
        input dies there writes into that input's memory (out=) when shape and dtype match."""
        results = {o for o in outs if o}
        needed, kept = set(results), []
        for target, text, uses, effect, ufunc in reversed(self.lines):
            if effect or target in needed:
                kept.append((target, text, uses, ufunc))
                needed.update(uses)
        kept.reverse()
        last = {name: i for i, (target, _, uses, _) in enumerate(kept) for name in [target, *uses] if name}
        # memory that several variables share (views) is free only after the last use of all of them
        group = {name: id(_root(a)) for name, a in self.arrays.items()}
        free_after: dict[int, int] = {}
        for name, g in group.items():
            free_after[g] = max(free_after.get(g, -1), last.get(name, -1))
        body = list(self.prologue)
        for i, (target, text, uses, ufunc) in enumerate(kept):
            for arg in ufunc[1] if ufunc and target not in self.escaping | results else ():
                a, y = self.arrays.get(arg), self.arrays[target]
                if (a is not None and a.base is None and a.ndim and a.shape == y.shape and a.dtype == y.dtype
                        and free_after[group[arg]] == i and arg not in self.escaping | results):
                    text = text.replace(ufunc[2], f"{ufunc[0]}({', '.join(ufunc[1])}, out={arg})", 1)
                    free_after[group[arg]] = free_after[group[target]]  # the result now lives in arg's memory
                    group[target] = group[arg]
                    break
            body.append(f"{target} = {text}" if target else text)
            dead = sorted(n for n in {*uses, target} - {None, *results, *given} if last[n] == i)
            if dead:
                body.append(f"del {', '.join(dead)}")
        wrapped = [f"Tensor._wrap({o})" if o else "None" for o in outs]
        body.append(f"return ({', '.join(wrapped)},)" if several else f"return {wrapped[0]}")
        return f"def {self.fn_name}({', '.join(given)}):\n" + "".join(f"    {line}\n" for line in body)


def _arrays(values: Any) -> list[np.ndarray]:
    """The ndarrays among values, also inside tuples and lists (an index)."""
    found = []
    for v in values:
        if isinstance(v, np.ndarray):
            found.append(v)
        elif isinstance(v, (tuple, list)):
            found += _arrays(v)
    return found


def _get(holder: str, attr: str) -> str:
    return f"{holder}.{attr}" if _plain_name(attr) else f"getattr({holder}, {attr!r})"


def _set(holder: str, attr: str, value: str) -> str:
    return f"{holder}.{attr} = {value}" if _plain_name(attr) else f"setattr({holder}, {attr!r}, {value})"


def _plain_name(text: str) -> bool:
    return text.isascii() and text.isidentifier() and not keyword.iskeyword(text)


def _where(op) -> str | None:
    return None if op is None or op.location is None else op.location.user


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _layout(a: np.ndarray) -> tuple:
    """What makes two arrays the same values in the same memory: root, address, shape, strides, dtype."""
    return (id(_root(a)), a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str)


def store_grad(leaf: Tensor, g: np.ndarray, copy: bool) -> None:
    """What backward does with a leaf's gradient: leaf.grad = g (a copy when `copy`), or leaf.grad + g."""
    if leaf.grad is None:
        leaf.grad = Tensor._wrap(np.array(g) if copy else g)
    else:
        leaf.grad = Tensor._wrap(leaf.grad._data + g)


# -- guards: what the program assumes of the state around it -------------------------------------------------------
MISSING = object()


def same(a: Any, b: Any) -> bool:
    """a and b are the same immutable value, bit for bit (0.0 and -0.0, 1 and True told apart)."""
    return a is b or (type(a) is type(b) and repr(a) == repr(b))


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
    for rng in program.rngs:
        if rng is tg_random._generator:
            guard.entry(vars(tg_random), "_generator", "tinygrad6's default generator (manual_seed)")
    for obj in state.objects:  # what the step's code can name in globals, closures and plain objects
        if isinstance(obj, (Tensor, nn.Module, optim.Optimizer, np.ndarray, np.random.Generator, list, tuple, dict)):
            continue
        holder = obj.namespace if isinstance(obj, Names) else getattr(obj, "__dict__", None)
        if isinstance(holder, dict):
            for key in [k for k in holder if k in names]:
                guard.entry(holder, key, f"{state.path(obj)}.{key}")
                if type(holder[key]) in (list, tuple):
                    guard.items(holder[key], f"{state.path(obj)}.{key}")
    guard.compile()
    return guard


def code_names(fn: Callable, roots: dict[str, Any]) -> set[str]:
    """Every name (global, attribute) that the code of fn, of the functions it reaches and of their objects' classes
    can load: the attributes and globals a trace may have read."""
    names: set[str] = set()
    seen: set[int] = set()
    stack = [fn, *roots.values()]
    while stack:
        value = stack.pop()
        if id(value) in seen or isinstance(value, IMMUTABLE):
            continue
        seen.add(id(value))
        if isinstance(value, CompiledStep):
            stack.append(value.fn)
        elif isinstance(value, types.MethodType):
            stack += [value.__func__, value.__self__]
        elif hasattr(value, "__code__"):
            codes = [value.__code__]
            while codes:
                code = codes.pop()
                names.update(code.co_names)
                codes += [c for c in code.co_consts if hasattr(c, "co_names")]
            stack += [c.cell_contents for c in getattr(value, "__closure__", None) or () if _filled(c)]
        elif not isinstance(value, OPAQUE) and hasattr(type(value), "__mro__"):
            for cls in type(value).__mro__[:-1]:  # the methods of an object's class: self.l2 read by self.loss
                if cls.__module__ not in ("builtins", "numpy"):
                    stack += [f for f in vars(cls).values() if hasattr(f, "__code__")]
    return names


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
        return True
    except ValueError:
        return False


def step_roots(fn: Callable, leaves: list, given: list[str], names: set[str]) -> dict[str, Any]:
    """What a step can reach: its arguments, its object (a bound method), closure cells, the globals its code names
    (also those of the functions and compiled steps it calls) and tinygrad6's default generator."""
    roots: dict[str, Any] = dict(zip(given, leaves))
    functions, seen = [("", fn)], set()
    while functions:
        prefix, f = functions.pop()
        f = f.fn if isinstance(f, CompiledStep) else f
        if id(f) in seen or len(seen) > 100:
            continue
        seen.add(id(f))
        if hasattr(f, "__self__"):
            roots[prefix + "self"] = f.__self__
        function = getattr(f, "__func__", f)
        code = getattr(function, "__code__", None)
        for var, cell in zip(code.co_freevars if code else (), getattr(function, "__closure__", None) or ()):
            if _filled(cell):
                roots[prefix + var] = cell.cell_contents
        namespace = getattr(function, "__globals__", None)
        if isinstance(namespace, dict):
            roots.setdefault(f"globals of {function.__module__}", Names(namespace, sorted(names)))
            functions += [(f"{k}.", v) for k, v in namespace.items() if k in names and _callee(v)]
        functions += [(f"{k}.", v) for k, v in list(roots.items()) if _callee(v)]
    roots["tinygrad6.random"] = Names(vars(tg_random), ["_generator"])
    return roots


def _callee(value: Any) -> bool:
    """A compiled step, or a function or bound method of the user's code, that a step may call."""
    code = getattr(getattr(value, "__func__", value), "__code__", None)
    return isinstance(value, CompiledStep) or (code is not None and locations._kind(code.co_filename) == "user")


# -- the compiled step ----------------------------------------------------------------------------------------------
@dataclass
class Entry:
    key: tuple
    program: Program
    guard: Guard
    keep: list  # the arguments keyed by identity, kept alive so their ids are not reused
    traced: list  # copies of the traced call's array arguments (while the program keeps arrays it made)
    verified: bool = False


class CompiledStep:
    """`fn` traced on its first call for each kind of arguments, replayed as a program after that. `programs` is the
    cache, in trace order; a call runs the first whose key matches and whose guard passes."""

    opaque_state = True  # not part of the state a step changes (see stepstate)

    def __init__(self, fn: Callable, cache_size: int = 8, fullgraph: bool = False, verify: bool = True) -> None:
        self.fn, self.cache_size, self.fullgraph, self.verify = fn, cache_size, fullgraph, verify
        self.programs: list[Entry] = []
        self.last: Program | None = None
        self.traces = 0  # how many times fn was traced
        self.replays = 0  # how many calls ran a program
        self.eager_calls = 0  # how many calls ran fn eagerly (after a graph break, or while a mode forbids a replay)
        self.breaks: list[Break] = []  # why the step runs eagerly (empty while it compiles)
        self.log: list[str] = []  # guard failures and verifications, for explain()
        self.verify_seconds = 0.0  # time spent checking first replays against eager
        self.warned: set[str] = set()
        # for viz.draw(step), from the last trace: loss and gradients, each gradient's parameter, optimizers stepped
        self.traced, self.traced_params, self.traced_updates = [], [], []  # type: ignore[var-annotated]
        self.names = None  # set on the first trace

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if modes._tracing.get() is not None:  # called inside another compiled step's trace: traced as part of it
            return self.fn(*args, **kwargs)
        problem = ("detect_anomaly() is on" if modes._anomaly.get() else
                   "retain_grads() is on" if modes._retain_grads.get() else None)
        if self.breaks or problem:
            if problem and self.fullgraph:
                raise CompileError(f"compile(fullgraph=True): {problem}; its checks do not run in a replay: leave "
                                   f"the block, or call the step function itself")
            if problem:
                self._warn(Break(problem, fix="its effects do not run in a replay, so this call runs eagerly"),
                           permanent=False)
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        leaves: list = []
        structure = flatten((args, kwargs), leaves)
        roots: list[int] = []
        key = (modes._grad_enabled.get(), structure, tuple(leaf_key(v, roots) for v in leaves))
        for entry in self.programs:
            if entry.key == key:
                if entry.guard.check():
                    self.last = entry.program
                    if not entry.verified and (self.verify or entry.program.fresh) and not _same_arrays(
                            entry.traced, leaves):  # (the traced arguments again: the kept arrays are the same)
                        return self._verify(entry, args, kwargs, leaves)
                    self.replays += 1
                    return entry.program.run(*leaves)
                self.log.append(f"guard failed, retracing: {entry.guard.failure()}")
        if self.traces >= 2 * self.cache_size:
            self._warn(Break(f"the step was traced {self.traces} times (its guards keep failing: "
                             f"{self.log[-1] if self.log else 'new arguments'})",
                             fix="keep settings fixed between calls, or run this step eagerly"))
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        return self._trace(key, args, kwargs, leaves)

    def _given(self, leaves: list, structure_args: tuple) -> list[str]:
        try:
            params = list(inspect.signature(self.fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        plain = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(plain) == len(leaves) == len(structure_args):
            given = [identifier(p.name, "arg") for p in plain]
            if len(set(given)) == len(given) and not set(given) & {"np", "Tensor", "store_grad"}:
                return given
        return [f"arg{i}" for i in range(len(leaves))]

    def _trace(self, key: tuple, args: tuple, kwargs: dict, leaves: list) -> Any:
        given = self._given(leaves, args if not kwargs else ())
        names = code_names(self.fn, {})
        roots = step_roots(self.fn, leaves, given, names)
        try:
            state = StepState.scan(roots, names)
            before, print_before = state.snapshot(), StepState.fingerprint(roots, names)
        except TooLarge as e:
            return self._break_now(Break(str(e), fix="run this step eagerly, or compile a step that reaches less"),
                                   args, kwargs)
        grads_before = {id(t): t.grad for t in state.objects if isinstance(t, Tensor)}
        recorded = Tracer(self.fullgraph, grads_before)
        traced_leaves = [v.view(ArgumentArray) if type(v) is np.ndarray else v for v in leaves]
        targs, tkwargs = unflatten(flatten((args, kwargs), []), traced_leaves)
        self.traces += 1
        try:
            with modes._Mode(modes._tracing, recorded), modes._Mode(modes._record_source, modes._record_source.get()):
                result = self.fn(*targs, **tkwargs)
        except CompileError:
            StepState.restore(before)
            raise
        problems = list(recorded.breaks)
        program = None
        if not problems:
            try:
                program = Program(recorded, self.fn, given, leaves, result, set(state.paths))
            except Unsupported as e:
                problems.append(e.args[0])
        if not problems:
            problems += self._untraced_effects(recorded, state, print_before, StepState.fingerprint(roots, names))
        if problems:
            if self.fullgraph:
                StepState.restore(before)
                raise CompileError(f"compile(fullgraph=True): {problems[0]}")
            for problem in problems:
                self._warn(problem)
            return result
        guard = build_guard(recorded, program, state, names)
        keep = [v for v in leaves if not isinstance(v, (np.ndarray, Tensor, *IMMUTABLE))]
        traced = [np.array(_array_of(v)) for v in leaves] if program.fresh else []
        entry = Entry(key, program, guard, keep, traced)
        self.programs = self.programs[len(self.programs) + 1 - self.cache_size:] + [entry]
        self.last = program
        self.traced_params, grads = list(zip(*[e[1:3] for e in recorded.events if e[0] == "grad"])) or ((), ())
        self.traced = [result] * isinstance(result, Tensor) + list(grads)
        self.traced_updates = [e[1] for e in recorded.events if e[0] == "call" and e[2].__name__ == "step"]
        return result

    def _untraced_effects(self, recorded: Tracer, state: StepState, before: dict, after: dict) -> list[Break]:
        """The changes the traced call made that the program would not make again (a Python counter, a list
        appended to, a global rebound, numpy's random state...), as Breaks."""
        allowed = ["tinygrad6.random"]
        for event in recorded.events:
            if event[0] == "call":
                allowed.append(state.path(event[1]))
                allowed += [f"{state.path(p)}.{a}" for p in getattr(event[1], "params", ()) for a in ("data", "grad")]
            elif event[0] == "grad":
                allowed.append(f"{state.path(event[1])}.grad")
            elif event[0] == "write":
                allowed.append(f"{state.path(event[1])}.{event[2]}")
            elif event[0] == "op" and isinstance(event[1], DropoutMask):
                allowed.append(state.path(event[1].rng))
        allowed = [a for a in allowed if a and not a.startswith("None")]
        changed = [p for p in differences(before, after)
                   if not any(p == a or p.startswith((a + ".", a + "[")) for a in allowed)]
        if not changed:
            return []
        what = "numpy's global random generator" if changed[0] == "numpy.random" else \
            "Python's random module" if changed[0] == "random" else changed[0]
        return [Break(f"the step changes {what} outside tinygrad6 ops ({len(changed)} value(s) changed)",
                      fix="a replay would not change it again: draw random numbers with tinygrad6 ops (Dropout) and "
                      "keep counters and lists outside the compiled step")]

    def _verify(self, entry: Entry, args: tuple, kwargs: dict, leaves: list) -> Any:
        """Run the first replay of a program, then the eager step from the same state, and compare everything
        reachable bit for bit; keep eager's result. A difference is a graph break."""
        start = time.perf_counter()
        given = self._given(leaves, args if not kwargs else ())
        names = code_names(self.fn, {})
        roots = {**step_roots(self.fn, leaves, given, names), "modules": list(_modules(entry))}
        try:
            state = StepState.scan(roots, names)
        except TooLarge:
            entry.verified = True
            self.replays += 1
            return entry.program.run(*leaves)
        before = state.snapshot()
        replayed = entry.program.run(*leaves)
        with_program = StepState.fingerprint({**roots, "result": _values(replayed)}, names)
        StepState.restore(before)
        result = self.fn(*args, **kwargs)
        with_eager = StepState.fingerprint({**roots, "result": _values(result)}, names)
        differ = differences(with_program, with_eager)
        self.verify_seconds += time.perf_counter() - start
        if differ and self.fullgraph:
            StepState.restore(before)
            raise CompileError(f"compile(fullgraph=True): the program's first replay differs from the eager step in "
                               f"{differ[0]}: the step computes something with numpy from its arguments; make it "
                               f"with tensor ops")
        if differ:
            self._warn(Break(f"the program's first replay differs from the eager step in {differ[0]}"
                             f"{f' and {len(differ) - 1} more value(s)' if len(differ) > 1 else ''}",
                             fix="this step runs eagerly (please report it: the trace missed something)"))
            self.eager_calls += 1
            return result
        entry.verified = True
        self.log.append(f"verified: the first replay equals the eager step ({len(with_eager)} values compared)")
        self.replays += 1
        return result

    def _break_now(self, problem: Break, args: tuple, kwargs: dict) -> Any:
        if self.fullgraph:
            raise CompileError(f"compile(fullgraph=True): {problem}")
        self._warn(problem)
        self.eager_calls += 1
        return self.fn(*args, **kwargs)

    def _warn(self, problem: Break, permanent: bool = True) -> None:
        if permanent:
            self.breaks.append(problem)
        text = f"compile: {getattr(self.fn, '__qualname__', 'the step')} runs eagerly: {problem}"
        self.log.append(text)
        if text not in self.warned:
            self.warned.add(text)
            warnings.warn(text, GraphBreakWarning, stacklevel=_user_level())

    def explain(self) -> str:
        """What happened to this step: traces, replays, eager calls, each graph break and guard failure."""
        lines = [f"{getattr(self.fn, '__qualname__', 'step')}: traced {self.traces} time(s), {self.replays} "
                 f"replay(s), {self.eager_calls} eager call(s)" +
                 (f", {self.verify_seconds * 1e3:.1f} ms verifying" if self.verify_seconds else "")]
        lines += [f"  graph break: {b}" for b in self.breaks]
        lines += [f"  kept from the trace (checked against eager on other arguments): {f}"
                  for f in dict.fromkeys(f for e in self.programs for f in e.program.fresh)]
        lines += [f"  {entry}" for entry in dict.fromkeys(self.log) if not entry.startswith("compile:")]
        return "\n".join(lines)

    def source(self) -> str:
        """The generated program of the last call (Python text)."""
        if self.last is None:
            raise RuntimeError("source(): no program yet: the first call traces the step"
                               + (f" (it runs eagerly: {self.breaks[0]})" if self.breaks else ""))
        return self.last.source


def _array_of(value: Any) -> Any:
    return value._data if isinstance(value, Tensor) else value


def _same_arrays(traced: list, leaves: list) -> bool:
    """True when a program keeps arrays it made, and the arguments have the traced call's values, bit for bit."""
    return bool(traced) and all(isinstance(a, np.ndarray) and a.dtype == np.asarray(b).dtype and a.shape ==
                                np.shape(b) and a.tobytes() == np.asarray(b).tobytes() if isinstance(a, np.ndarray)
                                else True for a, b in zip(traced, map(_array_of, leaves)))


def _user_level() -> int:
    """The stacklevel of warnings.warn called here that names the line calling the compiled step."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _values(result: Any) -> Any:
    """What a step returned, tensors as their arrays (the program's tensors carry no graph)."""
    return tuple(_values(r) for r in result) if isinstance(result, tuple) else \
        result._data if isinstance(result, Tensor) else result


def _modules(entry: Entry) -> list:
    return [v for v in entry.program.namespace.values() if isinstance(v, (nn.Module, optim.Optimizer, Tensor))]


def compile(fn: Callable, cache_size: int = 8, fullgraph: bool = False,  # noqa: A001  (named as torch.compile)
            verify: bool = True) -> CompiledStep:
    """A training step `fn` (zero_grad, forward, backward, opt.step(), return the loss) as a `CompiledStep`.
    fullgraph: raise CompileError (state unchanged) instead of running eagerly where the step cannot be replayed.
    verify: check the first replay of each program against the eager step, bit for bit (one extra eager call)."""
    return CompiledStep(fn, cache_size, fullgraph, verify)
