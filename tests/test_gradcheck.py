"""`numerical_grad`, `gradcheck` and `gradgradcheck` themselves: they pass correct gradients, and they catch wrong
ones (including a wrong gradient whose error a check of plain sum(f(x)) would miss)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, shapes

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import GradcheckError, Op, Tensor


class SquareMissingTwo(Op):
    """y = x**2 with a wrong backward (gy * x instead of gy * 2x)."""

    name = "square_missing_two"

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * self.inputs[0]


class SquareDetachedBackward(Op):
    """y = x**2 with a first derivative that is right in value but built from a detached array, so it is not
    differentiable again: the second derivative comes out 0 instead of 2."""

    name = "square_detached"

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * Tensor(2 * self.inputs[0].data)


def test_numerical_grad_matches_the_closed_form():
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    v = np.array([1.0, -1.0, 0.5])
    gx, gw = tinygrad6.numerical_grad(lambda a, b: a**3 * b, x, w, grad_output=v)
    np.testing.assert_allclose(gx, v * 3 * x.data**2 * w.data, rtol=1e-8)
    np.testing.assert_allclose(gw, v * x.data**3, rtol=1e-8)
    (only,) = tinygrad6.numerical_grad(lambda a, b: (a * b).sum(), x, Tensor([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(only, np.ones(3), rtol=1e-8)  # inputs without requires_grad get none


def test_gradcheck_passes_a_correct_gradient_and_leaves_the_inputs_alone():
    x = Tensor(np.array([[0.3, -0.2], [1.5, 0.7]], dtype=np.float32), requires_grad=True)
    before = x.data.copy()
    assert tinygrad6.gradcheck(lambda t: F.softmax(t) * t.tanh(), x)
    np.testing.assert_array_equal(x.data, before)
    assert x.data.dtype == np.float32 and x.grad is None


def test_gradcheck_error_names_the_input_the_index_and_both_values():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        tinygrad6.gradcheck(lambda a, b: a * SquareMissingTwo.apply(b), x, w)
    message = str(info.value)
    assert message.startswith("gradcheck: gradient mismatch for input 1 (shape (2,)) at index (0,): analytic ")
    v = np.random.default_rng(0).standard_normal(2)
    analytic, numerical = v[0] * x.data[0] * w.data[0], v[0] * x.data[0] * 2 * w.data[0]
    found = re.search(r"analytic (\S+), numerical (\S+) \(", message)
    assert float(found[1]) == pytest.approx(analytic, rel=1e-9)
    assert float(found[2]) == pytest.approx(numerical, rel=1e-6)
    assert "2 of 2 elements differ" in message


def test_gradcheck_catches_a_wrong_batchnorm_like_gradient_invisible_to_sum():
    # normalized = (x - mean) / std: d/dx sum(normalized) is exactly 0 for the right gradient AND for the "forgot the
    # std depends on x" gradient; only a random projection tells them apart
    def normalize_wrong(x):
        centered = x - x.mean()
        std = (centered * centered).mean().sqrt().detach()  # the bug: std treated as a constant
        return centered / std

    def normalize(x):
        centered = x - x.mean()
        return centered / (centered * centered).mean().sqrt()

    x = Tensor(np.array([0.3, -1.2, 2.0, 0.5, 1.1]), requires_grad=True)
    for fn in (normalize, normalize_wrong):
        (g_sum,) = tinygrad6.grad(fn(x).sum(), x)
        np.testing.assert_allclose(g_sum.data, 0, atol=1e-12)  # the vacuous check passes both
    assert tinygrad6.gradcheck(normalize, x)
    with pytest.raises(GradcheckError):
        tinygrad6.gradcheck(normalize_wrong, x)


def test_gradcheck_accepts_non_differentiable_inputs_and_requires_one_differentiable():
    logits = Tensor(np.array([[0.2, -1.0, 0.5], [1.0, 0.0, -0.3]]), requires_grad=True)
    labels = np.array([2, 0])
    assert tinygrad6.gradcheck(F.cross_entropy, logits, labels)
    assert tinygrad6.gradcheck(lambda z, t: F.cross_entropy(z, t), logits, Tensor(labels))
    with pytest.raises(ValueError, match="no input requires grad"):
        tinygrad6.gradcheck(lambda a: a * 2, Tensor([1.0]))


def test_gradgradcheck_passes_correct_second_derivatives_including_linear_functions():
    x = Tensor(np.array([0.3, -0.8, 1.2]), requires_grad=True)
    w = Tensor(np.array([1.5, 0.5, -1.0]), requires_grad=True)
    assert tinygrad6.gradgradcheck(lambda a, b: (a * b).tanh() * a.exp(), x, w)
    # regression: the first derivative of a linear function does not depend on x, which used to crash gradgradcheck
    # with "output 0 does not require grad" instead of checking a zero second derivative
    assert tinygrad6.gradgradcheck(lambda a: a * 3 + 1, x)
    assert tinygrad6.gradgradcheck(lambda a: a.relu().sum(), x)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = Tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert tinygrad6.gradcheck(SquareDetachedBackward.apply, x)  # first order is right
    with pytest.raises(GradcheckError, match="gradient mismatch for input 0"):
        tinygrad6.gradgradcheck(SquareDetachedBackward.apply, x)


@given(data=st.data())
def test_numerical_grad_of_polynomials_against_the_closed_form(data):
    shape = data.draw(shapes())
    x = Tensor(data.draw(arrays(shape)), requires_grad=True)
    v = data.draw(arrays(shape))
    (g,) = tinygrad6.numerical_grad(lambda t: t * t * t - t * 2, x, grad_output=v)
    np.testing.assert_allclose(g, v * (3 * x.data**2 - 2), rtol=1e-6, atol=1e-7)
