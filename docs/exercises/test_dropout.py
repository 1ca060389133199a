"""Dropout as an Op: the units dropped, the scale of the kept ones, the gradient (by formula and by gradcheck)."""

import numpy as np

from tinygrad6 import Tensor, gradcheck

X = np.random.default_rng(4).standard_normal((6, 5))


def mask(p, seed, shape=X.shape):
    keep = np.random.default_rng(seed).random(shape) >= p
    return keep / (1 - p)


def test_forward_drops_the_units_the_generator_draws(load):
    Dropout = load("dropout").Dropout
    y = Dropout.apply(Tensor(X), p=0.3, rng=np.random.default_rng(7))
    np.testing.assert_allclose(y.data, X * mask(0.3, 7), rtol=1e-12)


def test_backward_sends_the_gradient_through_the_kept_units_only(load):
    Dropout = load("dropout").Dropout
    x = Tensor(X, requires_grad=True)
    gy = np.random.default_rng(5).standard_normal(X.shape)
    Dropout.apply(x, p=0.5, rng=np.random.default_rng(8)).backward(gy)
    np.testing.assert_allclose(x.grad.data, gy * mask(0.5, 8), rtol=1e-12)


def test_gradcheck(load):
    Dropout = load("dropout").Dropout
    x = Tensor(X, requires_grad=True)
    # a new generator with the same seed for every call: the same mask each time gradcheck evaluates the op
    assert gradcheck(lambda t: Dropout.apply(t, p=0.4, rng=np.random.default_rng(9)), x)
