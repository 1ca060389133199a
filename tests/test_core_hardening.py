"""Regression tests for the core's hardening findings: aliased writes, loss shapes, the Python protocol of Tensor,
modes as decorators in threads and generators, and clear errors for complex, string and NaN inputs."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import AnomalyError, ShapeError, Tensor, detect_anomaly, is_grad_enabled, no_grad, record_source, scope
from tinygrad6.modes import _anomaly, _record_source, _scope


# -- writes through an alias share one write stamp ------------------------------------------------------------
def _square_sum(x: Tensor) -> Tensor:
    return (x * x).sum()


@pytest.mark.parametrize("alias", [
    lambda x: x.detach(),
    lambda x: Tensor(x),
    lambda x: x.detach().reshape(3, 1),
    lambda x: x.detach()[1:],
    lambda x: x.detach().T,
], ids=["detach", "Tensor(t)", "reshape-view", "slice-view", "transpose-view"])
def test_a_write_through_an_alias_is_reported_at_backward(alias):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    y = _square_sum(x)
    a = alias(x)
    a[0] = 100.0  # writes x's memory
    assert x.data.max() == 100.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_a_write_into_the_base_is_seen_by_an_op_that_read_a_view():
    x = Tensor(np.arange(6.0), requires_grad=True)
    v = x.reshape(2, 3)  # a view, made by an op
    y = (v * v).sum()
    x.detach()[0] = 5.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_rebinding_data_to_new_memory_does_not_touch_old_aliases():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x.detach()
    a.requires_grad = True
    y = _square_sum(a)
    x.data = np.zeros(3)  # x now owns new memory; a still holds the old values, unchanged
    y.backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 4.0, 6.0])


def test_copies_do_not_share_the_stamp():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = _square_sum(x)
    c = Tensor(x, dtype=np.float32)  # a converted copy
    c[0] = 9.0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


# -- losses refuse shapes that would broadcast silently ------------------------------------------------------
def test_mse_loss_refuses_shapes_that_would_broadcast():
    y = Tensor(np.zeros((4, 1)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(y, np.zeros(4))
    assert F.mse_loss(y, np.ones((4, 1))).item() == 1.0
    assert F.mse_loss(y, 1.0).item() == 1.0  # a scalar target is unambiguous


def test_cross_entropy_refuses_targets_that_disagree_with_the_logits():
    logits = Tensor(np.zeros((4, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"\(4, 2\).*\(4, 3\)"):
        F.cross_entropy(logits, np.zeros((4, 2)))
    with pytest.raises(ShapeError, match=r"\(5,\)"):
        F.cross_entropy(logits, np.zeros(5, dtype=int))


# -- the Python protocol, as in PyTorch ------------------------------------------------------------------------
def test_truth_value_of_a_one_element_tensor_is_its_value():
    assert bool(Tensor([5.0]) < 1.0) is False
    assert bool(Tensor([5.0]) > 1.0) is True
    assert not Tensor(0.0)
    with pytest.raises(ValueError, match=r"shape \(2,\) is ambiguous"):
        bool(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        if Tensor([]):
            pass


def test_numbers_and_formatting_of_a_one_element_tensor():
    loss = (Tensor([1.0, 2.0], requires_grad=True) ** 2).mean()
    assert float(loss) == 2.5 and isinstance(float(loss), float)
    assert int(Tensor([3.7])) == 3
    assert f"{loss:.3f}" == "2.500"
    assert f"{loss}" == str(loss)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        float(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        f"{Tensor([1.0, 2.0]):.2f}"


def test_numpy_sees_the_values():
    t = Tensor([1.0, 2.0])
    a = np.asarray(t)
    assert a.dtype == np.float64 and a is t.data
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert np.array(t, copy=True) is not t.data
    np.testing.assert_array_equal(np.stack([t, t]), [[1.0, 2.0], [1.0, 2.0]])


def test_equality_is_elementwise_and_hashing_by_identity():
    y = Tensor([6.0, 1.0])
    np.testing.assert_array_equal((y == 6.0).data, [True, False])
    np.testing.assert_array_equal((y != 6.0).data, [False, True])
    np.testing.assert_array_equal((y == Tensor([6.0, 2.0])).data, [True, False])
    assert (y == None) is False and (y != None) is True  # noqa: E711  (PyTorch's answer)
    z = Tensor([6.0, 1.0])
    d = {y: "y", z: "z"}  # equal values, different tensors
    assert d[y] == "y" and d[z] == "z" and len({y, z}) == 2
    assert y in [y, z]  # (as in PyTorch, `z in [y, z]` compares y == z first and raises: use ids or a dict)


# -- modes as decorators: one context per call, threads and generators ----------------------------------------
def _in_threads(run, n: int) -> None:
    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.parametrize("mode, var, inside", [
    (no_grad, None, False),
    (detect_anomaly, _anomaly, True),
    (record_source, _record_source, True),
])
def test_a_decorated_function_is_safe_in_eight_threads(mode, var, inside):
    barrier = threading.Barrier(8)

    @mode()
    def work():
        barrier.wait(timeout=10)  # all eight threads are inside the decorated call at once
        return is_grad_enabled() if var is None else var.get()

    errors, outside = [], []

    def run():
        try:
            for _ in range(5):
                assert work() is inside
            outside.append(is_grad_enabled() if var is None else var.get())
        except Exception as e:  # collected, so the main thread sees it
            errors.append(e)

    _in_threads(run, 8)
    assert errors == []
    assert outside == [not inside] * 8  # every thread got its mode back


def test_a_decorated_scope_is_safe_in_threads():
    barrier = threading.Barrier(8)

    @scope("Layer")
    def work():
        barrier.wait(timeout=10)
        return _scope.get()

    results, errors = [], []

    def run():
        try:
            results.append((work(), _scope.get()))
        except Exception as e:
            errors.append(e)

    _in_threads(run, 8)
    assert errors == [] and results == [(("Layer",), ())] * 8


def test_a_decorated_generator_has_the_mode_in_its_body_only():
    @no_grad()
    def steps(x):
        for _ in range(3):
            received = yield (x * 2).requires_grad, is_grad_enabled()
            assert received in (None, "hello")
        return "done"

    x = Tensor([1.0], requires_grad=True)
    gen = steps(x)
    seen = []
    for value in gen:
        seen.append(value)
        assert is_grad_enabled()  # the caller runs with grad on between steps
    assert seen == [(False, False)] * 3
    gen = steps(x)
    next(gen)
    assert gen.send("hello") == (False, False)
    with pytest.raises(StopIteration) as stop:
        for _ in range(3):
            next(gen)
    assert stop.value.value == "done"


def test_a_decorated_generator_in_a_scope_records_every_op_in_it():
    @scope("Block")
    def layers(x):
        for _ in range(2):
            x = x * 2.0
            yield x

    x = Tensor([1.0], requires_grad=True)
    outs = list(layers(x))
    assert [o.creator.scope for o in outs] == [("Block",), ("Block",)]


def test_a_decorated_coroutine_has_the_mode_for_its_whole_body():
    @no_grad()
    async def work():
        await asyncio.sleep(0)
        return is_grad_enabled()

    assert asyncio.run(work()) is False
    assert is_grad_enabled()


def test_an_async_generator_is_refused():
    async def agen():
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        no_grad()(agen)


# -- clear errors ---------------------------------------------------------------------------------------------
def test_complex_results_raise_instead_of_dropping_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="mul: complex"):
        x * (1 + 2j)
    assert (Tensor([1.0]) * (1 + 2j)).dtype.kind == "c"  # no grad involved: numpy's result as is


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_anomaly_blames_the_input_when_the_nan_was_already_there():
    x = Tensor([1.0, np.nan], requires_grad=True, name="x")
    with detect_anomaly(), pytest.raises(AnomalyError, match="NaN in the input of mul: input 0 'x'"):
        x * 2.0
    with detect_anomaly(), pytest.raises(AnomalyError, match="log produced NaN"):
        Tensor([-1.0], requires_grad=True).log()


def test_numpy_errors_on_string_tensors_name_the_op():
    s = Tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError, match=r"^exp: cannot compute on dtype <U1"):
        s.exp()


def test_shape_errors_keep_numpy_error_as_their_cause():
    with pytest.raises(ShapeError) as info:
        Tensor(np.zeros((2, 3))) + Tensor(np.zeros((4,)))
    assert "add" in str(info.value) and info.value.__cause__ is not None
    assert tinygrad6.ShapeError is ShapeError


def test_a_parameter_keeps_its_shape_and_dtype():
    from tinygrad6.nn import Parameter

    W = Parameter(np.zeros((2, 3)), name="W")
    W.data = np.ones((2, 3))  # same shape and dtype: fine, and counted as a write
    W.data -= 0.5
    np.testing.assert_array_equal(W.data, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"Parameter 'W'.*shape \(3, 2\).*shape \(2, 3\)"):
        W.data = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"dtype float32.*dtype float64"):
        W.data = np.zeros((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(W.data, np.full((2, 3), 0.5))  # unchanged by the refused writes


def test_an_op_run_without_recording_still_has_every_attribute():
    from tinygrad6.ops import Mul

    op = Mul()
    assert (op.inputs, op.output, op.scope, op.location, op.source, op.saved, op.released) == (
        (), None, (), None, None, None, False)
    assert repr(op) == "<mul() on >"
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2.0
    assert y.creator is None  # nothing recorded, and nothing to look at that would raise
