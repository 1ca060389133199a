"""Walking the graph behind some tensors and drawing it with Graphviz: `draw` (a `graphviz.Digraph`) and `render`
(a file: .svg .png .pdf .dot).

    y = ((x @ W).tanh() ** 2).sum()
    tinygrad6.viz.render(y, path="y.svg")                     # values and, after backward, gradients
    tinygrad6.viz.render(loss, path="net.svg", collapse=True)  # each layer (innermost scope) as one box
    tinygrad6.viz.render(step, path="step.svg", collapse=True)  # a compiled step: forward, backward, update

Tensors are ellipses, ops are boxes, arrows follow the forward pass (input -> op -> output). Colours: `nn.Parameter`s
green, other leaves that require grad (an input like `x`) white with a green outline, data (leaves without grad)
grey, Python numbers as plain text ("constant 1e-05"), the drawn outputs (the loss) orange, intermediate tensors
blue; a legend says so. The operands of sub, div, pow and matmul are labelled a and b on their arrows.

Each tensor is shown by its name (`Tensor.name`, which `record_source()` and the library give in the book's words:
mu, xc, var, std, xn, out) or, unnamed, by a fallback name t1, t2, ... numbered without gaps in forward order.
The drawing, `trace` and the step-through page use the same names for the same graph (`GraphModel.label`).

A compiled step (`tinygrad6.compile(train_step)`, once called) is drawn from its last trace (`step.traced`): the
loss and each parameter's gradient are the outputs, the backward rules' ops sit in their forward op's scope, and
each `opt.step()` of the step's program is one update box (orange-red) with an arrow from every gradient.

Each `scope(...)` block, and so each call of an nn Module, is a labelled cluster. The walk is iterative and every
step after it linear: a chain of 100,000 ops becomes DOT text in seconds, without a RecursionError.

User text is data, never markup: tensor, scope and op names and op parameters are escaped so that the drawing
shows exactly the characters of the name (quotes, backslashes, `\\N`, `<b>`, `&amp;`, braces and `|` included).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

try:
    import graphviz
    from graphviz.quoting import quote
except ImportError as e:
    raise ImportError(
        "tinygrad6.viz needs the Python package graphviz: pip install graphviz. To render pictures it also needs "
        "Graphviz's dot program: sudo apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS) or "
        "conda install -c conda-forge graphviz (both at once with conda: conda install -c conda-forge "
        "python-graphviz). `import tinygrad6` works without them.", name="graphviz") from e

from ..engine.op import Op
from ..engine.tensor import Tensor
from ..nn.module import Parameter  # viz is a floor above nn (and `import tinygrad6` has loaded nn already)
from ..support.display import preview, shorten
from ..support.files import write_bytes, write_text

SHOW_KEYS = ("shape", "value", "grad", "source")
RANKDIRS = ("TB", "LR", "BT", "RL")
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

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
FALLBACK_AFTER = 10.0  # seconds render and the page give dot before they fall back to the drawing with cut arrows
LABEL_WIDTH = 24  # characters per line of values in a node: mean, std on one line, min, max on the next

INSTALL_HELP = (
    "Graphviz's `dot` program is needed to render a graph to {fmt} but was not found on PATH. Install Graphviz:\n"
    "    Debian/Ubuntu:  sudo apt-get install graphviz\n"
    "    macOS:          brew install graphviz\n"
    "    conda:          conda install -c conda-forge graphviz\n"
    "(the Python package `graphviz` only writes DOT text; it calls this program to draw it)."
)

# colour roles (torchviz-like: one colour per kind of node, explained by the legend)
TENSOR_STYLE: dict[str, dict[str, str]] = {
    "param": {"shape": "ellipse", "style": "filled", "fillcolor": "#c8e6c9", "color": "#2e7d32"},
    "leaf": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffffff", "color": "#2e7d32", "penwidth": "2"},
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#eeeeee", "color": "#757575"},
    "const": {"shape": "plaintext", "fontsize": "10", "fontcolor": "#424242", "height": "0.2", "margin": "0.02"},
    "intermediate": {"shape": "ellipse", "style": "filled", "fillcolor": "#e3f2fd", "color": "#1565c0"},
    "output": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffe0b2", "color": "#e65100",
               "penwidth": "2", "peripheries": "2"},
}
OP_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#fff9c4", "color": "#827717"}
UPDATE_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffccbc", "color": "#bf360c",
                "penwidth": "2"}
BOX_STYLE = {"shape": "box3d", "style": "filled", "fillcolor": "#e1bee7", "color": "#6a1b9a"}
CLUSTER_STYLE = {"style": "rounded,filled", "color": "#9e9e9e", "fontname": "Helvetica-Bold", "fontsize": "11",
                 "labeljust": "l"}
ROLE_TEXT = {
    "param": "nn.Parameter\n(learned, requires grad)",
    "leaf": "leaf that requires grad\n(an input like x)",
    "input": "data\n(leaf, no grad)",
    "const": "constant\n(a Python number)",
    "intermediate": "intermediate tensor",
    "output": "output / loss",
}

# Ops whose operand order matters for the math: their input arrows are labelled with the names in the formula.
OPERANDS: dict[str, tuple[str, str, str]] = {
    "sub": ("a", "b", "a - b"), "div": ("a", "b", "a / b"), "pow": ("a", "b", "a ** b"), "matmul": ("a", "b", "a @ b"),
}
# Ops with several inputs where the order matters but has no short formula: their arrows are numbered.
NUMBERED_INPUTS = {"where", "concatenate", "stack", "scatter_add", "clip"}

ScopePath = tuple[tuple[str, "int | None"], ...]


class GraphvizNotFoundError(RuntimeError):
    """`dot` is not installed; the message says how to install it. The .dot file was written anyway."""


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


# -- drawing --------------------------------------------------------------------------------------------------
def draw(*outputs, show: Iterable[str] | str = ("shape", "value", "grad"), rankdir: str = "TB",
         collapse: bool | Iterable[str] = (), legend: bool = True, max_ops: int | None = MAX_OPS,
         max_layout: int | None = MAX_LAYOUT) -> graphviz.Digraph:
    """The computation graph behind `outputs` (tensors, or one compiled step once called: see `compiled_parts`) as
    a `graphviz.Digraph` (displays inline in Jupyter; `.source` is the DOT text; `render` writes files).

    show: what tensor nodes print besides their name: "shape" (shape and dtype), "value" (the values when few,
        else mean/std/min/max), "grad" (the gradient once computed, "grad: not computed" before), "source"
        (in each op box, with `tinygrad6.record_source()` on: your file:line and the library's, e.g.
        "in layers.py:137" inside BatchNorm1d.forward; both are always in the tooltips).
    rankdir: "TB" (top to bottom, the default), "LR", "BT" or "RL".
    collapse: scope names to draw as one box each (e.g. ("BatchNorm1d",)), or True for every innermost scope
        (each layer); a box keeps its scope's inputs and outputs.
    legend: add a small legend of the node colours.
    max_ops: the most op nodes (ops plus collapsed boxes) to draw, MAX_OPS (2,000) by default: past a few thousand,
        Graphviz needs minutes. A bigger graph raises ValueError saying how to shrink it (collapse=True, or draw an
        intermediate tensor); max_ops=None draws any size (building the DOT text stays linear: seconds for 100,000
        ops).
    max_layout: the most `layout_cost` (an estimate of dot's work: nodes, plus a hidden node per rank crossed by a long
        arrow) to lay out as is, MAX_LAYOUT by default. Past it, arrows over more than LONG_ARROW ranks (a weight
        shared by every step of a loop) are cut: the tensor is drawn again, small and dashed, beside each op it feeds,
        and the drawing and a warning say so. 0: always cut them; None: never (dot may need minutes).

    Names are shown literally, never as markup: tensor, scope and op names, op parameters and source paths may
    hold quotes, backslashes (`\\N`), `<b>`, `&amp;`, braces, `|` and line breaks; the drawing shows those very
    characters. A control character other than tab and line breaks (NUL, ESC, ...) cannot pass through Graphviz
    or SVG: draw raises ValueError naming the text.
    """
    updates: list[Update] = []
    if len(outputs) == 1 and not isinstance(outputs[0], Tensor) and hasattr(outputs[0], "traced"):
        outputs, updates = compiled_parts(outputs[0])
    tensors = _check_outputs(outputs)
    show = (show,) if isinstance(show, str) else tuple(show)
    unknown = [k for k in show if k not in SHOW_KEYS]
    if unknown:
        raise ValueError(f"draw: unknown show key(s) {unknown}; valid keys are {list(SHOW_KEYS)}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {list(RANKDIRS)}, got {rankdir!r}")
    model = GraphModel.build(tensors, collapse)
    check_size(model, max_ops, "draw")
    return build_digraph(model, show, rankdir, legend, updates, max_layout)


def render(*outputs, path: str | os.PathLike, timeout: float | None = DOT_TIMEOUT, **draw_kwargs) -> Path:
    """Draw `outputs` (tensors or a compiled step; see `draw` for the keyword arguments, `max_ops=` included) and
    write the file `path`; the format comes from its suffix: .svg, .png, .pdf, or .dot (the DOT text, no Graphviz
    program needed). Returns the path. Names appear literally (see `draw`).

    When Graphviz's `dot` is not installed, the .dot file is written next to `path` and GraphvizNotFoundError
    says how to install it. `dot` runs for at most `timeout` seconds (None: no limit), else TimeoutError; a drawing
    that dot has not finished after FALLBACK_AFTER seconds is drawn again with its long arrows cut (see `draw`'s
    max_layout; not with max_layout=None), with a warning."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"render: cannot tell the format of {str(path)!r}; use one of the suffixes "
                         f"{sorted(FORMATS)}")
    graph = draw(*outputs, **draw_kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        return write_text(path, graph.source)
    fast = None if draw_kwargs.get("max_layout", MAX_LAYOUT) is None else (
        lambda: draw(*outputs, **dict(draw_kwargs, max_layout=0)))
    return write_bytes(path, pipe_or_cut(graph, fast, fmt, fallback_dot=path.with_suffix(".dot"), timeout=timeout))


def pipe_or_cut(graph: graphviz.Digraph, fast, fmt: str, fallback_dot: Path | None = None,
                timeout: float | None = DOT_TIMEOUT) -> bytes:
    """`pipe`, but when dot has not finished after FALLBACK_AFTER seconds and `fast()` (the same drawing with every
    long arrow cut) differs, warn and render that instead: no one waits minutes for a drawing that can be fast."""
    if fast is None or CUT_NOTE in graph.source or (timeout is not None and timeout <= FALLBACK_AFTER):
        return pipe(graph, fmt, fallback_dot, timeout)
    with warnings.catch_warnings(record=True) as said:  # said below, only if the cut drawing is used
        warnings.simplefilter("always")
        cut = fast()
    if CUT_NOTE not in cut.source:  # nothing to cut: no faster drawing to fall back to
        return pipe(graph, fmt, fallback_dot, timeout)
    try:
        return pipe(graph, fmt, fallback_dot, FALLBACK_AFTER)
    except TimeoutError:
        warnings.warn(f"Graphviz's dot had not finished after {FALLBACK_AFTER:g} s, so the drawing was made again "
                      f"with its long arrows cut ({said[-1].message if said else CUT_NOTE})", stacklevel=3)
        return pipe(cut, fmt, fallback_dot, None if timeout is None else timeout - FALLBACK_AFTER)


def pipe(graph: graphviz.Digraph, fmt: str, fallback_dot: Path | None = None,
         timeout: float | None = DOT_TIMEOUT) -> bytes:
    """Run `dot` on the graph and return the rendered bytes. A missing `dot` becomes GraphvizNotFoundError (after
    writing the DOT text to `fallback_dot`, if given), a run past `timeout` seconds TimeoutError, and a failing run
    RuntimeError with dot's own message."""
    source = graph.source
    program = shutil.which("dot")
    if program is None:
        message = INSTALL_HELP.format(fmt=fmt.upper())
        if fallback_dot is not None:
            write_text(fallback_dot, source)
            message += f"\nThe DOT text was written to {fallback_dot}."
        raise GraphvizNotFoundError(message)
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        nodes = source.count(" [label=")
        raise TimeoutError(f"Graphviz's dot did not finish drawing {nodes:,} nodes within {timeout:g} s; draw fewer "
                           f"(collapse=True, or an intermediate tensor) or pass a larger timeout=") from None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"Graphviz's dot failed (exit status {done.returncode}) drawing {fmt.upper()}: {error}")
    return done.stdout


