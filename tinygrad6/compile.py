"""A compiled training step: trace one call of the step, then replay it as a generated straight-line numpy program.

    step = tinygrad6.compile(train_step)   # train_step(x, t): zero_grad, forward, backward, opt.step(), return loss
    loss = step(x, t)                      # the first call traces: it runs the step once, recording what it does
    loss = step(x, t)                      # later calls run the program: no Tensor, no Op, one numpy call a line
    print(step.source())                   # the program, with the tensor names of the graph

How it works, the guards and the limits: docs/compiled-step.md."""

from __future__ import annotations

import builtins
import inspect
import keyword
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from . import modes, nn, ops, optim
from .functional import DropoutMask  # a random op: kept even when unused, so a replay draws what eager draws
from .tensor import Tensor


class CompileError(RuntimeError):
    """A step that cannot be compiled; the message says why and what to do instead."""


class Trace:
    """What one traced call did, in order: `events`, tuples ("op", op, output), ("read" or "write", module, name,
    tensor), ("grad", leaf, gradient), ("call", object, method name)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.modules: dict[int, nn.Module] = {}

    def op(self, op, out: Tensor) -> None: self.events.append(("op", op, out))
    def read(self, module: nn.Module, name: str, t: Tensor) -> None: self.events.append(("read", module, name, t))
    def write(self, module: nn.Module, name: str, t: Tensor) -> None: self.events.append(("write", module, name, t))
    def module(self, module: nn.Module) -> None: self.modules.setdefault(id(module), module)

    def grad(self, leaf: Tensor, g: Tensor) -> None:
        if leaf._hooks:
            raise CompileError(f"compile: the tensor of shape {leaf.shape} named {leaf.name!r} has a hook; hooks do "
                               f"not run inside a compiled step. Remove it (handle.remove()) or run the step eagerly")
        set_grad(leaf, None)  # raises if leaf has a .grad (backward would add to it)
        self.events.append(("grad", leaf, g))

    def call(self, obj: Any, method: str) -> None:
        """Record `obj.method()` and run it untraced (the program calls it again on every replay)."""
        self.events.append(("call", obj, method))
        with modes._Mode(modes._tracing, None):
            getattr(obj, method)()


def trace(fn: Callable, *args: Any) -> tuple[Trace, Any]:
    """Run `fn(*args)` once under trace mode; returns the trace and what fn returned."""
    recorded = Trace()
    with modes._Mode(modes._tracing, recorded):
        return recorded, fn(*args)


# -- code generation ------------------------------------------------------------------------------------------------
COMPARE = {"equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">="}
# ops as numpy expressions: format strings over the arguments ({0}, {1}) and the op ({op.shape})
TEXT = {ops.Add: "{0} + {1}", ops.Sub: "{0} - {1}", ops.Mul: "{0} * {1}", ops.Div: "{0} / {1}", ops.Pow: "{0} ** {1}",
        ops.MatMul: "{0} @ {1}", ops.Neg: "-{0}", ops.Exp: "np.exp({0})", ops.Log: "np.log({0})",
        ops.Sqrt: "np.sqrt({0})", ops.Abs: "np.abs({0})", ops.Tanh: "np.tanh({0})", ops.ReLU: "np.maximum({0}, 0)",
        ops.Reshape: "{0}.reshape({op.shape!r})", ops.Transpose: "{0}.transpose({op.axes!r})",
        ops.BroadcastTo: "np.broadcast_to({0}, {op.shape!r})", ops.Cast: "{0}.astype(np.{op.dtype})"}
# elementwise ops whose ufunc can write the result into an input's memory (out=)
UFUNC = {ops.Add: "np.add", ops.Sub: "np.subtract", ops.Mul: "np.multiply", ops.Div: "np.divide",
         ops.Neg: "np.negative", ops.Exp: "np.exp", ops.Log: "np.log", ops.Sqrt: "np.sqrt", ops.Tanh: "np.tanh",
         ops.ReLU: "np.maximum"}


def numpy_text(op, args: list[str], local: set[str]) -> str | None:
    """The numpy expression that computes exactly what `op.forward(*args)` computes, or None (then the program
    calls op.forward itself). `local`: the program's variables (any other argument is a constant)."""
    kind = type(op)
    if kind in TEXT:
        return TEXT[kind].format(*args, op=op)
    if kind is ops.Where and args[2] not in local:  # where(cond, a, 0) as Where.forward computes it (ReLU's backward)
        cond, a, b = (x._data for x in op.inputs)  # with its test of a's finiteness made on every run
        if b.ndim == 0 and b == 0 and b.dtype == a.dtype and a.shape == cond.shape:
            return f"{args[1]} * {args[0]} if np.isfinite({args[1]}.sum()) else np.where({', '.join(args)})"
    if kind is ops.Compare:
        return f"{args[0]} {COMPARE[op.compare]} {args[1]}"
    if kind in (ops.Sum, ops.Mean, ops.Max, ops.Min):
        options = ", ".join(([f"axis={op.axis!r}"] if op.axis is not None else []) +
                            (["keepdims=True"] if op.keepdims else []))
        if kind is ops.Mean and op.inputs[0].dtype == np.float64:  # what x.mean computes, without its Python code
            return f"{args[0]}.sum({options}) / {op.inputs[0].size // max(op.output.size, 1)}"
        return f"{args[0]}.{op.name}({options})"
    if kind is ops.SumTo:  # sum_to's own steps, worked out on the traced shapes
        shape, lead = op.inputs[0].shape, op.inputs[0].ndim - len(op.shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(op.shape) if n != shape[lead + i])
        kept = tuple(n for i, n in enumerate(shape) if i not in axes)
        return (f"{args[0]}.sum(axis={axes!r})" if axes else args[0]) + ("" if kept == op.shape else
                                                                          f".reshape({op.shape!r})")


