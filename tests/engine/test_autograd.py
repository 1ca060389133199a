"""The backward loop (tinygrad6/engine/autograd.py) and everything around it: shared sub-expressions, accumulation,
seeds (listed twice, not reused as .grad), .grad arrays that do not share memory, gradients cast back to each input's
dtype, long chains, memory (released saved values, graphs freed by reference counting), hooks, `tinygrad6.grad` and
higher derivatives (a composite model and a Hessian-vector product against PyTorch), `backward_steps`, and in-place
modification detected at backward."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opcheck import RTOL_F64

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor
from tinygrad6.engine.op import Op


# -- shared sub-expressions and accumulation ----------------------------------------------------------------------
def test_x_times_x_plus_x():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * x + x
    steps = list(y.backward_steps(np.ones(3)))
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 1)
    assert [s.op.name for s in steps] == ["add", "mul"]  # each op once, add (the consumer) first
    finalized = [(s.op.name, t) for s in steps for t, _ in s.finalized]
    assert finalized[0] == ("add", y.creator.inputs[0])  # x*x is complete once add sent its share
    assert [name for name, t in finalized if t is x] == ["mul"]  # x only after both add and mul contributed


def test_a_plus_a_keeps_both_edges():
    a = Tensor([1.0, 2.0], requires_grad=True)
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])
    b = Tensor(3.0, requires_grad=True)
    (b * b * b).backward()
    assert b.grad.item() == 27.0


def test_diamond():
    x = Tensor([0.3, -0.7], requires_grad=True)
    h = x * 2.0            # the shared middle node
    left, right = h.exp(), h * h
    y = (left + right).sum()
    y.backward()
    expected = 2 * np.exp(2 * x.data) + 8 * x.data
    np.testing.assert_allclose(x.grad.data, expected)


def test_diamond_processes_each_op_once_after_all_its_consumers():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x.tanh()
    y = (h.exp() * h.sigmoid()).sum()
    order = [s.op for s in y.backward_steps()]
    assert len(order) == len(set(map(id, order))) == 5
    assert order.index(h.creator) == 4  # tanh runs last: after exp and sigmoid both sent their share


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 3 + 2 * x.data)
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_backward_twice_accumulates_into_grad():
    x_np = np.array([0.5, 1.5])
    x = Tensor(x_np, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * (2 * x_np), rtol=1e-15)


def test_broadcasting_reductions_sum_gradients_back_to_each_shape():
    col = Tensor(np.arange(3.0).reshape(3, 1), requires_grad=True)
    row = Tensor(np.arange(4.0), requires_grad=True)
    scale = Tensor(2.0, requires_grad=True)
    y = ((col * row + scale) / (col + 1)).mean(axis=0, keepdims=True).sum()
    y.backward()
    c, r = col.data, row.data
    np.testing.assert_allclose(row.grad.data, (c / (c + 1)).mean(axis=0) * np.ones(4))
    np.testing.assert_allclose(col.grad.data, ((r - scale.data) / (c + 1) ** 2 / 3).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(scale.grad.item(), (4 / (c + 1)).sum() / 3)
    assert col.grad.shape == (3, 1) and row.grad.shape == (4,) and scale.grad.shape == ()


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


def test_an_empty_batch_flows_through_forward_and_backward():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    W = Tensor(np.ones((3, 2)), requires_grad=True)
    loss = (x @ W).relu().sum()
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad.shape == (0, 3)
    np.testing.assert_array_equal(W.grad.data, np.zeros((3, 2)))


# -- seeds and leaf grads -----------------------------------------------------------------------------------------
def test_non_scalar_backward_without_grad_names_the_shape():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"the output has shape \(2, 3\).*pass grad= an array of shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the output has shape \(2, 3\)"):
        y.backward(np.ones(3))


def test_leaf_grads_are_separate_writeable_arrays():
    # regression: `a + b` handed the same (read-only, broadcast) gradient array to both leaves, so an in-place
    # update of a.grad (an optimizer's weight decay, say) changed b.grad or raised "assignment destination is
    # read-only"
    a, b = Tensor(np.zeros((2, 3)), requires_grad=True), Tensor(np.zeros((2, 3)), requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 1.0
    np.testing.assert_array_equal(b.grad.data, np.ones((2, 3)))
    seed = np.full(3, 2.0)
    c = Tensor(np.zeros(3), requires_grad=True)
    c.backward(seed)
    c.grad.data *= 0
    np.testing.assert_array_equal(seed, [2.0, 2.0, 2.0])  # the caller's array is not the leaf's .grad


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


# -- long graphs and memory ---------------------------------------------------------------------------------------
def test_chain_of_100000_ops_backpropagates_and_is_freed():
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x
    for i in range(100_000):
        y = y + 0.001 if i % 2 == 0 else y * 1.00001  # no RecursionError, forward or backward
    first_op = weakref.ref(x * 1.0)  # a sentinel: it dies at once
    assert first_op() is None
    last = weakref.ref(y.creator)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.00001**50_000)
    del y  # freeing 100,000 nested tensors and ops must not overflow the C stack
    assert last() is None


def test_chain_of_100000_ops_deleted_without_backward():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y.tanh() + 0.0
    creator = weakref.ref(y.creator)
    del y
    assert creator() is None


class _SavingSquare(Op):
    """y = x**2, dx = gy * 2x, with 2x kept through `save` (no built-in op saves a value: their rules read their
    inputs and output; `save` is for a user's op)."""

    name = "saving_square"

    def forward(self, x):
        self.save(two_x=2 * x)
        return x * x

    def backward(self, gy):
        return gy * self.saved["two_x"]


def test_saved_arrays_are_released_after_backward():
    x = Tensor([-1.0, 2.0], requires_grad=True)
    h = _SavingSquare.apply(x)
    saved = weakref.ref(h.creator.saved["two_x"])
    loss = (h * 3).sum()
    loss.backward()
    assert saved() is None
    # the structure, data and grads stay for drawing and inspection
    assert h.creator is not None and h.creator.inputs[0] is x and h.creator.output is h
    np.testing.assert_array_equal(h.data, [1.0, 4.0])
    np.testing.assert_array_equal(x.grad.data, [-6.0, 12.0])


def test_retain_graph_keeps_saved_arrays_and_allows_a_second_backward():
    x = Tensor([-1.0, 2.0], requires_grad=True)
    h = _SavingSquare.apply(x)
    saved = weakref.ref(h.creator.saved["two_x"])
    loss = h.sum()
    loss.backward(retain_graph=True)
    assert saved() is not None
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, 2 * (2 * x.data))
    assert saved() is None  # released by the second backward, which did not retain


