"""The step-through page of a backward pass: `backprop_html(loss, path)` writes it as one self-contained HTML file,
`stepper(loss)` shows it inline in a Jupyter cell (and `.save(path)` writes the same file).

The page holds the graph as inline SVG (drawn by Graphviz) and one record per `backward_steps` step as inline
JSON; a little inline JavaScript highlights, at step k, the op being processed, the gradient arriving at its
output and the gradients it sends to each input, and marks every tensor whose gradient is final. Next/Prev
buttons, the arrow keys and a slider move between steps; step k of the page is record k of `backward_steps`
(and row k of `trace`). Nothing is fetched from a network, and no `.grad` is changed.

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
from pathlib import Path

import numpy as np

from ..autograd import run_rule
from ..op import Op
from ..tensor import ArrayLike, Tensor, preview
from .graph import DOT_TIMEOUT, MAX_OPS, OPERANDS, _digraph, _operand_names, check_size, pipe, shape_text, value_lines
from .trace import Replay, replay_backward

MAX_VALUES = 64  # tensors up to this size show (and embed) every value; larger ones show a summary


def backprop_html(loss: Tensor, path: str | os.PathLike, grad: ArrayLike | None = None, *,
                  title: str | None = None, max_ops: int | None = MAX_OPS,
                  timeout: float | None = DOT_TIMEOUT) -> Path:
    """Write the step-through page of `loss`'s backward pass to `path` (one .html file) and return the path.

    Works before or after `loss.backward()` as long as the graph is still there (after a backward that released
    it, call `backward(retain_graph=True)` instead). With `tinygrad6.record_source()` on while building the
    graph, each step shows the lines of code that created its op (yours, and the library's). Needs Graphviz's
    `dot` for the drawing, which runs for at most `timeout` seconds.

    Tensor, scope and op names and `title` are shown literally, never run as HTML or script (see `draw` for the
    control characters Graphviz refuses). A graph of more than `max_ops` ops (MAX_OPS, 2,000, by default) raises
    ValueError: Graphviz needs minutes past a few thousand; `viz.trace(loss)` prints the steps of any size, and
    max_ops=None builds the page anyway."""
    page = page_html(loss, grad, title=title, max_ops=max_ops, timeout=timeout)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


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
        path.write_text(self.html, encoding="utf-8")
        return path

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
            max_ops: int | None = MAX_OPS, timeout: float | None = DOT_TIMEOUT, height: int = 760) -> Stepper:
    """The step-through page of `loss`'s backward pass (see `backprop_html`) as a `Stepper`: the last expression
    of a Jupyter cell shows it inline, `height` pixels tall; `.save(path)` writes the same page to a file."""
    return Stepper(page_html(loss, grad, title=title, max_ops=max_ops, timeout=timeout), height)


def page_html(loss: Tensor, grad: ArrayLike | None = None, *, title: str | None = None,
              max_ops: int | None = MAX_OPS, timeout: float | None = DOT_TIMEOUT) -> str:
    """The step-through page of `loss`'s backward pass as HTML text (see `backprop_html`)."""
    replay = replay_backward(loss, grad, who="backprop_html")
    model = replay.model
    check_size(model, max_ops, "backprop_html")
    svg = pipe(_digraph(model, ("shape", "value"), "TB", True), "svg", timeout=timeout).decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline SVG in HTML needs neither
    data = page_data(replay)
    title = title or f"Backward pass of {model.label(loss)}"
    return fill_template(_PAGE, {"TITLE": html.escape(title), "CSS": _CSS, "SVG": svg, "DATA": script_json(data),
                                 "JS": _JS})


def page_data(replay: Replay) -> dict:
    """The page's data: one record per backward step (the op, its rule, where it was created, the gradient
    arriving, and per input the gradient sent, the shape it was summed from, and the accumulation so far)."""
    model = replay.model
    steps = replay.steps

    def tensor_info(t: Tensor) -> dict:
        return {"node": model.tensor_id.get(id(t), ""), "label": model.label(t), "shape": shape_text(t),
                "role": model.role(t)}

    # how many gradients each tensor waits for: one per (op, input slot) that backward runs, as backward_steps counts
    expected: dict[int, int] = {}
    for step in steps:
        for x in step.op.inputs:
            if x.requires_grad:
                expected[id(x)] = expected.get(id(x), 0) + 1
    received: dict[int, list[list[int]]] = {}  # tensor -> [step, slot] of each contribution so far
    running: dict[int, np.ndarray | None] = {}  # tensor -> the sum so far, added in backward_steps' order

    records = []
    for step in steps:
        op = step.op
        raw = run_rule(op, step.grad_output)  # the rule's own gradients, before broadcasting is undone
        inputs = []
        for i, (x, g) in enumerate(zip(op.inputs, step.grad_inputs)):
            info = tensor_info(x)
            info["needs_grad"] = x.requires_grad
            info["grad"] = None if g is None else grad_info(g)
            info["operand"] = (_operand_names(op) or [""] * len(op.inputs))[i]
            if g is not None and i < len(raw) and raw[i] is not None and tuple(raw[i].shape) != tuple(x.shape):
                info["summed_from"] = list(raw[i].shape)  # the rule gave the broadcast shape; summed to x's
            if x.requires_grad:
                parts = received.setdefault(id(x), [])
                parts.append([step.index, i])
                if g is not None:
                    total = running.get(id(x))
                    running[id(x)] = g.data if total is None else total + g.data
                n = expected[id(x)]
                total = running.get(id(x))
                info["accumulation"] = {
                    "received": len(parts), "of": n, "parts": list(parts), "final": len(parts) == n,
                    "sum": None if total is None else grad_info(Tensor(total)),
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
            "source": op.source or "",
            "code": _source_line(op.source),
            "user": user,
            "library": library,
            "rule": backward_rule(type(op)),
            "output": tensor_info(op.output) if op.output is not None else
            {"node": "", "label": "?", "shape": "", "role": ""},
            "grad_output": grad_info(step.grad_output),
            "inputs": inputs,
            "finalized": [dict(tensor_info(t), grad=grad_info(g), leaf=t.creator is None) for t, g in step.finalized],
        })
    loss = model.outputs[0]
    loss_info = dict(tensor_info(loss), grad=grad_info(replay.seed), leaf=loss.creator is None)
    return {"loss": loss_info, "steps": records, "ops": len(model.ops),
            "source_recorded": any(r["user"] or r["library"] for r in records)}


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
    return tuple({"where": where, "code": _source_line(where)} if where else None
                 for where in (location.user, location.library))