def identifier(text: str | None, default: str) -> str:
    name = re.sub(r"\W+", "_", text or "").strip("_") or default
    return "v_" + name if name[0].isdigit() or keyword.iskeyword(name) else name


class Program:
    """The straight-line program of one trace: `source` (Python text) and `run` (the function compiled from it)."""

    def __init__(self, recorded: Trace, fn: Callable, args: tuple, result: Any) -> None:
        self.namespace: dict[str, Any] = {"np": np, "Tensor": Tensor, "set_grad": set_grad}
        given = [identifier(n, "arg") for n in inspect.signature(fn).parameters]
        if len(given) != len(args) or len(set(given)) != len(given):  # *args, or names made equal by identifier
            given = [f"arg{i}" for i in range(len(args))]
        self.taken = set(self.namespace) | set(given) | set(dir(builtins))
        self.held: dict[int, str] = {}  # id(object) -> its global name (a parameter, module, optimizer, op)
        self.local = set(given)  # the program's local variables (deleted after their last use)
        self.names: dict[int, str] = {}  # id(tensor) -> its variable in the program
        self.by_array: dict[int, str] = {}  # id(array) -> variable, for tensors sharing a traced array (detach)
        # (target, text, names used, side effect, the ufunc form (ufunc, args, the expression it can replace))
        self.lines: list[tuple[str | None, str, list[str], bool, tuple | None]] = []
        self.arrays: dict[str, np.ndarray] = {}  # variable -> its traced array (memory plan: shapes and aliases)
        self.escaping: set[str] = set()  # variables that leave the program (stored gradients, buffers, the loss)
        self.prologue = [f"{a} = {a}._data" for a, v in zip(given, args) if isinstance(v, Tensor)]
        self.inputs = {id(_array(v)): a for a, v in zip(given, args) if _array(v) is not None}
        self.params: list[Tensor] = []  # the leaves read as parameters
        self.shared: dict[type, Callable] = {}  # one forward per op class without parameters
        self.scalars: dict[tuple, str] = {}  # (dtype, value) -> the constant's name
        self.computed: dict[str, str] = {}  # expression -> the variable holding it
        self.scope: tuple = ()  # the scope of the last op
        self._generate(recorded, result)
        out = self.names.get(id(result)) if isinstance(result, Tensor) else None
        if result is not None and out is None:
            raise CompileError(f"compile: the step returned {type(result).__name__}; return the loss tensor (not "
                               f"loss.item()) or None")
        name = identifier(getattr(fn, "__name__", None), "step")
        self.source = self._text(name, given, out)
        exec(builtins.compile(self.source, f"<compiled {getattr(fn, '__qualname__', 'step')}>", "exec"), self.namespace)
        self.run = self.namespace[name]
        self.training = [(m, m.training) for m in recorded.modules.values()]  # what `valid` checks
        self.owned = [(vars(m), k, v) for m, _ in self.training for k, v in vars(m).items() if isinstance(v, Tensor)]
        self.shapes = [(p, p.shape, p.dtype) for p in self.params if not isinstance(p, nn.Parameter)]
        self.reach = _reach(fn)

    def valid(self) -> bool:
        """Whether the program is still right: modules' `training` as traced, parameters still the modules' attributes
        (a plain tensor with its traced shape and dtype), the same modules and optimizers where fn finds them."""
        return (all(m.training == mode for m, mode in self.training) and all(d.get(k) is v for d, k, v in self.owned)
                and all((h.cell_contents if k is None else h.get(k)) is v for h, k, v in self.reach)
                and all(p._data.shape == s and p._data.dtype == d for p, s, d in self.shapes))

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
        if not isinstance(value, np.ndarray):
            self.held[id(value)] = name
        return name

    def _use(self, x: Tensor, op, inputs: tuple) -> str:
        """The program's expression for tensor x used by op: its variable, or a new one for a leaf seen first."""
        if (id(x) in self.names and isinstance(x.creator, ops.BroadcastTo) and type(op) in UFUNC
                and any(y.shape == op.output.shape and not isinstance(y.creator, ops.BroadcastTo) for y in inputs)):
            return self._use(x.creator.inputs[0], op, inputs)  # numpy broadcasts it alike, without the view
        if id(x) in self.names:
            return self.names[id(x)]
        if id(x._data) in self.inputs:
            self.names[id(x)] = self.inputs[id(x._data)]
        elif id(x._data) in self.by_array:  # x.detach(), Tensor(y): the same array under another tensor
            self.names[id(x)] = self.by_array[id(x._data)]
        elif x.requires_grad:  # a parameter: read on every call, so `p.data = ...` is seen
            self.params.append(x)
            name = self._name(x, identifier(x.name, "p"))
            self.lines.append((name, f"{self._global(x, 'param_' + name)}.data", [], False, None))
        elif (type(op) in (ops.Add, ops.Sub, ops.Mul, ops.Div, ops.Compare) and x._data.ndim == 0
              and x.dtype == np.float64 and np.isfinite(x._data) and all(y.dtype == np.float64 for y in inputs)):
            return repr(float(x._data))  # a float64 scalar: the same value and dtype as a Python float here
        elif x._data.ndim == 0 and not x.name:  # a scalar constant: one per value and dtype
            key = (x.dtype.str, x._data.item())
            if key not in self.scalars:
                self.scalars[key] = self._global(x._data, "zero" if key[1] == 0 else "c")
            return self.scalars[key]
        else:
            self.names[id(x)] = self._global(x._data, identifier(x.name, "c"))
        return self.names[id(x)]

    def _generate(self, recorded: Trace, result: Any) -> None:
        grad_of = {id(e[2]): e[1] for e in recorded.events if e[0] == "grad"}  # gradient -> its leaf
        grads = [e[2] for e in recorded.events if e[0] == "grad"]
        # a gradient is stored as a copy unless its array was fresh memory of one tensor (so on every replay too)
        held = Counter(a for a, _ in {(id(x._data), id(x)) for e in recorded.events if e[0] == "op"
                                      for x in (e[2], *e[1].inputs)})  # id(array) -> how many tensors hold it
        copied = {id(g) for g in grads if g.creator is None or g._data.base is not None or g is result
                  or held[id(g._data)] != 1 or sum(h is g for h in grads) > 1}
        zeroed: set[int] = set()  # leaves whose .grad an optimizer's zero_grad() in the program set to None
        for event in recorded.events:
            match event:
                case ("op", op, out):
                    self._op(op, out, grad_of.get(id(out)))
                case ("read", module, attr, t):
                    self.lines.append((self._name(t, attr), f"{self._global(module)}.{attr}", [], False, None))
                case ("write", module, attr, t):
                    value = self._use(t, None, ())
                    self._effect(f"{self._global(module)}.{attr} = {value}", value)
                case ("grad", leaf, g):
                    holder, value = self._global(leaf, f"param_{identifier(leaf.name, 'p')}"), self._use(g, None, ())
                    wrapped = f"np.array({value})" if id(g) in copied else value
                    self._effect(f"{holder}.grad = Tensor._wrap({wrapped})" if id(leaf) in zeroed  # .grad is None
                                 else f"set_grad({holder}, {wrapped})", value)
                case ("call", obj, method):
                    if method == "zero_grad" and isinstance(obj, optim.Optimizer):
                        zeroed.update(id(p) for p in obj.params)
                    self._effect(f"{self._global(obj)}.{method}()")

    def _op(self, op, out: Tensor, leaf: Tensor | None) -> None:
        """The line computing `out`, op's output (the gradient of `leaf` when it is one)."""
        if out._hooks:
            raise CompileError(f"compile: a hook is registered on the output of {op.name}; hooks do not "
                               f"run inside a compiled step. Remove it or run the step eagerly")
        _refuse_data_index(op, self.inputs)
        args = [self._use(x, op, op.inputs) for x in op.inputs]
        text = numpy_text(op, args, self.local)
        negated = op.inputs[0].creator if type(op) is ops.SumTo and id(op.inputs[0]) in self.names else None
        if isinstance(negated, ops.Neg):  # sum(-x) is -sum(x), bit for bit: one pass over x fewer
            args = [self._use(negated.inputs[0], None, ())]
            text = "-" + numpy_text(op, args, self.local)
        if text is None:  # an op without parameters shares one forward per class
            forward = op.forward if op.params else self.shared.setdefault(type(op), type(op)().forward)
            text = f"{self._global(forward, op.name + '_op')}({', '.join(args)})"
        if text in self.computed and leaf is None and not isinstance(op, DropoutMask):
            self.names[id(out)] = self.computed[text]  # the same expression again (x * x's two gradients)
            return
        name = self._name(out, op.name if leaf is None else
                          "grad_" + self.names.get(id(leaf), identifier(leaf.name, "p")))
        self.computed[text], self.arrays[name] = name, out._data
        ufunc = (UFUNC[type(op)], args + ["0"] * (type(op) is ops.ReLU), text) if type(op) in UFUNC else None
        if type(op) is ops.Where and text.startswith(f"{args[1]} * "):  # numpy_text's a * cond, which may write into a
            ufunc = ("np.multiply", [args[1], args[0]], f"{args[1]} * {args[0]}")
        comment = "  # " + "/".join(op.scope) if op.scope and op.scope != self.scope else ""  # where a layer starts
        self.scope = op.scope
        uses = [a for a in args if a in self.local]
        self.lines.append((name, text + comment, uses, isinstance(op, DropoutMask), ufunc))

    def _effect(self, text: str, value: str | None = None) -> None:
        """A line run for its effect; `value`, the variable it stores somewhere, leaves the program."""
        self.escaping.add(value)
        self.lines.append((None, text, [value] if value in self.local else [], True, None))

    def _text(self, fn_name: str, given: list[str], out: str | None) -> str:
        """The program: dead lines dropped, each variable deleted after its last use, and an elementwise op whose
        input dies there writes into that input's memory (out=) when shape and dtype match."""
        needed, kept = {out}, []
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
            for arg in ufunc[1] if ufunc and target not in self.escaping | {out} else ():
                a, y = self.arrays.get(arg), self.arrays[target]
                if (a is not None and a.base is None and a.ndim and a.shape == y.shape and a.dtype == y.dtype
                        and free_after[group[arg]] == i and arg not in self.escaping | {out}):
                    text = text.replace(ufunc[2], f"{ufunc[0]}({', '.join(ufunc[1])}, out={arg})", 1)
                    free_after[group[arg]] = free_after[group[target]]  # the result now lives in arg's memory
                    group[target] = group[arg]
                    break
            body.append(f"{target} = {text}" if target else text)
            dead = sorted(n for n in {*uses, target} - {None, out, *given} if last[n] == i)
            if dead:
                body.append(f"del {', '.join(dead)}")
        body.append(f"return Tensor._wrap({out})" if out else "return None")
        return f"def {fn_name}({', '.join(given)}):\n" + "".join(f"    {line}\n" for line in body)


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def set_grad(leaf: Tensor, g: np.ndarray | None) -> None:
    """leaf.grad = g (None: only check); CompileError if leaf has a gradient already (eager would add to it)."""
    if leaf.grad is not None:
        raise CompileError(f"compile: the tensor of shape {leaf.shape} named {leaf.name!r} already has a .grad, so "
                           f"backward would accumulate into it; call optimizer.zero_grad() inside the step")
    if g is not None:
        leaf.grad = Tensor._wrap(g)


