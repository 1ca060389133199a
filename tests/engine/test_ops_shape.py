"""The shape ops (tinygrad6/engine/ops/shape.py: reshape, transpose, broadcast_to, sum_to, getitem and its scatter_add
backward, concatenate, stack) against numpy; repeated indices accumulating, boolean masks, separate gradient arrays,
and transposes by permutations that differ from their inverse. The machinery every case goes through is in
tests/opcheck.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opcheck import Case, CaseTable, check_case, grads_of
from strategies import (
    arrays,
    basic_indices,
    boolean_masks,
    broadcastable_shapes,
    integer_array_indices,
    non_involutions,
    permutations,
    reshape_targets,
    shapes,
)

import tinygrad6
from tinygrad6 import Tensor

CASES = CaseTable()
case = CASES.case


# -- shape ops ----------------------------------------------------------------------------------------------------
@case("reshape")
def _(data):
    shape = data.draw(shapes())
    target = data.draw(reshape_targets(shape), label="target")
    return [data.draw(arrays(shape))], (lambda t: t.reshape(target)), (lambda a: a.reshape(target))


@case("reshape_varargs_and_flatten")
def _(data):
    shape = data.draw(shapes(min_dims=2))
    return [data.draw(arrays(shape))], (lambda t: t.reshape(*shape[::-1]).flatten() * 2), \
        (lambda a: a.reshape(shape[::-1]).reshape(-1) * 2)


@case("flatten_keeping_the_first_axis")
def _(data):
    shape = data.draw(shapes(min_dims=2))
    return [data.draw(arrays(shape))], (lambda t: t.flatten(1) * 2), (lambda a: a.reshape(shape[0], -1) * 2)


@case("transpose")
def _(data):
    shape = data.draw(shapes())
    perm = data.draw(st.one_of(st.none(), permutations(len(shape))), label="axes")
    as_tuple = data.draw(st.booleans(), label="axes as one tuple")

    def fn(t):
        if perm is None:
            return t.transpose()
        return t.transpose(perm) if as_tuple else t.transpose(*perm)

    return [data.draw(arrays(shape))], fn, (lambda a: np.transpose(a, perm))


@case("T_and_mT")
def _(data):
    shape = data.draw(shapes(min_dims=2))
    return [data.draw(arrays(shape))], (lambda t: t.T.mT), (lambda a: np.swapaxes(a.T, -1, -2))


@case("broadcast_to")
def _(data):
    s, other = data.draw(broadcastable_shapes())
    target = np.broadcast_shapes(s, other)
    return [data.draw(arrays(s))], (lambda t: t.broadcast_to(target)), (lambda a: np.broadcast_to(a, target))


@case("sum_to")
def _(data):
    s, other = data.draw(broadcastable_shapes())
    big = np.broadcast_shapes(s, other)

    def ref(a):
        lead = a.ndim - len(s)
        summed = a.sum(axis=tuple(range(lead)))
        return summed.sum(axis=tuple(i for i, n in enumerate(s) if n == 1), keepdims=True)

    return [data.draw(arrays(big))], (lambda t: t.sum_to(s)), ref


@case("getitem_basic")
def _(data):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(basic_indices(shape), label="index")
    return [data.draw(arrays(shape))], (lambda t: t[index]), (lambda a: a[index])


@case("getitem_integer_array_with_repeats")
def _(data):
    shape = data.draw(shapes(min_dims=1))
    index = data.draw(integer_array_indices(shape), label="index")
    as_list = data.draw(st.booleans(), label="as list")
    tg_index = index[:-1] + (index[-1].tolist(),) if as_list else index
    return [data.draw(arrays(shape))], (lambda t: t[tg_index]), (lambda a: a[index])


@case("getitem_two_integer_arrays")
def _(data):
    shape = data.draw(shapes(min_dims=2))
    n = data.draw(st.integers(1, 5))
    rows = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=n, max_size=n)))
    cols = np.array(data.draw(st.lists(st.integers(0, shape[1] - 1), min_size=n, max_size=n)))
    return [data.draw(arrays(shape))], (lambda t: t[rows, cols]), (lambda a: a[rows, cols])


@case("getitem_boolean_mask")
def _(data):
    shape = data.draw(shapes(min_dims=1))
    mask = data.draw(boolean_masks(shape), label="mask")
    as_tensor = data.draw(st.booleans(), label="mask as Tensor")
    tg_mask = Tensor(mask) if as_tensor else mask
    return [data.draw(arrays(shape))], (lambda t: t[tg_mask]), (lambda a: a[mask])


@case("getitem_boolean_mask_then_more_indices")
def _(data):
    # regression: a mask over 2+ axes inside a tuple index (x[mask2d, 0]) became a nested tuple and indexed wrongly
    shape = data.draw(shapes(min_dims=2))
    k = data.draw(st.integers(1, len(shape) - 1), label="mask axes")
    mask = data.draw(hnp.arrays(bool, shape[:k]), label="mask")
    rest = data.draw(st.one_of(st.integers(-shape[k], shape[k] - 1), st.just(slice(None, None, -1))), label="rest")
    as_list = data.draw(st.booleans(), label="mask as nested list")
    tg_mask = mask.tolist() if as_list else Tensor(mask)
    return [data.draw(arrays(shape))], (lambda t: t[tg_mask, rest]), (lambda a: a[mask, rest])


@case("concatenate")
def _(data):
    base = list(data.draw(shapes(min_dims=1)))
    axis = data.draw(st.integers(-len(base), len(base) - 1), label="axis")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="sizes")
    xs = []
    for size in sizes:
        base[axis] = size
        xs.append(data.draw(arrays(tuple(base))))
    return xs, (lambda *ts: tinygrad6.concatenate(ts, axis=axis)), (lambda *a: np.concatenate(a, axis=axis))


@case("stack")
def _(data):
    shape = data.draw(shapes())
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="axis")
    n = data.draw(st.integers(1, 3), label="n")
    xs = [data.draw(arrays(shape)) for _ in range(n)]
    return xs, (lambda *ts: tinygrad6.stack(ts, axis=axis)), (lambda *a: np.stack(a, axis=axis))


# -- the test every case goes through (tests/opcheck.py) ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_op_forward_gradient_float32_and_second_order(case: Case, data) -> None:
    check_case(case, data)


# -- indexing -----------------------------------------------------------------------------------------------------
def test_integer_array_index_with_repeats_accumulates():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    y = x[np.array([0, 2, 0, 0, -1])]
    np.testing.assert_array_equal(y.data, [10, 30, 10, 10, 30])
    y.backward(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(x.grad.data, [1 + 3 + 4, 0, 2 + 5])


def test_integer_array_indexing_with_repeats_in_a_graph():
    E = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)  # an embedding table
    ids = np.array([1, 3, 1, 1])
    (E[ids] * np.arange(4.0)[:, None]).sum().backward()
    expected = np.zeros((4, 3))
    expected[1] = 0 + 2 + 3
    expected[3] = 1
    np.testing.assert_array_equal(E.grad.data, expected)


def test_boolean_mask_from_a_comparison():
    x = Tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    y = x[x > 0]
    np.testing.assert_array_equal(y.data, [2.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1], [1, 0]])


# -- concatenate and stack ----------------------------------------------------------------------------------------
def test_concatenate_and_stack_gradients_are_separate_arrays():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    tinygrad6.concatenate([a, b]).backward(np.arange(5.0))
    np.testing.assert_array_equal(a.grad.data, [0, 1])
    np.testing.assert_array_equal(b.grad.data, [2, 3, 4])
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 10  # writeable, and b.grad does not change
    np.testing.assert_array_equal(b.grad.data, [2, 3, 4])


# -- transpose by a permutation that is not its own inverse -------------------------------------------------------
@given(st.data())
def test_transpose_gradient_applies_the_inverse_permutation(data):
    ndim = data.draw(st.integers(3, 4), label="ndim")
    perm = data.draw(non_involutions(ndim), label="perm")
    shape = tuple(range(2, 2 + ndim))  # distinct sides, so a wrong permutation also has the wrong shape
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    v = np.random.default_rng(1).normal(size=tuple(shape[p] for p in perm))
    (g,) = grads_of(lambda t: t.transpose(*perm), x, upstream=v)
    np.testing.assert_array_equal(g, v.transpose(np.argsort(perm)))


def test_transpose_gradient_for_a_3_cycle_on_a_cube():
    # all sides equal: a backward that used the permutation itself would keep the shape and only move values
    perm = (1, 2, 0)
    v = np.arange(27.0).reshape(3, 3, 3)
    (g,) = grads_of(lambda t: t.transpose(*perm), np.zeros((3, 3, 3)), upstream=v)
    np.testing.assert_array_equal(g, np.transpose(v, (2, 0, 1)))  # the inverse of (1, 2, 0)
