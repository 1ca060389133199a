"""The step-through page of the backward pass: its data agrees with `backward_steps` record for record, it leaves
`.grad` alone, and, in headless Chromium, Next walks every op and the last step shows the gradients `backward()`
computes, with no network request.

Skips when Graphviz's `dot`, Chromium or playwright is missing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import Tensor, viz
from tinygrad6.viz.html import expand

needs_dot = pytest.mark.skipif(not viz.dot_available(), reason="Graphviz `dot` is not installed")

pytestmark = needs_dot


def batchnorm_loss(seed: int = 0, n: int = 4, d: int = 3, source: bool = False):
    """BatchNorm from primitive ops inside scope("BatchNorm"), projected on a random upstream gradient."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.normal(1.0, 2.0, size=(n, d)), requires_grad=True, name="x")
    gamma = Tensor(rng.uniform(0.5, 1.5, size=d), requires_grad=True, name="gamma")
    beta = Tensor(rng.normal(size=d), requires_grad=True, name="beta")
    with tinygrad6.record_source() if source else tinygrad6.enable_grad():
        with tinygrad6.scope("BatchNorm"):
            mu = x.mean(axis=0)
            xc = x - mu
            var = (xc ** 2).mean(axis=0)
            y = gamma * (xc / (var + 1e-5).sqrt()) + beta
        loss = (y * Tensor(rng.normal(size=(n, d)), name="dy")).sum()
    return loss, (x, gamma, beta)


def page_data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="backward-data">(.*?)</script>', text, re.S)
    return expand(json.loads(match.group(1)))  # gradients and rules are stored once, referenced by index


def test_page_steps_are_the_backward_steps_records(tmp_path):
    loss, leaves = batchnorm_loss()
    path = viz.backprop_html(loss, tmp_path / "bp.html")
    data = page_data(path)
    records = list(loss.backward_steps(retain_graph=True))
    model = viz.GraphModel.build([loss])
    assert len(data["steps"]) == len(records) == len(model.ops) == data["ops"]
    for k, (step, record) in enumerate(zip(data["steps"], records)):
        assert step["index"] == record.index == k
        assert step["op"] == model.op_id[id(record.op)] and step["name"] == record.op.name
        np.testing.assert_allclose(step["grad_output"]["values"], record.grad_output.data.ravel(), rtol=1e-12)
        for sent, g in zip(step["inputs"], record.grad_inputs):
            assert (sent["grad"] is None) == (g is None)
            if g is not None:
                np.testing.assert_allclose(sent["grad"]["values"], g.data.ravel(), rtol=1e-12)
        assert [f["node"] for f in step["finalized"]] == [model.tensor_id[id(t)] for t, _ in record.finalized]
    rows = viz.trace(loss, quiet=True)  # the printed trace agrees too
    assert [r.op for r in rows] == [s["name"] for s in data["steps"]]