def dot_available() -> bool:
    """True when Graphviz's `dot` program is on PATH."""
    return shutil.which("dot") is not None


def _check_outputs(outputs: Sequence) -> list[Tensor]:
    if len(outputs) == 1 and isinstance(outputs[0], (list, tuple)):
        outputs = tuple(outputs[0])
    if not outputs:
        raise ValueError("draw: give at least one tensor to draw, e.g. draw(loss)")
    for i, t in enumerate(outputs):
        if isinstance(t, Tensor):
            continue
        kind = type(t).__name__
        if callable(t) and hasattr(t, "parameters"):
            raise TypeError(f"draw: argument {i} is a {kind} module, not a tensor. A module has no graph until it "
                            f"runs: call it on an input and draw the result, e.g. draw(model(x)) or draw(loss)")
        raise TypeError(f"draw: argument {i} is a {kind}, not a Tensor; draw the Tensor computed from it")
    return list(outputs)


# The statements are written as DOT text into the Digraph's body (its documented list of verbatim lines) rather
# than through node()/edge(), which quote every attribute with regular expressions: about 20 µs a node, minutes
# for a big graph. Every piece of user text goes through `dot_label` or `dot_tooltip`; our own constant attributes
# are quoted by the graphviz package once, here.
def _attrs(attrs: dict[str, str]) -> str:
    return " ".join(f"{k}={quote(v)}" for k, v in sorted(attrs.items()))


