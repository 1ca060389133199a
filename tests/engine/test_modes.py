"""The modes (tinygrad6/engine/modes.py): no_grad, enable_grad, retain_grads, detect_anomaly, record_source and scope as
context managers and as decorators (restored after an exception; one context per call in threads, generators and
coroutines); what detect_anomaly and record_source report (the op, and the line that created it)."""

from __future__ import annotations

import asyncio
import inspect
import os
import threading

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import AnomalyError, Tensor, detect_anomaly, is_grad_enabled, no_grad, record_source, scope
from tinygrad6.engine.modes import _anomaly, _record_source, _scope


def line_of(marker: str) -> int:
    """The line number in this file of the line containing `marker` (so anomaly tests name their own line)."""
    lines = inspect.getsource(inspect.getmodule(line_of)).splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text and "line_of(" not in text)


# -- grad modes ---------------------------------------------------------------------------------------------------
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


# -- modes as decorators: one context per call, threads and generators --------------------------------------------
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


# -- anomaly detection --------------------------------------------------------------------------------------------
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


def test_detect_anomaly_catches_inf_from_overflow():
    x = Tensor([1.0, 1000.0], requires_grad=True)
    with pytest.warns(RuntimeWarning), pytest.raises(AnomalyError, match=r"^exp produced inf in its forward pass"), \
            tinygrad6.detect_anomaly():
        x.exp()


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_anomaly_blames_the_input_when_the_nan_was_already_there():
    x = Tensor([1.0, np.nan], requires_grad=True, name="x")
    with detect_anomaly(), pytest.raises(AnomalyError, match="NaN in the input of mul: input 0 'x'"):
        x * 2.0
    with detect_anomaly(), pytest.raises(AnomalyError, match="log produced NaN"):
        Tensor([-1.0], requires_grad=True).log()


# -- record_source ------------------------------------------------------------------------------------------------
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
