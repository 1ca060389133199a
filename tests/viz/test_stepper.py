"""The step-through page shows why, not only what: each step's backward rule, the user's and the library's line,
where broadcasting was undone, and accumulation as it happens; the same names as the drawing and the trace; a
Jupyter stepper (`viz.stepper`) that embeds the page safely; and, in headless Chromium, the accumulation step,
the rule of sqrt, a layout whose gradient notes neither overlap nor leave the drawing, a fit button that keeps
the current op, a clear note when the graph is too big to show whole, a wide graph that opens readable on the
current op, and the contribution that makes a tensor final shown first.

Skips when Graphviz's `dot`, Chromium or playwright is missing."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import Tensor, nn, viz
from tinygrad6.viz.html import expand

pytestmark = pytest.mark.skipif(not viz.dot_available(), reason="Graphviz `dot` is not installed")


def bn_layer_loss(seed: int = 0):
    """nn.BatchNorm1d on a (4, 3) batch x that requires grad, projected on a random upstream gradient."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.normal(1.0, 2.0, size=(4, 3)), requires_grad=True, name="x")
    bn = nn.BatchNorm1d(3)
    with tinygrad6.record_source():
        y = bn(x)
        loss = (y * Tensor(rng.normal(size=(4, 3)), name="dy")).sum()
    return loss, x, bn


def bn_mlp_loss():
    """The README's BatchNorm MLP with cross_entropy, built under record_source()."""
    model = nn.MLP(4, [8], 3, batchnorm=True, rng=0)
    x = Tensor(np.random.default_rng(1).normal(size=(5, 4)), name="x")
    with tinygrad6.record_source():
        loss = tinygrad6.F.cross_entropy(model(x), np.array([0, 1, 2, 1, 0]))
    return loss, model


def page_data(text: str) -> dict:
    match = re.search(r'<script type="application/json" id="backward-data">(.*?)</script>', text, re.S)
    return expand(json.loads(match.group(1)))  # gradients and rules are stored once, referenced by index


# -- the page's data ------------------------------------------------------------------------------------------
def test_each_step_carries_its_backward_rule():
    loss, _, _ = bn_layer_loss()
    data = page_data(viz.stepper(loss).html)
    sqrt = next(s for s in data["steps"] if s["name"] == "sqrt")
    assert "dx = gy / (2 y)" in sqrt["rule"]["formula"]
    assert sqrt["rule"]["code"].startswith("def backward(self, gy):") and "return" in sqrt["rule"]["code"]
    sub = next(s for s in data["steps"] if s["name"] == "sub")
    assert "db = -gy" in sub["rule"]["formula"] and sub["formula"] == "a - b"
    assert [x["operand"] for x in sub["inputs"]] == ["a", "b"]


def test_each_step_shows_the_user_line_and_the_library_line_with_their_code():
    loss, _, _ = bn_layer_loss()
    data = page_data(viz.stepper(loss).html)
    bn = [s for s in data["steps"] if s["scope"] == "BatchNorm1d"]
    assert {s["user"]["code"] for s in bn} == {"y = bn(x)"}
    assert all(re.search(r"layers\.py:\d+$", s["library"]["where"]) for s in bn)
    code = {s["name"]: s["library"]["code"] for s in bn}
    assert code["sub"] == 'xc = (x - mu).named("xc")' and code["sqrt"] == 'std = (var + self.eps).sqrt().named("std")'
    assert len({s["library"]["where"] for s in bn}) == 6  # the page walks through the lines of BatchNorm1d.forward
    last = data["steps"][0]  # the sum, written by the user directly: no library line
    assert last["library"] is None and last["user"]["code"].startswith("loss = (y * Tensor(")


