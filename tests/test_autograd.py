"""The backward loop and everything around it: shared sub-expressions, accumulation, long chains, memory
(released saved values, graphs freed by reference counting), grad modes, retained grads, hooks, `tinygrad6.grad`
and higher derivatives, `backward_steps`, in-place modification, anomaly detection, and the error messages."""

from __future__ import annotations

import gc
import inspect
import os
import weakref

import numpy as np
import pytest

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import AnomalyError, ShapeError, Tensor
from tinygrad6.op import Op


def line_of(marker: str) -> int:
    """The line number in this file of the line containing `marker` (so anomaly tests name their own line)."""
    lines = inspect.getsource(inspect.getmodule(line_of)).splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text and "line_of(" not in text)


# -- shared sub-expressions and accumulation ---------------------------------------------------------------------
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


def test_integer_array_indexing_with_repeats_in_a_graph():
    E = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)  # an embedding table
    ids = np.array([1, 3, 1, 1])
    (E[ids] * np.arange(4.0)[:, None]).sum().backward()
    expected = np.zeros((4, 3))
    expected[1] = 0 + 2 + 3
    expected[3] = 1
    np.testing.assert_array_equal(E.grad.data, expected)


# -- long graphs and memory --------------------------------------------------------------------------------------
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


# -- grad modes --------------------------------------------------------------------------------------------------
def test_no_grad_builds_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with tinygrad6.no_grad():
        assert not tinygrad6.is_grad_enabled()
        y = (x * 2).exp().sum()
        with tinygrad6.enable_grad():
            z = x * 2
    assert tinygrad6.is_grad_enabled()
    assert y.creator is None and not y.requires_grad
    assert z.creator is not None and z.requires_grad
    with pytest.raises(RuntimeError, match=r"does not require grad.*no_grad"):
        y.backward()


def test_no_grad_as_a_decorator_and_restored_after_an_exception():
    x = Tensor([1.0], requires_grad=True)

    @tinygrad6.no_grad()
    def infer(t):
        return t * 3

    assert infer(x).creator is None and not infer(x).requires_grad
    assert (x * 3).requires_grad
    with pytest.raises(ZeroDivisionError), tinygrad6.no_grad():
        1 / 0
    assert tinygrad6.is_grad_enabled()


def test_retain_grad_and_retain_grads():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    other = h.exp()
    other.sum().backward()
    np.testing.assert_allclose(h.grad.data, np.exp(h.data))
    assert other.grad is None  # not retained
    with tinygrad6.retain_grads():
        a = x * x
        b = a.sum()
    b.backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])
    assert b.grad.item() == 1.0
    c = x * x
    c.sum().backward()
    assert c.grad is None  # only tensors created inside the block


# -- hooks -------------------------------------------------------------------------------------------------------
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


# -- tinygrad6.grad and higher derivatives -----------------------------------------------------------------------
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


# -- backward_steps ----------------------------------------------------------------------------------------------
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


# -- in-place modification ---------------------------------------------------------------------------------------
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


def test_in_place_modification_before_forward_is_fine_and_source_is_named():
    w = Tensor([3.0, 4.0], requires_grad=True)
    w.data += 1
    with tinygrad6.record_source():
        y = w.exp()  # MARK-exp-created
    loss = y.sum()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(w.grad.data, np.exp([4.0, 5.0]))
    w.data = w.data * 2
    expected = f"{os.path.abspath(__file__)}:{line_of('MARK-exp-created')}"
    with pytest.raises(RuntimeError, match=r"exp \(created at .*\)") as info:
        loss.backward()
    assert expected in str(info.value)


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


# -- anomaly detection -------------------------------------------------------------------------------------------
def test_detect_anomaly_names_the_op_and_the_line_in_forward():
    x = Tensor([1.0, -1.0], requires_grad=True)
    with pytest.warns(RuntimeWarning), pytest.raises(AnomalyError) as info, tinygrad6.detect_anomaly():
        x.log()  # MARK-log-of-negative
    message = str(info.value)
    assert message.startswith("log produced NaN in its forward pass (input shapes (2,))")
    assert f"{__file__}:{line_of('MARK-log-of-negative')}" in message
    with pytest.warns(RuntimeWarning):
        assert np.isnan(x.log().data[1])  # outside the block: no error


def test_detect_anomaly_in_backward_names_the_op_whose_backward_made_it():
    # regression: the NaN/inf made inside sqrt's backward rule was reported as a `div` forward
    x = Tensor([0.0, 4.0], requires_grad=True)
    with tinygrad6.detect_anomaly():
        y = (x.sqrt() * 2).sum()  # MARK-sqrt-at-zero
        assert np.all(np.isfinite(y.data))  # the forward is fine: sqrt(0) = 0
        with pytest.warns(RuntimeWarning), pytest.raises(AnomalyError) as info:
            y.backward()
    message = str(info.value)
    assert message.startswith("sqrt produced inf in its backward pass (input shapes (2,))")
    assert f"{__file__}:{line_of('MARK-sqrt-at-zero')}" in message
    assert tinygrad6.is_grad_enabled()


