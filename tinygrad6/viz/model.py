"""The graph behind some tensors as data, before any Graphviz: `walk` (every tensor and op, in forward order),
`GraphModel` (node ids, names, roles, scopes and collapsed boxes), what a compiled step contributes (`compiled_parts`),
the size limits, and the lines of text a node shows. Needs numpy only: `viz.trace` and the step-through page's data
are built from it; `dot.py` turns it into DOT text and `drawing.py` has Graphviz lay that out.

Each tensor is shown by its name (`Tensor.name`, which `record_source()` and the library give in the book's words:
mu, xc, var, std, xn, out) or, unnamed, by a fallback name t1, t2, ... numbered without gaps in forward order.
The drawing, `trace` and the step-through page use the same names for the same graph (`GraphModel.label`).

A compiled step (`tinygrad6.compile(train_step)`, once called) is drawn from its last trace (`step.traced`): the
loss and each parameter's gradient are the outputs, the backward rules' ops sit in their forward op's scope, and
each `opt.step()` of the step's program is one update box (orange-red) with an arrow from every gradient.

The walk is iterative and every step after it linear: a chain of 100,000 ops becomes DOT text in seconds, without a
RecursionError.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..engine.op import Op
from ..engine.tensor import Tensor
from ..nn.module import Parameter  # viz is a floor above nn (and `import tinygrad6` has loaded nn already)
from ..support.display import preview, shorten
from ..support.locations import shown

# Graphviz's `dot` lays out graphs in superlinear time. Measured on a 2-core machine (benchmarks/viz_size.py), a
# chain of 1,000 ops takes 0.8 s, 2,000 ops 3 s, 3,000 ops 11 s and 4,000 ops 24 s; an MLP of 2,400 ops 3 s and of
# 4,800 ops 45 s. Past MAX_OPS, draw/render/backprop_html refuse and say how to collapse, cut or lift the limit.
MAX_OPS = 2_000
DOT_TIMEOUT = 120.0  # seconds: what MAX_OPS takes, forty times over
# Yet a graph far below MAX_OPS can take minutes: dot draws an arrow over k ranks as a chain of k - 1 invisible nodes
# and positions them all, superlinearly. A weight shared by every step of an unrolled loop, or a fan-out summed in
# a chain, has arrows over hundreds of ranks: an unrolled loop of 81 ops took 4 s, of 101 ops 10-23 s, a 150-op
# fan-out more than 90 s. `layout_cost` estimates that work without running dot; past MAX_LAYOUT the drawing cuts
# every arrow longer than LONG_ARROW ranks and draws its tensor again as a small reference beside the op it feeds
# (a note in the drawing and a warning say so). Measured on 2 busy cores (benchmarks/viz_size.py `loop_layout`):
# cost 2,021 (a 61-op loop) 0.7 s, 2,608 (a 100-op fan-out) 2.1 s, 3,006 (a 1,000-op chain, nothing long to cut)
# 2.1 s, 3,591 (an 81-op loop) 6.1 s; cut, a 201-op loop costs 558 and takes 0.2 s, a 300-op fan-out 905 and 0.3 s.
MAX_LAYOUT = 2_500
LONG_ARROW = 3
LABEL_WIDTH = 24  # characters per line of values in a node: mean, std on one line, min, max on the next


# Ops whose operand order matters for the math: their input arrows are labelled with the names in the formula.
OPERANDS: dict[str, tuple[str, str, str]] = {
    "sub": ("a", "b", "a - b"), "div": ("a", "b", "a / b"), "pow": ("a", "b", "a ** b"), "matmul": ("a", "b", "a @ b"),
}
# Ops with several inputs where the order matters but has no short formula: their arrows are numbered.
NUMBERED_INPUTS = {"where", "concatenate", "stack", "scatter_add", "clip"}

ScopePath = tuple[tuple[str, "int | None"], ...]


@dataclass
class Update:
    """A box for what a graph does not record: an optimizer's update, run by the program as `opt.step()`.
    `lines` is its label, `gradients` the tensors it reads (each drawn with an arrow into it)."""

    lines: list[str]
    gradients: list[Tensor]


def compiled_parts(step) -> tuple[list[Tensor], list[Update]]:
    """What to draw for a compiled step (anything with `traced`, `traced_params` and `traced_updates`, from its last
    trace): the loss and each parameter's gradient, with their whole graph, and one `Update` per optimizer whose
    `step()` the trace ran, labelled with the optimizer's repr and read by the gradients of its parameters.
    ValueError before the first call."""
    traced = list(step.traced)
    if not traced:
        raise ValueError(f"draw: the {type(step).__name__} has no traced graph yet; call the step once first: the "
                         f"first call traces it (a step that returns None and computes no gradient draws nothing)")
    grad_of = {id(p): g for p, g in zip(step.traced_params, traced[len(traced) - len(step.traced_params):])}
    updates = [Update([f"update by {opt!r}", f"{type(opt).__name__.lower()}.step()"],
                      [grad_of[id(p)] for p in getattr(opt, "params", ()) if id(p) in grad_of])
               for opt in step.traced_updates]
    return traced, updates


# -- the graph as data ----------------------------------------------------------------------------------------
def walk(outputs: Sequence[Tensor]) -> tuple[list[Tensor], list[Op]]:
    """Every tensor and op behind `outputs`, in forward (topological) order: a tensor comes after the tensors it
    was computed from, and each op comes right before its output. Iterative post-order DFS, no recursion."""
    tensors: list[Tensor] = []
    ops: list[Op] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(t, False) for t in reversed(outputs)]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            if t.creator is not None:
                ops.append(t.creator)
            tensors.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t.creator is not None:
            stack.extend((x, False) for x in reversed(t.creator.inputs) if id(x) not in seen)
    return tensors, ops


def scope_path(op: Op) -> ScopePath:
    """The op's nested scopes as (name, call_id) pairs; `call_id` tells two calls of the same layer apart."""
    return tuple((str(s), getattr(s, "call_id", None)) for s in getattr(op, "scope", ()))


