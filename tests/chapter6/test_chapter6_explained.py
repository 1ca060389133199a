"""The numerical claims of docs/chapter6.md's "explained with the engine" parts, checked on the engine itself:
gradient sizes per layer for each initialisation, the zero gradient of dropped units, all-zero ReLU weights moving
only the output bias, Adam's first steps with and without bias correction, and the book's update(params, grads)
giving tinygrad6's parameters. Each assertion message quotes the sentence of the page it checks."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad6 import Tensor, datasets, nn, optim
from tinygrad6 import functional as F


def gradient_sizes(activation: str, weight_init: str | float, batchnorm: bool = False) -> np.ndarray:
    """‖dL/dW‖ per Linear layer (first layer first) of the page's 5x100 MLP on 1,000 random inputs and labels."""
    rng = np.random.default_rng(0)
    x, labels = Tensor(rng.standard_normal((1000, 100))), rng.integers(0, 10, 1000)
    model = nn.MLP(100, [100] * 5, 10, activation=activation, weight_init=weight_init, batchnorm=batchnorm, rng=0)
    F.cross_entropy(model(x), labels).backward()
    return np.array([np.linalg.norm(m.W.grad.data) for m in model.linears])


# -- vanishing gradients, measured --------------------------------------------------------------------------------
def test_sigmoid_with_std_001_loses_eight_orders_of_magnitude_to_the_first_layer():
    sizes = gradient_sizes("sigmoid", 0.01)
    claim = "Sigmoid with std 0.01: the gradient reaching the first layer is about 3e-9, against 0.2 at the output"
    assert 1e-9 < sizes[0] < 1e-8 and 0.1 < sizes[-1] < 0.5, (claim, sizes)
    assert np.all(np.diff(np.log10(sizes)) > 1), ("about 40 times less per layer", sizes)  # > 10x every layer


def test_sigmoid_with_xavier_still_shrinks_the_gradient_and_std_1_does_not_vanish():
    xavier = gradient_sizes("sigmoid", "xavier")
    assert np.all(np.diff(xavier) > 0) and 1e3 < xavier[-1] / xavier[0] < 1e4, \
        ("Sigmoid with Xavier still shrinks the gradient ... four thousand times less", xavier)
    std1 = gradient_sizes("sigmoid", 1.0)
    assert std1.min() > 0.1, ("Sigmoid with std 1: the gradients do not vanish (0.3 to 4)", std1)


def test_relu_gradients_vanish_with_std_001_and_stay_even_with_he_and_xavier():
    tiny = gradient_sizes("relu", 0.01)
    assert np.all(tiny < 1e-6), ("ReLU with std 0.01: every layer's gradient is tiny (about 6e-7)", tiny)
    he = gradient_sizes("relu", "he")
    assert he.max() / he.min() < 10, \
        ("ReLU with He keeps the gradients within a factor of ten of each other across the layers", he)
    xavier = gradient_sizes("relu", "xavier")
    assert np.all((0.03 < xavier) & (xavier < 0.2)), ("Xavier's are smaller (0.06 to 0.1) but nearly even", xavier)
    assert np.all(xavier < he), ("Xavier's are smaller", xavier, he)


def test_tanh_with_xavier_and_batchnorm_keep_the_gradient_size():
    tanh = gradient_sizes("tanh", "xavier")
    assert np.all((0.05 < tanh) & (tanh < 0.2)), ("tanh with Xavier: about 0.1 at every layer", tanh)
    bn = gradient_sizes("sigmoid", 0.01, batchnorm=True)
    assert np.all((0.03 < bn[:-1]) & (bn[:-1] < 0.15)) and 0.1 < bn[-1] < 0.4, \
        ("with Batch Norm: about 0.07 at every hidden layer and 0.2 at the output", bn)


# -- Dropout --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("inverted", [True, False])
def test_a_dropped_unit_receives_exactly_zero_gradient(inverted):
    p = 0.5
    upstream = np.random.default_rng(1).standard_normal((2, 8))
    drop = nn.Dropout(p=p, rng=0, inverted=inverted)
    x = Tensor(np.ones((2, 8)), requires_grad=True)
    (drop(x) * Tensor(upstream)).sum().backward()
    dropped = drop.mask == 0
    assert dropped.any() and (~dropped).any()
    assert np.all(x.grad.data[dropped] == 0), "where the mask is 0, the gradient is exactly 0, in both forms"
    scale = 1 / (1 - p) if inverted else 1.0
    np.testing.assert_allclose(x.grad.data[~dropped], scale * upstream[~dropped], rtol=1e-12,
                               err_msg="kept: gradient / upstream = 2 (inverted) or 1 (the book's form)")


# -- all-zero weights with ReLU -------------------------------------------------------------------------------------
def test_all_zero_weights_with_relu_change_only_the_output_bias():
    (x_train, t_train), _ = datasets.digits()
    model = nn.MLP(64, [10], 10, activation="relu", weight_init=0.0, rng=0)
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    assert all(np.all(value == 0) for value in before.values()), "weight_init=0.0: std 0, all zero"
    opt = optim.SGD(model.parameters(), lr=0.5)
    for _ in range(3):  # "the next step is the same story"
        opt.zero_grad()
        F.cross_entropy(model(Tensor(x_train[:50])), t_train[:50]).backward()
        opt.step()
    changed = {name for name, p in model.named_parameters() if np.any(p.data != before[name])}
    assert changed == {"2.b"}, ("with all-zero weights and ReLU ... only the output bias learns", changed)


