"""Sigmoid as an Op: its values, its gradient against the formula, and gradcheck against central differences."""

import numpy as np

from tinygrad6 import Tensor, gradcheck

X = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])


def test_forward_values(load):
    Sigmoid = load("sigmoid").Sigmoid
    y = Sigmoid.apply(Tensor(X))
    np.testing.assert_allclose(y.data, 1 / (1 + np.exp(-X)), rtol=1e-12)


def test_backward_matches_formula(load):
    Sigmoid = load("sigmoid").Sigmoid
    x = Tensor(X, requires_grad=True)
    gy = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    Sigmoid.apply(x).backward(gy)
    s = 1 / (1 + np.exp(-X))
    np.testing.assert_allclose(x.grad.data, gy * s * (1 - s), rtol=1e-12)


def test_gradcheck(load):
    Sigmoid = load("sigmoid").Sigmoid
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: Sigmoid.apply(t), x)