def test_second_backward_through_a_released_graph_is_a_clear_error():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"backward through sum a second time.*retain_graph=True"):
        loss.backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data) * (1 + x.data))  # not changed by the failed call


def test_graph_is_released_after_backward_by_default():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp()).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_with_create_graph_retains_the_graph_by_default():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)
    y.backward()  # allowed: retain_graph defaulted to create_graph=True
    np.testing.assert_allclose(x.grad.data, 2 * 3 * x.data**2)


def test_whole_graph_is_freed_by_reference_counting_when_the_loss_is_dropped():
    gc.collect()
    gc.disable()  # no cycle collector: only reference counting may free the graph
    try:
        W = Tensor(np.ones((3, 2)), requires_grad=True)
        x = Tensor(np.ones((4, 3)))
        h = (x @ W).relu()
        loss = F.cross_entropy(h, np.array([0, 1, 1, 0]))
        refs = [weakref.ref(h), weakref.ref(h.creator), weakref.ref(h.creator.inputs[0]),
                weakref.ref(loss.creator)]
        del h
        assert all(r() is not None for r in refs)  # kept alive by the loss
        loss.backward()
        del loss
        assert [r() for r in refs] == [None] * len(refs)
        assert W.grad is not None and W.grad.creator is None  # grads of leaves stay, holding no graph
    finally:
        gc.enable()


# -- hooks --------------------------------------------------------------------------------------------------------
def test_register_hook_is_called_with_the_grad_and_can_replace_it():
    x = Tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.data.copy()))
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert len(seen) == 1

    h = x * 2
    h.register_hook(lambda g: g * 10)  # an intermediate's hook changes what flows further back
    x.grad = None
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [20.0, 20.0])

    y = Tensor([1.0], requires_grad=True)
    y.register_hook(lambda g: np.array([7.0]))  # an array replacement becomes a Tensor
    (y * 2).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [7.0])


def test_register_hook_on_a_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).register_hook(print)