def test_output_bias_gradient_at_the_first_step_is_uniform_softmax_minus_class_shares():
    (x_train, t_train), _ = datasets.digits()
    model = nn.MLP(64, [10], 10, activation="relu", weight_init=0.0, rng=0)
    F.cross_entropy(model(Tensor(x_train[:50])), t_train[:50]).backward()
    counts = np.bincount(t_train[:50], minlength=10) / 50
    np.testing.assert_allclose(model.linears[1].b.grad.data, 0.1 - counts, rtol=1e-12, atol=1e-15,
                               err_msg="the mean over the batch of softmax(scores) - one-hot(label), "
                                       "which is 0.1 - (share of each class)")


# -- Adam's bias correction -----------------------------------------------------------------------------------------
def test_adam_steps_with_and_without_bias_correction():
    grads, lr, beta1, beta2, eps = [1.0, 0.5, -1.0, 2.0, 1.0], 0.1, 0.9, 0.999, 1e-7
    w = Tensor(0.0, requires_grad=True)
    opt = optim.Adam([w], lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    corrected = []
    for g in grads:
        before = w.item()
        opt.zero_grad()
        (w * g).backward()
        opt.step()
        corrected.append(abs(w.item() - before))
    m = v = 0.0
    uncorrected = []
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        uncorrected.append(abs(lr * m / (np.sqrt(v) + eps)))
    corrected, uncorrected = np.array(corrected), np.array(uncorrected)
    # rtol 1e-5: eps = 1e-7 next to sqrt(v) = 0.03 moves the first step by about 3e-6 of itself
    np.testing.assert_allclose(corrected[0], lr, rtol=1e-5, err_msg="with the correction the first step is exactly lr")
    np.testing.assert_allclose(uncorrected[0], lr * (1 - beta1) / np.sqrt(1 - beta2), rtol=1e-5,
                               err_msg="Without it the first step is (1 − β₁) / √(1 − β₂) ≈ 3.16 times larger")
    ratio = uncorrected / corrected
    assert np.all((3 < ratio) & (ratio < 6)), ("the steps without the correction are 3 to 6 times too large in all "
                                               "five steps", ratio)


@pytest.mark.parametrize("g", [0.001, 1.0, 1000.0])
def test_adams_first_step_is_lr_whatever_the_gradient_size(g):
    w = Tensor(0.0, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * g).backward()
    opt.step()
    # rtol 5e-3: for g = 0.001, eps = 1e-7 is 0.3% of sqrt(v) = 3.2e-5 (the page prints 0.0997)
    np.testing.assert_allclose(abs(w.item()), 0.1, rtol=5e-3, err_msg="Yes, to the fourth digit: all three steps "
                                                                        "are 0.1")


def test_bias_correction_factors_quoted_on_the_page():
    assert round(1 - 0.9**44, 2) == 0.99, "1 − 0.9ᵗ is 0.99 at t = 44"
    assert round(np.sqrt(1 - 0.999**44), 2) == 0.21, "√(1 − 0.999ᵗ) is 0.21 at t = 44"
    assert round(np.sqrt(1 - 0.999**1000), 2) == 0.80, "and 0.80 at t = 1,000"


# -- the book's update(params, grads) -------------------------------------------------------------------------------
def book_momentum_update(params, grads, v, lr=0.1, momentum=0.9):
    """The book's shape, as on the page: dicts keyed by name, one velocity per key made at the first call."""
    for key in params:
        if key not in v:
            v[key] = np.zeros_like(params[key])
        v[key] = momentum * v[key] - lr * grads[key]
        params[key] += v[key]


def test_book_style_momentum_gives_tinygrad6s_parameters_after_three_steps():
    rng = np.random.default_rng(0)
    start = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal(2)}
    steps = [{key: rng.standard_normal(value.shape) for key, value in start.items()} for _ in range(3)]
    book_params, book_v = {key: value.copy() for key, value in start.items()}, {}
    tensors = {key: Tensor(value.copy(), requires_grad=True) for key, value in start.items()}
    opt = optim.Momentum(list(tensors.values()), lr=0.1, momentum=0.9)
    for grads in steps:
        book_momentum_update(book_params, grads, book_v)
        for key, p in tensors.items():
            p.grad = Tensor(grads[key])
        opt.step()
    for key in start:
        assert not np.allclose(book_params[key], start[key]), "the parameters moved"
        np.testing.assert_array_equal(book_params[key], tensors[key].data,
                                      err_msg="What to notice: the same numbers to the last bit.")
        np.testing.assert_array_equal(book_v[key], opt.state[list(tensors).index(key)]["v"],
                                      err_msg="each parameter's velocity sits in its own opt.state dict")


def test_weight_decay_with_zero_gradient_multiplies_w_by_1_minus_lr_lambda():
    w = Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, weight_decay=0.5)
    (w * 0.0).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, 1 - 0.1 * 0.5, rtol=1e-15, err_msg="It shrinks W to 0.95")
