"""The step-through page of a backward pass: `backprop_html(loss, path)` writes it as one self-contained HTML file,
`stepper(loss)` shows it inline in a Jupyter cell (and `.save(path)` writes the same file).

The page holds the graph as inline SVG (drawn by Graphviz) and one record per `backward_steps` step as inline
JSON; a little inline JavaScript highlights, at step k, the op being processed, the gradient arriving at its
output and the gradients it sends to each input, and marks every tensor whose gradient is final. Next/Prev
buttons, the arrow keys and a slider move between steps; step k of the page is record k of `backward_steps`
(and row k of `trace`). Nothing is fetched from a network, and no `.grad` is changed. The page's template, style
and script are the files page/stepper.html, stepper.css and stepper.js next to this module (package data, read
through importlib.resources): open them to change how the page looks or behaves.

Each step also shows why: the op's backward rule (the formula from the op's docstring and the source of its
`backward`), the lines of code that created the op (the user's line and the library line, e.g. in
`BatchNorm1d.forward`), where broadcasting was undone (the rule's gradient shape, and the input's shape it was
summed to), and accumulation as it happens: a tensor with several consumers shows "1 of 2 contributions
received", each contribution, the running sum, and the step at which the sum is final.

Names are data, never markup: the template is filled in one pass (inserted text is never read again), the step
records are JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped, and the panel writes every name as text; so a
tensor named `</script><script>...` or `__DATA__` shows exactly that and runs nothing. In a notebook the page sits
in a sandboxed iframe (`srcdoc`, escaped as an attribute), so several steppers in one notebook share no ids or
scripts.
"""

from __future__ import annotations

import functools
import html
import inspect
import itertools
import json
import linecache
import math
import os
import re
import textwrap
from importlib.resources import files
from pathlib import Path

import numpy as np

from ..engine.op import Op
from ..engine.tensor import ArrayLike, Tensor
from ..support.display import preview
from ..support.files import write_text
from ..support.locations import shown
from .model import DOT_TIMEOUT, MAX_LAYOUT, MAX_OPS, OPERANDS, check_size, operand_names, shape_text
from .trace import Replay, grad_norm, replay_backward

MAX_VALUES = 64  # tensors up to this size show every value; larger ones show a summary
MAX_EMBEDDED = 16  # and up to this size the page's data also holds them at full precision (for readers and tests)


def backprop_html(loss: Tensor, path: str | os.PathLike, grad: ArrayLike | None = None, *,
                  title: str | None = None, max_ops: int | None = MAX_OPS, max_layout: int | None = MAX_LAYOUT,
                  timeout: float | None = DOT_TIMEOUT) -> Path:
    """Write the step-through page of `loss`'s backward pass to `path` (one .html file) and return the path.

    Works before or after `loss.backward()` as long as the graph is still there (after a backward that released
    it, call `backward(retain_graph=True)` instead). With `tinygrad6.record_source()` on while building the
    graph, each step shows the lines of code that created its op (yours, and the library's). Needs Graphviz's
    `dot` for the drawing, which runs for at most `timeout` seconds.

    Tensor, scope and op names and `title` are shown literally, never run as HTML or script (see `draw` for the
    control characters Graphviz refuses). A graph of more than `max_ops` ops (MAX_OPS, 2,000, by default) raises
    ValueError: Graphviz needs minutes past a few thousand; `viz.trace(loss)` prints the steps of any size, and
    max_ops=None builds the page anyway. A graph whose layout would be slow (see `draw`'s max_layout: a weight
    shared by every step of a loop) is drawn with its long arrows cut, and the page says so."""
    return Stepper(page_html(loss, grad, title=title, max_ops=max_ops, max_layout=max_layout,
                             timeout=timeout)).save(path)


class Stepper:
    """The step-through page as an object: shown inline by Jupyter (`_repr_html_`, a sandboxed iframe holding the
    whole page, no network), written to a file by `save(path)`; `html` is the page's text."""

    _ids = itertools.count()

    def __init__(self, page: str, height: int = 760) -> None:
        self.html = page
        self.height = height

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to `path` (one .html file) and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text(path, self.html)

    def _repr_html_(self) -> str:
        # srcdoc is an attribute: html.escape with quote=True leaves no character that could end it. The iframe
        # gives the page its own document, so two steppers in one notebook share no element ids or scripts, and
        # sandbox="allow-scripts" without allow-same-origin keeps it away from the notebook.
        frame_id = f"tinygrad6-stepper-{os.getpid()}-{next(Stepper._ids)}"
        return (f'<iframe id="{frame_id}" class="tinygrad6-stepper" sandbox="allow-scripts" '
                f'style="width: 100%; height: {int(self.height)}px; border: 1px solid #ddd" '
                f'srcdoc="{html.escape(self.html, quote=True)}"></iframe>')

    def __repr__(self) -> str:
        return f"<Stepper: step-through page of {len(self.html):,} characters; .save(path) writes it>"


