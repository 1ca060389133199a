"""The Tensor class and the functions of tinygrad6/engine/tensor.py: construction and creation functions, dtype rules
(float32 stays float32, values and gradients), the Python protocol (bool, float, format, numpy, ==, operators with
numpy arrays and scalars), repr, item/detach/T, and write stamps shared by aliases of the same memory."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import grads_of

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor


# -- construction and creation functions --------------------------------------------------------------------------
def test_dtypes_of_construction():
    assert Tensor([1.0, 2.0]).dtype == np.float64
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor(3.0).shape == ()
    a = np.ones(3)
    assert Tensor(a).data is a  # kept, not copied
    with pytest.raises(TypeError, match="only floating-point tensors can require grad, got dtype int"):
        Tensor([1, 2, 3], requires_grad=True)


def test_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require grad, got dtype int64"):
        Tensor(np.array([1, 2], dtype=np.int64), requires_grad=True)


def test_constructors():
    assert tinygrad6.zeros(2, 3).shape == (2, 3) and tinygrad6.ones((4,)).data.sum() == 4
    assert tinygrad6.zeros_like(Tensor(np.ones((2, 2), np.float32))).dtype == np.float32
    t = tinygrad6.tensor([1.0], requires_grad=True, name="t")
    assert t.requires_grad and t.name == "t" and tinygrad6.as_tensor(t) is t
    assert tinygrad6.ones_like(t).data.tolist() == [1.0]


# -- float32: dtypes, and gradient values -------------------------------------------------------------------------
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


RTOL_F32 = 2e-5   # float32 rounding (eps 1.2e-7) through a handful of ops, against the float64 result


FLOAT32_CASES = {
    "mean_axis": (lambda t: t.mean(axis=1), (2.0,)),
    "mean_all": (lambda t: (t * t).mean(), ()),
    "exp_log": (lambda t: (t.exp() + 1.0).log(), ()),
    "sqrt_div": (lambda t: t.abs().sqrt() / (t * t + 1.0), ()),
    "sigmoid_tanh": (lambda t: t.sigmoid() * t.tanh(), ()),
    "softmax": (lambda t: tinygrad6.F.softmax(t, axis=-1), ()),
    "matmul_relu": (lambda t: (t @ t.transpose()).relu(), ()),
    "max_axis": (lambda t: t.max(axis=0), ()),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_gradient_values_match_float64(name):
    f, _ = FLOAT32_CASES[name]
    rng = np.random.default_rng(5)
    x = rng.uniform(0.2, 1.5, size=(3, 7)) * rng.choice([-1, 1], size=(3, 7))
    y_shape = f(Tensor(x)).shape
    v = rng.normal(size=y_shape)
    (g32,) = grads_of(f, x.astype(np.float32), upstream=v.astype(np.float32), dtype=np.float32)
    (g64,) = grads_of(f, x.astype(np.float32).astype(np.float64), upstream=v.astype(np.float32).astype(np.float64))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=RTOL_F32, atol=RTOL_F32 * np.abs(g64).max())


# -- the Python protocol, as in PyTorch ---------------------------------------------------------------------------
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


def test_numpy_functions_refuse_a_tensor_that_requires_grad():
    # np.concatenate, np.r_, np.stack... are not ufuncs: they turned x into an array through __array__ and the graph
    # was silently cut. As PyTorch ("Can't call numpy() on Tensor that requires grad"), refuse, naming detach().
    x = Tensor([1.0, 2.0], requires_grad=True)
    for fn in (lambda: np.concatenate([x, x]), lambda: np.r_[x, x], lambda: np.asarray(x), lambda: np.stack([x]),
               lambda: Tensor([x, x])):
        with pytest.raises(RuntimeError, match=r"requires grad \(shape \(2,\)\).*t\.detach\(\).*"
                                               r"tinygrad6\.concatenate"):
            fn()
    np.testing.assert_array_equal(np.concatenate([x.detach(), x.data]), [1.0, 2.0, 1.0, 2.0])
    y = tinygrad6.concatenate([x, x])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    with tinygrad6.no_grad():
        np.testing.assert_array_equal(np.r_[x * 2, x * 3], [2.0, 4.0, 3.0, 6.0])  # no graph: plain values


def test_a_masked_array_is_refused_rather_than_losing_its_mask():
    m = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    with pytest.raises(TypeError, match=r"^Tensor: a masked array \(shape \(3,\)\) would lose its mask.*filled"):
        Tensor(m)
    x = Tensor([1.0, 1.0, 1.0], requires_grad=True)
    for fn in (lambda: x * m, lambda: m * x, lambda: x + m):
        with pytest.raises(TypeError, match="masked array"):
            fn()
    np.testing.assert_array_equal(Tensor(m.filled(0.0)).data, [1.0, 0.0, 3.0])


def test_flatten_merges_every_axis_as_torch_and_start_axis_keeps_the_batch():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert Tensor(np.ones((10, 11))).flatten().shape == (110,)  # it kept the first axis: (10, 11)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(start_axis=2).shape == (2, 3, 4)
    assert Tensor(5.0).flatten().shape == (1,)  # as torch.flatten of a 0-d tensor
    (x.flatten() * np.arange(24.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.arange(24.0).reshape(2, 3, 4))


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


# -- repr, item, detach -------------------------------------------------------------------------------------------
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


# -- writes through an alias share one write stamp ----------------------------------------------------------------
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