def test_accumulation_counts_contributions_and_keeps_the_running_sum():
    loss, x, _ = bn_layer_loss()
    data = page_data(viz.stepper(loss).html)
    node = viz.GraphModel.build([loss]).tensor_id[id(x)]
    got = [(s["index"], i, inp["accumulation"]) for s in data["steps"] for i, inp in enumerate(s["inputs"])
           if inp["node"] == node]
    assert [(a["received"], a["of"], a["final"]) for _, _, a in got] == [(1, 2, False), (2, 2, True)]
    (step1, slot1, first), (step2, slot2, second) = got
    part1 = data["steps"][step1]["inputs"][slot1]["grad"]["values"]
    part2 = data["steps"][step2]["inputs"][slot2]["grad"]["values"]
    assert first["sum"]["values"] == part1 and second["parts"] == [[step1, slot1], [step2, slot2]]
    loss.backward()
    np.testing.assert_allclose(second["sum"]["values"], x.grad.data.ravel(), rtol=1e-12)
    np.testing.assert_allclose(np.add(part1, part2), x.grad.data.ravel(), rtol=1e-12)
    # a tensor used twice by one op (xc * xc) gets both contributions at that step, one per input slot
    mul = next(s for s in data["steps"] if s["name"] == "mul" and s["inputs"][0]["node"] == s["inputs"][1]["node"])
    assert [(x["accumulation"]["received"], x["accumulation"]["of"]) for x in mul["inputs"]] == [(2, 3), (3, 3)]
    # (xc's first contribution came from div, whose step runs before this one)


def test_broadcasting_undone_shows_the_shape_before_and_after_the_sum():
    loss, _, bn = bn_layer_loss()
    data = page_data(viz.stepper(loss).html)
    sub = next(s for s in data["steps"] if s["name"] == "sub")  # xc = x - mu: mu (3,) was broadcast to (4, 3)
    assert "summed_from" not in sub["inputs"][0]
    assert sub["inputs"][1]["summed_from"] == [4, 3] and sub["inputs"][1]["grad"]["shape"] == [3]
    gamma_mul = next(s for s in data["steps"] if s["name"] == "mul" and s["inputs"][0]["label"] == "gamma")
    assert gamma_mul["inputs"][0]["summed_from"] == [4, 3]


def test_graph_trace_and_page_show_the_same_names():
    loss, _ = bn_mlp_loss()
    model = viz.GraphModel.build([loss])
    page = viz.stepper(loss).html
    data = page_data(page)
    svg = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6])
    drawn = {}
    for g in svg.iter("{http://www.w3.org/2000/svg}g"):
        if "tensor" in g.get("class", "").split():
            drawn[g.get("id")] = next(g.iter("{http://www.w3.org/2000/svg}text")).text
    rows = viz.trace(loss, quiet=True)
    shapes = {model.tensor_id[id(t)]: t.shape for t in model.tensors}
    for step, row in zip(data["steps"], rows):
        out = step["output"]
        assert drawn[out["node"]] == out["label"] and row.output == f"{out['label']} {shapes[out['node']]}"
        for inp, text in zip(step["inputs"], row.inputs):
            assert text.startswith(inp["label"])
            if inp["role"] != "const":
                assert drawn[inp["node"]] == inp["label"]
    assert any(re.fullmatch(r"t\d+", s["output"]["label"]) for s in data["steps"])  # fallback names are in it


# -- in a notebook --------------------------------------------------------------------------------------------
def test_stepper_shows_inline_as_a_sandboxed_iframe_and_saves_the_same_page(tmp_path):
    a = Tensor([1.0, 2.0], requires_grad=True, name='"></iframe><script>alert(1)</script>')
    first, second = viz.stepper((a * a).sum()), viz.stepper((a * 3.0).sum())
    frames = [first._repr_html_(), second._repr_html_()]
    ids = [re.match(r'<iframe id="([\w-]+)"', f).group(1) for f in frames]
    assert ids[0] != ids[1]
    for frame, stepper in zip(frames, (first, second)):
        assert frame.count("<") == 2 and frame.count(">") == 2  # only the iframe's own tags: the page is escaped
        assert 'sandbox="allow-scripts"' in frame
        srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
        assert html.unescape(srcdoc) == stepper.html
    path = first.save(tmp_path / "page.html")
    assert path.read_text(encoding="utf-8") == first.html
    assert viz.backprop_html((a * a).sum(), tmp_path / "bp.html").read_text(encoding="utf-8") == first.html


# -- in a real browser ----------------------------------------------------------------------------------------
def open_page(browser, path: Path, width: int = 1400, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "about:"))
                  else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    return page, errors