def stepper(loss: Tensor, grad: ArrayLike | None = None, *, title: str | None = None,
            max_ops: int | None = MAX_OPS, max_layout: int | None = MAX_LAYOUT, timeout: float | None = DOT_TIMEOUT,
            height: int = 760) -> Stepper:
    """The step-through page of `loss`'s backward pass (see `backprop_html`) as a `Stepper`: the last expression
    of a Jupyter cell shows it inline, `height` pixels tall; `.save(path)` writes the same page to a file."""
    return Stepper(page_html(loss, grad, title=title, max_ops=max_ops, max_layout=max_layout, timeout=timeout),
                   height)


def page_html(loss: Tensor, grad: ArrayLike | None = None, *, title: str | None = None,
              max_ops: int | None = MAX_OPS, max_layout: int | None = MAX_LAYOUT,
              timeout: float | None = DOT_TIMEOUT) -> str:
    """The step-through page of `loss`'s backward pass as HTML text (see `backprop_html`)."""
    replay = replay_backward(loss, grad, caller="backprop_html")
    model = replay.model
    check_size(model, max_ops, "backprop_html")
    show = ("shape", "value")
    from .dot import build_digraph  # Graphviz only for the drawing: the page's data (page_data) needs numpy alone
    from .drawing import pipe_or_cut

    fast = None if max_layout is None else (lambda: build_digraph(model, show, max_layout=0))
    svg = pipe_or_cut(build_digraph(model, show, max_layout=max_layout), fast, "svg", timeout=timeout).decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline SVG in HTML needs neither
    data = page_data(replay)
    title = title or f"Backward pass of {model.label(loss)}"
    values = {"TITLE": html.escape(title), "CSS": page_file("stepper.css"), "SVG": svg, "DATA": script_json(data),
              "JS": page_file("stepper.js")}
    return fill_template(page_file("stepper.html"), values)


def page_data(replay: Replay) -> dict:
    """The page's data: one record per backward step (the op, its rule, where it was created, the gradient
    arriving, and per input the gradient sent, the shape it was summed from, and the accumulation so far).

    Proportionate: a gradient recurs (sent by one step, summed, final, arriving at the next op) and a rule recurs
    for every op of its class, so each is stored once, in `grads` and `rules`, and the records hold its index or
    key (`expand` puts them back in place, as the page's script does)."""
    model = replay.model
    steps = replay.steps
    grads: list[dict] = []
    grad_index: dict[tuple, int] = {}
    rules: dict[str, dict] = {}

    def grad_ref(g: Tensor) -> int:
        a = np.asarray(g.data)
        key = (a.dtype.str, a.shape, a.tobytes())
        if key not in grad_index:
            grad_index[key] = len(grads)
            grads.append(grad_info(g))
        return grad_index[key]

    def rule_ref(op: Op) -> str:
        key = f"{type(op).__module__}.{type(op).__qualname__}"
        rules.setdefault(key, backward_rule(type(op)))
        return key

    def tensor_info(t: Tensor) -> dict:
        return {"node": model.tensor_id.get(id(t), ""), "label": model.label(t), "shape": shape_text(t),
                "role": model.role(t)}

    parts: dict[int, list[list[int]]] = {}  # tensor -> [step, slot] of each contribution so far, for the panel

    records = []
    for step in steps:
        op = step.op
        operands = operand_names(op) or ("",) * len(op.inputs)
        inputs = []
        for i, (x, c) in enumerate(zip(op.inputs, step.contributions)):
            info = tensor_info(x)
            info["needs_grad"] = x.requires_grad
            info["grad"] = None if c is None or c.grad is None else grad_ref(c.grad)
            info["operand"] = operands[i]
            if c is not None and c.grad is not None and c.rule_grad.shape != x.shape:
                info["summed_from"] = list(c.rule_grad.shape)  # the rule gave the broadcast shape; summed to x's
            if c is not None:  # what backward_steps counted: the k-th of n gradients, and their sum so far
                parts.setdefault(id(x), []).append([step.index, i])
                info["accumulation"] = {
                    "received": c.received, "of": c.expected, "parts": list(parts[id(x)]),
                    "final": c.received == c.expected, "sum": None if c.total is None else grad_ref(c.total),
                }
            inputs.append(info)
        user, library = _locations(op)
        records.append({
            "index": step.index,
            "op": model.op_id[id(op)],
            "name": op.name,
            "params": ", ".join(f"{k}={v!r}" for k, v in op.params.items() if not isinstance(v, np.ndarray)),
            "formula": OPERANDS[op.name][2] if op.name in OPERANDS else "",
            "scope": "/".join(op.scope),
            "source": shown(op.source) if op.source else "",
            "code": _source_line(op.source),
            "user": user,
            "library": library,
            "rule": rule_ref(op),
            "output": tensor_info(op.output) if op.output is not None else
            {"node": "", "label": "?", "shape": "", "role": ""},
            "grad_output": grad_ref(step.grad_output),
            "inputs": inputs,
            "finalized": [dict(tensor_info(t), grad=grad_ref(g), leaf=t.creator is None) for t, g in step.finalized],
        })
    loss = model.outputs[0]
    loss_info = dict(tensor_info(loss), grad=grad_ref(replay.seed), leaf=loss.creator is None)
    return {"loss": loss_info, "steps": records, "ops": len(model.ops), "grads": grads, "rules": rules,
            "source_recorded": any(r["user"] or r["library"] for r in records)}


