"""Op gradients where the other op tests do not look: exactly at kinks and ties, transposes by permutations that
differ from their inverse, second derivatives at float64 precision, and float32 gradient values.

Each test compares with an independent reference: the closed-form derivative, numpy, or PyTorch in float64 (skipped
when torch is missing). At kinks tinygrad6 follows PyTorch and documents the choice in each op's docstring: relu and
abs send 0 at x = 0, clip passes the gradient at its bounds (low <= x <= high), maximum/minimum split a tie in half,
max/min over an axis split it evenly between the tied values, and x**0 has gradient 0 at x = 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import grid_arrays, non_involutions, shapes

import tinygrad6
from tinygrad6 import Tensor

RTOL_F64 = 1e-10  # closed forms against float64 arithmetic: a few roundings apart, far below any real bug
RTOL_F32 = 2e-5   # float32 rounding (eps 1.2e-7) through a handful of ops, against the float64 result


def grads_of(f, *arrays: np.ndarray, upstream: np.ndarray | None = None, dtype=np.float64) -> list[np.ndarray]:
    """The gradients of sum(upstream * f(*xs)) with respect to each x, through tinygrad6."""
    xs = [Tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    y = f(*xs)
    v = np.ones(y.shape) if upstream is None else upstream
    return [g.data for g in tinygrad6.grad([y], xs, [v.astype(dtype)])]


def torch_grads(f, *arrays: np.ndarray, upstream: np.ndarray) -> list[np.ndarray]:
    torch = pytest.importorskip("torch")
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    y = f(*xs)
    return [g.numpy() for g in torch.autograd.grad(y, xs, torch.tensor(upstream, dtype=torch.float64))]


# -- kinks: the documented value, and PyTorch's -------------------------------------------------------------------
POINTS = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])


def test_relu_and_abs_gradients_at_zero_are_zero():
    v = np.arange(1.0, len(POINTS) + 1)  # a distinct upstream gradient per element
    (g_relu,) = grads_of(lambda x: x.relu(), POINTS, upstream=v)
    (g_abs,) = grads_of(lambda x: x.abs(), POINTS, upstream=v)
    np.testing.assert_array_equal(g_relu, v * (POINTS > 0))   # ReLU: dx = gy * (x > 0): 0 at x = 0
    np.testing.assert_array_equal(g_abs, v * np.sign(POINTS))  # abs: dx = gy * sign(x): 0 at x = 0


@pytest.mark.parametrize("low, high", [(-0.5, 1.0), (0.0, None), (None, 0.5), (-1.0, -1.0)])
def test_clip_passes_the_gradient_exactly_at_its_bounds(low, high):
    v = np.arange(1.0, len(POINTS) + 1)
    (g,) = grads_of(lambda x: x.clip(low, high), POINTS, upstream=v)
    inside = (POINTS >= (-np.inf if low is None else low)) & (POINTS <= (np.inf if high is None else high))
    np.testing.assert_array_equal(g, v * inside)
    on_a_bound = np.isin(POINTS, [b for b in (low, high) if b is not None])
    assert on_a_bound.any() and (g[on_a_bound] == v[on_a_bound]).all()


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_pow_with_exponent_zero_has_gradient_zero_at_zero():
    (g,) = grads_of(lambda x: x**0.0, POINTS)
    np.testing.assert_array_equal(g, np.zeros_like(POINTS))  # d/dx x**0 = 0 everywhere (PyTorch: 0, not NaN)


@given(st.data())
def test_kinks_and_ties_agree_with_pytorch(data):
    shape = data.draw(shapes(min_dims=1, max_dims=2), label="shape")
    grid = [-1.0, -0.5, 0.0, 0.5, 1.0]  # clip's bounds, relu's kink and ties all lie on it
    a = data.draw(grid_arrays(shape, grid), label="a")
    b = data.draw(grid_arrays(shape, grid), label="b")
    v = np.random.default_rng(0).normal(size=shape)
    cases = [
        (lambda x: x.relu(), lambda x: x.relu(), (a,)),
        (lambda x: x.abs(), lambda x: x.abs(), (a,)),
        (lambda x: x.clip(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), (a,)),
        (lambda x, y: x.maximum(y), lambda x, y: x.maximum(y), (a, b)),
        (lambda x, y: x.minimum(y), lambda x, y: x.minimum(y), (a, b)),
    ]
    for ours, theirs, args in cases:
        for g, expected in zip(grads_of(ours, *args, upstream=v), torch_grads(theirs, *args, upstream=v)):
            np.testing.assert_allclose(g, expected, rtol=0, atol=1e-15)


def test_maximum_and_minimum_split_a_tie_in_half():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])
    v = np.array([4.0, 5.0, 6.0])
    ga, gb = grads_of(lambda x, y: x.maximum(y), a, b, upstream=v)
    np.testing.assert_array_equal(ga, v * np.array([0.5, 0.0, 1.0]))
    np.testing.assert_array_equal(gb, v * np.array([0.5, 1.0, 0.0]))
    ga, gb = grads_of(lambda x, y: x.minimum(y), a, b, upstream=v)
    np.testing.assert_array_equal(ga, v * np.array([0.5, 1.0, 0.0]))
    np.testing.assert_array_equal(gb, v * np.array([0.5, 0.0, 1.0]))


@pytest.mark.parametrize("reduce", ["max", "min"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_max_and_min_split_ties_evenly(reduce, axis):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [3.0, 1.0, 1.0]])
    (g,) = grads_of(lambda t: getattr(t, reduce)(axis=axis).sum(), x)
    best = getattr(x, reduce)(axis=axis, keepdims=True)
    chosen = (x == best).astype(float)
    np.testing.assert_allclose(g, chosen / chosen.sum(axis=axis, keepdims=True), rtol=RTOL_F64)


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_max_and_min_ties_agree_with_pytorch(reduce):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [3.0, 1.0, 1.0]])
    v = np.array([0.5, -2.0, 3.0])
    (g,) = grads_of(lambda t: getattr(t, reduce[1:])(axis=1), x, upstream=v)
    (expected,) = torch_grads(lambda t: getattr(t, reduce)(dim=1), x, upstream=v)
    np.testing.assert_allclose(g, expected, rtol=RTOL_F64)


# -- transpose by a permutation that is not its own inverse -------------------------------------------------------
@given(st.data())
def test_transpose_gradient_applies_the_inverse_permutation(data):
    ndim = data.draw(st.integers(3, 4), label="ndim")
    perm = data.draw(non_involutions(ndim), label="perm")
    shape = tuple(range(2, 2 + ndim))  # distinct sides, so a wrong permutation also has the wrong shape
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    v = np.random.default_rng(1).normal(size=tuple(shape[p] for p in perm))
    (g,) = grads_of(lambda t: t.transpose(*perm), x, upstream=v)
    np.testing.assert_array_equal(g, v.transpose(np.argsort(perm)))


def test_transpose_gradient_for_a_3_cycle_on_a_cube():
    # all sides equal: a backward that used the permutation itself would keep the shape and only move values
    perm = (1, 2, 0)
    v = np.arange(27.0).reshape(3, 3, 3)
    (g,) = grads_of(lambda t: t.transpose(*perm), np.zeros((3, 3, 3)), upstream=v)
    np.testing.assert_array_equal(g, np.transpose(v, (2, 0, 1)))  # the inverse of (1, 2, 0)


# -- first derivatives at float64 precision -----------------------------------------------------------------------
@pytest.mark.parametrize("shape, axis", [((3, 7), 1), ((3, 7), 0), ((2, 3, 7), (0, 2)), ((6,), None)])
def test_mean_gradient_is_exactly_one_over_n(shape, axis):
    x = np.random.default_rng(2).normal(size=shape)
    (g,) = grads_of(lambda t: t.mean(axis=axis).sum(), x)
    n = x.size // np.mean(x, axis=axis).size
    np.testing.assert_allclose(g, np.full(shape, 1.0 / n), rtol=1e-14)


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


def test_second_derivative_of_a_network_loss_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x_np, w_np, u_np = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    labels = np.array([0, 4, 2, 1])

    def ours():
        x, w = Tensor(x_np), Tensor(w_np, requires_grad=True)
        h = (x @ w).tanh().maximum(0.1 * (x @ w)) / (1.0 + (x @ w).exp().sqrt())
        loss = tinygrad6.F.cross_entropy(h, labels)
        (g,) = tinygrad6.grad(loss, w, create_graph=True)
        (hv,) = tinygrad6.grad((g * Tensor(u_np)).sum(), w)  # Hessian-vector product H u
        return hv.data

    def theirs():
        x, w = torch.tensor(x_np), torch.tensor(w_np, requires_grad=True)
        z = x @ w
        h = torch.maximum(z.tanh(), 0.1 * z) / (1.0 + z.exp().sqrt())
        loss = torch.nn.functional.cross_entropy(h, torch.tensor(labels))
        (g,) = torch.autograd.grad(loss, w, create_graph=True)
        (hv,) = torch.autograd.grad((g * torch.tensor(u_np)).sum(), w)
        return hv.numpy()

    np.testing.assert_allclose(ours(), theirs(), rtol=RTOL_F64, atol=1e-14)


# -- float32: gradient values, not only dtypes -------------------------------------------------------------------
FLOAT32_CASES = {
    "mean_axis": (lambda t: t.mean(axis=1), (2.0,)),
    "mean_all": (lambda t: (t * t).mean(), ()),
    "exp_log": (lambda t: (t.exp() + 1.0).log(), ()),
    "sqrt_div": (lambda t: t.abs().sqrt() / (t * t + 1.0), ()),
    "sigmoid_tanh": (lambda t: t.sigmoid() * t.tanh(), ()),
    "softmax": (lambda t: tinygrad6.F.softmax(t, axis=-1), ()),
    "matmul_relu": (lambda t: (t @ t.transpose()).relu(), ()),
    "max_axis": (lambda t: t.max(axis=0), ()),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_gradient_values_match_float64(name):
    f, _ = FLOAT32_CASES[name]
    rng = np.random.default_rng(5)
    x = rng.uniform(0.2, 1.5, size=(3, 7)) * rng.choice([-1, 1], size=(3, 7))
    y_shape = f(Tensor(x)).shape
    v = rng.normal(size=y_shape)
    (g32,) = grads_of(f, x.astype(np.float32), upstream=v.astype(np.float32), dtype=np.float32)
    (g64,) = grads_of(f, x.astype(np.float32).astype(np.float64), upstream=v.astype(np.float32).astype(np.float64))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=RTOL_F32, atol=RTOL_F32 * np.abs(g64).max())
