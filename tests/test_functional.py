"""tinygrad6.functional against numpy: softmax, log_softmax, cross_entropy, mse_loss, linear, dropout and the
activations (each through the same checks as the ops, tests/opcheck.py); stability for large logits, dropout's
expected value and seeds, and losses that refuse bad targets or shapes that would broadcast silently."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opcheck import Case, CaseTable, check_case, np_sigmoid
from strategies import arrays, nonzero_arrays, shapes

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import ShapeError, Tensor

CASES = CaseTable()
case = CASES.case


# -- tinygrad6.functional -----------------------------------------------------------------------------------------
def _log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@case("softmax", second_order=True)
def _(data):
    shape = data.draw(shapes(min_dims=1))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    return [data.draw(arrays(shape))], (lambda t: F.softmax(t, axis=axis)), \
        (lambda a: np.exp(_log_softmax(a, axis)))


@case("log_softmax", second_order=True)
def _(data):
    shape = data.draw(shapes(min_dims=1))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    return [data.draw(arrays(shape))], (lambda t: F.log_softmax(t, axis=axis)), (lambda a: _log_softmax(a, axis))


@case("cross_entropy_integer_labels", second_order=True)
def _(data):
    n, c = data.draw(st.integers(1, 4), label="N"), data.draw(st.integers(1, 4), label="C")
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    as_tensor = data.draw(st.booleans(), label="labels as Tensor")
    targets = Tensor(labels) if as_tensor else labels
    return [data.draw(arrays((n, c)))], (lambda z: F.cross_entropy(z, targets)), \
        (lambda z: -_log_softmax(z)[np.arange(n), labels].mean())


@case("cross_entropy_one_hot_and_soft_targets", second_order=True)
def _(data):
    n, c = data.draw(st.integers(1, 4), label="N"), data.draw(st.integers(1, 4), label="C")
    if data.draw(st.booleans(), label="one-hot"):
        labels = data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))
        t = np.eye(c)[labels]
    else:
        t = np.exp(_log_softmax(data.draw(arrays((n, c)), label="soft targets")))
    return [data.draw(arrays((n, c)))], (lambda z: F.cross_entropy(z, t)), \
        (lambda z: -(_log_softmax(z) * t).sum() / n)


@case("mse_loss", second_order=True)
def _(data):
    shape = data.draw(shapes())
    return [data.draw(arrays(shape)), data.draw(arrays(shape))], F.mse_loss, (lambda y, t: np.mean((y - t) ** 2))


@case("linear", second_order=True)
def _(data):
    n, d_in, d_out = (data.draw(st.integers(1, 4), label=s) for s in ("N", "in", "out"))
    x, W = data.draw(arrays((n, d_in))), data.draw(arrays((d_in, d_out)))
    if data.draw(st.booleans(), label="bias"):
        return [x, W, data.draw(arrays((d_out,)))], F.linear, (lambda x, W, b: x @ W + b)
    return [x, W], F.linear, (lambda x, W: x @ W)


@case("dropout_fixed_generator")
def _(data):
    shape = data.draw(shapes())
    p = data.draw(st.sampled_from([0.0, 0.1, 0.5, 0.8]), label="p")
    training = data.draw(st.booleans(), label="training")
    seed = data.draw(st.integers(0, 2**16), label="seed")

    def ref(a):
        if not training or p == 0:
            return a
        keep = np.random.default_rng(seed).random(a.shape) >= p
        return a * keep / (1 - p)

    # the same seed gives the same mask on every call, as central differences need
    return [data.draw(arrays(shape))], (lambda t: F.dropout(t, p, training=training, rng=seed)), ref


@case("functional_activations")
def _(data):
    x = data.draw(nonzero_arrays(data.draw(shapes())))
    return [x], (lambda t: F.relu(t) + F.sigmoid(t) * F.tanh(t)), \
        (lambda a: np.maximum(a, 0) + np_sigmoid(a) * np.tanh(a))


# -- the test every case goes through (tests/opcheck.py) ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_op_forward_gradient_float32_and_second_order(case: Case, data) -> None:
    check_case(case, data)


# -- softmax and cross_entropy ------------------------------------------------------------------------------------
def test_log_softmax_and_cross_entropy_are_stable_for_large_logits():
    z = Tensor([[1000.0, 0.0, -1000.0], [5000.0, 5000.0, 0.0]], requires_grad=True)
    logp = F.log_softmax(z)
    assert np.all(np.isfinite(logp.data))
    np.testing.assert_allclose(logp.data[1, :2], np.log(0.5))
    loss = F.cross_entropy(z, np.array([2, 0]))
    np.testing.assert_allclose(loss.item(), (2000.0 + np.log(2)) / 2)
    loss.backward()
    softmax = np.exp(_log_softmax(z.data))
    np.testing.assert_allclose(z.grad.data, (softmax - np.eye(3)[[2, 0]]) / 2, atol=1e-12)
    np.testing.assert_allclose(F.softmax(z).data.sum(axis=1), 1.0)


def test_cross_entropy_rejects_bad_targets():
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2"):
        F.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="one-hot targets of shape"):
        F.cross_entropy(z, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="integer labels"):
        F.cross_entropy(z, np.array([0.0, 1.0]))


def test_cross_entropy_refuses_targets_that_disagree_with_the_logits():
    logits = Tensor(np.zeros((4, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"\(4, 2\).*\(4, 3\)"):
        F.cross_entropy(logits, np.zeros((4, 2)))
    with pytest.raises(ShapeError, match=r"\(5,\)"):
        F.cross_entropy(logits, np.zeros(5, dtype=int))


# -- mse_loss -----------------------------------------------------------------------------------------------------
def test_mse_loss_is_the_mean_not_half_the_sum():
    y, t = Tensor([1.0, 2.0, 4.0], requires_grad=True), np.array([0.0, 2.0, 1.0])
    loss = F.mse_loss(y, t)
    assert loss.item() == pytest.approx((1 + 0 + 9) / 3)
    loss.backward()
    np.testing.assert_allclose(y.grad.data, 2 * (y.data - t) / 3)


def test_mse_loss_refuses_shapes_that_would_broadcast():
    y = Tensor(np.zeros((4, 1)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(y, np.zeros(4))
    assert F.mse_loss(y, np.ones((4, 1))).item() == 1.0
    assert F.mse_loss(y, 1.0).item() == 1.0  # a scalar target is unambiguous


# -- dropout ------------------------------------------------------------------------------------------------------
def test_dropout_keeps_the_expected_value_and_rejects_p_of_one():
    x = Tensor(np.ones((200, 100)))
    y = F.dropout(x, 0.3, rng=np.random.default_rng(0))
    assert set(np.unique(y.data)) <= {0.0, 1 / 0.7}
    assert abs(y.data.mean() - 1.0) < 0.02  # 20,000 Bernoulli(0.7) draws: the standard error is ~0.0036
    assert F.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        F.dropout(x, 1.0)


def test_dropout_with_a_generator_object_and_with_manual_seed():
    x = Tensor(np.arange(1.0, 13.0).reshape(3, 4), requires_grad=True)
    y = F.dropout(x, 0.5, rng=np.random.default_rng(7))
    keep = np.random.default_rng(7).random((3, 4)) >= 0.5
    np.testing.assert_array_equal(y.data, x.data * keep * 2)
    v = np.random.default_rng(1).standard_normal((3, 4))
    y.backward(v)
    np.testing.assert_array_equal(x.grad.data, v * keep * 2)
    tinygrad6.manual_seed(11)
    first = F.dropout(x, 0.5).data
    tinygrad6.manual_seed(11)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, first)