@dataclass
class GraphModel:
    """What `draw` draws, before any Graphviz: node ids, roles, clusters and the collapsed boxes.

    Ids are short and stable: tensors t0, t1, ... and ops op0, op1, ... in forward order (`walk`), so the same
    code always gives the same ids; a named tensor shows its name but keeps its id as the node name. `names` is
    what each tensor is called on screen (see `label`). Everything
    per op (its scope path, its box, the node it is drawn as) is computed once in `build`, so drawing is linear."""

    outputs: list[Tensor]
    tensors: list[Tensor]
    ops: list[Op]
    collapse: bool | tuple[str, ...] = ()
    tensor_id: dict[int, str] = field(default_factory=dict)
    op_id: dict[int, str] = field(default_factory=dict)
    consumers: dict[int, list[Op]] = field(default_factory=dict)
    scope_paths: list[ScopePath] = field(default_factory=list)  # every scope instance, in first-use order
    boxes: dict[ScopePath, str] = field(default_factory=dict)  # collapsed scope -> its node id
    box_ops: dict[ScopePath, list[Op]] = field(default_factory=dict)  # collapsed scope -> the ops it swallows
    op_scope: dict[int, ScopePath] = field(default_factory=dict)
    op_box: dict[int, ScopePath | None] = field(default_factory=dict)
    output_ids: set[int] = field(default_factory=set)
    names: dict[int, str] = field(default_factory=dict)

    @classmethod
    def build(cls, outputs: Sequence[Tensor], collapse: bool | Iterable[str] = ()) -> GraphModel:
        tensors, ops = walk(outputs)
        if isinstance(collapse, str):
            collapse = (collapse,)
        collapse = collapse if isinstance(collapse, bool) else tuple(collapse)
        model = cls(list(outputs), tensors, ops, collapse)
        model.output_ids = {id(t) for t in outputs}
        model.op_scope = {id(op): scope_path(op) for op in ops}
        paths: dict[ScopePath, None] = {}
        for path in model.op_scope.values():
            for k in range(1, len(path) + 1):
                paths.setdefault(path[:k], None)
        model.scope_paths = list(paths)
        if not isinstance(collapse, bool):
            names = sorted({name for path in model.scope_paths for name, _ in path})
            missing = [name for name in collapse if name not in names]
            if missing:
                raise ValueError(f"draw: collapse names scopes {missing} that this graph does not have; its scopes "
                                 f"are {names} (an nn Module's scope is its class name, e.g. 'BatchNorm1d')")
        model.tensor_id = {id(t): f"t{i}" for i, t in enumerate(tensors)}
        model.op_id = {id(op): f"op{i}" for i, op in enumerate(ops)}
        model.names = model._names()
        for op in ops:
            for x in op.inputs:
                model.consumers.setdefault(id(x), []).append(op)
        model.boxes = {path: f"scope{i}" for i, path in enumerate(model._collapsed_paths())}
        for op in ops:
            box = model._find_box(model.op_scope[id(op)])
            model.op_box[id(op)] = box
            if box is not None:
                model.box_ops.setdefault(box, []).append(op)
        return model

    def _names(self) -> dict[int, str]:
        """Every tensor's on-screen name: its own, else t1, t2, ... in forward order over the unnamed tensors
        that are not Python-number constants (those show their value). A number that a named tensor already
        uses ("t3") is skipped, and a name that several tensors share (each layer's `out`, `h` in a loop) is
        numbered from its second use on (out, out#2, out#3 in forward order), so no two tensors look alike."""
        taken = {str(t.name) for t in self.tensors if t.name is not None}
        uses: dict[str, int] = {}
        names: dict[int, str] = {}
        n = 0
        for t in self.tensors:
            if t.name is not None:
                name = str(t.name)
                uses[name] = uses.get(name, 0) + 1
                names[id(t)] = name if uses[name] == 1 else f"{name}#{uses[name]}"
            elif self.role(t) != "const":
                n += 1
                while f"t{n}" in taken:
                    n += 1
                names[id(t)] = f"t{n}"
        return names

    def label(self, t: Tensor) -> str:
        """The name a tensor is shown by in the drawing, the trace and the page: `t.name`, or its fallback name
        (t1, t2, ...; a constant: its value)."""
        name = self.names.get(id(t))
        if name is None and self.role(t) == "const":  # 1e-05 as Python writes it, not numpy's 1.e-05
            return repr(t.data.item()) if t.dtype.kind in "fiub" else scalar_preview(t.data, max_chars=24)
        return name if name is not None else "?"

    # -- roles ------------------------------------------------------------------------------------------------
    def role(self, t: Tensor) -> str:
        """output, intermediate, param (an nn.Parameter), leaf (another leaf that requires grad, like an input
        x whose gradient is wanted), input (data: a leaf without grad) or const (a Python number)."""
        if id(t) in self.output_ids:
            return "output"
        if t.creator is not None:
            return "intermediate"
        if t.requires_grad:
            return "param" if isinstance(t, Parameter) else "leaf"
        if t.name is None and t.ndim == 0:
            return "const"  # a Python number wrapped by an operator (x + 1e-6): drawn small, next to its op
        return "input"

    # -- scopes -------------------------------------------------------------------------------------------------
    def _collapsed_paths(self) -> list[ScopePath]:
        paths = self.scope_paths
        if self.collapse is True:  # every innermost scope (the layers), not the model around them
            parents = {p[:-1] for p in paths}
            chosen = [p for p in paths if p not in parents]
        elif self.collapse:
            chosen = [p for p in paths if p[-1][0] in self.collapse]
        else:
            chosen = []
        # a collapsed scope inside another collapsed scope is hidden in the outer box
        chosen_set = set(chosen)
        return [p for p in chosen if not any(p[:k] in chosen_set for k in range(1, len(p)))]

    def _find_box(self, path: ScopePath) -> ScopePath | None:
        if self.boxes:
            for k in range(1, len(path) + 1):
                if path[:k] in self.boxes:
                    return path[:k]
        return None

    def op_node(self, op: Op) -> str:
        """The node an op is drawn as: its own box, or the box of its collapsed scope."""
        box = self.op_box[id(op)]
        return self.op_id[id(op)] if box is None else self.boxes[box]

    def drawn_ops(self) -> int:
        """How many op nodes the drawing has: each op drawn by itself, plus one per collapsed box."""
        return sum(box is None for box in self.op_box.values()) + len(self.boxes)

    def tensor_visible(self, t: Tensor) -> bool:
        """A tensor disappears only inside a collapsed box: made there and used only there, or a constant
        used only there."""
        if id(t) in self.output_ids:
            return True
        if t.creator is not None:
            if self.op_box[id(t.creator)] is None:
                return True
            inside = self.op_node(t.creator)
            return any(self.op_node(op) != inside for op in self.consumers.get(id(t), ()))
        if self.role(t) == "const":
            return any(self.op_box[id(op)] is None for op in self.consumers.get(id(t), ()))
        return True

    def is_wire(self, t: Tensor) -> bool:
        """A tensor passed from one collapsed box only to other collapsed boxes (Linear -> BatchNorm1d) is drawn
        as an arrow between them, labelled with its name and shape, rather than a node: half the height for a deep
        network. A name does not make it a node: the library names what it creates ("out"), and the box hides
        how it was made anyway."""
        if not self.boxes or t.creator is None or id(t) in self.output_ids:
            return False
        if self.op_box[id(t.creator)] is None or getattr(t, "_retains_grad", False):
            return False
        users = self.consumers.get(id(t), ())
        producer = self.op_node(t.creator)
        return bool(users) and all(self.op_box[id(op)] is not None and self.op_node(op) != producer for op in users)

    def tensor_scope(self, t: Tensor) -> ScopePath:
        """The cluster a tensor is drawn in: its creator's (or, for a collapsed creator, the box's parent);
        a constant sits with the op using it, a layer's parameter in its layer; other leaves at the top level."""
        if t.creator is not None:
            box = self.op_box[id(t.creator)]
            return self.op_scope[id(t.creator)] if box is None else box[:-1]
        users = self.consumers.get(id(t), ())
        if self.role(t) == "const":
            return self.op_scope[id(users[0])] if users else ()
        if isinstance(t, Parameter) and users:
            # a layer's own parameters (W, b, gamma, beta) sit in the layer's cluster when only that layer uses them
            paths = {self.op_box[id(op)][:-1] if self.op_box[id(op)] else self.op_scope[id(op)] for op in users}
            if len(paths) == 1:
                return paths.pop()
        return ()


