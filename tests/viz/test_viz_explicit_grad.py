"""`viz.trace` and `viz.backprop_html` against an independent reference: the closed-form gradients of a small graph,
computed in numpy, for a non-scalar output with an explicit `grad=` (the seed must be used, not replaced by ones),
and for a scalar output with a seed other than 1. The page's data is read from the JSON it embeds."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tinygrad6 import Tensor, viz
from tinygrad6.viz.html import expand

RNG = np.random.default_rng(12)
X, W, C = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
G = RNG.normal(size=(2, 3))  # the upstream gradient of y


def graph():
    """y = exp(x * w) * c, with c a constant: x and w are leaves that need gradients, c needs none."""
    x, w = Tensor(X, requires_grad=True, name="x"), Tensor(W, requires_grad=True, name="w")
    c = Tensor(C, name="c")
    return (x * w).exp() * c, (x, w)


def expected_steps(seed: np.ndarray):
    """(grad_output, [gradient sent to each input or None]) per backward step, in closed form."""
    e = np.exp(X * W)
    g_exp = seed * C  # what the last mul sends to exp's output
    return [
        (seed, [g_exp, None]),                   # y = u * c: du = seed * c, c needs none
        (g_exp, [g_exp * e]),                    # u = exp(v): dv = du * exp(v)
        (g_exp * e, [g_exp * e * W, g_exp * e * X]),  # v = x * w
    ]


def norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(a * a)))


@pytest.mark.parametrize("seed", [G, 2.5 * np.ones((2, 3))])
def test_trace_uses_the_explicit_grad_of_a_non_scalar_output(seed):
    y, (x, w) = graph()
    rows = viz.trace(y, grad=seed, quiet=True)
    expected = expected_steps(seed)
    assert [r.op for r in rows] == ["mul", "exp", "mul"]
    for row, (g_out, g_ins) in zip(rows, expected):
        assert row.grad_output_norm == pytest.approx(norm(g_out), rel=1e-12)
        assert len(row.grad_input_norms) == len(g_ins)
        for got, want in zip(row.grad_input_norms, g_ins):
            if want is None:
                assert got is None
            else:
                assert got == pytest.approx(norm(want), rel=1e-12)
    assert rows[-1].finalized == ["x", "w"] or sorted(rows[-1].finalized) == ["w", "x"]
    assert x.grad is None and w.grad is None


def test_trace_of_a_scalar_output_uses_a_seed_other_than_one():
    y, (x, w) = graph()
    loss = y.sum()
    rows = viz.trace(loss, grad=np.array(3.0), quiet=True)
    assert rows[0].op == "sum" and rows[0].grad_output_norm == pytest.approx(3.0, rel=1e-15)
    expected = expected_steps(np.full((2, 3), 3.0))
    for row, (g_out, g_ins) in zip(rows[1:], expected):
        assert row.grad_output_norm == pytest.approx(norm(g_out), rel=1e-12)
        assert row.grad_input_norms[0] == pytest.approx(norm(g_ins[0]), rel=1e-12)


def page_data(path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="backward-data">(.*?)</script>', text, re.S)
    return expand(json.loads(match.group(1)))  # gradients and rules are stored once, referenced by index


@pytest.mark.skipif(not viz.dot_available(), reason="Graphviz `dot` is not installed")
def test_backprop_html_uses_the_explicit_grad_of_a_non_scalar_output(tmp_path):
    y, (x, w) = graph()
    data = page_data(viz.backprop_html(y, tmp_path / "bp.html", grad=G))
    np.testing.assert_allclose(data["loss"]["grad"]["values"], G.ravel(), rtol=1e-15)
    steps = data["steps"]
    assert [s["name"] for s in steps] == ["mul", "exp", "mul"]
    for step, (g_out, g_ins) in zip(steps, expected_steps(G)):
        np.testing.assert_allclose(step["grad_output"]["values"], g_out.ravel(), rtol=1e-12)
        for sent, want in zip(step["inputs"], g_ins):
            if want is None:
                assert sent["grad"] is None
            else:
                np.testing.assert_allclose(sent["grad"]["values"], want.ravel(), rtol=1e-12)
                assert sent["grad"]["norm"] == pytest.approx(norm(want), rel=1e-12)
    final = {f["label"]: f["grad"]["values"] for f in steps[-1]["finalized"]}
    e = np.exp(X * W)
    np.testing.assert_allclose(final["x"], (G * C * e * W).ravel(), rtol=1e-12)
    np.testing.assert_allclose(final["w"], (G * C * e * X).ravel(), rtol=1e-12)
    assert x.grad is None and w.grad is None