_TENSOR_ATTRS = {role: _attrs(style) for role, style in TENSOR_STYLE.items()}
_TENSOR_CLASS = {role: quote(f"tensor {role}") for role in TENSOR_STYLE}
_OP_ATTRS = _attrs(OP_STYLE)
_BOX_ATTRS = _attrs(BOX_STYLE)
_UPDATE_ATTRS = _attrs(UPDATE_STYLE)
_REF_ATTRS = _attrs({"shape": "ellipse", "style": "dashed", "color": "#9e9e9e", "fontcolor": "#616161",
                     "fontsize": "9", "height": "0.2", "margin": "0.02"})
_INPUT_EDGE = _attrs({"fontsize": "10", "fontcolor": "#4e342e", "fontname": "Helvetica-Bold"})


def operand_names(op: Op) -> tuple[str, ...]:
    """What each input arrow of `op` is labelled with: a and b for sub, div, pow and matmul, 0, 1, ... for the
    other ops whose operand order matters, nothing for one input or a commutative op (add, mul, maximum...)."""
    if op.name in OPERANDS and len(op.inputs) == 2:
        return OPERANDS[op.name][:2]
    if op.name in NUMBERED_INPUTS and len(op.inputs) > 1:
        return tuple(str(i) for i in range(len(op.inputs)))
    return ()