_PLACEHOLDER = re.compile(r"__([A-Z]+)__")
# inside <script>, JSON must not hold `</script>`, `<!--` or `<script` (HTML ends or reopens the element on them);
# U+2028 and U+2029 end a line in older JavaScript
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                              "\u2029": "\\u2029"})


def fill_template(template: str, values: dict[str, str]) -> str:
    """Each `__NAME__` of the template replaced by values[NAME], in one pass: inserted text is never searched
    again, so a name or title that looks like a placeholder stays text."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def script_json(data) -> str:
    """`data` as JSON that can sit inside a <script> element: no string in it can close or open an element."""
    return json.dumps(data).translate(_SCRIPT_SAFE)


def grad_info(g: Tensor) -> dict:
    """A gradient for the page: its text (every value up to MAX_VALUES, else a summary), its norm, and the values
    themselves (for the tests and for anyone reading the page's data) when small."""
    a = np.asarray(g.data)
    if a.size <= MAX_VALUES:
        text = preview(a) if a.size <= 1 else np.array2string(a, precision=4, separator=", ", max_line_width=78,
                                                               suppress_small=True)
        values = [_json_number(v) for v in a.astype(np.float64).ravel().tolist()]
    else:
        text = "\n".join(value_lines(a))
        values = None
    norm = float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))
    return {"shape": list(a.shape), "text": text, "norm": _json_number(norm), "values": values}


def _json_number(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)  # JSON has no NaN/inf


