"""BatchNorm1d's backward, taken from the graph, is the book's hand-written BatchNormalization backward, line by line.

The book (chapter 6, common/layers.py) computes dbeta, dgamma, dxn, dxc, dstd, dvar, dxc += ..., dmu and
dx = dxc - dmu / N by hand. Each of these is the gradient one step of tinygrad6's backward pass sends to one named
tensor; the steps are found by op name and by the names of the tensors they touch, never by position alone.
A random upstream gradient and a batch of more than one sample keep the check from being vacuous (the sum of a
normalized batch does not depend on x).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import Tensor, nn
from tinygrad6.engine.autograd import BackwardStep

N, D = 6, 4
ATOL = 1e-12


def book_backward(x: np.ndarray, gamma: np.ndarray, dout: np.ndarray, eps: float) -> dict[str, np.ndarray]:
    """The book's training-mode BatchNormalization forward values, then its backward in its order and names."""
    n = x.shape[0]
    xc = x - x.mean(axis=0)
    std = np.sqrt((xc ** 2).mean(axis=0) + eps)
    xn = xc / std
    book = {"dbeta": dout.sum(axis=0), "dgamma": (xn * dout).sum(axis=0), "dxn": gamma * dout}
    book["dxc_div"] = book["dxn"] / std  # the book's first `dxc = dxn / std`
    book["dstd"] = -(book["dxn"] * xc / (std * std)).sum(axis=0)
    book["dvar"] = 0.5 * book["dstd"] / std
    book["dxc_var"] = (2.0 / n) * xc * book["dvar"]  # the book's `dxc += (2.0 / batch_size) * xc * dvar`
    book["dxc"] = book["dxc_div"] + book["dxc_var"]
    book["dmu"] = book["dxc"].sum(axis=0)
    book["dx"] = book["dxc"] - book["dmu"] / n
    return book


def names(tensors) -> list[str | None]:
    return [t.name for t in tensors]


def only_step(steps: list[BackwardStep], op: str, inputs: list[str | None], output: str | None = None) -> BackwardStep:
    """The single step that ran `op` on inputs named exactly `inputs` (None: an unnamed tensor or a constant)."""
    found = [s for s in steps if s.op.name == op and names(s.inputs) == inputs
             and (output is None or (s.output is not None and s.output.name == output))]
    assert len(found) == 1, f"expected one {op}{tuple(inputs)} step, found {len(found)}"
    return found[0]


def sent_to(step: BackwardStep, name: str) -> np.ndarray:
    """What `step` sent to its input(s) named `name`, summed over every use."""
    grads = [g.data for t, g in zip(step.inputs, step.grad_inputs) if t.name == name]
    assert grads, f"step {step.index} ({step.op.name}) has no input named {name}"
    return sum(grads)


@pytest.fixture(params=[0, 1, 2])
def run(request):
    """A BatchNorm1d with random gamma and beta on a random (N, D) batch, projected on a random upstream dy."""
    rng = np.random.default_rng(request.param)
    x = Tensor(rng.normal(1.0, 2.0, size=(N, D)), requires_grad=True, name="x")
    dy = rng.normal(size=(N, D))
    layer = nn.BatchNorm1d(D)
    layer.gamma.data = rng.normal(size=D)
    layer.beta.data = rng.normal(size=D)
    with tinygrad6.retain_grads():
        loss = (layer(x) * Tensor(dy, name="dy")).sum()
    steps = list(loss.backward_steps())
    book = book_backward(x.data, layer.gamma.data, dy, layer.eps)
    return x, layer, steps, book


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)


def test_dbeta_dgamma_dxn_are_what_the_affine_ops_send(run):
    _, layer, steps, book = run
    add_beta = only_step(steps, "add", [None, "beta"], output="out")
    assert_same(sent_to(add_beta, "beta"), book["dbeta"])
    mul_gamma = only_step(steps, "mul", ["gamma", "xn"])
    assert_same(sent_to(mul_gamma, "gamma"), book["dgamma"])
    assert_same(sent_to(mul_gamma, "xn"), book["dxn"])
    assert_same(layer.gamma.grad.data, book["dgamma"])
    assert_same(layer.beta.grad.data, book["dbeta"])


def test_dxc_first_part_and_dstd_are_what_div_sends(run):
    _, _, steps, book = run
    div = only_step(steps, "div", ["xc", "std"], output="xn")
    assert_same(sent_to(div, "xc"), book["dxc_div"])
    assert_same(sent_to(div, "std"), book["dstd"])
    assert not np.allclose(book["dxc_div"], book["dxc"], rtol=0, atol=ATOL)  # the variance branch adds to it


def test_dvar_is_what_sqrt_sends_and_the_eps_add_passes_on(run):
    _, _, steps, book = run
    sqrt = only_step(steps, "sqrt", [None], output="std")  # its input is var + eps, unnamed
    assert_same(sent_to(sqrt, None), book["dvar"])
    add_eps = only_step(steps, "add", ["var", None])
    assert add_eps.inputs[0].creator.name == "mean"
    assert_same(sent_to(add_eps, "var"), book["dvar"])


def test_dxc_increment_is_the_two_uses_in_xc_times_xc(run):
    _, _, steps, book = run
    square = only_step(steps, "mul", ["xc", "xc"])
    assert square.inputs[0] is square.inputs[1]
    mean_var = only_step(steps, "mean", [None], output="var")
    assert_same(sent_to(square, "xc"), book["dxc_var"])
    assert_same(square.grad_output.data, np.broadcast_to(book["dvar"] / N, (N, D)))
    assert_same(mean_var.grad_output.data, book["dvar"])
    # xc's gradient is complete exactly at that step: the book's dxc after its `+=`
    [(xc, dxc)] = [(t, g) for t, g in square.finalized if t.name == "xc"]
    assert_same(dxc.data, book["dxc"])
    assert_same(xc.grad.data, book["dxc"])


def test_dmu_and_dx_are_what_sub_and_mean_send(run):
    x, _, steps, book = run
    sub = only_step(steps, "sub", ["x", "mu"], output="xc")
    mean_mu = only_step(steps, "mean", ["x"], output="mu")
    assert_same(sub.grad_output.data, book["dxc"])
    assert_same(sent_to(sub, "mu"), -book["dmu"])  # the book's dmu is mu's gradient with the sign flipped
    assert_same(sent_to(sub, "x"), book["dxc"])
    assert_same(sent_to(mean_mu, "x"), np.broadcast_to(-book["dmu"] / N, (N, D)))
    assert_same(sub.inputs[1].grad.data, -book["dmu"])
    assert_same(x.grad.data, book["dxc"] - book["dmu"] / N)
    assert_same(x.grad.data, book["dx"])


def test_every_step_of_the_layer_is_accounted_for(run):
    """The book's nine lines use exactly the layer's ops: nothing else runs between out and x."""
    _, _, steps, _ = run
    assert sorted(s.op.name for s in steps) == sorted(["sum", "mul", "add", "mul", "div", "sqrt", "add", "mean",
                                                       "mul", "sub", "mean"])
