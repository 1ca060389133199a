"""Walking the graph behind some tensors and drawing it with Graphviz: `draw` (a `graphviz.Digraph`) and `render`
(a file: .svg .png .pdf .dot).

    y = ((x @ W).tanh() ** 2).sum()
    tinygrad6.viz.render(y, path="y.svg")                     # values and, after backward, gradients
    tinygrad6.viz.render(loss, path="net.svg", collapse=True)  # each layer (innermost scope) as one box

Tensors are ellipses, ops are boxes, arrows follow the forward pass (input -> op -> output). Colours: parameters
(leaves with requires_grad) green, inputs and data (leaves without grad) grey, small constants as plain text, the
drawn outputs (the loss) orange, intermediate tensors blue; a legend says so. Each `scope(...)` block, and so each
call of an nn Module, is a labelled cluster. The walk is iterative: a chain of 10,000 ops draws without a
RecursionError.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import graphviz
import numpy as np

from ..nn import Parameter
from ..op import Op
from ..tensor import Tensor, preview

SHOW_KEYS = ("shape", "value", "grad", "source")
RANKDIRS = ("TB", "LR", "BT", "RL")
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

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
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#eeeeee", "color": "#757575"},
    "const": {"shape": "plaintext", "fontsize": "9", "fontcolor": "#555555", "height": "0.2", "margin": "0.02"},
    "intermediate": {"shape": "ellipse", "style": "filled", "fillcolor": "#e3f2fd", "color": "#1565c0"},
    "output": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffe0b2", "color": "#e65100",
               "penwidth": "2", "peripheries": "2"},
}
OP_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#fff9c4", "color": "#827717"}
BOX_STYLE = {"shape": "box3d", "style": "filled", "fillcolor": "#e1bee7", "color": "#6a1b9a"}
ROLE_TEXT = {
    "param": "parameter\n(leaf, requires grad)",
    "input": "input / data\n(leaf, no grad)",
    "const": "constant",
    "intermediate": "intermediate tensor",
    "output": "output / loss",
}

ScopePath = tuple[tuple[str, "int | None"], ...]


class GraphvizNotFoundError(RuntimeError):
    """`dot` is not installed; the message says how to install it. The .dot file was written anyway."""


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
    """The op's nested scopes as (name, call) pairs; `call` tells two calls of the same layer apart."""
    return tuple((str(s), getattr(s, "call", None)) for s in getattr(op, "scope", ()))