def _source_line(source: str | None) -> str:
    if not source:
        return ""
    match = re.match(r"(.*):(\d+)$", source)
    if not match:
        return ""
    return linecache.getline(match.group(1), int(match.group(2))).strip()


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>__CSS__</style>
</head>
<body>
<header>
  <h1>__TITLE__</h1>
  <p class="help">Each step runs one op's backward rule (shown on the right, with the lines of code that created
  the op): the op (red) receives the complete gradient of its output (orange) and sends a gradient to each input
  (red arrows). A tensor used by several ops waits for all of them: the panel counts the contributions received
  and shows their running sum, which is <b>final</b> (green) once every op that used the tensor has sent its share.
  Step k here is record k of <code>loss.backward_steps()</code>. Keys: &larr; &rarr; (or the slider); Home/End.</p>
  <nav id="controls">
    <button id="first" title="first step (Home)">&laquo; First</button>
    <button id="prev" title="previous step (left arrow)">&#9664; Prev</button>
    <input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
    <button id="next" title="next step (right arrow)">Next &#9654;</button>
    <button id="last" title="last step (End)">Last &raquo;</button>
    <span id="counter"></span>
    <span class="zoom"><button id="zoom-out" title="zoom out">&minus;</button><button id="zoom-fit"
      title="fit the width of the graph in the pane (never larger than full size)">fit</button><button
      id="zoom-in" title="zoom in">+</button> <span id="zoom-level"></span></span>
  </nav>
  <p id="size-note" role="status" hidden></p>
</header>
<main>
  <div id="graph">__SVG__</div>
  <aside id="panel" aria-live="polite">
    <section id="step-info"></section>
    <section id="rule"></section>
    <section id="arriving"></section>
    <section id="sent"></section>
    <section id="final-now"></section>
    <section id="final-all"></section>
  </aside>
</main>
<script type="application/json" id="backward-data">__DATA__</script>
<script>__JS__</script>
</body>
</html>
"""

_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #212121;
       display: flex; flex-direction: column; height: 100vh; }
header { padding: 8px 14px; border-bottom: 1px solid #e0e0e0; background: #fafafa; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 14px; margin: 10px 0 4px; }
.help { margin: 0 0 6px; color: #555; font-size: 13px; max-width: 1100px; }
#size-note { margin: 6px 0 0; padding: 3px 8px; background: #fff8e1; border: 1px solid #ffca28; border-radius: 3px;
             font-size: 13px; }
#controls { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
#controls button { font-size: 14px; padding: 3px 10px; cursor: pointer; }
#controls button:disabled { cursor: default; opacity: 0.4; }
#slider { width: min(420px, 40vw); }
#counter { font-variant-numeric: tabular-nums; min-width: 9em; }
#zoom-level { font-size: 12px; color: #666; font-variant-numeric: tabular-nums; }
.zoom { margin-left: auto; }
main { flex: 1; display: flex; min-height: 0; }
#graph { flex: 1 1 60%; overflow: auto; padding: 8px 24px 8px 8px; background: #fff; }
#graph svg { display: block; height: auto; overflow: visible; }
#panel { flex: 0 0 min(600px, 46vw); overflow: auto; padding: 6px 14px; border-left: 1px solid #e0e0e0;
         background: #fcfcfc; }
pre { margin: 2px 0; padding: 4px 6px; background: #f5f5f5; border-radius: 3px; font-size: 11px;
      white-space: pre-wrap; overflow-wrap: anywhere; }
code { font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 3px 4px; border-bottom: 1px solid #eee; }
td pre { margin: 0; }
.op-name { font-weight: bold; color: #bf360c; }
.scope { color: #6a1b9a; }
.muted { color: #888; }
.tag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 8px; background: #e0e0e0; }
.tag.leaf { background: #c8e6c9; }
.tag.final { background: #69f0ae; font-weight: bold; }
.tag.waits { background: #ffe0b2; }
tr.new td { background: #e8f5e9; }
.source div { margin: 2px 0; }
.source code { background: #fff3e0; padding: 1px 4px; }
.formula { background: #e8eaf6; font-size: 13px; }
details summary { cursor: pointer; color: #555; font-size: 12px; }
div.input { margin: 4px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #eee; }
.input-head { margin-bottom: 2px; }
.bcast { font-size: 12px; color: #4a148c; margin-top: 3px; }
.accum { margin-top: 4px; padding: 4px 6px; border-left: 3px solid #ffb74d; background: #fffaf2; }
.accum.final { border-left-color: #00c853; background: #f1fbf4; }
.accum .part { margin-top: 4px; }
.accum .part.now { color: #e65100; }
.running-sum { margin-top: 4px; font-weight: bold; }
.running-sum pre, .running-sum span { font-weight: normal; }
/* highlighting inside the SVG (CSS wins over Graphviz's presentation attributes) */
#graph g.node.op.done polygon { fill: #e0e0e0; stroke: #9e9e9e; }
#graph g.node.op.cur polygon { fill: #ff8a65; stroke: #bf360c; stroke-width: 3px; }
#graph g.node.final ellipse { stroke: #00a152; stroke-width: 4px; }
#graph g.node.final.justfinal ellipse { fill: #69f0ae; }
#graph g.node.gout ellipse { stroke: #ff6d00; stroke-width: 4px; }
#graph g.node.recv ellipse, #graph g.node.recv text { stroke-width: 3px; }
#graph g.node.recv ellipse { stroke: #d50000; }
#graph g.edge.flow path { stroke: #d50000; stroke-width: 2.5px; }
#graph g.edge.flow polygon { fill: #d50000; stroke: #d50000; }
#graph .overlay rect { fill: #fffde7; stroke: #d50000; stroke-width: 0.8px; opacity: 0.95; }
#graph .overlay rect.arriving { stroke: #ff6d00; }
#graph .overlay text { font: 10px monospace; fill: #b71c1c; }
#graph .overlay text.arriving { fill: #e65100; }
"""