def _refuse_data_index(op, inputs: dict[int, str]) -> None:
    """Indexing with an array of the step's inputs would bake the traced batch's index into the program."""
    index = getattr(op, "index", None)
    for part in index if isinstance(index, tuple) else (index,):
        if isinstance(part, np.ndarray) and (id(part) in inputs or id(part.base) in inputs):
            raise CompileError(f"compile: {op.name} indexes with the step's input {inputs.get(id(part)) or ''}, "
                               f"which would be fixed to the traced batch; build a mask with a comparison instead "
                               f"(one_hot = labels.reshape(-1, 1) == Tensor(np.arange(C))) and use where or *")


def _array(value: Any) -> np.ndarray | None:
    return value._data if isinstance(value, Tensor) else value if isinstance(value, np.ndarray) else None


# -- the compiled step ----------------------------------------------------------------------------------------------
class CompiledStep:
    """`fn` traced on its first call for each kind of arguments, replayed as a program after that. `programs` is the
    cache: (guard key, Program, its check) in trace order; a call runs the first whose key matches and check passes."""

    def __init__(self, fn: Callable, cache_size: int = 8) -> None:
        self.fn, self.cache_size = fn, cache_size
        self.programs: list[tuple[tuple, Program, Callable[[], bool]]] = []
        self.last: Program | None = None
        self.traces = 0  # how many times fn was traced
        # for viz.draw(step), from the last trace: loss and gradients, each gradient's parameter, optimizers stepped
        self.traced, self.traced_params, self.traced_updates = [], [], []  # type: ignore[var-annotated]

    def __call__(self, *args: Any) -> Tensor | None:
        if modes._anomaly.get():  # its checks would not run in a replay
            raise CompileError("compile: detect_anomaly() is on, and its checks do not run inside a compiled step; "
                               "leave the detect_anomaly() block, or call the step function itself")
        key = (modes._grad_enabled.get(),) + tuple(_key(a) for a in args)
        for known, program, valid in self.programs:
            if known == key and valid():
                self.last = program
                return program.run(*args)
        recorded, result = trace(self.fn, *args)
        program = Program(recorded, self.fn, args, result)
        self.programs = self.programs[len(self.programs) + 1 - self.cache_size:] + [(key, program, program.valid)]
        self.last, self.traces = program, self.traces + 1
        self.traced_params, grads = list(zip(*[e[1:] for e in recorded.events if e[0] == "grad"])) or ((), ())
        self.traced = [result] * (result is not None) + list(grads)
        self.traced_updates = [e[1] for e in recorded.events if e[0] == "call" and e[2] == "step"]
        return None if result is None else Tensor._wrap(result._data)

    def source(self) -> str:
        """The generated program of the last call (Python text)."""
        if self.last is None:
            raise RuntimeError("source(): the step has not been called yet; the first call traces it")
        return self.last.source


