"""The arithmetic ops (tinygrad6/engine/ops/arithmetic.py: add, sub, mul, div, neg, pow, matmul) against numpy, with
Python scalars and numpy arrays on either side; pow at exponent zero and mixed second derivatives of a quotient
against closed forms. The machinery every case goes through is in tests/opcheck.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opcheck import POINTS, RTOL_F64, Case, CaseTable, check_case, grads_of, torch_grads
from strategies import arrays, broadcastable_shapes, nonzero_arrays, positive_arrays, shapes

import tinygrad6
from tinygrad6 import ShapeError, Tensor

CASES = CaseTable()
case = CASES.case
unary = CASES.unary


# -- binary arithmetic with broadcasting --------------------------------------------------------------------------
def binary(name: str, fn, ref, a_values=arrays, b_values=arrays, second_order: bool = True):
    def draw(data):
        sa, sb = data.draw(broadcastable_shapes(), label="shapes")
        return [data.draw(a_values(sa), label="a"), data.draw(b_values(sb), label="b")], fn, ref

    CASES.append(Case(name, draw, second_order))


binary("add", lambda a, b: a + b, np.add)
binary("sub", lambda a, b: a - b, np.subtract)
binary("mul", lambda a, b: a * b, np.multiply)
binary("div", lambda a, b: a / b, np.divide, b_values=nonzero_arrays)
binary("pow_tensor_exponent", lambda a, b: a**b, np.power, a_values=positive_arrays,
       b_values=lambda s: arrays(s, -2, 2))


@case("pow_scalar_exponent", second_order=True)
def _(data):
    p = data.draw(st.sampled_from([2, 3, -1, 0, 0.5, 1.5, -0.5, 2.0]), label="p")
    shape = data.draw(shapes())
    integer_power = float(p).is_integer()
    x = data.draw(nonzero_arrays(shape) if integer_power else positive_arrays(shape))  # negative base if integer p
    return [x], (lambda a: a**p), (lambda a: np.power(a, p))


@case("python_scalars_either_side", second_order=True)
def _(data):
    x = data.draw(positive_arrays(data.draw(shapes())))
    return [x], (lambda a: 2 * a - 1.5 + 3 / a - a / 4 + 2**a + 1 - a), \
        (lambda a: 2 * a - 1.5 + 3 / a - a / 4 + 2**a + 1 - a)


@case("numpy_array_either_side", second_order=True, float32_result=False)
def _(data):
    sa, sb = data.draw(broadcastable_shapes())
    a, c = data.draw(arrays(sa)), data.draw(nonzero_arrays(sb))
    return [a], (lambda t: c * t + t - c + c / (t * t + 1)), (lambda t: c * t + t - c + c / (t * t + 1))


@case("matmul", second_order=True)
def _(data):
    m, k, n = (data.draw(st.integers(1, 3), label=s) for s in "mkn")
    batch_a, batch_b = data.draw(broadcastable_shapes(2, min_dims=0, max_dims=2, max_side=3), label="batch")
    a_shape = (k,) if data.draw(st.booleans(), label="a is 1-D") else batch_a + (m, k)
    b_shape = (k,) if data.draw(st.booleans(), label="b is 1-D") else batch_b + (k, n)
    return [data.draw(arrays(a_shape)), data.draw(arrays(b_shape))], (lambda a, b: a @ b), np.matmul


@case("matmul_numpy_on_the_left", float32_result=False)
def _(data):
    m, k, n = (data.draw(st.integers(1, 3), label=s) for s in "mkn")
    W = data.draw(arrays((m, k)))
    return [data.draw(arrays((k, n)))], (lambda x: W @ x), (lambda x: W @ x)


unary("neg", lambda x: -x, np.negative)


# -- the test every case goes through (tests/opcheck.py) ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_op_forward_gradient_float32_and_second_order(case: Case, data) -> None:
    check_case(case, data)


# -- ops that need a test of their own ----------------------------------------------------------------------------
def test_x_times_x_gradient_and_second_derivative():
    x = Tensor([-1.5, 0.0, 2.0], requires_grad=True)
    (g,) = tinygrad6.grad((x * x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, 2 * x.data)
    (h,) = tinygrad6.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, [2.0, 2.0, 2.0])


def test_pow_with_exponent_zero_has_zero_gradient_at_zero():
    # regression: d/dx x**0 was computed as 0 * 0**-1 = NaN at x = 0 (PyTorch gives 0)
    x = Tensor([0.0, 2.0], requires_grad=True)
    e = Tensor([0.0, 3.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        (x**0 + x**e).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 12.0])


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_pow_with_exponent_zero_has_gradient_zero_at_zero():
    (g,) = grads_of(lambda x: x**0.0, POINTS)
    np.testing.assert_array_equal(g, np.zeros_like(POINTS))  # d/dx x**0 = 0 everywhere (PyTorch: 0, not NaN)


def test_pow_of_a_zero_base_has_zero_gradient_for_the_exponent():
    # y = a**b with a = 0 and b >= 0 is constant (0, or 1 at b = 0) in b: dy/db = 0 (PyTorch and HIPS autograd); the
    # rule's y * log(a) gave 0 * -inf = NaN. Elsewhere dy/db = a**b log a, and second derivatives still work.
    a = Tensor([0.0, 0.0, 0.0, 2.0, 0.5], requires_grad=True)
    b = Tensor([2.0, 0.5, 0.0, 3.0, -1.0], requires_grad=True)
    with np.errstate(divide="ignore"):  # da = b a**(b - 1) is inf at a = 0, b = 0.5
        ga, gb = tinygrad6.grad((a**b).sum(), [a, b], create_graph=True)
    np.testing.assert_allclose(gb.data, [0.0, 0.0, 0.0, 8 * np.log(2), 2 * np.log(0.5)], rtol=RTOL_F64)
    np.testing.assert_allclose(ga.data[3:], [12.0, -4.0], rtol=RTOL_F64)
    with np.errstate(divide="ignore"):
        (hb,) = tinygrad6.grad(gb[3:].sum(), b)  # d2y/db2 = a**b log(a)**2
    np.testing.assert_allclose(hb.data, [0, 0, 0, 8 * np.log(2) ** 2, 2 * np.log(0.5) ** 2], rtol=RTOL_F64)
    assert (Tensor(0.0) ** Tensor(2.0, requires_grad=True)).creator is not None
    y = Tensor(2.0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor a divide-by-zero warning from log(0)
        (Tensor(0.0) ** y).backward()
    assert y.grad.item() == 0.0  # the finding: NaN


def test_pow_of_a_zero_base_agrees_with_pytorch():
    a, b = np.array([0.0, 0.0, 0.0, 2.0, 3.0]), np.array([2.0, 0.5, 0.0, 3.0, -1.5])
    v = np.array([1.0, -2.0, 0.5, 1.5, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        (ga, gb), (ta, tb) = (grads(lambda x, y: x**y, a, b, upstream=v) for grads in (grads_of, torch_grads))
    np.testing.assert_allclose(gb, tb, rtol=RTOL_F64, atol=0)
    # da at a = b = 0 (0 * 0**-1) is another convention, left as it was for a b that requires grad (see Pow)
    np.testing.assert_allclose(ga[b != 0], ta[b != 0], rtol=RTOL_F64, atol=0)


def test_mixed_second_derivatives_of_a_quotient():
    # y = a / b:  d2y/da db = -1/b**2,  d2y/db2 = 2a/b**3,  d2y/da2 = 0
    a_np, b_np = np.array([0.5, -1.5, 2.0]), np.array([1.3, 0.4, -2.2])
    a, b = Tensor(a_np, requires_grad=True), Tensor(b_np, requires_grad=True)
    ga, gb = tinygrad6.grad([a / b], [a, b], [np.ones(3)], create_graph=True)
    h_ab, h_bb = tinygrad6.grad([gb], [a, b], [np.ones(3)], retain_graph=True)
    np.testing.assert_allclose(h_ab.data, -1 / b_np**2, rtol=RTOL_F64)
    np.testing.assert_allclose(h_bb.data, 2 * a_np / b_np**3, rtol=RTOL_F64)
    (h_ba,) = tinygrad6.grad([ga], [b], [np.ones(3)])
    np.testing.assert_allclose(h_ba.data, -1 / b_np**2, rtol=RTOL_F64)


def test_matmul_shape_error_message_is_exact():
    with pytest.raises(ShapeError) as info:
        Tensor(np.ones((100, 784))) @ Tensor(np.ones((100, 100)))
    assert str(info.value) == "matmul: shapes (100, 784) and (100, 100) do not align (784 != 100)"