def test_hook_on_a_leaf_sees_this_backward_only_not_the_accumulated_grad():
    x = Tensor([1.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    (x * 2).sum().backward()
    (x * 5).sum().backward()
    assert seen == [2.0, 5.0] and x.grad.item() == 7.0


# -- tinygrad6.grad, seeds and grad_outputs -----------------------------------------------------------------------
def test_grad_does_not_touch_dot_grad():
    x = Tensor([0.5, -1.0], requires_grad=True)
    h = (x * 2).retain_grad()
    (gx,) = tinygrad6.grad((h * h).sum(), x)
    np.testing.assert_allclose(gx.data, 8 * x.data)
    assert x.grad is None and h.grad is None
    ga, gb = tinygrad6.grad(x * 3, [x, h], grad_outputs=np.array([1.0, 2.0]), allow_unused=True)
    np.testing.assert_array_equal(ga.data, [3.0, 6.0])
    assert gb is None
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(2,\)\) is not used.*allow_unused=True"):
        tinygrad6.grad(x * 3, [x, h], grad_outputs=np.ones(2))
    with pytest.raises(RuntimeError, match=r"grad: input 0 \(shape \(\)\) does not require grad"):
        tinygrad6.grad(x.sum(), Tensor(1.0))


def test_grad_with_several_outputs_and_upstream_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y1, y2 = x * x, x.exp()
    (g,) = tinygrad6.grad([y1, y2], x, grad_outputs=[np.array([1.0, 0.5]), Tensor([2.0, 0.0])])
    np.testing.assert_allclose(g.data, np.array([1.0, 0.5]) * 2 * x.data + np.array([2.0, 0.0]) * np.exp(x.data))
    assert g.creator is None and not g.requires_grad  # create_graph=False records nothing
    with pytest.raises(ValueError, match="2 outputs but 1 gradients"):
        tinygrad6.grad([x * 1, x * 2], x, grad_outputs=[np.ones(2)])


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


# -- higher derivatives -------------------------------------------------------------------------------------------
def test_second_derivative_of_tanh_with_grad():
    x = Tensor(np.linspace(-2, 2, 7), requires_grad=True)
    y = x.tanh()
    (g,) = tinygrad6.grad(y.sum(), x, create_graph=True)
    (gg,) = tinygrad6.grad(g.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(g.data, 1 - t**2)
    np.testing.assert_allclose(gg.data, -2 * t * (1 - t**2))
    assert x.grad is None  # no .grad clearing was needed between the calls


def test_tanh_derivatives_up_to_order_three_with_backward_create_graph():
    x = Tensor(np.linspace(-1.5, 1.5, 5), requires_grad=True)
    t = np.tanh(x.data)
    closed_forms = [1 - t**2, -2 * t * (1 - t**2), (1 - t**2) * (6 * t**2 - 2)]
    y = x.tanh()
    for order, expected in enumerate(closed_forms, 1):
        x.grad = None
        y.sum().backward(create_graph=True)
        y = x.grad
        assert y.requires_grad and y.creator is not None, f"order {order} has no graph"
        np.testing.assert_allclose(y.data, expected, atol=1e-12, err_msg=f"derivative of order {order}")


@pytest.mark.parametrize("name, fn", [
    ("abs", lambda x: x.abs()), ("relu", lambda x: x.relu()), ("clip", lambda x: x.clip(-1.0, 1.0) * 3),
    ("where", lambda x: tinygrad6.where(x > 0, x, -2 * x)), ("comparison", lambda x: (x > 0).astype(x.dtype) * x),
    ("linear", lambda x: 2 * x + 1),
])
def test_a_piecewise_constant_gradient_can_be_differentiated_again(name, fn):
    # With create_graph=True the gradient of abs, relu, where, clip... is constant in x between kinks: it came back
    # not requiring grad, and the next backward raised "does not require grad". PyTorch gives a gradient that
    # requires grad and a second derivative of zeros.
    x = Tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    (g,) = tinygrad6.grad(fn(x).sum(), x, create_graph=True)
    assert g.requires_grad, name
    (h,) = tinygrad6.grad((g * g).sum(), x)
    np.testing.assert_array_equal(h.data, np.zeros(4))
    x.grad = None
    fn(x).sum().backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(4))
    assert tinygrad6.gradgradcheck(fn, Tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True))


