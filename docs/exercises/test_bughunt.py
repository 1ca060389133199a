"""The Softmax op of the bug hunt: gradcheck on batches of several shapes, and a property of every softmax
gradient (each row of dx sums to 0, since adding a constant to a row does not change its softmax)."""

import numpy as np
import pytest

from tinygrad6 import F, Tensor, gradcheck


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (2, 5)])
def test_gradcheck_on_a_batch(load, shape):
    Softmax = load("bughunt").Softmax
    x = Tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: Softmax.apply(t), x)


def test_rows_of_the_gradient_sum_to_zero(load):
    Softmax = load("bughunt").Softmax
    x = Tensor(np.random.default_rng(1).standard_normal((3, 3)), requires_grad=True)
    Softmax.apply(x).backward(np.random.default_rng(2).standard_normal((3, 3)))
    np.testing.assert_allclose(x.grad.data.sum(axis=1), 0, atol=1e-12)


def test_the_same_gradient_as_tinygrad6s_softmax(load):
    Softmax = load("bughunt").Softmax
    data, gy = np.random.default_rng(3).standard_normal((2, 3, 3))
    a, b = Tensor(data, requires_grad=True), Tensor(data, requires_grad=True)
    Softmax.apply(a).backward(gy)
    F.softmax(b).backward(gy)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-10, atol=1e-14)