def check_size(model: GraphModel, max_ops: int | None, caller: str) -> None:
    """Refuse a graph that Graphviz's `dot` would take minutes to lay out, saying how to make it smaller."""
    if max_ops is None:
        return
    drawn = model.drawn_ops()
    if drawn <= max_ops:
        return
    hints = []
    if caller != "backprop_html" and model.collapse is not True and model.scope_paths:
        boxed = GraphModel.build(model.outputs, collapse=True).drawn_ops()
        hints.append(f"collapse=True draws each layer (innermost scope) as one box: {boxed:,} ops and boxes")
    hints.append("draw a part: an intermediate tensor h, e.g. one layer's output (draw(h) shows only what h was "
                 "computed from)")
    if caller == "backprop_html":
        hints.append("viz.trace(loss) prints every backward step as text, at any size")
    hints.append("or pass max_ops=None to draw it all anyway (Graphviz may need minutes; see timeout=)")
    raise ValueError(f"{caller}: this graph has {drawn:,} ops to draw, more than max_ops={max_ops:,} (Graphviz's dot "
                     f"needs about 3 s for 2,000 ops and minutes past 4,000). To make it smaller: "
                     + "; ".join(hints) + ".")


def operand_names(op: Op) -> tuple[str, ...]:
    """What each input arrow of `op` is labelled with: a and b for sub, div, pow and matmul, 0, 1, ... for the
    other ops whose operand order matters, nothing for one input or a commutative op (add, mul, maximum...)."""
    if op.name in OPERANDS and len(op.inputs) == 2:
        return OPERANDS[op.name][:2]
    if op.name in NUMBERED_INPUTS and len(op.inputs) > 1:
        return tuple(str(i) for i in range(len(op.inputs)))
    return ()


