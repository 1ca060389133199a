"""The backward loop where the other tests do not look: an output listed twice, seeds that must not be overwritten,
`.grad` arrays that must not share memory, gradients cast back to each input's dtype (values too), and grad mode
inside the rules. References are closed forms in numpy."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import Tensor


def test_grad_of_an_output_listed_twice_adds_both_seeds():
    x_np = np.array([0.5, -1.0, 2.0])
    g1, g2 = np.array([1.0, 2.0, 3.0]), np.array([-4.0, 0.5, 10.0])
    x = Tensor(x_np, requires_grad=True)
    y = x * x
    (gx,) = tinygrad6.grad([y, y], [x], [g1, g2])
    np.testing.assert_allclose(gx.data, 2 * x_np * (g1 + g2), rtol=1e-15)


def test_grad_of_a_leaf_listed_twice_adds_both_seeds():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    g1, g2 = np.array([3.0, 4.0]), np.array([0.25, -1.0])
    (gx,) = tinygrad6.grad([x, x], [x], [g1, g2])
    np.testing.assert_array_equal(gx.data, g1 + g2)


def test_grad_of_an_output_and_a_later_output_that_uses_it():
    x_np = np.array([0.3, 1.7])
    g1, g2 = np.array([2.0, -1.0]), np.array([0.5, 4.0])
    x = Tensor(x_np, requires_grad=True)
    y = x.exp()
    z = y * y
    (gx,) = tinygrad6.grad([y, z], [x], [g1, g2])  # dy/dx = e^x, dz/dx = 2 e^2x
    np.testing.assert_allclose(gx.data, g1 * np.exp(x_np) + g2 * 2 * np.exp(2 * x_np), rtol=1e-14)


def test_leaf_grads_do_not_share_memory_with_the_seed_or_each_other():
    a, b = Tensor(np.zeros(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    seed = np.array([1.0, 2.0, 3.0])
    (a + b).backward(seed)  # add sends its incoming gradient (the seed) to both inputs unchanged
    np.testing.assert_array_equal(a.grad.data, seed)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert not np.shares_memory(a.grad.data, seed) and not np.shares_memory(b.grad.data, seed)
    a.grad.data[...] = 0.0  # as an optimizer or a user may do
    np.testing.assert_array_equal(b.grad.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])


def test_a_seed_tensor_is_not_reused_as_a_leaf_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    seed = Tensor(np.array([5.0, 6.0]))
    (x + 0.0).backward(seed)
    x.grad.data[...] += 1.0
    np.testing.assert_array_equal(seed.data, [5.0, 6.0])


def test_backward_twice_accumulates_into_grad():
    x_np = np.array([0.5, 1.5])
    x = Tensor(x_np, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * (2 * x_np), rtol=1e-15)


def test_grads_computed_without_create_graph_record_no_graph():
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    ((x.exp() * x).sum()).backward()
    assert not x.grad.requires_grad and x.grad.is_leaf
    (g,) = tinygrad6.grad((x.sqrt() / x).sum(), x)
    assert not g.requires_grad and g.creator is None


@pytest.mark.parametrize("leaf_dtype, other_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                                     (np.float16, np.float64)])
def test_gradient_of_a_mixed_dtype_graph_has_each_leaf_dtype_and_the_right_values(leaf_dtype, other_dtype):
    x_np, w_np = np.array([0.5, -1.25, 2.0]), np.array([1.5, 0.25, -0.75])
    x = Tensor(x_np.astype(leaf_dtype), requires_grad=True)
    w = Tensor(w_np.astype(other_dtype), requires_grad=True)
    ((x * w).exp()).sum().backward()
    assert x.grad.dtype == leaf_dtype and w.grad.dtype == other_dtype
    # closed form d/dx exp(x w) = w exp(x w); all inputs are exact in float16, the product in the wider dtype
    xw = x_np.astype(leaf_dtype).astype(np.float64) * w_np.astype(other_dtype).astype(np.float64)
    rtol = 2e-3 if np.float16 in (leaf_dtype, other_dtype) else 1e-6  # the narrower dtype's rounding
    np.testing.assert_allclose(x.grad.data.astype(np.float64), w_np * np.exp(xw), rtol=rtol)
    np.testing.assert_allclose(w.grad.data.astype(np.float64), x_np * np.exp(xw), rtol=rtol)


def test_graph_is_released_after_backward_by_default():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp()).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