def compile(fn: Callable, cache_size: int = 8) -> CompiledStep:  # noqa: A001  (named as torch.compile)
    """A training step `fn` (zero_grad, forward, backward, opt.step(), return the loss) as a `CompiledStep`."""
    return CompiledStep(fn, cache_size)


def _key(arg: Any) -> tuple:
    array, plain = _array(arg), isinstance(arg, (int, float, str, bool, type(None)))
    return (type(arg), array.shape, array.dtype) if array is not None else (type(arg), arg if plain else id(arg))


def _reach(fn: Callable) -> list[tuple[Any, str | None, Any]]:
    """(holder, key, value) for every module and optimizer fn finds in a closure cell (holder the cell, key None), a
    global, or one level down (an attribute or dict entry of one: a trainer's model); holder a dict otherwise."""
    kinds, scope = (nn.Module, optim.Optimizer), getattr(fn, "__globals__", {})
    top = [(c, None, c.cell_contents) for c in getattr(fn, "__closure__", None) or ()]
    top += [(scope, n, scope[n]) for n in getattr(getattr(fn, "__code__", None), "co_names", ()) if n in scope]
    top += [(None, None, fn.__self__)] if hasattr(fn, "__self__") else []  # a bound method: its object is fixed
    found = []
    for holder, key, value in top:
        inner = vars(value) if hasattr(value, "__dict__") and not isinstance(value, type) else value
        if isinstance(value, kinds) and holder is not None:
            found.append((holder, key, value))
        elif isinstance(inner, dict):
            found += [(inner, k, v) for k, v in inner.items() if isinstance(v, kinds)]
    return found
