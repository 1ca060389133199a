"use strict";
const D = JSON.parse(document.getElementById("backward-data").textContent);
// Each gradient and each rule is stored once (D.grads, D.rules) and referenced by index or key: put them in place.
(function expand() {
  const G = (i) => (i === null || i === undefined ? null : D.grads[i]);
  D.loss.grad = G(D.loss.grad);
  for (const s of D.steps) {
    s.rule = D.rules[s.rule];
    s.grad_output = G(s.grad_output);
    for (const x of s.inputs) {
      x.grad = G(x.grad);
      if (x.accumulation) x.accumulation.sum = G(x.accumulation.sum);
    }
    for (const f of s.finalized) f.grad = G(f.grad);
  }
})();
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
  const twice = s.inputs.filter((y) => y.node === x.node).length > 1;  // xc * xc: both slots send at this step
  a.parts.forEach((p, j) => {
    const from = D.steps[p[0]];
    const g = from.inputs[p[1]].grad;
    const now = p[0] === s.index;
    parts += '<div class="part' + (now ? " now" : "") + '" data-step="' + p[0] + '"' + valuesAttr(g) + ">" +
      (j ? "+ " : "") + (j + 1) + ". from step " + p[0] + " (" + esc(from.name) + ")" +
      (now ? " <b>this step</b>" + (twice ? ", input " + p[1] : "") : "") +
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
  // a tensor at several inputs of this op (xc * xc) gets one accumulation block, under its first input, in its
  // state after the step (the contribution that makes it final), not one block per input
  const lastSlot = {};
  s.inputs.forEach((x, i) => { lastSlot[x.node] = i; });
  const firstSlot = (x) => s.inputs.findIndex((y) => y.node === x.node);
  const accumulation = (x, i) => firstSlot(x) === i ? accumulationHtml(s.inputs[lastSlot[x.node]], s) :
    '<div class="muted">the same tensor as input ' + firstSlot(x) + ": both contributions are counted there</div>";
  let blocks = "";
  s.inputs.forEach((x, i) => {
    const bcast = x.summed_from ? '<div class="bcast">broadcasting undone: the rule gave shape ' +
      shapeText(x.summed_from) + ", summed to " + esc(x.label) + "'s shape " + shapeText(x.grad.shape) + "</div>" : "";
    blocks += '<div class="input" data-node="' + esc(x.node) + '"' + valuesAttr(x.grad) + '><div class="input-head">' +
      "input " + i + (x.operand ? " (<b>" + esc(x.operand) + "</b>)" : "") + ": " + tensorName(x) + "</div>" +
      (x.needs_grad ? gradCell(x.grad) + bcast + accumulation(x, i) : '<span class="muted">no grad needed</span>') +
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
const READABLE_PX = 12;  // the page opens with the nodes' labels at least this large on screen
function labelPx() {
  // the on-screen size, in CSS pixels, of the nodes' usual label font (the most common font-size of their text)
  const texts = Array.from(svg.querySelectorAll("g.node text"));
  if (!texts.length) return READABLE_PX;
  const count = {};
  for (const t of texts) { const f = t.getAttribute("font-size"); count[f] = (count[f] || 0) + 1; }
  const size = Number(Object.keys(count).reduce((a, b) => (count[b] > count[a] ? b : a)));
  return size * texts[0].getScreenCTM().a;
}
function openingZoom() {
  // fitted to the pane's width when the labels stay readable so; otherwise as large as readable labels need,
  // scrolled to the current op (a BatchNorm MLP would open at 37% fitted)
  setZoom(fitZoom());
  return Math.max(zoom, zoom * READABLE_PX / labelPx());
}
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
setZoom(openingZoom());  // a narrow graph opens at full size; a wide one fitted, unless that makes it unreadable
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
