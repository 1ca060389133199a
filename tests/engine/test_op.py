"""The Op contract (tinygrad6/engine/op.py): shape errors that name the op once and keep numpy's error as their cause,
TypeErrors that name the op, complex results refused when a gradient is involved, an op run without recording, and
`saves_output` declared by every op whose backward reads its output."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import ShapeError, Tensor, no_grad


# -- shape errors -------------------------------------------------------------------------------------------------
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


def test_shape_errors_keep_numpy_error_as_their_cause():
    with pytest.raises(ShapeError) as info:
        Tensor(np.zeros((2, 3))) + Tensor(np.zeros((4,)))
    assert "add" in str(info.value) and info.value.__cause__ is not None
    assert tinygrad6.ShapeError is ShapeError


# -- other errors -------------------------------------------------------------------------------------------------
def test_numpy_errors_on_string_tensors_name_the_op():
    s = Tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError, match=r"^exp: cannot compute on dtype <U1"):
        s.exp()


def test_complex_results_raise_instead_of_dropping_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="mul: complex"):
        x * (1 + 2j)
    assert (Tensor([1.0]) * (1 + 2j)).dtype.kind == "c"  # no grad involved: numpy's result as is


def test_object_results_raise_instead_of_dropping_the_graph():
    # 2**64 does not fit in int64, so numpy keeps Python ints: the product was an object array left out of the
    # graph, and x's gradient missed that term without a word
    x = Tensor([1.0, 2.0], requires_grad=True)
    big = Tensor([2**64, 1])
    assert big.dtype == object
    with pytest.raises(TypeError, match=r"^mul: the result has dtype object \(input dtypes float64 and object\).*"
                                        r"Convert the data to float first"):
        x * big
    with pytest.raises(TypeError, match="^add: the result has dtype object"):
        big + x
    (x * Tensor([2.0**64, 1.0])).sum().backward()  # as floats it is an ordinary product
    np.testing.assert_array_equal(x.grad.data, [2.0**64, 1.0])
    assert (Tensor([1.0]) * big).dtype == object  # no grad involved: numpy's result as is


# -- recording ----------------------------------------------------------------------------------------------------
def test_an_op_run_without_recording_still_has_every_attribute():
    from tinygrad6.engine.ops import Mul

    op = Mul()
    assert (op.inputs, op.output, op.scope, op.location, op.source, op.saved, op.released) == (
        (), None, (), None, None, None, False)
    assert repr(op) == "<mul() on >"
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2.0
    assert y.creator is None  # nothing recorded, and nothing to look at that would raise


def test_every_op_whose_backward_reads_its_output_declares_saves_output():
    # the in-place check above relies on this flag; a new op that forgets it would silently lose the check
    import tinygrad6.engine.ops as ops

    for name in ops.__all__:
        cls = getattr(ops, name)
        reads_output = "self.output" in inspect.getsource(cls.backward)
        assert cls.saves_output == reads_output, f"{name}.saves_output should be {reads_output}"
