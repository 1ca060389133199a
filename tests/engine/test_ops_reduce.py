"""The reductions (tinygrad6/engine/ops/reduce.py: sum, mean, max, min; and var, built on mean) against numpy; max and
min splitting ties evenly (and as PyTorch does), integer data, mean to the bit and its gradient of exactly 1/n.
The machinery every case goes through is in tests/opcheck.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opcheck import RTOL_F64, Case, CaseTable, check_case, grads_of, torch_grads
from strategies import arrays, axes, distinct_arrays, shapes

from tinygrad6 import Tensor

CASES = CaseTable()


# -- reductions ---------------------------------------------------------------------------------------------------
def reduction(name: str, method: str, ref, distinct: bool = False):
    def draw(data):
        shape = data.draw(shapes(), label="shape")
        axis = data.draw(axes(len(shape)), label="axis")
        keepdims = data.draw(st.booleans(), label="keepdims")
        x = data.draw(distinct_arrays(shape))[0] if distinct else data.draw(arrays(shape), label="x")
        return [x], (lambda t: getattr(t, method)(axis=axis, keepdims=keepdims)), \
            (lambda a: ref(a, axis=axis, keepdims=keepdims))

    CASES.append(Case(name, draw, second_order=True))


reduction("sum", "sum", np.sum)
reduction("mean", "mean", np.mean)
reduction("var", "var", np.var)
reduction("max", "max", np.max, distinct=True)
reduction("min", "min", np.min, distinct=True)


# -- the test every case goes through (tests/opcheck.py) ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_op_forward_gradient_float32_and_second_order(case: Case, data) -> None:
    check_case(case, data)


# -- ties ---------------------------------------------------------------------------------------------------------
def test_max_splits_the_gradient_between_ties():
    x = Tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).backward(np.array([1.0, 3.0]))
    np.testing.assert_allclose(x.grad.data, [[0.5, 0, 0.5], [1.0, 1.0, 1.0]])
    z = Tensor([5.0, 5.0], requires_grad=True)
    z.min().backward()
    np.testing.assert_allclose(z.grad.data, [0.5, 0.5])


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


# -- values and gradients -----------------------------------------------------------------------------------------
def test_max_and_min_of_integer_data_work_without_grad():
    # regression: the tie-splitting share was computed in the integer dtype and raised a numpy TypeError
    labels = Tensor(np.array([[3, 1, 4], [1, 5, 9]]))
    assert labels.max().item() == 9
    np.testing.assert_array_equal(labels.min(axis=0).data, [1, 1, 4])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)])
def test_mean_matches_numpy_to_the_bit(dtype, axis, keepdims):
    x = np.random.default_rng(5).standard_normal((4, 5, 6)).astype(dtype) * 100
    y = Tensor(x).mean(axis=axis, keepdims=keepdims)
    expected = x.mean(axis=axis, keepdims=keepdims)
    assert y.dtype == expected.dtype and y.shape == np.shape(expected)
    np.testing.assert_array_equal(y.data, expected)


@pytest.mark.parametrize("shape, axis", [((3, 7), 1), ((3, 7), 0), ((2, 3, 7), (0, 2)), ((6,), None)])
def test_mean_gradient_is_exactly_one_over_n(shape, axis):
    x = np.random.default_rng(2).normal(size=shape)
    (g,) = grads_of(lambda t: t.mean(axis=axis).sum(), x)
    n = x.size // np.mean(x, axis=axis).size
    np.testing.assert_allclose(g, np.full(shape, 1.0 / n), rtol=1e-14)