# -- text -----------------------------------------------------------------------------------------------------
def shape_text(t: Tensor) -> str:
    return f"{'scalar' if t.ndim == 0 else t.shape} {_dtype_name(t.dtype)}"


@lru_cache(maxsize=64)
def _dtype_name(dtype: np.dtype) -> str:
    return str(dtype)  # numpy builds this name anew on every call (5 µs)


def value_lines(array: np.ndarray) -> list[str]:
    """`preview` of the array (the values when a few fit in 48 characters, else <mean= std= min= max=>) broken
    at spaces into lines of at most LABEL_WIDTH characters, so that a node stays narrow."""
    text = scalar_preview(array, max_chars=48) if array.ndim == 0 else preview(array, max_chars=48)
    if len(text) <= LABEL_WIDTH:
        return [text]
    return textwrap.wrap(text, LABEL_WIDTH, break_long_words=False, break_on_hyphens=False)


def scalar_preview(array: np.ndarray, max_chars: int = 60) -> str:
    """`preview` of a 0-d array, remembered by value: the same constants (0.5, 1e-5) come back in every layer, and
    numpy's array printing costs 15 µs a call."""
    return _scalar_preview(array.dtype.str, array.tobytes(), max_chars)


@lru_cache(maxsize=4096)
def _scalar_preview(dtype: str, data: bytes, max_chars: int) -> str:
    return preview(np.frombuffer(data, dtype=dtype).reshape(()), max_chars=max_chars)