def build_digraph(model: GraphModel, show: tuple[str, ...] = ("shape", "value", "grad"), rankdir: str = "TB",
                  legend: bool = True, updates: Sequence[Update] = (),
                  max_layout: int | None = MAX_LAYOUT) -> graphviz.Digraph:
    """The `graphviz.Digraph` of a built `GraphModel`: what `draw` returns once it has checked its arguments, and
    what the step-through page renders. `show`, `rankdir`, `legend` and `max_layout` as in `draw`, already checked;
    `updates` become boxes at the top level, fed by their gradients (outputs of the model). The number of ops is
    not checked here (call `check_size` first). ValueError names a tensor, scope or op name Graphviz cannot draw."""
    g = graphviz.Digraph("tinygrad6", graph_attr={"rankdir": rankdir, "nodesep": "0.25", "ranksep": "0.3",
                                                   "fontname": "Helvetica", "fontsize": "11"},
                         node_attr={"fontname": "Helvetica", "fontsize": "10", "height": "0.3"},
                         edge_attr={"arrowsize": "0.6", "color": "#616161"})
    _check_names(model)
    # 1. nodes, grouped by the cluster they live in
    members: dict[ScopePath, list[str]] = {}
    roles_seen: set[str] = set()
    for t in model.tensors:
        if not model.tensor_visible(t) or model.is_wire(t):
            continue
        role = model.role(t)
        roles_seen.add(role)
        members.setdefault(model.tensor_scope(t), []).append(_tensor_node(model, t, role, show))
    for op in model.ops:
        if model.op_box[id(op)] is None:
            members.setdefault(model.op_scope[id(op)], []).append(_op_node(model, op, show))
    for path, node_id in model.boxes.items():
        members.setdefault(path[:-1], []).append(_box_node(model, path, node_id))
    for i, update in enumerate(updates):
        members.setdefault((), []).append(f"update{i} [label={dot_label(update.lines)} class=update id=update{i} "
                                          f"tooltip={dot_tooltip(update.lines)} {_UPDATE_ATTRS}]\n")
    g.body.extend(_cluster_lines(members, model.scope_paths))

    # 2. edges: input -> op (one per use, so a + a has two) and op -> output; a collapsed box gets one per tensor.
    # Each is (source node, destination node, attributes, the source's name for a reference if the arrow is cut).
    seen_box_edges: set[tuple] = set()
    edges: list[tuple[str, str, str, str]] = []
    for op in model.ops:
        dst = model.op_node(op)
        into_box = model.op_box[id(op)] is not None
        operands = operand_names(op)
        for i, x in enumerate(op.inputs):
            if not model.tensor_visible(x):
                continue  # made and used inside the same box, or a constant swallowed by it
            src = model.tensor_id[id(x)]
            if model.is_wire(x):  # box -> box, labelled with the name and shape passed along
                src = model.op_node(x.creator)
                if (src, dst, id(x)) not in seen_box_edges:
                    seen_box_edges.add((src, dst, id(x)))
                    tip = dot_tooltip([f"{model.label(x)}: {shape_text(x)}"])
                    wire = dot_label([model.label(x), str(x.shape)])
                    edges.append((src, dst, f'label={wire} fontcolor="#616161" fontsize=9 '
                                  f"id=e_{src}_{dst}_{model.tensor_id[id(x)]} tooltip={tip}", model.label(x)))
            elif into_box:
                if (src, dst) not in seen_box_edges:
                    seen_box_edges.add((src, dst))
                    edges.append((src, dst, f"id=e_{src}_{dst}", model.label(x)))
            elif operands:
                edges.append((src, dst, f"label={dot_label([operands[i]])} id=e_{src}_{dst}_{i} {_INPUT_EDGE}",
                              model.label(x)))
            else:
                edges.append((src, dst, f"id=e_{src}_{dst}_{i}", model.label(x)))
        y = op.output
        if y is not None and id(y) in model.tensor_id and model.tensor_visible(y) and not model.is_wire(y):
            edges.append((dst, model.tensor_id[id(y)], f"id=e_{dst}_{model.tensor_id[id(y)]}", ""))
    for i, update in enumerate(updates):
        edges.extend((model.tensor_id[id(grad)], f"update{i}", f"id=e_{model.tensor_id[id(grad)]}_update{i}",
                      model.label(grad)) for grad in update.gradients)
    g.body.extend(_edge_lines(edges, max_layout))
    if legend:
        g.body.extend(_legend_lines(roles_seen, bool(model.boxes), bool(updates)))
    return g