@dataclass
class GraphModel:
    """What `draw` draws, before any Graphviz: node ids, roles, clusters and the collapsed boxes.

    Ids are short and stable: tensors t0, t1, ... and ops op0, op1, ... in forward order (`walk`), so the same
    code always gives the same ids; a named tensor shows its name but keeps its id as the node name."""

    outputs: list[Tensor]
    tensors: list[Tensor]
    ops: list[Op]
    collapse: bool | tuple[str, ...] = ()
    tensor_id: dict[int, str] = field(default_factory=dict)
    op_id: dict[int, str] = field(default_factory=dict)
    consumers: dict[int, list[Op]] = field(default_factory=dict)
    boxes: dict[ScopePath, str] = field(default_factory=dict)  # collapsed scope -> its node id

    @classmethod
    def build(cls, outputs: Sequence[Tensor], collapse: bool | Iterable[str] = ()) -> GraphModel:
        tensors, ops = walk(outputs)
        if isinstance(collapse, str):
            collapse = (collapse,)
        collapse = collapse if isinstance(collapse, bool) else tuple(collapse)
        model = cls(list(outputs), tensors, ops, collapse)
        if not isinstance(collapse, bool):
            names = sorted({name for path in model.all_scope_paths() for name, _ in path})
            missing = [name for name in collapse if name not in names]
            if missing:
                raise ValueError(f"draw: collapse names scopes {missing} that this graph does not have; its scopes "
                                 f"are {names} (an nn Module's scope is its class name, e.g. 'BatchNorm1d')")
        model.tensor_id = {id(t): f"t{i}" for i, t in enumerate(tensors)}
        model.op_id = {id(op): f"op{i}" for i, op in enumerate(ops)}
        for op in ops:
            for x in op.inputs:
                model.consumers.setdefault(id(x), []).append(op)
        model.boxes = {path: f"scope{i}" for i, path in enumerate(model._collapsed_paths())}
        return model

    # -- roles ------------------------------------------------------------------------------------------------
    def role(self, t: Tensor) -> str:
        """param, input, const, intermediate or output."""
        if any(t is o for o in self.outputs):
            return "output"
        if t.creator is not None:
            return "intermediate"
        if t.requires_grad:
            return "param"
        if t.name is None and t.ndim == 0:
            return "const"  # a Python number wrapped by an operator (x + 1e-6): drawn small, next to its op
        return "input"

    # -- scopes -------------------------------------------------------------------------------------------------
    def all_scope_paths(self) -> list[ScopePath]:
        """Every scope instance used by an op, and every enclosing one, in first-use order."""
        paths: dict[ScopePath, None] = {}
        for op in self.ops:
            path = scope_path(op)
            for k in range(1, len(path) + 1):
                paths.setdefault(path[:k], None)
        return list(paths)

    def _collapsed_paths(self) -> list[ScopePath]:
        paths = self.all_scope_paths()
        if self.collapse is True:  # every innermost scope (the layers), not the model around them
            chosen = [p for p in paths if not any(len(q) > len(p) and q[:len(p)] == p for q in paths)]
        elif self.collapse:
            chosen = [p for p in paths if p[-1][0] in self.collapse]
        else:
            chosen = []
        # a collapsed scope inside another collapsed scope is hidden in the outer box
        return [p for p in chosen if not any(p[:k] in chosen for k in range(1, len(p)))]

    def box_of(self, op: Op) -> ScopePath | None:
        """The collapsed scope that swallows this op, or None when the op is drawn itself."""
        path = scope_path(op)
        for k in range(1, len(path) + 1):
            if path[:k] in self.boxes:
                return path[:k]
        return None

    def op_node(self, op: Op) -> str:
        """The node an op is drawn as: its own box, or the box of its collapsed scope."""
        box = self.box_of(op)
        return self.op_id[id(op)] if box is None else self.boxes[box]

    def tensor_visible(self, t: Tensor) -> bool:
        """A tensor disappears only inside a collapsed box: made there and used only there, or a constant
        used only there."""
        if self.role(t) == "output":
            return True
        if t.creator is not None:
            inside = self.op_node(t.creator)
            if inside == self.op_id[id(t.creator)]:
                return True
            return any(self.op_node(op) != inside for op in self.consumers.get(id(t), ()))
        if self.role(t) == "const":
            return any(self.box_of(op) is None for op in self.consumers.get(id(t), ()))
        return True

    def is_wire(self, t: Tensor) -> bool:
        """A tensor passed from one collapsed box only to other collapsed boxes (Linear -> BatchNorm1d) is drawn
        as a labelled arrow between them rather than a node: half the height for a deep network."""
        if not self.boxes or t.creator is None or t.name or self.role(t) == "output":
            return False
        if self.op_node(t.creator) == self.op_id[id(t.creator)] or getattr(t, "_retains_grad", False):
            return False
        users = self.consumers.get(id(t), ())
        producer = self.op_node(t.creator)
        return bool(users) and all(self.box_of(op) is not None and self.op_node(op) != producer for op in users)

    def tensor_scope(self, t: Tensor) -> ScopePath:
        """The cluster a tensor is drawn in: its creator's (or, for a collapsed creator, the box's parent);
        a constant sits with the op using it, a layer's parameter in its layer; other leaves at the top level."""
        if t.creator is not None:
            box = self.box_of(t.creator)
            return scope_path(t.creator) if box is None else box[:-1]
        users = self.consumers.get(id(t), ())
        if self.role(t) == "const":
            return scope_path(users[0]) if users else ()
        if isinstance(t, Parameter) and users:
            # a layer's own parameters (W, b, gamma, beta) sit in the layer's cluster when only that layer uses them
            paths = {self.box_of(op)[:-1] if self.box_of(op) else scope_path(op) for op in users}
            if len(paths) == 1:
                return paths.pop()
        return ()


