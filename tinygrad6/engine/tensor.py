"""`Tensor`: a numpy array that remembers how it was made, so gradients can flow back through it.

Every operator and method below runs one op class (see `ops/`) through `Op.apply`, which records the op in the
graph when grad mode is on and an input requires grad. `backward()` walks that graph (see `autograd.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..support import errors, tracing
from ..support.display import preview

if TYPE_CHECKING:
    from .autograd import BackwardStep
    from .op import Op

ArrayLike = Union["Tensor", np.ndarray, float, int, Sequence]
Axis = Union[int, tuple[int, ...], None]


class Tensor:
    """An n-dimensional array with a gradient.

    Tensor(data, requires_grad=False, name=None, dtype=None)
        data: a list, a scalar, a numpy array (kept, not copied) or another Tensor. Floats keep their dtype
        (float32 stays float32, Python floats become float64); integer data is allowed without grad.

    Attributes: `.data` (the ndarray), `.grad` (a Tensor or None), `.requires_grad`, `.name`,
    `.creator` (the op that produced this tensor, None for a leaf).
    """

    # what every tensor starts with (class attributes: a tensor stores only what differs, an op's output its data)
    grad: Tensor | None = None
    requires_grad = False
    name: str | None = None
    creator: Op | None = None
    _stamp: WriteStamp | None = None  # made on the first in-place write or alias (see shared_stamp)
    _retains_grad = False
    _hooks: dict[int, Callable] | None = None
    __array_ufunc__ = None  # numpy defers to us: `ndarray @ tensor` and `2 * tensor` return Tensors
    _write_count = 0  # in-place writes so far, over all tensors; each write stamps its memory's `WriteStamp`

    def __init__(self, data: ArrayLike, requires_grad: bool = False, name: str | None = None, dtype=None) -> None:
        source = data if isinstance(data, Tensor) else None
        if isinstance(data, np.ma.MaskedArray):  # np.asarray would drop the mask without a word
            raise errors.masked_error(data)
        self._data = np.asarray(data._data if source is not None else data, dtype=dtype)
        if requires_grad:
            if self._data.dtype.kind != "f":
                raise TypeError(f"only floating-point tensors can require grad, got dtype {self._data.dtype}; "
                                f"pass float data (e.g. Tensor([1.0, 2.0])) or dtype=np.float64")
            self.requires_grad = True
        self.name = name
        if source is not None and self._data is source._data:  # Tensor(t) keeps t's array, so it shares t's stamp
            self._stamp = source.shared_stamp()

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A tensor around `array` with nothing else set (op outputs: the array is already the result)."""
        t = object.__new__(cls)
        t._data = array if type(array) is np.ndarray else np.asarray(array)  # (a reduction may give a numpy scalar)
        return t

    # -- the array ------------------------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The values, a numpy array. Assigning to it (`t.data = ...`, `t.data -= ...`) and `t[i] = v` count as
        in-place changes: a backward pass that saved this tensor before the change raises an error instead of
        using it. Tensors that share memory share one write stamp, so a write through `t.detach()`, `Tensor(t)` or
        a view made by an op (`reshape`, `transpose`, `T`, basic slicing) is seen too.
        Not seen: a write through the ndarray itself (`t.data[0] = 5`, `np.add(t.data, 1, out=t.data)`) or
        through an array the tensor was made from; write `t[0] = 5` instead."""
        tracing.observe("value", self, ".data")
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        tracing.observe("write_in_place", self, ".data = ...")
        value = np.asarray(value)
        if not same_memory(value, self._data):  # new memory: no longer an alias of the old array's other views
            self._stamp = None
        self._data = value
        self._stamp_write()

    def __setitem__(self, index, value) -> None:
        """Write into the values in place (counts as an in-place change, like assigning to `.data`)."""
        tracing.observe("write_in_place", self, "t[...] = ...")
        self._data[_plain_index(index)] = value._data if isinstance(value, Tensor) else value
        self._stamp_write()

    def _stamp_write(self) -> None:
        """Record an in-place write: the memory's stamp becomes the global write count, so an op recorded before
        it (whose `stamp` is an older count) knows its input changed, and an op recorded after it does not."""
        Tensor._write_count += 1
        self.shared_stamp().last = Tensor._write_count

    def shared_stamp(self) -> WriteStamp:
        """The write stamp of this tensor's memory, made on first need; an alias (detach(), a view) shares it."""
        if self._stamp is None:
            self._stamp = WriteStamp()
        return self._stamp

    @property
    def _version(self) -> int:
        """The write count at the last in-place write into this tensor's memory (0: never written)."""
        return 0 if self._stamp is None else self._stamp.last

    @property
    def shape(self) -> tuple[int, ...]: return self._data.shape
    @property
    def ndim(self) -> int: return self._data.ndim
    @property
    def dtype(self) -> np.dtype: return self._data.dtype
    @property
    def size(self) -> int: return self._data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op (the ones whose .grad backward fills)."""
        return self.creator is None

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor (a scalar); use .item() for its value")
        return len(self._data)

    # -- Python conversions, as in PyTorch: only a one-element tensor is a number or a truth value --------------
    def item(self, what: str = "item()") -> float:
        """The single value of a one-element tensor as a Python number."""
        tracing.observe("value", self, what)
        if self._data.size != 1:
            raise ValueError(f"{what}: tensor of shape {self.shape} has {self.size} elements, not 1: {what} of a "
                             f"tensor of shape {self.shape} is ambiguous; reduce it first (t.sum(), t.max()) or pick "
                             f"one element (t[0])")
        return self._data.item()

    def __bool__(self) -> bool: return bool(self.item("bool()"))
    def __float__(self) -> float: return float(self.item("float()"))
    def __int__(self) -> int: return int(self.item("int()"))

    def __format__(self, spec: str) -> str:
        """f"{loss:.3f}" formats the value of a one-element tensor; f"{t}" with no spec is str(t)."""
        return str(self) if not spec else format(self.item(f"format '{spec}'"), spec)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """np.asarray(t) gives the values, as `.data`; refused when t requires grad (numpy would cut the graph)."""
        tracing.observe("value", self, "np.asarray()")
        if self.requires_grad:
            raise errors.array_error(self)
        return np.array(self._data, dtype=dtype, copy=True) if copy else self._data.astype(dtype or self.dtype,
                                                                                             copy=False)

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (the same array as `.data`, not a copy)."""
        tracing.observe("value", self, "numpy()")
        return self._data

    def tolist(self) -> Any: return self.numpy().tolist()

    def named(self, name: str) -> Tensor:
        """Set `.name` (shown by repr, the graph, the trace and the step-through page) and return self:
        `mu = x.mean(axis=0).named("mu")`."""
        self.name = name
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's values (and its write stamp: writing into one is seen as a write into
        the other), cut off from the graph (no grad flows through it)."""
        t = Tensor._wrap(self._data)
        t._stamp = self.shared_stamp()
        return t

    def astype(self, dtype) -> Tensor:
        """Cast to another dtype (differentiable: the gradient is cast back)."""
        return self if np.dtype(dtype) == self.dtype else ops.Cast.apply(self, dtype=dtype)

    def argmax(self, axis: int | None = None) -> np.ndarray:
        """Index of the largest value (not differentiable, so a plain numpy array)."""
        return self.numpy().argmax(axis=axis)

    def __repr__(self) -> str:
        tracing.observe("value", self, "repr()")
        parts = [f"name={self.name!r}"] if self.name else []
        parts += [f"op={self.creator.name}"] if self.creator is not None else []
        parts += [f"shape={self.shape}", f"dtype={self.dtype}"] + (["requires_grad=True"] if self.requires_grad else [])
        return f"Tensor({preview(self._data)}, {', '.join(parts)})"

    # -- autograd -------------------------------------------------------------------------------------------
    def backward(self, grad: ArrayLike | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad and add it to their
        `.grad` (gradients accumulate across calls until zeroed).

        grad: the upstream gradient, needed when this tensor is not a scalar (same shape as this tensor).
        retain_graph: keep the values ops saved for backward, so backward can run through the graph again
            (defaults to create_graph).
        create_graph: record the backward pass itself as a graph, for higher-order derivatives.
        """
        for _ in self.backward_steps(grad, retain_graph=retain_graph, create_graph=create_graph):
            pass

    def backward_steps(self, grad: ArrayLike | None = None, retain_graph: bool | None = None,
                       create_graph: bool = False) -> Iterator[BackwardStep]:
        """`backward()` one op at a time: a generator yielding a `BackwardStep` per op (the op, the gradient arriving,
        the gradients sent to each input, the tensors whose gradient became final); backward() runs it to the end."""
        return autograd.backward_steps([self], None if grad is None else [grad], retain_graph=retain_graph,
                                       create_graph=create_graph)

    def retain_grad(self) -> Tensor:
        """Keep `.grad` on this intermediate (non-leaf) tensor after backward. Returns self."""
        self._retains_grad = True
        return self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is complete during backward; if it returns a value, that
        value replaces the gradient. Returns a handle whose `remove()` unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad, so no gradient will reach it")
        if self._hooks is None:
            self._hooks = {}
        return RemovableHandle(self._hooks, hook)

    # -- arithmetic: a + b runs ops.Add.apply(a, b); a Python number takes the tensor's float dtype (no upcast) ---
    def _operand(self, other: ArrayLike) -> Tensor:
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float)) and self._data.dtype.kind == "f":
            return Tensor._wrap(np.array(other, dtype=self._data.dtype))
        return Tensor(other)

    def __add__(self, other: ArrayLike) -> Tensor: return ops.Add.apply(self, self._operand(other))
    def __radd__(self, other: ArrayLike) -> Tensor: return ops.Add.apply(self._operand(other), self)
    def __sub__(self, other: ArrayLike) -> Tensor: return ops.Sub.apply(self, self._operand(other))
    def __rsub__(self, other: ArrayLike) -> Tensor: return ops.Sub.apply(self._operand(other), self)
    def __mul__(self, other: ArrayLike) -> Tensor: return ops.Mul.apply(self, self._operand(other))
    def __rmul__(self, other: ArrayLike) -> Tensor: return ops.Mul.apply(self._operand(other), self)
    def __truediv__(self, other: ArrayLike) -> Tensor: return ops.Div.apply(self, self._operand(other))
    def __rtruediv__(self, other: ArrayLike) -> Tensor: return ops.Div.apply(self._operand(other), self)
    def __pow__(self, other: ArrayLike) -> Tensor: return ops.Pow.apply(self, self._operand(other))
    def __rpow__(self, other: ArrayLike) -> Tensor: return ops.Pow.apply(self._operand(other), self)
    def __matmul__(self, other: ArrayLike) -> Tensor: return ops.MatMul.apply(self, self._operand(other))
    def __rmatmul__(self, other: ArrayLike) -> Tensor: return ops.MatMul.apply(self._operand(other), self)
    def __neg__(self) -> Tensor: return ops.Neg.apply(self)
    def __pos__(self) -> Tensor: return self

    # comparisons give boolean tensors: recorded ops without gradient (a backward rule's masks), == and != too (as
    # in numpy and PyTorch; t == None is False); hashing stays by identity, so tensors can be dict keys.
    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return False if other is None else self._compare("equal", other)  # type: ignore[return-value]

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return True if other is None else self._compare("not_equal", other)  # type: ignore[return-value]

    def __lt__(self, other: ArrayLike) -> Tensor: return self._compare("less", other)
    def __le__(self, other: ArrayLike) -> Tensor: return self._compare("less_equal", other)
    def __gt__(self, other: ArrayLike) -> Tensor: return self._compare("greater", other)
    def __ge__(self, other: ArrayLike) -> Tensor: return self._compare("greater_equal", other)
    __hash__ = object.__hash__

    def _compare(self, compare: str, other) -> Tensor:
        return ops.Compare.apply(self, self._operand(other), compare=compare)

    # -- elementwise functions ------------------------------------------------------------------------------
    def exp(self) -> Tensor: return ops.Exp.apply(self)
    def log(self) -> Tensor: return ops.Log.apply(self)
    def sqrt(self) -> Tensor: return ops.Sqrt.apply(self)
    def abs(self) -> Tensor: return ops.Abs.apply(self)
    def relu(self) -> Tensor: return ops.ReLU.apply(self)
    def sigmoid(self) -> Tensor: return ops.Sigmoid.apply(self)
    def tanh(self) -> Tensor: return ops.Tanh.apply(self)

    def maximum(self, other: ArrayLike) -> Tensor:
        """Elementwise max(self, other); ties split the gradient in half."""
        return ops.Maximum.apply(self, self._operand(other))

    def minimum(self, other: ArrayLike) -> Tensor:
        """Elementwise min(self, other); ties split the gradient in half."""
        return ops.Minimum.apply(self, self._operand(other))

    def clip(self, low: float | None = None, high: float | None = None) -> Tensor:
        """Values limited to [low, high]; the gradient passes where low <= x <= high."""
        return ops.Clip.apply(self, low=low, high=high)

    # -- reductions over axis (an int, a tuple, or None for all) ----------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Mean.apply(self, axis=_axis(axis), keepdims=keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Population variance (ddof=0), as Batch Normalization uses it: mean((x - mean(x))**2)."""
        d = self - self.mean(axis=axis, keepdims=True)
        return (d * d).mean(axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Largest value over axis; the gradient goes to the maximum, split evenly between ties."""
        return ops.Max.apply(self, axis=_axis(axis), keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Smallest value over axis; the gradient goes to the minimum, split evenly between ties."""
        return ops.Min.apply(self, axis=_axis(axis), keepdims=keepdims)

    # -- shape ----------------------------------------------------------------------------------------------
    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """reshape(2, 3) or reshape((2, 3)); one axis may be -1."""
        return ops.Reshape.apply(self, shape=_shape(shape))

    def flatten(self, start_axis: int = 0) -> Tensor:
        """Merge the axes from start_axis on, as torch.flatten: (N, 1, 28, 28) -> (N*784,), start_axis=1 -> (N, 784)."""
        return self.reshape(self.shape[:start_axis] + (-1,))

    def transpose(self, *axes: int | tuple[int, ...]) -> Tensor:
        """transpose() reverses the axes; transpose(1, 0, 2) or transpose((1, 0, 2)) permutes them."""
        return ops.Transpose.apply(self, axes=_shape(axes) or None)

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed)."""
        return ops.Transpose.apply(self, axes=None)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of matrices, each transposed)."""
        return ops.Transpose.apply(self, axes=(*range(self.ndim - 2), self.ndim - 1, self.ndim - 2))

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        return ops.BroadcastTo.apply(self, shape=tuple(shape))

    def sum_to(self, shape: tuple[int, ...]) -> Tensor:
        """Sum down to `shape`, undoing broadcasting (the gradient of broadcast_to). Already that shape: self."""
        return self if tuple(shape) == self._data.shape else ops.SumTo.apply(self, shape=tuple(shape))

    def __getitem__(self, index) -> Tensor:
        """Basic slicing and integer/boolean-array indexing; the gradient is scattered back with accumulation."""
        return ops.GetItem.apply(self, index=_plain_index(index))

    def where(self, cond: ArrayLike, other: ArrayLike) -> Tensor:
        """self where cond else other."""
        return where(cond, self, other)