def test_page_is_one_file_with_nothing_to_fetch(tmp_path):
    loss, _ = batchnorm_loss()
    text = viz.backprop_html(loss, tmp_path / "bp.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "<script>" in text and "<style>" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # no external script, style or image
    assert "@import" not in text and "url(" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bp.html"]


def test_page_leaves_grad_alone_and_backward_still_works(tmp_path):
    loss, (x, gamma, beta) = batchnorm_loss()
    viz.backprop_html(loss, tmp_path / "bp.html")
    assert x.grad is None and gamma.grad is None and beta.grad is None
    expected = tinygrad6.grad(loss, [x, gamma, beta], retain_graph=True)
    loss.backward()
    for t, g in zip((x, gamma, beta), expected):
        np.testing.assert_allclose(t.grad.data, g.data, rtol=1e-12)


def test_page_after_backward_needs_the_graph_kept(tmp_path):
    loss, (x, _, _) = batchnorm_loss()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        viz.backprop_html(loss, tmp_path / "bp.html")

    loss, (x, _, _) = batchnorm_loss()
    loss.backward(retain_graph=True)
    gx = x.grad.data.copy()
    data = page_data(viz.backprop_html(loss, tmp_path / "bp.html"))
    np.testing.assert_array_equal(x.grad.data, gx)  # not accumulated a second time
    last = data["steps"][-1]["finalized"]
    np.testing.assert_allclose([f for f in last if f["label"] == "x"][0]["grad"]["values"], gx.ravel(), rtol=1e-12)


def test_page_shows_the_source_line_of_each_op(tmp_path):
    loss, _ = batchnorm_loss(source=True)
    data = page_data(viz.backprop_html(loss, tmp_path / "bp.html"))
    sqrt = [s for s in data["steps"] if s["name"] == "sqrt"][0]
    assert re.search(r"test_backprop_html\.py:\d+$", sqrt["source"])
    assert sqrt["code"] == "y = gamma * (xc / (var + 1e-5).sqrt()) + beta"
    assert data["source_recorded"]


def test_large_tensors_get_a_summary_not_every_value(tmp_path):
    x = Tensor(np.linspace(-1, 1, 200), requires_grad=True, name="x")
    data = page_data(viz.backprop_html((x * x).sum(), tmp_path / "bp.html"))
    sent = data["steps"][-1]["inputs"][0]["grad"]
    assert sent["values"] is None and "mean" in sent["text"] and sent["shape"] == [200]
    assert sent["norm"] == pytest.approx(np.linalg.norm(x.data))  # x * x sends x to each of its two inputs
    (final,) = data["steps"][-1]["finalized"]
    assert final["leaf"] and final["grad"]["norm"] == pytest.approx(np.linalg.norm(2 * x.data))  # both shares


# -- in a real browser ----------------------------------------------------------------------------------------
def test_browser_steps_through_every_op_to_the_leaf_gradients(browser, tmp_path):
    loss, (x, gamma, beta) = batchnorm_loss(source=True)
    path = viz.backprop_html(loss, tmp_path / "bp.html")
    n_steps = sum(1 for _ in tinygrad6.backward_steps([loss], retain_graph=True, inputs=[x]))
    loss.backward()  # the reference: what backward() puts in .grad

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url),
                                         route.continue_() if route.request.url.startswith("file:") else route.abort()))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())

    op_nodes = page.locator("#graph svg g.node.op").count()
    assert op_nodes == n_steps == 11
    assert page.locator("#counter").inner_text() == f"step 0 / {op_nodes - 1}"
    assert page.locator("#prev").is_disabled()
    assert page.locator("#graph g.node.op.cur").count() == 1
    presses = 0
    while page.locator("#next").is_enabled():
        page.click("#next")
        presses += 1
        assert page.locator("#graph g.node.op.cur").count() == 1
        assert page.locator("#graph g.node.op.done").count() == presses
        assert presses <= op_nodes
    assert presses + 1 == op_nodes  # steps 0 .. n-1, one per op node
    assert page.locator("#counter").inner_text() == f"step {op_nodes - 1} / {op_nodes - 1}"
    assert "mean" in page.locator("#step-info").inner_text()  # the last record: the first op of the forward pass
    assert "test_backprop_html.py" in page.locator("#step-info").inner_text()  # its source line

    # the final step lists every leaf gradient, equal to what backward() computed
    for t in (x, gamma, beta):
        row = page.locator(f'#final-table tr[data-leaf="true"]:has-text("{t.name}")')
        assert row.count() == 1
        np.testing.assert_allclose(json.loads(row.get_attribute("data-values")), t.grad.data.ravel(), rtol=1e-12)
    assert page.locator("#graph g.node.final").count() == len(viz.walk([loss])[0]) - 1 - 2  # all but dy, 2 consts
    page.screenshot(path=str(tmp_path / "last_step.png"), full_page=True)

    # the keyboard and the slider move between steps
    page.keyboard.press("ArrowLeft")
    assert page.locator("#counter").inner_text() == f"step {op_nodes - 2} / {op_nodes - 1}"
    page.keyboard.press("Home")
    assert page.locator("#counter").inner_text() == f"step 0 / {op_nodes - 1}"
    page.locator("#slider").fill("4")
    assert page.locator("#counter").inner_text() == f"step 4 / {op_nodes - 1}"
    assert "div" in page.locator("#step-info").inner_text()
    page.screenshot(path=str(tmp_path / "step4.png"))

    assert errors == []
    assert requests and all(url.startswith("file:") for url in requests), requests
    assert (tmp_path / "last_step.png").stat().st_size > 10_000
    context.close()


def test_page_of_a_leaf_has_no_steps(tmp_path):
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    data = page_data(viz.backprop_html(x, tmp_path / "bp.html", grad=np.ones(2)))
    assert data["steps"] == [] and data["loss"]["label"] == "x"
    with pytest.raises(RuntimeError, match="pass grad="):
        viz.backprop_html(x * 2.0, tmp_path / "bp.html")