def test_browser_shows_both_contributions_and_their_sum_at_the_accumulation_step(browser, tmp_path):
    loss, x, _ = bn_layer_loss()
    path = viz.stepper(loss).save(tmp_path / "bp.html")
    data = page_data(path.read_text(encoding="utf-8"))
    node = viz.GraphModel.build([loss]).tensor_id[id(x)]
    second = next(s["index"] for s in data["steps"] for inp in s["inputs"]
                  if inp["node"] == node and inp["accumulation"]["received"] == 2)
    loss.backward()
    page, errors = open_page(browser, path)
    page.locator("#slider").fill(str(second))
    accum = page.locator(f'#sent .accum[data-node="{node}"]')
    assert accum.count() == 1 and "2 of 2 contributions received" in accum.inner_text()
    assert "final" in accum.inner_text()
    parts = [json.loads(accum.locator(".part").nth(i).get_attribute("data-values")) for i in range(2)]
    total = json.loads(accum.locator(".running-sum").get_attribute("data-values"))
    np.testing.assert_allclose(np.add(*parts), total, rtol=1e-12)
    np.testing.assert_allclose(total, x.grad.data.ravel(), rtol=1e-12)
    assert accum.locator(".running-sum pre").inner_text().strip()  # the sum is shown, not only carried
    page.locator("#slider").fill(str(second - 1))  # a step earlier: x has one of its two
    assert page.locator(f'#sent .accum[data-node="{node}"]').count() == 0 or \
        "1 of 2" in page.locator(f'#sent .accum[data-node="{node}"]').inner_text()
    assert errors == []


def test_browser_shows_the_rule_of_sqrt_and_both_source_lines(browser, tmp_path):
    loss, _, _ = bn_layer_loss()
    path = viz.backprop_html(loss, tmp_path / "bp.html")
    page, errors = open_page(browser, path)
    sqrt = next(s["index"] for s in page_data(path.read_text())["steps"] if s["name"] == "sqrt")
    page.locator("#slider").fill(str(sqrt))
    rule = page.locator("#rule").inner_text()
    assert "dx = gy / (2 y)" in rule and "def backward(self, gy):" in rule
    info = page.locator("#step-info").inner_text()
    assert "your line" in info and "y = bn(x)" in info
    assert "library line" in info and 'std = (var + self.eps).sqrt().named("std")' in info
    # this graph is narrower than the pane: fit keeps it at full size instead of zooming in
    width = page.locator("#graph svg").bounding_box()["width"]
    assert width < page.locator("#graph").bounding_box()["width"]
    page.click("#zoom-fit")
    assert page.locator("#graph svg").bounding_box()["width"] == pytest.approx(width, abs=1)
    assert errors == []