class WriteStamp:
    """The write count at the last in-place write into one block of memory; shared by every tensor that views it."""

    last = 0


def same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """True when a and b are views of one array's memory (numpy points a view's `.base` at the owning array)."""
    return (a if a.base is None else a.base) is (b if b.base is None else b.base)


class RemovableHandle:
    """Returned by `register_hook`; `remove()` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Callable], hook: Callable) -> None:
        self.id, self._hooks = next(RemovableHandle._ids), hooks
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


# -- functions of several tensors, and tensors made from nothing -------------------------------------------------
def tensor(data: ArrayLike, requires_grad: bool = False, name: str | None = None, dtype=None) -> Tensor:
    """Same as `Tensor(...)`, named as in PyTorch."""
    return Tensor(data, requires_grad=requires_grad, name=name, dtype=dtype)


def as_tensor(x: ArrayLike) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def where(cond: ArrayLike, a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise `a if cond else b` (cond, an input of the op, is not differentiated; all three broadcast)."""
    return ops.Where.apply(as_tensor(cond).astype(bool), *_pair(a, b))


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor: return ops.Maximum.apply(*_pair(a, b))
def minimum(a: ArrayLike, b: ArrayLike) -> Tensor: return ops.Minimum.apply(*_pair(a, b))


def concatenate(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return ops.Concatenate.apply(*[as_tensor(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors of the same shape along a new axis."""
    return ops.Stack.apply(*[as_tensor(t) for t in tensors], axis=axis)


def zeros(*shape: int, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(as_tensor(t)._data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(as_tensor(t)._data), requires_grad=requires_grad)


# -- helpers ---------------------------------------------------------------------------------------------------
def _pair(a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    """Two operands as tensors; a Python number takes the other operand's dtype."""
    if isinstance(a, Tensor):
        return a, a._operand(b)
    return (b._operand(a), b) if isinstance(b, Tensor) else (Tensor(a), Tensor(b))


def _axis(axis: Axis) -> Axis:
    return tuple(axis) if isinstance(axis, list) else axis


def _shape(shape: tuple) -> tuple[int, ...]:
    """f(2, 3) and f((2, 3)) alike: the arguments as one tuple."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _plain_index(index):
    """An index as numpy should see it: tensors as their arrays, boolean masks of k axes as their k integer arrays
    (x[mask2d, 0] -> x[rows, cols, 0]; a 0-d mask is left to numpy)."""
    parts = tuple(part for entry in (index if isinstance(index, tuple) else (index,)) for part in _index_parts(entry))
    return parts if isinstance(index, tuple) or len(parts) != 1 else parts[0]


def _index_parts(entry) -> tuple:
    entry = entry._data if isinstance(entry, Tensor) else np.asarray(entry) if isinstance(entry, list) else entry
    return np.nonzero(entry) if isinstance(entry, np.ndarray) and entry.dtype == bool and entry.ndim else (entry,)


# The one import cycle (tests/meta/test_layers.py: the only one): Tensor's methods run ops and backward, and
# ops and the backward loop make Tensors.
from . import autograd, ops  # noqa: E402
