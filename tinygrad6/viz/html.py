"""`backprop_html(loss, path)`: one self-contained HTML page that steps through the backward pass of `loss`.

The page holds the graph as inline SVG (drawn by Graphviz) and one record per `backward_steps` step as inline
JSON; a little inline JavaScript highlights, at step k, the op being processed, the gradient arriving at its
output and the gradients it sends to each input, and marks every tensor whose gradient is final. Next/Prev
buttons, the arrow keys and a slider move between steps; step k of the page is record k of `backward_steps`
(and row k of `trace`). Nothing is fetched from a network, and no `.grad` is changed.
"""

from __future__ import annotations

import html
import json
import linecache
import math
import os
import re
from pathlib import Path

import numpy as np

from ..tensor import ArrayLike, Tensor, preview
from .graph import _digraph, pipe, shape_text, value_lines
from .trace import replay_backward

MAX_VALUES = 64  # tensors up to this size show (and embed) every value; larger ones show a summary


def backprop_html(loss: Tensor, path: str | os.PathLike, grad: ArrayLike | None = None, *,
                  title: str | None = None) -> Path:
    """Write the step-through page of `loss`'s backward pass to `path` (one .html file) and return the path.

    Works before or after `loss.backward()` as long as the graph is still there (after a backward that released
    it, call `backward(retain_graph=True)` instead). With `tinygrad6.record_source()` on while building the
    graph, each step shows the line of code that created its op. Needs Graphviz's `dot` for the drawing."""
    replay = replay_backward(loss, grad, who="backprop_html")
    model = replay.model
    svg = pipe(_digraph(model, ("shape", "value"), "TB", True), "svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline SVG in HTML needs neither

    def node_id(t: Tensor) -> str:
        return model.tensor_id.get(id(t), "")

    def tensor_info(t: Tensor) -> dict:
        return {"node": node_id(t), "label": t.name or node_id(t), "shape": shape_text(t),
                "role": model.role(t)}

    steps = []
    for step in replay.steps:
        op = step.op
        out = op.output
        inputs = []
        for x, g in zip(op.inputs, step.grad_inputs):
            info = tensor_info(x)
            info["needs_grad"] = x.requires_grad
            info["grad"] = None if g is None else grad_info(g)
            inputs.append(info)
        steps.append({
            "index": step.index,
            "op": model.op_id[id(op)],
            "name": op.name,
            "params": ", ".join(f"{k}={v!r}" for k, v in op.params.items() if not isinstance(v, np.ndarray)),
            "scope": "/".join(op.scope),
            "source": op.source or "",
            "code": _source_line(op.source),
            "output": tensor_info(out) if out is not None else {"node": "", "label": "?", "shape": "", "role": ""},
            "grad_output": grad_info(step.grad_output),
            "inputs": inputs,
            "finalized": [dict(tensor_info(t), grad=grad_info(g), leaf=t.creator is None) for t, g in step.finalized],
        })
    loss_info = dict(tensor_info(loss), grad=grad_info(replay.seed), leaf=loss.creator is None)
    data = {"loss": loss_info, "steps": steps, "ops": len(model.ops),
            "source_recorded": any(s["source"] for s in steps)}
    title = title or f"Backward pass of {loss.name or node_id(loss)}"
    page = (_PAGE.replace("__TITLE__", html.escape(title))
            .replace("__CSS__", _CSS)
            .replace("__SVG__", svg)
            .replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
            .replace("__JS__", _JS))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def grad_info(g: Tensor) -> dict:
    """A gradient for the page: its text (every value up to MAX_VALUES, else a summary), its norm, and the values
    themselves (for the tests and for anyone reading the page's data) when small."""
    a = np.asarray(g.data)
    if a.size <= MAX_VALUES:
        text = preview(a) if a.size <= 1 else np.array2string(a, precision=4, separator=", ", max_line_width=64)
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
  <p class="help">Each step runs one op's backward rule: the op (red) receives the complete gradient of its output
  (orange) and sends a gradient to each input (red arrows). A tensor's gradient is <b>final</b> (green) once every op
  that used it has sent its share. Step k here is record k of <code>loss.backward_steps()</code>.
  Keys: &larr; &rarr; (or the slider); Home/End.</p>
  <nav id="controls">
    <button id="first" title="first step (Home)">&laquo; First</button>
    <button id="prev" title="previous step (left arrow)">&#9664; Prev</button>
    <input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
    <button id="next" title="next step (right arrow)">Next &#9654;</button>
    <button id="last" title="last step (End)">Last &raquo;</button>
    <span id="counter"></span>
    <span class="zoom"><button id="zoom-out" title="zoom out">&minus;</button><button id="zoom-fit"
      title="fit width">fit</button><button id="zoom-in" title="zoom in">+</button></span>
  </nav>
</header>
<main>
  <div id="graph">__SVG__</div>
  <aside id="panel" aria-live="polite">
    <section id="step-info"></section>
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
#controls { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
#controls button { font-size: 14px; padding: 3px 10px; cursor: pointer; }
#controls button:disabled { cursor: default; opacity: 0.4; }
#slider { width: min(420px, 40vw); }
#counter { font-variant-numeric: tabular-nums; min-width: 9em; }
.zoom { margin-left: auto; }
main { flex: 1; display: flex; min-height: 0; }
#graph { flex: 1 1 60%; overflow: auto; padding: 8px; background: #fff; }
#graph svg { display: block; height: auto; }
#panel { flex: 0 0 min(520px, 42vw); overflow: auto; padding: 6px 14px; border-left: 1px solid #e0e0e0;
         background: #fcfcfc; }
pre { margin: 2px 0; padding: 4px 6px; background: #f5f5f5; border-radius: 3px; font-size: 12px;
      white-space: pre-wrap; }
code { font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 3px 4px; border-bottom: 1px solid #eee; }
td pre { margin: 0; }
.op-name { font-weight: bold; color: #bf360c; }
.scope { color: #6a1b9a; }
.muted { color: #888; }
.tag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 8px; background: #e0e0e0; }
.tag.leaf { background: #c8e6c9; }
tr.new td { background: #e8f5e9; }
.source code { background: #fff3e0; padding: 1px 4px; }
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
let k = 0;
let zoom = 1;
const naturalWidth = svg.viewBox.baseVal ? svg.viewBox.baseVal.width : svg.getBBox().width;

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
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

function clearMarks() {
  for (const cls of ["cur", "done", "final", "justfinal", "gout", "recv", "flow"]) {
    for (const el of Array.from(svg.querySelectorAll("." + cls))) el.classList.remove(cls);
  }
  for (const el of Array.from(svg.querySelectorAll(".overlay"))) el.remove();
}
function mark(id, cls) {
  const el = id && document.getElementById(id);
  if (el) el.classList.add(cls);
  return el;
}
function note(id, text, cls) {
  // a small text box next to a node, showing the gradient it receives at this step
  const el = id && document.getElementById(id);
  if (!el || !text) return;
  const bb = el.getBBox();
  const g = document.createElementNS("http://www.w3.org/2000/svg", "g");
  g.setAttribute("class", "overlay");
  const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
  t.setAttribute("x", bb.x + bb.width - 4);
  t.setAttribute("y", bb.y + bb.height + 9);
  if (cls) t.setAttribute("class", cls);
  t.textContent = text;
  g.appendChild(t);
  root.appendChild(g);
  const tb = t.getBBox();
  const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  r.setAttribute("x", tb.x - 2); r.setAttribute("y", tb.y - 1);
  r.setAttribute("width", tb.width + 4); r.setAttribute("height", tb.height + 2);
  if (cls) r.setAttribute("class", cls);
  g.insertBefore(r, t);
}
function shortText(g) {
  if (!g) return "";
  const first = g.text.replace(/\s+/g, " ");
  return "grad " + (first.length > 42 ? first.slice(0, 40) + "..." : first);
}

function show(newK) {
  if (N === 0) return;
  k = Math.max(0, Math.min(N - 1, newK));
  const s = D.steps[k];
  clearMarks();
  // what is final after this step: the seed, then everything finalized at steps 0..k
  const finals = [Object.assign({ step: -1 }, D.loss)];
  for (let i = 0; i <= k; i++) {
    if (i < k) mark(D.steps[i].op, "done");
    for (const f of D.steps[i].finalized) finals.push(Object.assign({ step: i }, f));
  }
  for (const f of finals) {
    mark(f.node, "final");
    if (f.step === k) mark(f.node, "justfinal");
  }
  const cur = mark(s.op, "cur");
  mark(s.output.node, "gout");
  note(s.output.node, shortText(s.grad_output), "arriving");
  s.inputs.forEach((x, i) => {
    if (!x.grad) return;
    mark(x.node, "recv");
    mark("e_" + x.node + "_" + s.op + "_" + i, "flow");
    note(x.node, shortText(x.grad), "");
  });

  // the side panel
  const where = s.scope ? ' in scope <span class="scope">' + esc(s.scope) + "</span>" : "";
  let src = "";
  if (s.source) {
    src = '<div class="source">source: <span class="muted">' + esc(s.source) + "</span>" +
          (s.code ? "<br><code>" + esc(s.code) + "</code>" : "") + "</div>";
  } else if (!D.source_recorded) {
    src = '<div class="muted">(wrap the forward pass in <code>with tinygrad6.record_source():</code> to see the line ' +
          "of code that created each op)</div>";
  }
  $("step-info").innerHTML = "<h2>Step " + k + " / " + (N - 1) + ': <span class="op-name">' + esc(s.name) +
    "</span> " + (s.params ? '<span class="muted">(' + esc(s.params) + ")</span>" : "") + where + "</h2>" + src;
  $("arriving").innerHTML = "<h2>Gradient arriving at its output " + tensorName(s.output) + "</h2>" +
    gradCell(s.grad_output);
  let rows = "";
  s.inputs.forEach((x, i) => {
    rows += '<tr data-node="' + esc(x.node) + '"' + valuesAttr(x.grad) + "><td>" + i + "</td><td>" + tensorName(x) +
      "</td><td>" + (x.needs_grad ? gradCell(x.grad) : '<span class="muted">no grad needed</span>') + "</td></tr>";
  });
  $("sent").innerHTML = "<h2>Gradients it sends to its inputs</h2><table><tr><th>#</th><th>input</th>" +
    "<th>gradient sent</th></tr>" + rows + "</table>";
  const now = s.finalized.map((f) => esc(f.label)).join(", ");
  $("final-now").innerHTML = "<h2>Final at this step</h2>" + (now || '<span class="muted">none: some input still ' +
    "waits for another op's share</span>");
  let all = "";
  for (const f of finals.slice().reverse()) {
    const since = f.step < 0 ? "seed" : "step " + f.step;
    all += '<tr class="' + (f.step === k ? "new" : "") + '" data-node="' + esc(f.node) + '" data-leaf="' + f.leaf +
      '"' + valuesAttr(f.grad) + "><td>" + tensorName(f) + (f.leaf ? ' <span class="tag leaf">leaf</span>' : "") +
      '</td><td class="grad">' + gradCell(f.grad) + '</td><td class="muted">' + since + "</td></tr>";
  }
  $("final-all").innerHTML = "<h2>All final gradients so far (" + finals.length + ")</h2><table id=\"final-table\">" +
    "<tr><th>tensor</th><th>gradient</th><th>since</th></tr>" + all + "</table>";

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
function fit() {
  setZoom(($("graph").clientWidth - 20) / (naturalWidth * 4 / 3));  // viewBox units are points (4/3 px)
}
function setZoom(z) {
  zoom = Math.max(0.1, Math.min(4, z));
  svg.style.width = (naturalWidth * zoom) + "pt";
}

slider.max = Math.max(0, N - 1);
slider.addEventListener("input", () => show(Number(slider.value)));
$("next").addEventListener("click", () => show(k + 1));
$("prev").addEventListener("click", () => show(k - 1));
$("first").addEventListener("click", () => show(0));
$("last").addEventListener("click", () => show(N - 1));
$("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
$("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
$("zoom-fit").addEventListener("click", fit);
if (naturalWidth * 4 / 3 > $("graph").clientWidth - 20) fit();  // a wide graph starts fitted to the pane
document.addEventListener("keydown", (e) => {
  if (e.target === slider || e.altKey || e.ctrlKey || e.metaKey) return;  // the slider moves itself
  const moves = { ArrowRight: k + 1, ArrowDown: k + 1, ArrowLeft: k - 1, ArrowUp: k - 1, Home: 0, End: N - 1 };
  if (e.key in moves) { e.preventDefault(); show(moves[e.key]); }
});
if (N === 0) {
  $("step-info").innerHTML = "<h2>No backward steps</h2><p>This tensor is a leaf: its gradient is the seed itself.</p>";
  for (const id of ["prev", "next", "first", "last"]) $(id).disabled = true;
} else {
  show(0);
}
"""