def note_boxes(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('#graph .overlay rect')).map((r) => {
        const b = r.getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height}; })""")


def test_browser_layout_on_a_batchnorm_mlp(browser, tmp_path):
    loss, _ = bn_mlp_loss()
    path = viz.backprop_html(loss, tmp_path / "bp.html")
    page, errors = open_page(browser, path)
    n = len(page_data(path.read_text())["steps"])
    svg_box = page.locator("#graph svg").bounding_box()
    for k in range(n):
        page.locator("#slider").fill(str(k))
        boxes = note_boxes(page)
        for i, a in enumerate(boxes):  # no two gradient notes overlap, and none leaves the drawing's width
            assert svg_box["x"] - 1 <= a["x"] and a["x"] + a["w"] <= svg_box["x"] + svg_box["width"] + 1, (k, a)
            for b in boxes[i + 1:]:
                apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"]
                         or b["y"] + b["h"] <= a["y"])
                assert apart, (k, a, b)
    # the graph is taller than the pane: the page says so
    note = page.locator("#size-note")
    assert note.is_visible() and "too big to show whole" in note.inner_text()
    # fit never zooms in, and keeps the current op in view
    page.locator("#slider").fill("12")
    width_before = page.locator("#graph svg").bounding_box()["width"]
    page.click("#zoom-fit")
    assert page.locator("#graph svg").bounding_box()["width"] <= max(width_before, svg_box["width"]) + 1
    pane = page.locator("#graph").bounding_box()
    cur = page.locator("#graph g.node.op.cur").bounding_box()
    assert pane["y"] <= cur["y"] and cur["y"] + cur["height"] <= pane["y"] + pane["height"]
    page.click("#zoom-in")
    page.click("#zoom-in")
    cur = page.locator("#graph g.node.op.cur").bounding_box()
    assert pane["x"] <= cur["x"] and cur["x"] + cur["width"] <= pane["x"] + pane["width"]
    assert errors == []


def test_browser_runs_two_steppers_in_one_notebook_page(browser, tmp_path):
    loss1, _, _ = bn_layer_loss(0)
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    host = tmp_path / "notebook.html"
    host.write_text("<!DOCTYPE html><html><body>" + viz.stepper(loss1)._repr_html_() +
                    viz.stepper((a * a).sum())._repr_html_() + "</body></html>", encoding="utf-8")
    page, errors = open_page(browser, host, height=1700)
    frames = [f for f in page.frames if f != page.main_frame]
    assert len(frames) == 2
    for frame, steps in zip(frames, (len(page_data(viz.stepper(loss1).html)["steps"]), 2)):
        frame.click("#next")
        assert frame.locator("#counter").inner_text() == f"step 1 / {steps - 1}"
    assert frames[1].locator("#step-info").inner_text().startswith("Step 1 / 1")
    assert errors == []


def test_browser_opens_a_wide_graph_readable_and_on_the_current_op(browser, tmp_path):
    """A BatchNorm MLP is wider than the pane: fitted, its labels would be about 5 px high (37%). The page opens
    with the nodes' usual label font at 11 px or more on screen, scrolled to the current op."""
    loss, _ = bn_mlp_loss()
    path = viz.backprop_html(loss, tmp_path / "bp.html")
    svg = ET.fromstring("<svg" + path.read_text(encoding="utf-8").split("<svg", 1)[1].split("</svg>", 1)[0] +
                        "</svg>")
    ns = "{http://www.w3.org/2000/svg}"
    sizes = [t.get("font-size") for g in svg.iter(f"{ns}g") if "node" in g.get("class", "").split()
             for t in g.iter(f"{ns}text")]
    label = max(set(sizes), key=sizes.count)  # the nodes' usual label font, in points
    page, errors = open_page(browser, path)
    on_screen = """(pt) => { const s = document.querySelector('#graph svg');
        return pt * s.getBoundingClientRect().width / s.viewBox.baseVal.width; }"""
    assert page.evaluate(on_screen, float(label)) >= 11, page.locator("#zoom-level").inner_text()
    pane = page.locator("#graph").bounding_box()
    cur = page.locator("#graph g.node.op.cur").bounding_box()
    assert pane["x"] <= cur["x"] and cur["x"] + cur["width"] <= pane["x"] + pane["width"], (pane, cur)
    assert pane["y"] <= cur["y"] and cur["y"] + cur["height"] <= pane["y"] + pane["height"], (pane, cur)
    page.click("#zoom-fit")  # what it used to open at: the test is about a graph that fitting makes unreadable
    assert page.evaluate(on_screen, float(label)) < 11
    assert errors == []


def test_browser_shows_the_contribution_that_makes_a_tensor_final_first(browser, tmp_path):
    """At the step of xc * xc, xc gets its 2nd and 3rd contributions: the panel's first line about xc says
    "3 of 3 ... final", as the drawing does, and no "2 of 3" line comes above it."""
    loss, _, _ = bn_layer_loss()
    path = viz.backprop_html(loss, tmp_path / "bp.html")
    data = page_data(path.read_text(encoding="utf-8"))
    mul = next(s for s in data["steps"] if s["name"] == "mul" and s["inputs"][0]["node"] == s["inputs"][1]["node"])
    xc = mul["inputs"][0]["node"]
    page, errors = open_page(browser, path)
    page.locator("#slider").fill(str(mul["index"]))
    blocks = page.locator(f'#sent .accum[data-node="{xc}"]')
    assert blocks.count() == 1
    first = blocks.first
    assert (first.get_attribute("data-received"), first.get_attribute("data-of")) == ("3", "3")
    assert first.inner_text().startswith("xc: 3 of 3 contributions received") and "final" in first.inner_text()
    sent = page.locator("#sent").inner_text()
    assert "2 of 3" not in sent.split("3 of 3")[0]
    parts = [json.loads(first.locator(".part").nth(i).get_attribute("data-values")) for i in range(3)]
    total = json.loads(first.locator(".running-sum").get_attribute("data-values"))
    np.testing.assert_allclose(np.sum(parts, axis=0), total, rtol=1e-12)
    assert "final" in page.locator(f"#graph g#{xc}").get_attribute("class")  # drawn final at the same step
    assert errors == []