CUT_NOTE = "long arrows cut"


def layout_cost(edges: Sequence[tuple[str, str]]) -> tuple[int, list[int]]:
    """An estimate of the work of Graphviz's dot, without running it: the nodes with an arrow, plus one hidden node
    for every rank an arrow crosses (dot lays out an arrow over k ranks as k - 1 invisible nodes). Ranks as dot's
    shortest arrows would place them: every node as low as it can go, one rank above its first reader (so a weight
    read by every step of a loop sits above the first step, and its arrows to the others are long). Returns the
    cost and each edge's span in ranks. Linear, no recursion."""
    readers: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}  # readers not yet placed, per node
    for src, dst in edges:
        readers.setdefault(src, []).append(dst)
        readers.setdefault(dst, [])
        waiting[src] = waiting.get(src, 0) + 1
    height = {node: 0 for node in readers if node not in waiting}  # ranks above the bottom: 0 for an output
    ready = list(height)
    inputs: dict[str, list[str]] = {}
    for src, dst in edges:
        inputs.setdefault(dst, []).append(src)
    while ready:  # Kahn's order from the bottom: a node is placed once all its readers are
        node = ready.pop()
        for src in inputs.get(node, ()):
            height[src] = max(height.get(src, 0), height[node] + 1)
            waiting[src] -= 1
            if waiting[src] == 0:
                ready.append(src)
    spans = [max(1, height.get(src, 0) - height.get(dst, 0)) for src, dst in edges]
    return len(readers) + sum(span - 1 for span in spans), spans


