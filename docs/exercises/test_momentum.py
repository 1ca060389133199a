"""Momentum as an optimizer: the book's numbers step by step, one velocity per parameter, the dtype kept."""

import numpy as np

from tinygrad6 import Tensor, optim


def test_three_steps_on_a_constant_gradient(load):
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = load("momentum").Momentum([w], lr=0.1, momentum=0.9)
    expected, v = w.data.copy(), np.zeros(2)
    for _ in range(3):
        w.grad = Tensor(np.array([1.0, 0.5]))
        opt.step()
        v = 0.9 * v - 0.1 * np.array([1.0, 0.5])   # the velocity grows: -0.1, -0.19, -0.271 (times g)
        expected = expected + v
        np.testing.assert_allclose(w.data, expected, rtol=1e-12)


def test_the_same_steps_as_tinygrad6s_momentum_for_two_parameters(load):
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    ours = [Tensor(a.copy(), requires_grad=True) for a in start]
    theirs = [Tensor(a.copy(), requires_grad=True) for a in start]
    mine = load("momentum").Momentum(ours, lr=0.05, momentum=0.8)
    ref = optim.Momentum(theirs, lr=0.05, momentum=0.8)
    for _ in range(5):
        for a, b in zip(ours, theirs):
            a.grad = b.grad = Tensor(rng.standard_normal(a.shape))
        mine.step()
        ref.step()
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_float32_parameter_stays_float32_and_is_updated_in_place(load):
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    array = w.data
    opt = load("momentum").Momentum([w], lr=0.5)
    w.grad = Tensor(np.ones(3, dtype=np.float32))
    opt.step()
    assert w.data is array and w.data.dtype == np.float32
    np.testing.assert_allclose(w.data, 0.5)