# -- drawing --------------------------------------------------------------------------------------------------
def draw(*outputs: Tensor, show: Iterable[str] | str = ("shape", "value", "grad"), rankdir: str = "TB",
         collapse: bool | Iterable[str] = (), legend: bool = True) -> graphviz.Digraph:
    """The computation graph behind `outputs` as a `graphviz.Digraph` (displays inline in Jupyter; `.source` is
    the DOT text; `render` writes files).

    show: what tensor nodes print besides their name: "shape" (shape and dtype), "value" (the values when few,
        else mean/std/min/max), "grad" (the gradient once computed, "grad: not computed" before), "source"
        (file:line of the op, with `tinygrad6.record_source()` on; it is always in the tooltip).
    rankdir: "TB" (top to bottom, the default), "LR", "BT" or "RL".
    collapse: scope names to draw as one box each (e.g. ("BatchNorm1d",)), or True for every innermost scope
        (each layer); a box keeps its scope's inputs and outputs.
    legend: add a small legend of the node colours.
    """
    tensors = _check_outputs(outputs)
    show = (show,) if isinstance(show, str) else tuple(show)
    unknown = [k for k in show if k not in SHOW_KEYS]
    if unknown:
        raise ValueError(f"draw: unknown show key(s) {unknown}; valid keys are {list(SHOW_KEYS)}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {list(RANKDIRS)}, got {rankdir!r}")
    model = GraphModel.build(tensors, collapse)
    return _digraph(model, show, rankdir, legend)