def _edge_lines(edges: list[tuple[str, str, str, str]], max_layout: int | None) -> list[str]:
    """The DOT lines of the edges; past `max_layout` (see `layout_cost`), every arrow over more than LONG_ARROW ranks
    is cut: a small dashed reference to its tensor stands beside the op instead, and a note says so (with a
    warning)."""
    cost, spans = layout_cost([(src, dst) for src, dst, _, _ in edges])
    cut = [] if max_layout is None or cost <= max_layout else [
        i for i, span in enumerate(spans) if span > LONG_ARROW and edges[i][3]]
    lines = []
    refs = set(cut)
    for i, (src, dst, attrs, name) in enumerate(edges):
        if i in refs:
            ref = f"ref{i}"
            lines.append(f"\t{ref} [label={dot_label([name])} class=ref id={ref} tooltip="
                         f"{dot_tooltip([f'{name}, drawn in full once: its long arrows are cut ({CUT_NOTE})'])} "
                         f"{_REF_ATTRS}]\n")
            src = ref
        lines.append(f"\t{src} -> {dst} [{attrs}]\n")
    if cut:
        names = sorted({edges[i][3] for i in cut})
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        note = (f"{CUT_NOTE}: {len(cut):,} arrows over more than {LONG_ARROW} ranks (from {shown}) are drawn as "
                f"dashed references beside their op, so that Graphviz lays this out in seconds (layout cost "
                f"{cost:,} > max_layout={max_layout:,}; max_layout=None draws them all, slowly)")
        warnings.warn(f"draw: {note}", stacklevel=4)
        lines.append(f"\tgraph [label={dot_label(textwrap.wrap(note, 100))} labelloc=t labeljust=l "
                     f'fontcolor="#bf360c"]\n')
    return lines


def _check_names(model: GraphModel) -> None:
    """ValueError naming the first tensor, scope or op name that Graphviz cannot draw (see `check_text`)."""
    for path in model.scope_paths:
        check_text(path[-1][0], "scope name")
    for t in model.tensors:
        if t.name is not None:
            check_text(str(t.name), "tensor name")
    for op in model.ops:
        check_text(op.name, "op name")


def _cluster_lines(members: dict[ScopePath, list[str]], paths: list[ScopePath]) -> list[str]:
    """Every node statement inside its (nested) cluster, as DOT lines; clusters without nodes are left out.
    Iterative, so any nesting depth works."""
    children: dict[ScopePath, list[ScopePath]] = {}
    for path in paths:
        children.setdefault(path[:-1], []).append(path)
    numbers = {path: i for i, path in enumerate(paths)}
    filled = {path for path, statements in members.items() if statements}
    for path in sorted(paths, key=len, reverse=True):  # a cluster with a filled child is filled
        if path in filled:
            filled.add(path[:-1])
    lines: list[str] = []
    stack: list[tuple[ScopePath, bool]] = [((), False)]
    while stack:
        path, closing = stack.pop()
        indent = "\t" * (len(path) + 1)
        if closing:
            lines.append(indent[:-1] + "}\n")
            continue
        if path:
            n = numbers[path]
            name = path[-1][0]
            where = "/".join(p[0] for p in path)
            fill = "#fafafa" if len(path) % 2 else "#f0f0f0"
            lines.append(f"{indent[:-1]}subgraph cluster_{n} {{\n")
            lines.append(f'{indent}graph [label={dot_label([name])} class=scope fillcolor="{fill}" id=scope_{n} '
                         f"tooltip={dot_tooltip([f'scope {where}'])} {_attrs(CLUSTER_STYLE)}]\n")
            stack.append((path, True))
        lines.extend(indent + statement for statement in members.get(path, ()))
        stack.extend((child, False) for child in reversed(children.get(path, ())) if child in filled)
    return lines