def test_a_piecewise_constant_gradient_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    x_np = np.array([-2.0, -0.5, 0.5, 2.0])
    x = Tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    (g,) = tinygrad6.grad(x.abs().sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad(tx.abs().sum(), tx, create_graph=True)
    assert g.requires_grad and tg.requires_grad
    np.testing.assert_array_equal(g.data, tg.detach().numpy())
    second = torch.autograd.grad(tg.sum(), tx)[0]  # zeros (torch may hold them as a ZeroTensor)
    np.testing.assert_array_equal(tinygrad6.grad(g.sum(), x)[0].data, (second + torch.zeros_like(tx)).numpy())


def test_gradient_of_a_gradient_norm():
    x = Tensor([0.5, -1.0, 2.0], requires_grad=True)
    (g,) = tinygrad6.grad((x**3).sum(), x, create_graph=True)  # g = 3 x^2
    penalty = (g * g).sum()                                     # sum 9 x^4
    (gp,) = tinygrad6.grad(penalty, x)
    np.testing.assert_allclose(gp.data, 36 * x.data**3)


def test_without_create_graph_backward_records_no_graph():
    x = Tensor([0.5, 1.5], requires_grad=True)
    steps = list((x.exp() * x).sum().backward_steps())
    for step in steps:
        for g in step.grad_inputs:
            assert g is None or (g.creator is None and not g.requires_grad)
    assert x.grad.creator is None


def test_grads_computed_without_create_graph_record_no_graph():
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    ((x.exp() * x).sum()).backward()
    assert not x.grad.requires_grad and x.grad.is_leaf
    (g,) = tinygrad6.grad((x.sqrt() / x).sum(), x)
    assert not g.requires_grad and g.creator is None


# -- PyTorch as a second, independent reference (skipped when torch is not installed; not a dependency) -----------
def _model(lib, x, W, b, s, labels, idx, cond):
    """One composite touching most ops, written once for both libraries through `lib` (a tiny adapter)."""
    h = lib.tanh(x @ W + b)                                    # linear, broadcasting the bias
    h = lib.maximum(h, h.sigmoid() - 0.5) + lib.clip(h * 2, -0.7, 0.9)
    centered = h - lib.mean(h, axis=0)
    z = centered / (lib.var(h, axis=0) + 0.1).sqrt()           # batch-norm-like: var (ddof=0), sqrt, div
    z = z + lib.amax(z, axis=1) * 0.3 + (s**2 + 1).log() * z.abs()
    z = lib.where(cond, z, z.relu() ** 1.5)
    z = lib.cat([z, z[idx] * 0.5], axis=0)[: x.shape[0]]       # getitem with repeats, concatenate, slicing
    z = lib.sum(lib.stack([z, z.exp() * 0.1], axis=-1), axis=-1)
    logits = z.reshape(-1, z.shape[-1]).T.T / s.exp()
    return lib.cross_entropy(logits, labels) + lib.mse_loss(lib.softmax(logits), lib.log_softmax(logits).exp())


class _TinyLib:
    maximum, cat, stack, where = tinygrad6.maximum, tinygrad6.concatenate, tinygrad6.stack, tinygrad6.where
    cross_entropy, mse_loss, softmax, log_softmax = F.cross_entropy, F.mse_loss, F.softmax, F.log_softmax

    @staticmethod
    def tanh(t):
        return t.tanh()

    @staticmethod
    def clip(t, low, high):
        return t.clip(low, high)

    @staticmethod
    def var(t, axis):
        return t.var(axis=axis)

    @staticmethod
    def amax(t, axis):
        return t.max(axis=axis, keepdims=True)

    @staticmethod
    def mean(t, axis):
        return t.mean(axis=axis, keepdims=True)

    @staticmethod
    def sum(t, axis):
        return t.sum(axis=axis)


def _torch_lib(torch):
    class TorchLib:
        maximum, where = torch.maximum, torch.where

        @staticmethod
        def tanh(t):
            return t.tanh()

        @staticmethod
        def clip(t, low, high):
            return t.clamp(low, high)

        @staticmethod
        def var(t, axis):
            return t.var(dim=axis, correction=0)

        @staticmethod
        def amax(t, axis):
            return t.amax(dim=axis, keepdim=True)

        @staticmethod
        def mean(t, axis):
            return t.mean(dim=axis, keepdim=True)

        @staticmethod
        def sum(t, axis):
            return t.sum(dim=axis)

        @staticmethod
        def cat(ts, axis):
            return torch.cat(ts, dim=axis)

        @staticmethod
        def stack(ts, axis):
            return torch.stack(ts, dim=axis)

        @staticmethod
        def cross_entropy(logits, labels):
            return torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels))

        @staticmethod
        def mse_loss(y, t):
            return torch.nn.functional.mse_loss(y, t)

        @staticmethod
        def softmax(t):
            return t.softmax(dim=-1)

        @staticmethod
        def log_softmax(t):
            return t.log_softmax(dim=-1)

    return TorchLib


