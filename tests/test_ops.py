"""Every op and every `tinygrad6.functional` function against numpy.

For each case hypothesis draws shapes, parameters (axes, indices...) and values inside the op's domain, then:
1. forward equals the numpy reference;
2. the gradient of sum(v * f(x)) for a random v equals central differences of the *numpy* reference
   (`strategies.central_difference`, independent of the engine) and passes `tinygrad6.gradcheck`;
3. the same computation in float32 stays float32, values and gradients;
4. for elementwise ops, matmul, reductions and the softmax family: `tinygrad6.gradgradcheck` (second derivatives).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    GAP,
    arrays,
    axes,
    basic_indices,
    boolean_masks,
    broadcastable_shapes,
    central_difference,
    distinct_arrays,
    integer_array_indices,
    nonzero_arrays,
    permutations,
    positive_arrays,
    reshape_targets,
    shapes,
)

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor


@dataclass
class Case:
    """draw(data) -> (arrays, fn, ref): the differentiable inputs, the tinygrad6 function of Tensors and the numpy
    reference of arrays (both closing over the drawn parameters)."""

    name: str
    draw: Callable
    second_order: bool = False
    float32_result: bool = True  # False where a float64 numpy constant joins in (numpy promotes to float64)


CASES: list[Case] = []


def case(name: str, second_order: bool = False, float32_result: bool = True):
    def register(draw):
        CASES.append(Case(name, draw, second_order, float32_result))
        return draw

    return register


# -- binary arithmetic with broadcasting -------------------------------------------------------------------------
def binary(name: str, fn, ref, a_values=arrays, b_values=arrays, second_order: bool = True):
    def draw(data):
        sa, sb = data.draw(broadcastable_shapes(), label="shapes")
        return [data.draw(a_values(sa), label="a"), data.draw(b_values(sb), label="b")], fn, ref

    CASES.append(Case(name, draw, second_order))


binary("add", lambda a, b: a + b, np.add)
binary("sub", lambda a, b: a - b, np.subtract)
binary("mul", lambda a, b: a * b, np.multiply)
binary("div", lambda a, b: a / b, np.divide, b_values=nonzero_arrays)
binary("pow_tensor_exponent", lambda a, b: a**b, np.power, a_values=positive_arrays,
       b_values=lambda s: arrays(s, -2, 2))


@case("pow_scalar_exponent", second_order=True)
def _(data):
    p = data.draw(st.sampled_from([2, 3, -1, 0, 0.5, 1.5, -0.5, 2.0]), label="p")
    shape = data.draw(shapes())
    integer_power = float(p).is_integer()
    x = data.draw(nonzero_arrays(shape) if integer_power else positive_arrays(shape))  # negative base if integer p
    return [x], (lambda a: a**p), (lambda a: np.power(a, p))


@case("python_scalars_either_side", second_order=True)
def _(data):
    x = data.draw(positive_arrays(data.draw(shapes())))
    return [x], (lambda a: 2 * a - 1.5 + 3 / a - a / 4 + 2**a + 1 - a), \
        (lambda a: 2 * a - 1.5 + 3 / a - a / 4 + 2**a + 1 - a)


@case("numpy_array_either_side", second_order=True, float32_result=False)
def _(data):
    sa, sb = data.draw(broadcastable_shapes())
    a, c = data.draw(arrays(sa)), data.draw(nonzero_arrays(sb))
    return [a], (lambda t: c * t + t - c + c / (t * t + 1)), (lambda t: c * t + t - c + c / (t * t + 1))


@case("matmul", second_order=True)
def _(data):
    m, k, n = (data.draw(st.integers(1, 3), label=s) for s in "mkn")
    batch_a, batch_b = data.draw(broadcastable_shapes(2, min_dims=0, max_dims=2, max_side=3), label="batch")
    a_shape = (k,) if data.draw(st.booleans(), label="a is 1-D") else batch_a + (m, k)
    b_shape = (k,) if data.draw(st.booleans(), label="b is 1-D") else batch_b + (k, n)
    return [data.draw(arrays(a_shape)), data.draw(arrays(b_shape))], (lambda a, b: a @ b), np.matmul


@case("matmul_numpy_on_the_left", float32_result=False)
def _(data):
    m, k, n = (data.draw(st.integers(1, 3), label=s) for s in "mkn")
    W = data.draw(arrays((m, k)))
    return [data.draw(arrays((k, n)))], (lambda x: W @ x), (lambda x: W @ x)


# -- elementwise functions of one tensor -------------------------------------------------------------------------
def unary(name: str, fn, ref, values=arrays):
    def draw(data):
        return [data.draw(values(data.draw(shapes(), label="shape")), label="x")], fn, ref

    CASES.append(Case(name, draw, second_order=True))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


unary("neg", lambda x: -x, np.negative)
unary("exp", lambda x: x.exp(), np.exp)
unary("log", lambda x: x.log(), np.log, positive_arrays)
unary("sqrt", lambda x: x.sqrt(), np.sqrt, positive_arrays)
unary("abs", lambda x: x.abs(), np.abs, nonzero_arrays)
unary("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), nonzero_arrays)
unary("sigmoid", lambda x: x.sigmoid(), _sigmoid, lambda s: arrays(s, -6, 6))
unary("tanh", lambda x: x.tanh(), np.tanh)


@case("clip", second_order=True)
def _(data):
    low = data.draw(st.sampled_from([None, -1.0, -0.5, 0.0]), label="low")
    high = data.draw(st.sampled_from([None, 0.25, 0.75, 1.5] if low is not None else [0.25, 1.5]), label="high")
    # values on a grid offset by half a step from the bounds: never within GAP/2 of a bound
    (x,) = data.draw(distinct_arrays(data.draw(shapes()), offset=GAP / 2))
    return [x], (lambda t: t.clip(low, high)), (lambda a: np.clip(a, low, high))


def _select(name: str, fn, ref):
    def draw(data):
        sa, sb = data.draw(broadcastable_shapes(), label="shapes")
        return data.draw(distinct_arrays(sa, sb), label="values"), fn, ref

    CASES.append(Case(name, draw, second_order=True))


_select("maximum", lambda a, b: a.maximum(b), np.maximum)
_select("minimum", lambda a, b: a.minimum(b), np.minimum)
_select("maximum_function", lambda a, b: tinygrad6.maximum(a, b), np.maximum)
_select("minimum_function", lambda a, b: tinygrad6.minimum(a, b), np.minimum)


@case("maximum_with_scalar_is_relu_like", second_order=True)
def _(data):
    (x,) = data.draw(distinct_arrays(data.draw(shapes()), offset=GAP / 2))
    return [x], (lambda t: tinygrad6.maximum(t, 0.0) + tinygrad6.minimum(0.5, t)), \
        (lambda a: np.maximum(a, 0.0) + np.minimum(0.5, a))


@case("where", second_order=True)
def _(data):
    sc, sa, sb = data.draw(broadcastable_shapes(3), label="shapes")
    cond = data.draw(hnp.arrays(bool, sc), label="cond")
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    return [a, b], (lambda x, y: tinygrad6.where(cond, x, y)), (lambda x, y: np.where(cond, x, y))


@case("where_method_tensor_condition_scalar_other")
def _(data):
    x = data.draw(nonzero_arrays(data.draw(shapes())))
    return [x], (lambda t: t.where(t > 0, 0.5 * t)), (lambda a: np.where(a > 0, a, 0.5 * a))


# -- reductions --------------------------------------------------------------------------------------------------
def reduction(name: str, method: str, ref, distinct: bool = False):
    def draw(data):
        shape = data.draw(shapes(), label="shape")
        axis = data.draw(axes(len(shape)), label="axis")
        keepdims = data.draw(st.booleans(), label="keepdims")
        x = data.draw(distinct_arrays(shape))[0] if distinct else data.draw(arrays(shape), label="x")
        return [x], (lambda t: getattr(t, method)(axis=axis, keepdims=keepdims)), \
            (lambda a: ref(a, axis=axis, keepdims=keepdims))

    CASES.append(Case(name, draw, second_order=True))


reduction("sum", "sum", np.sum)
reduction("mean", "mean", np.mean)
reduction("var", "var", np.var)
reduction("max", "max", np.max, distinct=True)
reduction("min", "min", np.min, distinct=True)


# -- shape ops ---------------------------------------------------------------------------------------------------
@case("reshape")
def _(data):
    shape = data.draw(shapes())
    target = data.draw(reshape_targets(shape), label="target")
    return [data.draw(arrays(shape))], (lambda t: t.reshape(target)), (lambda a: a.reshape(target))


@case("reshape_varargs_and_flatten")
def _(data):
    shape = data.draw(shapes(min_dims=2))
    return [data.draw(arrays(shape))], (lambda t: t.reshape(*shape[::-1]).flatten() * 2), \
        (lambda a: a.reshape(shape[::-1]).reshape(shape[-1], -1) * 2)


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
        (lambda a: np.maximum(a, 0) + _sigmoid(a) * np.tanh(a))


# -- the test every case goes through ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_op_forward_gradient_float32_and_second_order(case: Case, data) -> None:
    arrays_, fn, ref = case.draw(data)
    seed = data.draw(st.integers(0, 2**32 - 1), label="upstream gradient seed")

    # 1. forward against numpy
    xs = [Tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays_)]
    y = fn(*xs)
    expected = np.asarray(ref(*arrays_))
    assert y.shape == expected.shape
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)

    # 2. gradient of sum(v * y) for a random v: independent central differences of the numpy reference, and gradcheck
    v = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(v)
    numerical = central_difference(ref, arrays_, v)
    for x, n in zip(xs, numerical):
        analytic = np.zeros(x.shape) if x.grad is None else x.grad.data
        assert analytic.shape == x.shape
        np.testing.assert_allclose(analytic, n, rtol=1e-5, atol=1e-6, err_msg=f"{case.name}: gradient of {x.name}")
    assert tinygrad6.gradcheck(fn, *[Tensor(a, requires_grad=True) for a in arrays_], seed=seed % 1000)

    # 3. float32 in, float32 out, float32 gradients (Python scalars and the op's own constants must not upcast)
    xs32 = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays_]
    y32 = fn(*xs32)
    assert y32.dtype == (np.float32 if case.float32_result else np.float64), f"{case.name}: dtype {y32.dtype}"
    # float32 rounding of inputs and result (values up to ~20, e.g. exp(3) or 1/0.25**2)
    np.testing.assert_allclose(y32.data, expected, rtol=1e-4, atol=1e-4)
    y32.backward(v.astype(y32.dtype))
    for x in xs32:
        assert x.grad is None or x.grad.dtype == np.float32  # the gradient has its input's dtype

    # 4. second derivatives
    if case.second_order:
        assert tinygrad6.gradgradcheck(fn, *[Tensor(a, requires_grad=True) for a in arrays_], seed=seed % 1000)


# -- ops that need a test of their own ---------------------------------------------------------------------------
def test_astype_casts_forward_and_casts_the_gradient_back():
    x = Tensor(np.array([1.5, -2.25, 3.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.creator is not None and y.creator.name == "cast"
    np.testing.assert_array_equal(y.data, np.array([1.5, -2.25, 3.0], dtype=np.float32))
    v = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    (y * 2).backward(v)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, 2 * v.astype(np.float64))
    assert x.astype(np.float64) is x  # no-op cast: no node


def test_astype_to_integer_gives_a_tensor_without_grad():
    # regression: an integer cast of a tensor that requires grad used to require grad itself
    x = Tensor([1.7, -2.2], requires_grad=True)
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.creator is None
    np.testing.assert_array_equal(i.data, [1, -2])


def test_max_splits_the_gradient_between_ties():
    x = Tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).backward(np.array([1.0, 3.0]))
    np.testing.assert_allclose(x.grad.data, [[0.5, 0, 0.5], [1.0, 1.0, 1.0]])
    z = Tensor([5.0, 5.0], requires_grad=True)
    z.min().backward()
    np.testing.assert_allclose(z.grad.data, [0.5, 0.5])


def test_maximum_and_minimum_split_ties_in_half():
    a, b = Tensor([1.0, 2.0, 3.0], requires_grad=True), Tensor([1.0, 5.0, 0.0], requires_grad=True)
    a.maximum(b).backward(np.array([2.0, 2.0, 2.0]))
    np.testing.assert_allclose(a.grad.data, [1.0, 0.0, 2.0])
    np.testing.assert_allclose(b.grad.data, [1.0, 2.0, 0.0])


def test_max_and_min_of_integer_data_work_without_grad():
    # regression: the tie-splitting share was computed in the integer dtype and raised a numpy TypeError
    labels = Tensor(np.array([[3, 1, 4], [1, 5, 9]]))
    assert labels.max().item() == 9
    np.testing.assert_array_equal(labels.min(axis=0).data, [1, 1, 4])


def test_integer_array_index_with_repeats_accumulates():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    y = x[np.array([0, 2, 0, 0, -1])]
    np.testing.assert_array_equal(y.data, [10, 30, 10, 10, 30])
    y.backward(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(x.grad.data, [1 + 3 + 4, 0, 2 + 5])


def test_boolean_mask_from_a_comparison():
    x = Tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    y = x[x > 0]
    np.testing.assert_array_equal(y.data, [2.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1], [1, 0]])


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


def test_dropout_keeps_the_expected_value_and_rejects_p_of_one():
    x = Tensor(np.ones((200, 100)))
    y = F.dropout(x, 0.3, rng=np.random.default_rng(0))
    assert set(np.unique(y.data)) <= {0.0, 1 / 0.7}
    assert abs(y.data.mean() - 1.0) < 0.02  # 20,000 Bernoulli(0.7) draws: the standard error is ~0.0036
    assert F.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        F.dropout(x, 1.0)


def test_mse_loss_is_the_mean_not_half_the_sum():
    y, t = Tensor([1.0, 2.0, 4.0], requires_grad=True), np.array([0.0, 2.0, 1.0])
    loss = F.mse_loss(y, t)
    assert loss.item() == pytest.approx((1 + 0 + 9) / 3)
    loss.backward()
    np.testing.assert_allclose(y.grad.data, 2 * (y.data - t) / 3)


# -- the Tensor API ----------------------------------------------------------------------------------------------
def test_repr_shows_name_op_shape_dtype_and_values():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    text = repr(x)
    assert "name='x'" in text and "shape=(2,)" in text and "dtype=float64" in text and "requires_grad=True" in text
    assert "1." in text and "2." in text
    y = x * 2
    assert "op=mul" in repr(y)
    big = repr(Tensor(np.arange(1000.0)))
    assert "mean=499.5" in big and len(big) < 200  # a summary, not a thousand numbers


def test_numpy_item_detach_and_T():
    a = np.arange(6.0).reshape(2, 3)
    x = Tensor(a, requires_grad=True)
    assert x.numpy() is x.data
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match=r"item\(\): tensor of shape \(2, 3\) has 6 elements"):
        x.item()
    d = x.detach()
    assert not d.requires_grad and d.creator is None and d.data is x.data
    (d * 2).data  # an op on a detached tensor records nothing
    assert (d * 2).creator is None
    np.testing.assert_array_equal(x.T.data, a.T)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float64 and len(x) == 2


def test_operators_with_numpy_arrays_and_scalars_on_either_side_return_tensors():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    W = np.array([[1.0, -1.0], [0.5, 2.0]])
    for value, expected in [(W @ x, W @ x.data), (x @ W, x.data @ W), (2 * x, 2 * x.data), (x**2, x.data**2),
                            (2**x, 2**x.data), (W + x, W + x.data), (W - x, W - x.data), (W / x, W / x.data),
                            (-x, -x.data), (+x, x.data), (1 - x, 1 - x.data), (3 / x, 3 / x.data)]:
        assert isinstance(value, Tensor)
        np.testing.assert_allclose(value.data, expected)
    (W @ x).sum().backward()
    np.testing.assert_allclose(x.grad.data, W.T @ np.ones((2, 2)))


def test_dtypes_of_construction():
    assert Tensor([1.0, 2.0]).dtype == np.float64
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor(3.0).shape == ()
    a = np.ones(3)
    assert Tensor(a).data is a  # kept, not copied
    with pytest.raises(TypeError, match="only floating-point tensors can require grad, got dtype int"):
        Tensor([1, 2, 3], requires_grad=True)


def test_float32_stays_float32_with_python_scalars_and_through_gradients():
    x = Tensor(np.array([0.5, 1.5, 2.5], dtype=np.float32), requires_grad=True)
    y = ((2 * x + 1.5) ** 2 / 3.0 - (1 - x).exp().sigmoid().tanh() * 0.5 + x.sqrt().log()).mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32
    for t in [x.var(), x.max(), F.softmax(x), F.log_softmax(x), F.mse_loss(x, 0.5), x.clip(1.0, 2.0),
              tinygrad6.maximum(x, 1.0), tinygrad6.where(x.data > 1, x, 0.0), x[np.array([0, 0])],
              tinygrad6.stack([x, x]), tinygrad6.concatenate([x, x])]:
        assert t.dtype == np.float32, t


def test_constructors():
    assert tinygrad6.zeros(2, 3).shape == (2, 3) and tinygrad6.ones((4,)).data.sum() == 4
    assert tinygrad6.zeros_like(Tensor(np.ones((2, 2), np.float32))).dtype == np.float32
    t = tinygrad6.tensor([1.0], requires_grad=True, name="t")
    assert t.requires_grad and t.name == "t" and tinygrad6.as_tensor(t) is t
    assert tinygrad6.ones_like(t).data.tolist() == [1.0]


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


def test_an_inf_gradient_at_a_unit_that_was_not_selected_gives_zero_not_nan():
    # regression: relu, clip, maximum and minimum multiplied the gradient by a 0/1 mask, so the inf that sqrt sends
    # back at 0 became inf * 0 = NaN at units the forward had zeroed (PyTorch gives 0 there)
    for fn in [lambda t: t.relu(), lambda t: t.clip(0.0, None), lambda t: tinygrad6.maximum(t, 0.0),
               lambda t: -tinygrad6.minimum(-t, 0.0)]:
        x = Tensor([-1.0, 4.0], requires_grad=True)
        with np.errstate(divide="ignore"):  # sqrt's backward divides by sqrt(0) = 0 on purpose here
            fn(x).sqrt().sum().backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.25])


def test_where_against_zero_is_exact_and_silent():
    # Where computes where(cond, a, 0) as a * cond when a is finite (np.where branches per element); it must give
    # np.where's values, fall back to np.where when a has inf or NaN, and never warn about inf * 0
    rng = np.random.default_rng(3)
    for dtype in (np.float64, np.float32):
        a = rng.standard_normal((30, 7)).astype(dtype)
        cond = rng.random((30, 7)) > 0.4
        for bad in (None, np.inf, -np.inf, np.nan):
            if bad is not None:
                a[~cond] = bad  # only where the unit is not selected: the result must not show it
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                y = tinygrad6.where(cond, Tensor(a), 0.0)
            np.testing.assert_array_equal(y.data, np.where(cond, a, 0))
            assert y.dtype == dtype


def test_x_times_x_gradient_and_second_derivative():
    x = Tensor([-1.5, 0.0, 2.0], requires_grad=True)
    (g,) = tinygrad6.grad((x * x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, 2 * x.data)
    (h,) = tinygrad6.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)])
def test_mean_matches_numpy_to_the_bit(dtype, axis, keepdims):
    x = np.random.default_rng(5).standard_normal((4, 5, 6)).astype(dtype) * 100
    y = Tensor(x).mean(axis=axis, keepdims=keepdims)
    expected = x.mean(axis=axis, keepdims=keepdims)
    assert y.dtype == expected.dtype and y.shape == np.shape(expected)
    np.testing.assert_array_equal(y.data, expected)


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


def test_concatenate_and_stack_gradients_are_separate_arrays():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    tinygrad6.concatenate([a, b]).backward(np.arange(5.0))
    np.testing.assert_array_equal(a.grad.data, [0, 1])
    np.testing.assert_array_equal(b.grad.data, [2, 3, 4])
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 10  # writeable, and b.grad does not change
    np.testing.assert_array_equal(b.grad.data, [2, 3, 4])


def test_pow_with_exponent_zero_has_zero_gradient_at_zero():
    # regression: d/dx x**0 was computed as 0 * 0**-1 = NaN at x = 0 (PyTorch gives 0)
    x = Tensor([0.0, 2.0], requires_grad=True)
    e = Tensor([0.0, 3.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        (x**0 + x**e).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 12.0])