# -- errors a learner meets --------------------------------------------------------------------------------------
def test_matmul_shape_error_message_is_exact():
    with pytest.raises(ShapeError) as info:
        Tensor(np.ones((100, 784))) @ Tensor(np.ones((100, 100)))
    assert str(info.value) == "matmul: shapes (100, 784) and (100, 100) do not align (784 != 100)"


def test_broadcast_error_message_is_exact():
    with pytest.raises(ShapeError) as info:
        Tensor(np.ones((3, 4))) + Tensor(np.ones(5))
    assert str(info.value) == "add: shapes (3, 4) and (5,) cannot broadcast"
    assert isinstance(info.value, ValueError)
    with pytest.raises(ShapeError, match=r"^mul: shapes \(2, 3\) and \(2,\) cannot broadcast$"):
        Tensor(np.ones((2, 3)), requires_grad=True) * np.ones(2)


def test_other_shape_errors_name_the_op_once():
    # regression: an op's own ShapeError was wrapped again ("reshape: shapes (3, 4): reshape: ...")
    with pytest.raises(ShapeError) as info:
        Tensor(np.ones((3, 4))).reshape(5)
    assert str(info.value) == "reshape: cannot reshape shape (3, 4) (12 elements) into (5,)"
    with pytest.raises(ShapeError) as info:
        Tensor(np.ones((2, 3))).sum_to((4,))
    assert str(info.value) == "sum_to: cannot sum shape (2, 3) down to (4,)"
    with pytest.raises(ShapeError, match=r"^matmul: shapes \(\) and \(3,\): matmul needs 1 or more axes"):
        Tensor(2.0) @ Tensor(np.ones(3))
    with pytest.raises(ShapeError, match=r"^matmul: shapes \(2, 3, 4\) and \(5, 4, 6\) cannot broadcast$"):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 6)))
    with pytest.raises(IndexError, match=r"^getitem: index 5 on shape \(3,\)"):
        Tensor(np.ones(3))[5]


def test_non_scalar_backward_without_grad_names_the_shape():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"the output has shape \(2, 3\).*pass grad= an array of shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the output has shape \(2, 3\)"):
        y.backward(np.ones(3))


def test_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require grad, got dtype int64"):
        Tensor(np.array([1, 2], dtype=np.int64), requires_grad=True)


# -- more of the loop's contract ---------------------------------------------------------------------------------
def test_backward_steps_is_lazy_and_can_be_resumed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    steps = (x.exp() * 3).sum().backward_steps()
    first = next(steps)
    assert first.op.name == "sum" and x.grad is None  # nothing reached x yet
    rest = list(steps)
    assert [s.op.name for s in rest] == ["mul", "exp"] and [s.index for s in rest] == [1, 2]
    np.testing.assert_allclose(x.grad.data, 3 * np.exp(x.data))


def test_hook_on_a_leaf_sees_this_backward_only_not_the_accumulated_grad():
    x = Tensor([1.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    (x * 2).sum().backward()
    (x * 5).sum().backward()
    assert seen == [2.0, 5.0] and x.grad.item() == 7.0


def test_grad_with_several_outputs_and_upstream_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y1, y2 = x * x, x.exp()
    (g,) = tinygrad6.grad([y1, y2], x, grad_outputs=[np.array([1.0, 0.5]), Tensor([2.0, 0.0])])
    np.testing.assert_allclose(g.data, np.array([1.0, 0.5]) * 2 * x.data + np.array([2.0, 0.0]) * np.exp(x.data))
    assert g.creator is None and not g.requires_grad  # create_graph=False records nothing
    with pytest.raises(ValueError, match="2 outputs but 1 gradients"):
        tinygrad6.grad([x * 1, x * 2], x, grad_outputs=[np.ones(2)])


def test_backward_with_create_graph_retains_the_graph_by_default():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)
    y.backward()  # allowed: retain_graph defaulted to create_graph=True
    np.testing.assert_allclose(x.grad.data, 2 * 3 * x.data**2)


def test_an_empty_batch_flows_through_forward_and_backward():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    W = Tensor(np.ones((3, 2)), requires_grad=True)
    loss = (x @ W).relu().sum()
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad.shape == (0, 3)
    np.testing.assert_array_equal(W.grad.data, np.zeros((3, 2)))


def test_grad_mode_is_local_to_a_thread():
    import threading

    x = Tensor([1.0], requires_grad=True)
    seen = {}

    def worker():
        seen["enabled"] = tinygrad6.is_grad_enabled()
        seen["recorded"] = (x * 2).creator is not None

    with tinygrad6.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == {"enabled": True, "recorded": True}


def test_detect_anomaly_catches_inf_from_overflow():
    x = Tensor([1.0, 1000.0], requires_grad=True)
    with pytest.warns(RuntimeWarning), pytest.raises(AnomalyError, match=r"^exp produced inf in its forward pass"), \
            tinygrad6.detect_anomaly():
        x.exp()


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


def test_every_op_whose_backward_reads_its_output_declares_saves_output():
    # the in-place check above relies on this flag; a new op that forgets it would silently lose the check
    import tinygrad6.ops as ops

    for name in ops.__all__:
        cls = getattr(ops, name)
        reads_output = "self.output" in inspect.getsource(cls.backward)
        assert cls.saves_output == reads_output, f"{name}.saves_output should be {reads_output}"
