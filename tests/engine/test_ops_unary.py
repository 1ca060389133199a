"""The elementwise ops of one tensor (tinygrad6/engine/ops/unary.py: exp, log, sqrt, abs, relu, sigmoid, tanh, cast)
against numpy; relu and abs at their kink; second derivatives of functions of one variable against closed forms at
float64 precision. The machinery every case goes through is in tests/opcheck.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opcheck import POINTS, RTOL_F64, Case, CaseTable, check_case, grads_of, np_sigmoid
from strategies import arrays, nonzero_arrays, positive_arrays

import tinygrad6
from tinygrad6 import Tensor

CASES = CaseTable()
unary = CASES.unary


# -- elementwise functions of one tensor --------------------------------------------------------------------------
unary("exp", lambda x: x.exp(), np.exp)
unary("log", lambda x: x.log(), np.log, positive_arrays)
unary("sqrt", lambda x: x.sqrt(), np.sqrt, positive_arrays)
unary("abs", lambda x: x.abs(), np.abs, nonzero_arrays)
unary("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), nonzero_arrays)
unary("sigmoid", lambda x: x.sigmoid(), np_sigmoid, lambda s: arrays(s, -6, 6))
unary("tanh", lambda x: x.tanh(), np.tanh)


# -- the test every case goes through (tests/opcheck.py) ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_op_forward_gradient_float32_and_second_order(case: Case, data) -> None:
    check_case(case, data)


# -- cast ---------------------------------------------------------------------------------------------------------
def test_astype_casts_forward_and_casts_the_gradient_back():
    x = Tensor(np.array([1.5, -2.25, 3.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.creator is not None and y.creator.name == "cast"
    np.testing.assert_array_equal(y.data, np.array([1.5, -2.25, 3.0], dtype=np.float32))
    v = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    (y * 2).backward(v)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, 2 * v.astype(np.float64))
    assert x.astype(np.float64) is x  # no-op cast: no node


def test_astype_to_integer_gives_a_tensor_without_grad():
    # regression: an integer cast of a tensor that requires grad used to require grad itself
    x = Tensor([1.7, -2.2], requires_grad=True)
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.creator is None
    np.testing.assert_array_equal(i.data, [1, -2])


# -- kinks: the documented value ----------------------------------------------------------------------------------
def test_relu_and_abs_gradients_at_zero_are_zero():
    v = np.arange(1.0, len(POINTS) + 1)  # a distinct upstream gradient per element
    (g_relu,) = grads_of(lambda x: x.relu(), POINTS, upstream=v)
    (g_abs,) = grads_of(lambda x: x.abs(), POINTS, upstream=v)
    np.testing.assert_array_equal(g_relu, v * (POINTS > 0))   # ReLU: dx = gy * (x > 0): 0 at x = 0
    np.testing.assert_array_equal(g_abs, v * np.sign(POINTS))  # abs: dx = gy * sign(x): 0 at x = 0


# -- second derivatives against closed forms, at float64 precision ------------------------------------------------
X = np.array([0.3, 0.7, 1.1, 1.9, 2.6])  # positive: the domain of log, sqrt and 1/x


SECOND_DERIVATIVES = {
    # name: (f on a Tensor, f'' in numpy)
    "exp": (lambda t: t.exp(), np.exp),
    "log": (lambda t: t.log(), lambda x: -1 / x**2),
    "sqrt": (lambda t: t.sqrt(), lambda x: -0.25 * x**-1.5),
    "tanh": (lambda t: t.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    "sigmoid": (lambda t: t.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    "reciprocal": (lambda t: 1.0 / t, lambda x: 2 / x**3),
    "cube": (lambda t: t**3.0, lambda x: 6 * x),
    "pow_2.5": (lambda t: t**2.5, lambda x: 2.5 * 1.5 * x**0.5),
    "x_over_x_plus_1": (lambda t: t / (t + 1.0), lambda x: -2 / (x + 1) ** 3),
}


@pytest.mark.parametrize("name", sorted(SECOND_DERIVATIVES))
def test_second_derivative_matches_the_closed_form(name):
    f, f2 = SECOND_DERIVATIVES[name]
    rng = np.random.default_rng(3)
    v, w = rng.normal(size=X.shape), rng.normal(size=X.shape)
    x = Tensor(X, requires_grad=True)
    (g,) = tinygrad6.grad([f(x)], [x], [v], create_graph=True)  # v * f'(x)
    (h,) = tinygrad6.grad([g], [x], [w])  # w * v * f''(x)
    np.testing.assert_allclose(h.data, w * v * f2(X), rtol=RTOL_F64)