def _tensor_node(model: GraphModel, t: Tensor, role: str, show: tuple[str, ...]) -> str:
    node_id = model.tensor_id[id(t)]
    if role == "const":
        value = model.label(t)
        return (f"{node_id} [label={dot_label([f'constant {value}'])} class={_TENSOR_CLASS[role]} id={node_id} "
                f"tooltip={dot_tooltip([f'constant {value} ({t.dtype}): a Python number used by an op'])} "
                f"{_TENSOR_ATTRS[role]}]\n")
    name = model.label(t)
    shape = shape_text(t)
    lines = [name]
    if "shape" in show:
        lines.append(shape)
    if "value" in show:
        lines.extend(value_lines(t.data))
    if "grad" in show:
        lines.extend(grad_lines(t))
    tooltip = [f"{name}: {ROLE_TEXT[role].replace(chr(10), ' ')}", shape]
    if "value" not in show:  # the label shows them already
        tooltip.append(preview(t.data))
    if t.creator is not None:
        tooltip.append(f"made by {t.creator.name}")
        tooltip.extend(location_lines(t.creator))
    return (f"{node_id} [label={dot_label(lines)} class={_TENSOR_CLASS[role]} id={node_id} "
            f"tooltip={dot_tooltip(tooltip)} {_TENSOR_ATTRS[role]}]\n")


def _op_node(model: GraphModel, op: Op, show: tuple[str, ...]) -> str:
    node_id = model.op_id[id(op)]
    name = op.name
    lines = [name, *param_lines(op)]
    if op.name in OPERANDS and len(op.inputs) == 2:
        lines.append(OPERANDS[op.name][2])
    if "source" in show:
        lines.extend(location_lines(op, short=True))
    tooltip = [f"{name} ({node_id})"]
    tooltip += [f"{k}={shorten(_param_text(v), 60)}" for k, v in op.params.items()]
    if op.scope:
        tooltip.append("scope " + "/".join(op.scope))
    tooltip.extend(location_lines(op) or ["source: not recorded (use tinygrad6.record_source())"])
    return f"{node_id} [label={dot_label(lines)} class=op id={node_id} tooltip={dot_tooltip(tooltip)} {_OP_ATTRS}]\n"


def _box_node(model: GraphModel, path: ScopePath, node_id: str) -> str:
    inside = model.box_ops[path]
    counts: dict[str, int] = {}
    for op in inside:
        counts[op.name] = counts.get(op.name, 0) + 1
    summary = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items())
    where = "/".join(p[0] for p in path)
    count = f"{len(inside)} op" + ("s" if len(inside) != 1 else "")
    name = path[-1][0]
    return (f'{node_id} [label={dot_label([f"{name} ({count})"])} class="scope-box" id={node_id} '
            f"tooltip={dot_tooltip([f'scope {where} (collapsed)', summary])} {_BOX_ATTRS}]\n")