def expand(data: dict) -> dict:
    """The page's data with every gradient index and rule key replaced by what it refers to (in place), as the
    page's script does when it loads: the records as if each held its own copies."""
    grad = lambda i: None if i is None else data["grads"][i]  # noqa: E731
    data["loss"]["grad"] = grad(data["loss"]["grad"])
    for step in data["steps"]:
        step["rule"] = data["rules"][step["rule"]]
        step["grad_output"] = grad(step["grad_output"])
        for x in step["inputs"]:
            x["grad"] = grad(x["grad"])
            if "accumulation" in x:
                x["accumulation"]["sum"] = grad(x["accumulation"]["sum"])
        for f in step["finalized"]:
            f["grad"] = grad(f["grad"])
    return data


@functools.cache
def backward_rule(op_class: type[Op]) -> dict:
    """An op class's backward rule for the page: `formula`, its docstring (e.g. "y = sqrt(x).   dx = gy / (2 y)"),
    and `code`, the source of its `backward` method ("" where Python cannot find it)."""
    formula = inspect.getdoc(op_class) or ""
    try:
        code = textwrap.dedent(inspect.getsource(op_class.backward)).rstrip()
    except (OSError, TypeError):  # defined in a notebook cell or at the prompt
        code = ""
    return {"formula": formula, "code": code}


def _locations(op: Op) -> tuple[dict | None, dict | None]:
    """The user's line and the library line that created `op`, each as {where, code}, or None if unknown."""
    location = getattr(op, "location", None)
    if location is None:
        return None, None
    return tuple({"where": shown(where), "code": _source_line(where)} if where else None
                 for where in (location.user, location.library))


_PLACEHOLDER = re.compile(r"__([A-Z]+)__")
# inside <script>, JSON must not hold `</script>`, `<!--` or `<script` (HTML ends or reopens the element on them);
# U+2028 and U+2029 end a line in older JavaScript
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                              "\u2029": "\\u2029"})


def page_file(name: str) -> str:
    """The text of one of the page's files, tinygrad6/viz/page/`name` (the template stepper.html, stepper.css,
    stepper.js): package data, found through importlib.resources wherever tinygrad6 is installed."""
    return files("tinygrad6.viz").joinpath("page", name).read_text(encoding="utf-8")


def fill_template(template: str, values: dict[str, str]) -> str:
    """Each `__NAME__` of the template replaced by values[NAME], in one pass: inserted text is never searched
    again, so a name or title that looks like a placeholder stays text."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def script_json(data) -> str:
    """`data` as JSON that can sit inside a <script> element: no string in it can close or open an element."""
    return json.dumps(data).translate(_SCRIPT_SAFE)


def grad_info(g: Tensor) -> dict:
    """A gradient for the page: its text (every value up to MAX_VALUES, else a summary), its norm, and the values
    themselves at full precision (for the tests and for anyone reading the page's data) up to MAX_EMBEDDED."""
    a = np.asarray(g.data)
    if a.size <= MAX_VALUES:
        text = preview(a) if a.size <= 1 else np.array2string(a, precision=4, separator=", ", max_line_width=78,
                                                               suppress_small=True)
        values = [_json_number(v) for v in a.astype(np.float64).ravel().tolist()] if a.size <= MAX_EMBEDDED else None
    else:
        text = preview(a)
        values = None
    return {"shape": list(a.shape), "text": text, "norm": _json_number(grad_norm(g)), "values": values}


def _json_number(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)  # JSON has no NaN/inf


def _source_line(source: str | None) -> str:
    if not source:
        return ""
    match = re.match(r"(.*):(\d+)$", source)
    if not match:
        return ""
    return linecache.getline(match.group(1), int(match.group(2))).strip()
