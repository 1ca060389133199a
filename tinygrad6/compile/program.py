"""The straight-line numpy program of one trace: one line per op, names from the graph, each value freed after its
last use, no expression reused across an effect. Names in the source are ASCII identifiers we make; user text only
ever appears inside repr()."""

from __future__ import annotations

import builtins
import keyword
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import ops
from ..engine.tensor import Tensor
from ..functional import DropoutMask  # a random op: kept even when unused, so a replay draws what eager draws
from .state import root
from .tracer import ArgumentArray, Break, Tracer, _shown

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
    """True when repr(value) is Python source that evaluates to an equal value of the same type (a float, whose repr
    may be inf or nan, is a constant instead)."""
    if type(value) in (tuple, list):
        return all(is_literal(v) for v in value)
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
        if x.requires_grad and id(x) not in self.leaf_tensors and id(x) not in self.known:
            raise Unsupported(Break(f"a tensor {_shown(x)} made inside the step requires grad",
                                    fix="create it outside the step (or pass it as an argument)"))
        if id(x) in self.leaf_tensors or (_layout(a) in self.inputs and x.creator is None and id(x) not in self.known):
            self.names[id(x)] = self.inputs[_layout(a)]  # an argument (x itself, or Tensor(x) made in the step)
        elif id(a) in self.by_array and id(x) not in self.known:  # x.detach(), Tensor(y): another tensor, one array
            self.names[id(x)] = self.by_array[id(a)]
        elif id(x) in self.known:  # a parameter, or a tensor made before the call: read on every call
            self.reads.append(x)
            name = self._name(x, identifier(x.name, "p"))
            self.lines.append((name, f"{self._global(x, 'param_' + name)}._data", [], False, None))
        elif (type(op) in (ops.Add, ops.Sub, ops.Mul, ops.Div, ops.Compare) and a.ndim == 0
              and x.dtype == np.float64 and np.isfinite(a) and all(y.dtype == np.float64 for y in inputs)
              and (type(op) is not ops.Compare or any(y is not x and (y.creator is not None or y.ndim or id(y) in
                                                                     self.known) for y in inputs))):
            # a float64 scalar: the same value and dtype as a Python float here (but 2.0 != 0.0 would be a Python bool)
            return repr(float(a))
        elif a.ndim == 0:  # a scalar constant: one per value and dtype, told apart bit for bit (0.0 and -0.0)
            key = (a.dtype.str, a.tobytes())
            if key not in self.scalars:
                self.scalars[key] = self._global(np.array(a), "zero" if a == 0 else "c")
            return self.scalars[key]
        else:  # an array made before the call, by the library, or by the step's own numpy code (kept, and checked)
            if id(a) not in self.known and not getattr(x, "_constant", False):
                self.fresh.append(f"an array of shape {a.shape} made during the traced call")
            self.names[id(x)] = self._global(a, identifier(x.name, "c"))
        return self.names[id(x)]

    def _generate(self, recorded: Tracer) -> None:
        grads = [e[2] for e in recorded.events if e[0] == "grad"]
        grad_of = {id(g): e[1] for e in recorded.events if e[0] == "grad" for g in [e[2]]}  # gradient -> its leaf
        # a gradient is stored as a copy unless its array was fresh memory of one tensor (so on every replay too)
        held = Counter(a for a, _ in {(id(x._data), id(x)) for e in recorded.events if e[0] == "op"
                                      for x in (e[2], *e[1].inputs)})  # id(array) -> how many tensors hold it
        copied = {id(g) for g in grads if g.creator is None or g._data.base is not None
                  or held[id(g._data)] != 1 or sum(h is g for h in grads) > 1}
        for event in recorded.events:
            match event:
                case ("op", op, out):
                    self._op(op, out, grad_of.get(id(out)))
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

    def _op(self, op, out: Tensor, leaf: Tensor | None) -> None:
        """The line computing `out`, op's output (the gradient of `leaf` when it is one)."""
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
        name = self._name(out, op.name if leaf is None else
                          "grad_" + self.names.get(id(leaf), identifier(leaf.name, "p")))
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
        group = {name: id(root(a)) for name, a in self.arrays.items()}
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


def _layout(a: np.ndarray) -> tuple:
    """What makes two arrays the same values in the same memory: root, address, shape, strides, dtype."""
    return (id(root(a)), a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str)


def store_grad(leaf: Tensor, g: np.ndarray, copy: bool) -> None:
    """What backward does with a leaf's gradient: leaf.grad = g (a copy when `copy`), or leaf.grad + g."""
    if leaf.grad is None:
        leaf.grad = Tensor._wrap(np.array(g) if copy else g)
    else:
        leaf.grad = Tensor._wrap(leaf.grad._data + g)