@given(data=st.data())
def test_composite_model_matches_pytorch_values_gradients_and_second_derivatives(data):
    torch = pytest.importorskip("torch")
    n, d_in, d_out = data.draw(st.integers(2, 4)), data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    values = [rng.standard_normal(s) for s in [(n, d_in), (d_in, d_out), (d_out,), ()]]
    labels = rng.integers(0, d_out, n)
    idx = rng.integers(-n, n, 5)
    cond = rng.random((n, d_out)) > 0.3

    ours = [Tensor(v, requires_grad=True) for v in values]
    loss = _model(_TinyLib, *ours, labels, idx, cond)
    grads = tinygrad6.grad(loss, ours, create_graph=True)
    penalty = sum(((g * g).sum() for g in grads), Tensor(0.0))
    with np.errstate(divide="ignore", invalid="ignore"):  # relu(z)**1.5 has an infinite 2nd derivative at 0, which
        second = tinygrad6.grad(penalty, ours)            # relu's backward then masks out (as PyTorch's does)

    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    t_loss = _model(_torch_lib(torch), *theirs, labels, torch.as_tensor(idx), torch.as_tensor(cond))
    t_grads = torch.autograd.grad(t_loss, theirs, create_graph=True)
    t_penalty = sum((g * g).sum() for g in t_grads)
    t_second = torch.autograd.grad(t_penalty, theirs)

    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-10)
    for name, g, t_g in zip(["x", "W", "b", "s"], grads, t_grads):
        np.testing.assert_allclose(g.data, t_g.detach().numpy(), rtol=1e-8, atol=1e-10, err_msg=f"d loss / d {name}")
    for name, g, t_g in zip(["x", "W", "b", "s"], second, t_second):
        np.testing.assert_allclose(g.data, t_g.numpy(), rtol=1e-7, atol=1e-9, err_msg=f"d penalty / d {name}")


def test_second_derivative_of_a_network_loss_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x_np, w_np, u_np = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    labels = np.array([0, 4, 2, 1])

    def ours():
        x, w = Tensor(x_np), Tensor(w_np, requires_grad=True)
        h = (x @ w).tanh().maximum(0.1 * (x @ w)) / (1.0 + (x @ w).exp().sqrt())
        loss = tinygrad6.F.cross_entropy(h, labels)
        (g,) = tinygrad6.grad(loss, w, create_graph=True)
        (hv,) = tinygrad6.grad((g * Tensor(u_np)).sum(), w)  # Hessian-vector product H u
        return hv.data

    def theirs():
        x, w = torch.tensor(x_np), torch.tensor(w_np, requires_grad=True)
        z = x @ w
        h = torch.maximum(z.tanh(), 0.1 * z) / (1.0 + z.exp().sqrt())
        loss = torch.nn.functional.cross_entropy(h, torch.tensor(labels))
        (g,) = torch.autograd.grad(loss, w, create_graph=True)
        (hv,) = torch.autograd.grad((g * torch.tensor(u_np)).sum(), w)
        return hv.numpy()

    np.testing.assert_allclose(ours(), theirs(), rtol=RTOL_F64, atol=1e-14)


# -- backward_steps -----------------------------------------------------------------------------------------------
def test_backward_steps_records_one_step_per_op():
    x = Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    W = Tensor(np.full((3, 4), 0.1), requires_grad=True, name="W")
    c = Tensor(np.ones(4))  # a constant: gets no gradient
    h = (x @ W + c).tanh()
    loss = h.mean()
    ops = {id(loss.creator), id(h.creator), id(h.creator.inputs[0].creator),
           id(h.creator.inputs[0].creator.inputs[0].creator)}
    steps = list(loss.backward_steps())
    assert [s.index for s in steps] == [0, 1, 2, 3]
    assert {id(s.op) for s in steps} == ops
    assert [s.op.name for s in steps] == ["mean", "tanh", "add", "matmul"]
    for s in steps:
        assert s.inputs is s.op.inputs and s.output is s.op.output
        assert s.grad_output.shape == s.output.shape
        for x_in, g in zip(s.inputs, s.grad_inputs):
            assert (g is None) == (not x_in.requires_grad)
            assert g is None or g.shape == x_in.shape
    add_step, matmul_step = steps[2], steps[3]
    assert add_step.grad_inputs[1] is None  # the constant
    assert sorted(t.name for t, _ in matmul_step.finalized) == ["W", "x"]
    for t, g in matmul_step.finalized:
        np.testing.assert_array_equal(t.grad.data, g.data)