def render(*outputs: Tensor, path: str | os.PathLike, **draw_kwargs) -> Path:
    """Draw `outputs` (see `draw` for the keyword arguments) and write the file `path`; the format comes from
    its suffix: .svg, .png, .pdf, or .dot (the DOT text, no Graphviz program needed). Returns the path.

    When Graphviz's `dot` is not installed, the .dot file is written next to `path` and GraphvizNotFoundError
    says how to install it."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"render: cannot tell the format of {str(path)!r}; use one of the suffixes "
                         f"{sorted(FORMATS)}")
    graph = draw(*outputs, **draw_kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(graph.source, encoding="utf-8")
        return path
    path.write_bytes(pipe(graph, fmt, fallback_dot=path.with_suffix(".dot")))
    return path


def pipe(graph: graphviz.Digraph, fmt: str, fallback_dot: Path | None = None) -> bytes:
    """Run `dot` on the graph and return the rendered bytes; a missing `dot` becomes GraphvizNotFoundError
    (after writing the DOT text to `fallback_dot`, if given)."""
    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        message = INSTALL_HELP.format(fmt=fmt.upper())
        if fallback_dot is not None:
            fallback_dot.write_text(graph.source, encoding="utf-8")
            message += f"\nThe DOT text was written to {fallback_dot}."
        raise GraphvizNotFoundError(message) from e


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


def _digraph(model: GraphModel, show: tuple[str, ...], rankdir: str, legend: bool) -> graphviz.Digraph:
    g = graphviz.Digraph("tinygrad6", graph_attr={"rankdir": rankdir, "nodesep": "0.25", "ranksep": "0.3",
                                                   "fontname": "Helvetica", "fontsize": "11"},
                         node_attr={"fontname": "Helvetica", "fontsize": "10", "height": "0.3"},
                         edge_attr={"arrowsize": "0.6", "color": "#616161"})
    # 1. nodes, grouped by the cluster they live in
    members: dict[ScopePath, list[tuple[str, dict[str, str]]]] = {}
    roles_seen: set[str] = set()
    for t in model.tensors:
        if not model.tensor_visible(t) or model.is_wire(t):
            continue
        role = model.role(t)
        roles_seen.add(role)
        members.setdefault(model.tensor_scope(t), []).append(_tensor_node(model, t, role, show))
    for op in model.ops:
        if model.box_of(op) is None:
            members.setdefault(scope_path(op), []).append(_op_node(model, op, show))
    for path, node_id in model.boxes.items():
        members.setdefault(path[:-1], []).append(_box_node(model, path, node_id))
    _emit_clusters(g, members, model.all_scope_paths())

    # 2. edges: input -> op (one per use, so a + a has two) and op -> output; a collapsed box gets one per tensor
    seen_box_edges: set[tuple] = set()
    for op in model.ops:
        dst = model.op_node(op)
        into_box = dst != model.op_id[id(op)]
        for i, x in enumerate(op.inputs):
            if not model.tensor_visible(x):
                continue  # made and used inside the same box, or a constant swallowed by it
            src = model.tensor_id[id(x)]
            if model.is_wire(x):  # box -> box, labelled with the shape passed along
                src = model.op_node(x.creator)
                if (src, dst, id(x)) not in seen_box_edges:
                    seen_box_edges.add((src, dst, id(x)))
                    g.edge(src, dst, id=f"e_{src}_{dst}_{model.tensor_id[id(x)]}", label=str(x.shape),
                           tooltip=f"{model.tensor_id[id(x)]}: {shape_text(x)}", fontsize="8", fontcolor="#616161")
            elif into_box:
                if (src, dst) not in seen_box_edges:
                    seen_box_edges.add((src, dst))
                    g.edge(src, dst, id=f"e_{src}_{dst}")
            elif len(op.inputs) > 1:
                g.edge(src, dst, id=f"e_{src}_{dst}_{i}", headlabel=str(i), labelfontsize="7",
                       labelfontcolor="#9e9e9e")
            else:
                g.edge(src, dst, id=f"e_{src}_{dst}_{i}")
        y = op.output
        if y is not None and id(y) in model.tensor_id and model.tensor_visible(y) and not model.is_wire(y):
            g.edge(dst, model.tensor_id[id(y)], id=f"e_{dst}_{model.tensor_id[id(y)]}")
    if legend:
        _legend(g, roles_seen, bool(model.boxes))
    return g


def _emit_clusters(g: graphviz.Digraph, members: dict[ScopePath, list], paths: list[ScopePath]) -> None:
    """Put every node in its (nested) cluster. Only the scopes' nesting depth is recursed, never the graph."""
    children: dict[ScopePath, list[ScopePath]] = {}
    for path in paths:
        children.setdefault(path[:-1], []).append(path)
    numbers = {path: i for i, path in enumerate(paths)}

    def fill(graph: graphviz.Digraph, path: ScopePath) -> None:
        for node_id, attrs in members.get(path, ()):
            graph.node(node_id, **attrs)
        for child in children.get(path, ()):
            if not _has_nodes(child, members, children):
                continue
            n = numbers[child]
            with graph.subgraph(name=f"cluster_{n}") as sub:
                name = child[-1][0]
                where = "/".join(p[0] for p in child)
                sub.attr(label=name, id=f"scope_{n}", tooltip=f"scope {where}", style="rounded,filled",
                         fillcolor="#fafafa" if len(child) % 2 else "#f0f0f0", color="#9e9e9e",
                         fontname="Helvetica-Bold", fontsize="11", labeljust="l", **{"class": "scope"})
                fill(sub, child)

    fill(g, ())


def _has_nodes(path: ScopePath, members: dict, children: dict) -> bool:
    stack = [path]
    while stack:
        p = stack.pop()
        if members.get(p):
            return True
        stack.extend(children.get(p, ()))
    return False


