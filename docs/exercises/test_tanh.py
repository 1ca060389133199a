"""Tanh as an Op: values, gradcheck, and its second derivative (explicitly and by gradgradcheck)."""

import numpy as np

from tinygrad6 import Tensor, grad, gradcheck, gradgradcheck

X = np.array([-2.0, -0.3, 0.0, 0.8, 1.5])


def test_forward_values(load):
    Tanh = load("tanh").Tanh
    np.testing.assert_allclose(Tanh.apply(Tensor(X)).data, np.tanh(X), rtol=1e-12)


def test_gradcheck(load):
    Tanh = load("tanh").Tanh
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda t: Tanh.apply(t), x)


def test_second_derivative_matches_formula(load):
    Tanh = load("tanh").Tanh
    x = Tensor(X, requires_grad=True)
    (dx,) = grad(Tanh.apply(x).sum(), x, create_graph=True)
    (d2x,) = grad(dx.sum(), x)
    t = np.tanh(X)
    np.testing.assert_allclose(d2x.data, -2 * t * (1 - t * t), rtol=1e-10, atol=1e-12)


def test_gradgradcheck(load):
    Tanh = load("tanh").Tanh
    x = Tensor(np.random.default_rng(2).standard_normal((2, 3)), requires_grad=True)
    assert gradgradcheck(lambda t: Tanh.apply(t), x)