def test_backward_equals_running_backward_steps_to_the_end():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    a1, a2 = Tensor(a, requires_grad=True), Tensor(a.copy(), requires_grad=True)
    b1, b2 = Tensor(b, requires_grad=True), Tensor(b.copy(), requires_grad=True)
    for a, b, run in [(a1, b1, lambda y: y.backward()), (a2, b2, lambda y: [*y.backward_steps()])]:
        run(F.log_softmax(a * b + b.exp(), axis=0).sum() * (a[0] ** 2).sum())
    np.testing.assert_array_equal(a1.grad.data, a2.grad.data)
    np.testing.assert_array_equal(b1.grad.data, b2.grad.data)
    assert np.abs(a1.grad.data).sum() > 0


def test_backward_steps_from_a_leaf_and_with_a_tensor_seed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert list(x.backward_steps(Tensor([3.0, 4.0]))) == []
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_backward_steps_is_lazy_and_can_be_resumed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    steps = (x.exp() * 3).sum().backward_steps()
    first = next(steps)
    assert first.op.name == "sum" and x.grad is None  # nothing reached x yet
    rest = list(steps)
    assert [s.op.name for s in rest] == ["mul", "exp"] and [s.index for s in rest] == [1, 2]
    np.testing.assert_allclose(x.grad.data, 3 * np.exp(x.data))


# -- in-place modification ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("modify", ["assign", "iadd", "setitem"])
def test_in_place_modification_after_forward_is_detected(modify):
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    w = Tensor([3.0, 4.0], requires_grad=True, name="w")
    loss = (x * w).sum()
    if modify == "assign":
        w.data = np.array([0.0, 0.0])
    elif modify == "iadd":
        w.data += 1
    else:
        w[0] = 5
    with pytest.raises(RuntimeError, match=r"^mul: its input 1 'w' of shape \(2,\) was modified in place"):
        loss.backward()


def test_writes_elsewhere_after_forward_do_not_block_backward():
    # the write stamps: a write to a tensor the graph does not use moves the global count past the ops' stamps, so
    # backward takes the slow path and must still find nothing wrong (and the gradient must be right)
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    other = Tensor([0.0, 0.0], requires_grad=True)
    y = x * w
    loss = (y * y).sum()
    other.data = np.array([9.0, 9.0])
    other[1] = 3.0
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 2 * (1.0 * 3.0) * 3.0 * np.array([1.0, 0.0])
                               + 2 * (2.0 * 4.0) * 4.0 * np.array([0.0, 1.0]))
    assert not y.creator.changed() and loss.creator is not None


def test_a_write_into_a_saved_output_after_forward_is_detected():
    x = Tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # exp's backward reads its output
    assert not y.creator.changed()
    y[0] = 7.0
    assert y.creator.changed()
    with pytest.raises(RuntimeError, match=r"^exp: its output of shape \(2,\), which its backward uses"):
        y.backward(np.ones(2))


def test_writing_into_an_output_that_backward_uses_is_detected():
    # regression: tanh (exp, sqrt, sigmoid, pow, max) compute their gradient from their own output; changing that
    # output in place after the forward pass silently gave a wrong gradient
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.tanh()
    h.data += 1
    loss = (h * Tensor([1.0, 1.0])).sum()  # mul is created after the change, so only tanh can notice
    with pytest.raises(RuntimeError, match=r"^tanh: its output of shape \(2,\), which its backward uses, was modified"):
        loss.backward()
    # an op whose backward does not read its output (matmul) does not mind
    W = Tensor(np.eye(2), requires_grad=True)
    z = x @ W
    z[0] = 5.0
    (z * z).sum().backward()
    np.testing.assert_allclose(W.grad.data, np.outer(x.data, 2 * z.data))