_JS = r"""
"use strict";
const D = JSON.parse(document.getElementById("backward-data").textContent);
const N = D.steps.length;
const svg = document.querySelector("#graph svg");
const root = svg.querySelector("g.graph") || svg;
const $ = (id) => document.getElementById(id);
const slider = $("slider");
let k = -1;  // the step shown; -1 before the first
let zoom = 1;
let transient = [];  // [element, class] marks of the step shown, taken off when moving on
let overlays = [];
let placed = [];  // the boxes of this step's notes, so that no two overlap
const naturalWidth = svg.viewBox.baseVal ? svg.viewBox.baseVal.width : svg.getBBox().width;
const naturalHeight = svg.viewBox.baseVal ? svg.viewBox.baseVal.height : svg.getBBox().height;
const drawing = root.getBBox();  // the drawing, in the coordinates the notes are placed in

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}
function basename(where) {
  return String(where).split(/[\\/]/).pop();
}
function shapeText(shape) {
  return "(" + shape.join(", ") + (shape.length === 1 ? ",)" : ")");
}
function gradCell(g) {
  if (!g) return '<span class="muted">no gradient (needs none)</span>';
  const norm = typeof g.norm === "number" ? g.norm.toPrecision(4) : g.norm;
  return "<pre>" + esc(g.text) + '</pre><span class="muted">shape [' + g.shape.join(", ") + "], norm " + norm +
    "</span>";
}
function valuesAttr(g) {
  return g && g.values ? ' data-values="' + esc(JSON.stringify(g.values)) + '"' : "";
}
function tensorName(t) {
  return "<b>" + esc(t.label) + '</b> <span class="muted">' + esc(t.shape) + "</span>";
}

function mark(id, cls, list) {
  const el = id && document.getElementById(id);
  if (el) {
    el.classList.add(cls);
    if (list) list.push([el, cls]);
  }
  return el;
}
function unmark(id, cls) {
  const el = id && document.getElementById(id);
  if (el) el.classList.remove(cls);
}
function clearTransient() {
  for (const [el, cls] of transient) el.classList.remove(cls);
  for (const el of overlays) el.remove();
  transient = [];
  overlays = [];
  placed = [];
}

// The marks that last (an op is "done" once its step is past, a tensor "final" from the step that finalized it on)
// and the rows of the "all final" table change only for the steps between the old and the new position, so a move
// costs its distance, not the length of the pass.
const finalRows = D.steps.map(() => []);
const finalCount = [];  // finalCount[i]: tensors final after step i, the seed included
function setFinal(i, on) {
  for (const f of D.steps[i].finalized) (on ? mark : unmark)(f.node, "final");
  for (const tr of finalRows[i]) tr.hidden = !on;
}
function moveMarks(newK) {
  for (let i = k + 1; i <= newK; i++) setFinal(i, true);
  for (let i = k; i > newK; i--) setFinal(i, false);
  for (let i = Math.max(k, 0); i < newK; i++) mark(D.steps[i].op, "done");
  for (let i = newK; i < k; i++) unmark(D.steps[i].op, "done");
}
function finalRow(f, step) {
  const since = step < 0 ? "seed" : "step " + step;
  return "<tr" + (step < 0 ? "" : " hidden") + ' data-step="' + step + '" data-node="' + esc(f.node) +
    '" data-leaf="' + f.leaf + '"' + valuesAttr(f.grad) + "><td>" + tensorName(f) +
    (f.leaf ? ' <span class="tag leaf">leaf</span>' : "") + '</td><td class="grad">' + gradCell(f.grad) +
    '</td><td class="muted">' + since + "</td></tr>";
}
function buildFinalTable() {
  // every row once, newest first; the rows of steps after the one shown are hidden
  const rows = [];
  let count = 1;
  D.steps.forEach((s, i) => { count += s.finalized.length; finalCount.push(count); });
  for (let i = N - 1; i >= 0; i--) {
    for (const f of D.steps[i].finalized.slice().reverse()) rows.push(finalRow(f, i));
  }
  rows.push(finalRow(D.loss, -1));
  $("final-all").innerHTML = '<h2>All final gradients so far (<span id="final-count">1</span>)</h2>' +
    '<table id="final-table"><tr><th>tensor</th><th>gradient</th><th>since</th></tr>' + rows.join("") + "</table>";
  for (const tr of Array.from($("final-table").querySelectorAll("tr[data-step]"))) {
    const step = Number(tr.dataset.step);
    if (step >= 0) finalRows[step].push(tr);
  }
  mark(D.loss.node, "final");
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}
function note(id, text, cls) {
  // a small text box under a node, showing the gradient it receives at this step: kept inside the drawing's
  // width and moved down until it overlaps no other note of this step
  const el = id && document.getElementById(id);
  if (!el || !text) return;
  const bb = el.getBBox();
  const g = document.createElementNS("http://www.w3.org/2000/svg", "g");
  g.setAttribute("class", "overlay");
  const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
  if (cls) t.setAttribute("class", cls);
  t.textContent = text;
  g.appendChild(t);
  root.appendChild(g);
  overlays.push(g);
  const tb = t.getBBox();
  let x = bb.x + bb.width / 2 - tb.width / 2;
  x = Math.max(drawing.x + 2, Math.min(x, drawing.x + drawing.width - tb.width - 2));
  let y = bb.y + bb.height + 2;
  const box = { x: x - 2, y: y, w: tb.width + 4, h: tb.height + 2 };
  for (let tries = 0; tries < 40 && placed.some((p) => overlaps(p, box)); tries++) box.y += box.h + 1;
  placed.push(box);
  t.setAttribute("x", box.x + 2 - tb.x);  // tb was measured with the text at (0, 0): tb.y is minus its ascent
  t.setAttribute("y", box.y + 1 - tb.y);
  const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  r.setAttribute("x", box.x); r.setAttribute("y", box.y);
  r.setAttribute("width", box.w); r.setAttribute("height", box.h);
  if (cls) r.setAttribute("class", cls);
  g.insertBefore(r, t);
}
function shortText(g) {
  if (!g) return "";
  const first = g.text.replace(/\s+/g, " ");
  return "grad " + (first.length > 42 ? first.slice(0, 40) + "..." : first);
}

function sourceLines(s) {
  const line = (what, loc) => loc ? "<div>" + what + ': <span class="muted" title="' + esc(loc.where) + '">' +
    esc(basename(loc.where)) + "</span>" + (loc.code ? " <code>" + esc(loc.code) + "</code>" : "") + "</div>" : "";
  if (s.user || s.library) {
    return '<div class="source">' + line("your line", s.user) + line("library line", s.library) + "</div>";
  }
  if (!D.source_recorded) {
    return '<div class="muted">(wrap the forward pass in <code>with tinygrad6.record_source():</code> to see the ' +
      "lines of code that created each op)</div>";
  }
  return "";
}
function ruleHtml(s) {
  const rule = s.rule || {};
  return "<h2>Backward rule of " + esc(s.name) + "</h2>" +
    (rule.formula ? '<pre class="formula">' + esc(rule.formula) + "</pre>" : "") +
    (rule.code ? "<details open><summary>its <code>backward</code></summary><pre class=\"code\">" +
      esc(rule.code) + "</pre></details>" : "");
}
function partValues(p) {
  const x = D.steps[p[0]].inputs[p[1]];
  return x.grad;
}
function accumulationHtml(x, s) {
  const a = x.accumulation;
  if (!a) return "";
  const state = a.final ? '<span class="tag final">final</span>' :
    '<span class="tag waits">waits for ' + (a.of - a.received) + " more</span>";
  if (a.of === 1) {
    return '<div class="accum final" data-node="' + esc(x.node) + '" data-received="1" data-of="1">' +
      "its only consumer: this gradient is " + esc(x.label) + "'s whole gradient " + state + "</div>";
  }
  let parts = "";
  a.parts.forEach((p, j) => {
    const from = D.steps[p[0]];
    const g = partValues(p);
    const now = p[0] === s.index && j === a.parts.length - 1;
    parts += '<div class="part' + (now ? " now" : "") + '" data-step="' + p[0] + '"' + valuesAttr(g) + ">" +
      (j ? "+ " : "") + (j + 1) + ". from step " + p[0] + " (" + esc(from.name) + ")" +
      (now ? " <b>this step</b>" : "") +
      (!g ? '<span class="muted"> nothing (None)</span>' : now ? ": the gradient above" : gradCell(g)) + "</div>";
  });
  return '<div class="accum' + (a.final ? " final" : "") + '" data-node="' + esc(x.node) + '" data-received="' +
    a.received + '" data-of="' + a.of + '"><b>' + esc(x.label) + "</b>: " + a.received + " of " + a.of +
    " contributions received " + state + parts + '<div class="running-sum"' + valuesAttr(a.sum) + ">= " +
    (a.final ? "sum: the final gradient of " : "running sum so far for ") + esc(x.label) + gradCell(a.sum) +
    "</div></div>";
}

function show(newK) {
  if (N === 0) return;
  newK = Math.max(0, Math.min(N - 1, newK));
  clearTransient();
  moveMarks(newK);
  k = newK;
  const s = D.steps[k];
  for (const f of s.finalized) mark(f.node, "justfinal", transient);
  for (const tr of finalRows[k]) {
    tr.classList.add("new");
    transient.push([tr, "new"]);
  }
  const cur = mark(s.op, "cur", transient);
  mark(s.output.node, "gout", transient);
  note(s.output.node, shortText(s.grad_output), "arriving");
  s.inputs.forEach((x, i) => {
    if (!x.grad) return;
    mark(x.node, "recv", transient);
    mark("e_" + x.node + "_" + s.op + "_" + i, "flow", transient);
    note(x.node, shortText(x.grad), "");
  });

  // the side panel
  const where = s.scope ? ' in scope <span class="scope">' + esc(s.scope) + "</span>" : "";
  $("step-info").innerHTML = "<h2>Step " + k + " / " + (N - 1) + ': <span class="op-name">' + esc(s.name) +
    "</span> " + (s.formula ? "<code>" + esc(s.formula) + "</code> " : "") +
    (s.params ? '<span class="muted">(' + esc(s.params) + ")</span>" : "") + where + "</h2>" + sourceLines(s);
  $("rule").innerHTML = ruleHtml(s);
  $("arriving").innerHTML = "<h2>Gradient arriving at its output " + tensorName(s.output) + "</h2>" +
    gradCell(s.grad_output);
  let blocks = "";
  s.inputs.forEach((x, i) => {
    const bcast = x.summed_from ? '<div class="bcast">broadcasting undone: the rule gave shape ' +
      shapeText(x.summed_from) + ", summed to " + esc(x.label) + "'s shape " + shapeText(x.grad.shape) + "</div>" : "";
    blocks += '<div class="input" data-node="' + esc(x.node) + '"' + valuesAttr(x.grad) + '><div class="input-head">' +
      "input " + i + (x.operand ? " (<b>" + esc(x.operand) + "</b>)" : "") + ": " + tensorName(x) + "</div>" +
      (x.needs_grad ? gradCell(x.grad) + bcast + accumulationHtml(x, s) : '<span class="muted">no grad needed</span>') +
      "</div>";
  });
  $("sent").innerHTML = "<h2>Gradients it sends to its inputs</h2>" + blocks;
  const now = s.finalized.map((f) => esc(f.label)).join(", ");
  $("final-now").innerHTML = "<h2>Final at this step</h2>" + (now || '<span class="muted">none: some input still ' +
    "waits for another op's share</span>");
  $("final-count").textContent = finalCount[k];

  slider.value = k;
  $("counter").textContent = "step " + k + " / " + (N - 1);
  $("prev").disabled = $("first").disabled = k === 0;
  $("next").disabled = $("last").disabled = k === N - 1;
  if (cur) centre(cur);
}

function centre(el) {
  // scroll the graph pane (only it) so that the current op is in the middle
  const pane = $("graph"), r = el.getBoundingClientRect(), c = pane.getBoundingClientRect();
  pane.scrollTop += (r.top + r.height / 2) - (c.top + c.height / 2);
  pane.scrollLeft += (r.left + r.width / 2) - (c.left + c.width / 2);
}
function keepCurrent() {
  const cur = k >= 0 && document.getElementById(D.steps[k].op);
  if (cur) centre(cur);
}
const PX = 4 / 3;  // viewBox units are points
function fitZoom() {
  // the whole width in the pane, but never larger than full size: fit does not zoom in
  return Math.min(1, ($("graph").clientWidth - 32) / (naturalWidth * PX));
}
function setZoom(z) {
  zoom = Math.max(0.1, Math.min(4, z));
  svg.style.width = (naturalWidth * zoom) + "pt";
  $("zoom-level").textContent = Math.round(zoom * 100) + "%";
  sizeNote();
  keepCurrent();
}
function sizeNote() {
  const pane = $("graph"), note = $("size-note");
  const w = naturalWidth * PX * zoom, h = naturalHeight * PX * zoom;
  const tooBig = w > pane.clientWidth - 16 || h > pane.clientHeight - 16;
  note.hidden = !tooBig;
  if (tooBig) {
    note.textContent = "At " + Math.round(zoom * 100) + "% the graph (" + D.ops + " ops) is larger than this " +
      "pane, so it is too big to show whole: scroll it, or zoom out with \u2212. Each step brings its op into view.";
  }
}

slider.max = Math.max(0, N - 1);
slider.addEventListener("input", () => show(Number(slider.value)));
$("next").addEventListener("click", () => show(k + 1));
$("prev").addEventListener("click", () => show(k - 1));
$("first").addEventListener("click", () => show(0));
$("last").addEventListener("click", () => show(N - 1));
$("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
$("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
$("zoom-fit").addEventListener("click", () => setZoom(fitZoom()));
setZoom(fitZoom());  // a wide graph starts fitted to the pane; a narrow one at full size
window.addEventListener("resize", sizeNote);
document.addEventListener("keydown", (e) => {
  if (e.target === slider || e.altKey || e.ctrlKey || e.metaKey) return;  // the slider moves itself
  const moves = { ArrowRight: k + 1, ArrowDown: k + 1, ArrowLeft: k - 1, ArrowUp: k - 1, Home: 0, End: N - 1 };
  if (e.key in moves) { e.preventDefault(); show(moves[e.key]); }
});
if (N === 0) {
  $("step-info").innerHTML = "<h2>No backward steps</h2><p>This tensor is a leaf: its gradient is the seed itself.</p>";
  for (const id of ["prev", "next", "first", "last"]) $(id).disabled = true;
} else {
  buildFinalTable();
  show(0);
}
"""
