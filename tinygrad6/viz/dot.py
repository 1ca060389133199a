"""A `GraphModel` as DOT text: `build_digraph` (a `graphviz.Digraph`), with colour roles and a legend, scopes as
nested clusters, and long arrows cut when Graphviz would need minutes to lay them out (`layout_cost`).

Tensors are ellipses, ops are boxes, arrows follow the forward pass (input -> op -> output). Colours: `nn.Parameter`s
green, other leaves that require grad (an input like `x`) white with a green outline, data (leaves without grad)
grey, Python numbers as plain text ("constant 1e-05"), the drawn outputs (the loss) orange, intermediate tensors
blue; a legend says so. The operands of sub, div, pow and matmul are labelled a and b on their arrows. Each
`scope(...)` block, and so each call of an nn Module, is a labelled cluster. User text goes through `escaping.py`.
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Sequence

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
from ..support.display import preview, shorten
from .escaping import check_text, dot_label, dot_tooltip
from .model import (
    LONG_ARROW,
    MAX_LAYOUT,
    OPERANDS,
    GraphModel,
    ScopePath,
    Update,
    grad_lines,
    location_lines,
    operand_names,
    param_lines,
    param_text,
    shape_text,
    value_lines,
)
from .trace import Replay

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
BACKWARD_STYLE = {"color": "#c62828", "fontcolor": "#c62828", "fontsize": "10", "penwidth": "1.5", "style": "dashed"}
_BACKWARD_EDGE = _attrs(dict(BACKWARD_STYLE, dir="back", constraint="false"))
_SEED_EDGE = _attrs(dict(BACKWARD_STYLE, dir="back"))



def build_digraph(model: GraphModel, show: tuple[str, ...] = ("shape", "value", "grad"), rankdir: str = "TB",
                  legend: bool = True, updates: Sequence[Update] = (),
                  max_layout: int | None = MAX_LAYOUT, backward: Replay | None = None) -> graphviz.Digraph:
    """The `graphviz.Digraph` of a built `GraphModel`: what `draw` returns once it has checked its arguments, and
    what the step-through page renders. `show`, `rankdir`, `legend` and `max_layout` as in `draw`, already checked;
    `updates` become boxes at the top level, fed by their gradients (outputs of the model); `backward`, a replayed
    backward pass of the model's output, adds one red arrow against each arrow (`backward_lines`). The number of
    ops is not checked here (call `check_size` first). ValueError names a tensor, scope or op name Graphviz cannot
    draw."""
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
    if backward is not None:
        g.body.extend(backward_lines(model, backward))
    if legend:
        g.body.extend(_legend_lines(roles_seen, bool(model.boxes), bool(updates), backward is not None))
    return g


def backward_lines(model: GraphModel, replay: Replay) -> list[str]:
    """The book's backward arrows (its figure 5-16), read from the records of `backward_steps`: against each arrow
    x -> op, the gradient the op's rule sent back to x (`Contribution.grad`, so a tensor used twice gets two arrows
    whose labels add up to its gradient); against op -> y, the complete gradient of y that the op received; and the
    seed, the gradient the output starts from. Each is drawn as `x -> op [dir=back]`, so the layout keeps the
    forward arrows' ranks. Ops inside a collapsed box get no backward arrows (the box hides what flows inside)."""
    lines = []

    def arrow(src: str, dst: str, grad, what: str, arrow_id: str, attrs: str = _BACKWARD_EDGE) -> None:
        label = value_lines(grad.data)
        lines.append(f"\t{src} -> {dst} [label={dot_label(label)} class=backward id={arrow_id} "
                     f"tooltip={dot_tooltip([what, *label])} {attrs}]\n")

    outputs = [t for t in model.outputs if id(t) in model.tensor_id and model.tensor_visible(t)]
    for t in outputs[:1]:  # the replay starts from the first output
        node = model.tensor_id[id(t)]
        lines.append(f'\tseed_{node} [label="" shape=point style=invis width=0.01]\n')
        arrow(node, f"seed_{node}", replay.seed, f"the seed: d{model.label(t)}/d{model.label(t)}", f"b_seed_{node}",
              _SEED_EDGE)  # the one arrow that places a node: the seed's start, after the output
    for step in replay.steps:
        op = step.op
        if model.op_box[id(op)] is not None:
            continue
        node = model.op_id[id(op)]
        y = op.output
        if y is not None and id(y) in model.tensor_id and model.tensor_visible(y):
            arrow(node, model.tensor_id[id(y)], step.grad_output,
                  f"d{model.label(model.outputs[0])}/d{model.label(y)}, the gradient {op.name} receives",
                  f"b_{node}_{model.tensor_id[id(y)]}")
        for i, (x, c) in enumerate(zip(op.inputs, step.contributions)):
            if c is None or c.grad is None or not model.tensor_visible(x) or model.is_wire(x):
                continue
            src = model.tensor_id[id(x)]
            arrow(src, node, c.grad, f"{op.name} sends {model.label(x)} its gradient "
                  f"({c.received} of {c.expected})", f"b_{src}_{node}_{i}")
    return lines


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
    tooltip += [f"{k}={shorten(param_text(v), 60)}" for k, v in op.params.items()]
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


def _legend_lines(roles: set[str], has_boxes: bool, has_updates: bool = False,
                  has_backward: bool = False) -> list[str]:
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
    if has_backward:
        entries.append(("legend_backward", ["red dashed arrow:", "the gradient flowing back"],
                        {"shape": "plaintext", "fontcolor": BACKWARD_STYLE["color"]}))
    for node_id, text, style in entries:
        lines.append(f"\t\t{node_id} [label={dot_label(text)} class=legend id={node_id} "
                     f"{_attrs(dict(style, fontsize='9'))}]\n")
        names.append(node_id)
    lines += [f"\t\t{a} -> {b} [style=invis]\n" for a, b in zip(names, names[1:])]
    lines.append("\t}\n")
    return lines
