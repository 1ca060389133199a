"""Shared machinery of the op tests (tests/engine/test_ops_*.py, tests/test_functional.py); pytest does not collect it.

Each op test file fills a `CaseTable` with `Case`s. For each case hypothesis draws shapes, parameters (axes,
indices...) and values inside the op's domain, then `check_case` checks:
1. forward equals the numpy reference;
2. the gradient of sum(v * f(x)) for a random v equals central differences of the *numpy* reference
   (`strategies.central_difference`, independent of the engine) and passes `tinygrad6.gradcheck`;
3. the same computation in float32 stays float32, values and gradients;
4. for elementwise ops, matmul, reductions and the softmax family: `tinygrad6.gradgradcheck` (second derivatives).

The tests at kinks and ties compare with an independent reference: the closed-form derivative, numpy, or PyTorch in
float64 (`torch_grads`, skipped when torch is missing). At kinks tinygrad6 follows PyTorch and documents the choice in
each op's docstring: relu and abs send 0 at x = 0, clip passes the gradient at its bounds (low <= x <= high),
maximum/minimum split a tie in half, max/min over an axis split it evenly between the tied values, and x**0 has
gradient 0 at x = 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import strategies as st
from strategies import arrays, central_difference, shapes

import tinygrad6
from tinygrad6 import Tensor

RTOL_F64 = 1e-10  # closed forms against float64 arithmetic: a few roundings apart, far below any real bug


# -- the case table -----------------------------------------------------------------------------------------------
@dataclass
class Case:
    """draw(data) -> (arrays, fn, ref): the differentiable inputs, the tinygrad6 function of Tensors and the numpy
    reference of arrays (both closing over the drawn parameters)."""

    name: str
    draw: Callable
    second_order: bool = False
    float32_result: bool = True  # False where a float64 numpy constant joins in (numpy promotes to float64)


class CaseTable(list):
    """The cases of one test file, in the order they are registered."""

    def case(self, name: str, second_order: bool = False, float32_result: bool = True):
        """Decorator: registers draw(data) -> (arrays, fn, ref) as a case."""

        def register(draw):
            self.append(Case(name, draw, second_order, float32_result))
            return draw

        return register

    def unary(self, name: str, fn, ref, values=arrays) -> None:
        """Registers an elementwise function of one tensor, on any shape, with values drawn by `values`."""

        def draw(data):
            return [data.draw(values(data.draw(shapes(), label="shape")), label="x")], fn, ref

        self.append(Case(name, draw, second_order=True))


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- the test every case goes through -----------------------------------------------------------------------------
def check_case(case: Case, data) -> None:
    """Forward, gradient, float32 and second order of one drawn case (see the module docstring)."""
    arrays_, fn, ref = case.draw(data)
    seed = data.draw(st.integers(0, 2**32 - 1), label="upstream gradient seed")

    # 1. forward against numpy
    xs = [Tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays_)]
    y = fn(*xs)
    expected = np.asarray(ref(*arrays_))
    assert y.shape == expected.shape
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)

    # 2. gradient of sum(v * y) for a random v: independent central differences of the numpy reference, and gradcheck
    v = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(v)
    numerical = central_difference(ref, arrays_, v)
    for x, n in zip(xs, numerical):
        analytic = np.zeros(x.shape) if x.grad is None else x.grad.data
        assert analytic.shape == x.shape
        np.testing.assert_allclose(analytic, n, rtol=1e-5, atol=1e-6, err_msg=f"{case.name}: gradient of {x.name}")
    assert tinygrad6.gradcheck(fn, *[Tensor(a, requires_grad=True) for a in arrays_], seed=seed % 1000)

    # 3. float32 in, float32 out, float32 gradients (Python scalars and the op's own constants must not upcast)
    xs32 = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays_]
    y32 = fn(*xs32)
    assert y32.dtype == (np.float32 if case.float32_result else np.float64), f"{case.name}: dtype {y32.dtype}"
    # float32 rounding of inputs and result (values up to ~20, e.g. exp(3) or 1/0.25**2)
    np.testing.assert_allclose(y32.data, expected, rtol=1e-4, atol=1e-4)
    y32.backward(v.astype(y32.dtype))
    for x in xs32:
        assert x.grad is None or x.grad.dtype == np.float32  # the gradient has its input's dtype

    # 4. second derivatives
    if case.second_order:
        assert tinygrad6.gradgradcheck(fn, *[Tensor(a, requires_grad=True) for a in arrays_], seed=seed % 1000)


# -- gradients at kinks and ties, through tinygrad6 and through PyTorch -------------------------------------------
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


POINTS = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