def grad_lines(t: Tensor) -> list[str]:
    """'grad: not computed' until backward has filled .grad (never a misleading 0). Intermediate tensors keep no
    gradient unless asked (t.retain_grad() or tinygrad6.retain_grads()), so they get no grad line."""
    if not t.requires_grad:
        return []
    if t.grad is not None:
        lines = value_lines(t.grad.data)
        return [f"grad {lines[0]}", *lines[1:]]
    if t.creator is None or getattr(t, "_retains_grad", False):
        return ["grad: not computed"]
    return []


def param_lines(op: Op) -> list[str]:
    """The op's parameters worth printing under its name (axis=0, shape=(2, 3)...); masks and defaults left out,
    index arrays shown by their shape."""
    lines = []
    for k, v in op.params.items():
        if v is None or v is False or isinstance(v, np.ndarray):
            continue
        lines.append(k if v is True else f"{k}={shorten(param_text(v), 28)}")
    return lines


def param_text(v) -> str:
    if isinstance(v, np.ndarray):
        return f"array{v.shape}"
    if isinstance(v, tuple):
        return "(" + ", ".join(param_text(e) for e in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def short_source(source: str) -> str:
    """'/long/path/file.py:12' -> 'file.py:12'; a notebook cell's line as '<cell 5>:12'."""
    cell = shown(source)
    return cell if cell != source else os.path.basename(source)


def location_lines(op: Op, short: bool = False) -> list[str]:
    """Where `op` was created, as lines of text: the user's line and the tinygrad6 library line that made the op
    (e.g. in BatchNorm1d.forward), each when known; [] when no location was recorded. `short`: file names
    without their folders, for a label."""
    location = getattr(op, "location", None)
    if location is None:
        return []
    where = short_source if short else shown
    lines = []
    if location.user:
        lines.append(("" if short else "your line: ") + where(location.user))
    if location.library:
        lines.append(("in " if short else "library line: ") + where(location.library))
    return lines