def _tensor_node(model: GraphModel, t: Tensor, role: str, show: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    node_id = model.tensor_id[id(t)]
    if role == "const":
        value = preview(t.data, max_chars=24)
        return node_id, {"label": _label([value]), "id": node_id, "tooltip": f"constant {value} ({t.dtype})",
                         "class": "tensor const", **TENSOR_STYLE["const"]}
    lines = [t.name or node_id]
    if "shape" in show:
        lines.append(shape_text(t))
    if "value" in show:
        lines.extend(value_lines(t.data))
    if "grad" in show:
        lines.extend(grad_lines(t))
    if "source" in show and t.creator is not None and t.creator.source:
        lines.append(short_source(t.creator.source))
    tooltip = [f"{t.name or node_id}: {ROLE_TEXT[role].replace(chr(10), ' ')}", shape_text(t),
               preview(t.data)]
    if t.creator is not None:
        tooltip.append(f"made by {t.creator.name}" + (f" at {t.creator.source}" if t.creator.source else ""))
    return node_id, {"label": _label(lines), "id": node_id, "tooltip": _tooltip(tooltip),
                     "class": f"tensor {role}", **TENSOR_STYLE[role]}


def _op_node(model: GraphModel, op: Op, show: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    node_id = model.op_id[id(op)]
    lines = [op.name, *param_lines(op)]
    if "source" in show and op.source:
        lines.append(short_source(op.source))
    tooltip = [f"{op.name} ({node_id})"]
    tooltip += [f"{k}={_short(_param_text(v), 60)}" for k, v in op.params.items()]
    if op.scope:
        tooltip.append("scope " + "/".join(op.scope))
    tooltip.append(f"created at {op.source}" if op.source else "source: not recorded (use tinygrad6.record_source())")
    return node_id, {"label": _label(lines), "id": node_id, "tooltip": _tooltip(tooltip), "class": "op",
                     **OP_STYLE}


def _box_node(model: GraphModel, path: ScopePath, node_id: str) -> tuple[str, dict[str, str]]:
    inside = [op for op in model.ops if model.box_of(op) == path]
    counts: dict[str, int] = {}
    for op in inside:
        counts[op.name] = counts.get(op.name, 0) + 1
    summary = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items())
    where = "/".join(p[0] for p in path)
    count = f"{len(inside)} op" + ("s" if len(inside) != 1 else "")
    return node_id, {"label": _label([f"{path[-1][0]} ({count})"]), "id": node_id,
                     "tooltip": _tooltip([f"scope {where} (collapsed)", summary]), "class": "scope-box",
                     **BOX_STYLE}


def _legend(g: graphviz.Digraph, roles: set[str], has_boxes: bool) -> None:
    with g.subgraph(name="cluster_legend") as lg:
        lg.attr(label="legend", id="legend", style="rounded,dashed", color="#bdbdbd", fontname="Helvetica",
                fontsize="10", **{"class": "legend"})
        names = []
        for role in ("param", "input", "const", "intermediate", "output"):
            if role in roles:
                style = dict(TENSOR_STYLE[role], fontsize="9")
                lg.node(f"legend_{role}", label=_label(ROLE_TEXT[role].split("\n")), id=f"legend_{role}",
                        **{"class": "legend"}, **style)
                names.append(f"legend_{role}")
        lg.node("legend_op", label="op", id="legend_op", **{"class": "legend"}, **dict(OP_STYLE, fontsize="9"))
        names.append("legend_op")
        if has_boxes:
            lg.node("legend_box", label=_label(["collapsed scope"]), id="legend_box", **{"class": "legend"},
                    **dict(BOX_STYLE, fontsize="9"))
            names.append("legend_box")
        for a, b in zip(names, names[1:]):
            lg.edge(a, b, style="invis")


# -- text -----------------------------------------------------------------------------------------------------
def shape_text(t: Tensor) -> str:
    return f"{'scalar' if t.ndim == 0 else t.shape} {t.dtype}"


def value_lines(array: np.ndarray) -> list[str]:
    """The values themselves when there are a few, else mean/std and min/max on two short lines."""
    if array.size <= 8:
        text = preview(array, max_chars=48)
        if not text.startswith("<"):
            return [text]
    if array.size == 0 or array.dtype.kind not in "fiub":
        return [f"{array.size} values"]
    a = array.astype(np.float64, copy=False)
    return [f"mean {a.mean():.3g}  std {a.std():.3g}", f"min {a.min():.3g}  max {a.max():.3g}"]


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
        lines.append(k if v is True else f"{k}={_short(_param_text(v), 28)}")
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


def _short(value, limit: int) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _label(lines: list[str]) -> graphviz.nohtml:
    """A multi-line DOT label: backslashes escaped, lines joined by DOT's line break, never read as HTML."""
    return graphviz.nohtml("\\n".join(line.replace("\\", "\\\\") for line in lines))


def _tooltip(lines: list[str]) -> str:
    return "&#10;".join(line.replace("\\", "\\\\").replace("&", "&amp;") for line in lines)