def _legend_lines(roles: set[str], has_boxes: bool, has_updates: bool = False) -> list[str]:
    lines = ['\tsubgraph cluster_legend {\n',
             '\t\tgraph [label=legend class=legend color="#bdbdbd" fontname=Helvetica fontsize=10 id=legend '
             'style="rounded,dashed"]\n']
    names = []
    entries = [(f"legend_{role}", ROLE_TEXT[role].split("\n"), TENSOR_STYLE[role])
               for role in ("param", "leaf", "input", "const", "intermediate", "output") if role in roles]
    entries.append(("legend_op", ["op"], OP_STYLE))
    if has_boxes:
        entries.append(("legend_box", ["collapsed scope"], BOX_STYLE))
    if has_updates:
        entries.append(("legend_update", ["optimizer update", "(opt.step(), not traced op by op)"], UPDATE_STYLE))
    for node_id, text, style in entries:
        lines.append(f"\t\t{node_id} [label={dot_label(text)} class=legend id={node_id} "
                     f"{_attrs(dict(style, fontsize='9'))}]\n")
        names.append(node_id)
    lines += [f"\t\t{a} -> {b} [style=invis]\n" for a, b in zip(names, names[1:])]
    lines.append("\t}\n")
    return lines


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
        lines.append(k if v is True else f"{k}={shorten(_param_text(v), 28)}")
    return lines


def _param_text(v) -> str:
    if isinstance(v, np.ndarray):
        return f"array{v.shape}"
    if isinstance(v, tuple):
        return "(" + ", ".join(_param_text(e) for e in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def short_source(source: str) -> str:
    """'/long/path/file.py:12' -> 'file.py:12'."""
    return os.path.basename(source)


def location_lines(op: Op, short: bool = False) -> list[str]:
    """Where `op` was created, as lines of text: the user's line and the tinygrad6 library line that made the op
    (e.g. in BatchNorm1d.forward), each when known; [] when no location was recorded. `short`: file names
    without their folders, for a label."""
    location = getattr(op, "location", None)
    if location is None:
        return []
    where = short_source if short else str
    lines = []
    if location.user:
        lines.append(("" if short else "your line: ") + where(location.user))
    if location.library:
        lines.append(("in " if short else "library line: ") + where(location.library))
    return lines


# -- user text into DOT ---------------------------------------------------------------------------------------
# NUL ends a C string inside dot, and XML (so SVG) allows no other C0 control character but tab and line breaks;
# a lone surrogate cannot be written as UTF-8.
_UNDRAWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# In a quoted DOT string `\"` is a quote; in a plain label `\\` is a backslash, `\n` a line break (`\N`, `\G`, `\l`
# ... would be expanded), and `&amp;` an ampersand (Graphviz decodes HTML entities in plain labels too).
_LABEL_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "&": "&amp;", "\n": "\\n", "\r": "\\n"})
# A tooltip is unescaped twice on its way into the SVG, so a backslash needs four; a line break is `&#10;`.
_TOOLTIP_ESCAPES = str.maketrans({"\\": "\\\\\\\\", '"': '\\"', "&": "&amp;", "\n": "&#10;", "\r": "&#10;"})
_DOT_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def check_text(text: str, what: str = "text") -> str:
    """`text` itself when Graphviz can draw it, else ValueError naming it (`what`: "tensor name", "scope name"...).
    Every character can be drawn but the control characters other than tab and line breaks, and lone surrogates."""
    bad = _UNDRAWABLE.search(text)
    if bad is None:
        return text
    char = bad.group()
    kind = "a lone surrogate (not valid Unicode)" if char >= "\ud800" else f"the control character U+{ord(char):04X}"
    raise ValueError(f"draw: the {what} {text!r} contains {kind}, which Graphviz and SVG cannot carry (NUL ends a "
                     f"string inside dot); rename it without control characters (tabs and line breaks are fine)")


def dot_label(lines: Sequence[str]) -> str:
    """A plain (never HTML-like) DOT label, quoted, that Graphviz draws as exactly these lines of text."""
    text = "\n".join(lines).replace("\r\n", "\n")
    check_text(text)
    escaped = text.translate(_LABEL_ESCAPES)
    if escaped.isidentifier() and escaped.isascii() and escaped.lower() not in _DOT_KEYWORDS:
        return escaped  # a bare DOT ID, as the graphviz package writes it
    return f'"{escaped}"'


def dot_tooltip(lines: Sequence[str]) -> str:
    """A DOT tooltip, quoted, that shows these lines exactly (tabs show as spaces)."""
    text = "\n".join(lines).replace("\r\n", "\n")
    check_text(text)
    return f'"{text.translate(_TOOLTIP_ESCAPES)}"'
