"""Ops that move values around without arithmetic: reshape, transpose, broadcast_to, sum_to, indexing,
concatenate and stack. Each backward moves the gradient back the opposite way."""

from __future__ import annotations

import numpy as np

from ...support.errors import ShapeError
from ..op import Op


def sum_to(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `x` down to `shape`, undoing NumPy broadcasting: sum the leading axes that broadcasting added and the
    axes where `shape` has 1."""
    lead = x.ndim - len(shape)
    if lead < 0:
        raise ShapeError(f"sum_to: cannot sum shape {x.shape} down to {shape}")
    axes = list(range(lead))
    for i, size in enumerate(shape):
        if size != x.shape[lead + i]:
            if size != 1:
                raise ShapeError(f"sum_to: cannot sum shape {x.shape} down to {shape}")
            axes.append(lead + i)
    y = x.sum(axis=tuple(axes)) if axes else x
    return y if y.shape == shape else y.reshape(shape)


class Reshape(Op):
    """y = x with a new shape.   dx = gy reshaped back"""

    def __init__(self, shape): self.shape = shape

    def forward(self, x):
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape shape {x.shape} ({x.size} elements) into {self.shape}") from None

    def backward(self, gy): return gy.reshape(self.inputs[0].shape)


class Transpose(Op):
    """y = x with its axes permuted (reversed when axes is None).   dx = gy permuted back"""

    def __init__(self, axes=None): self.axes = axes
    def forward(self, x): return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return gy.transpose()
        return gy.transpose(*np.argsort([a % gy.ndim for a in self.axes]).tolist())


class BroadcastTo(Op):
    """y = x repeated along broadcast axes to `shape`.   dx = gy summed back to x's shape"""

    name = "broadcast_to"

    def __init__(self, shape): self.shape = shape
    def forward(self, x): return np.broadcast_to(x, self.shape)
    def backward(self, gy): return gy.sum_to(self.inputs[0].shape)


class SumTo(Op):
    """y = x summed down to `shape` (undoes broadcasting).   dx = gy broadcast back to x's shape"""

    name = "sum_to"

    def __init__(self, shape): self.shape = shape
    def forward(self, x): return sum_to(x, self.shape)
    def backward(self, gy): return gy.broadcast_to(self.inputs[0].shape)


def _has_array(index) -> bool:
    return any(isinstance(i, (np.ndarray, list)) for i in (index if isinstance(index, tuple) else (index,)))


class GetItem(Op):
    """y = x[index] (slices, ints, integer or boolean arrays).   dx = zeros with gy added at index
    (accumulating, so repeated indices receive every contribution)"""

    def __init__(self, index): self.index = index

    def forward(self, x):
        try:
            return x[self.index]
        except IndexError as e:
            raise IndexError(f"getitem: index {self.index!r} on shape {x.shape}: {e}") from None

    def backward(self, gy): return ScatterAdd.apply(gy, index=self.index, shape=self.inputs[0].shape)


class ScatterAdd(Op):
    """y = zeros(shape) with x added at index (the backward of getitem).   dx = gy[index]"""

    name = "scatter_add"

    def __init__(self, index, shape): self.index, self.shape = index, shape

    def forward(self, x):
        y = np.zeros(self.shape, dtype=x.dtype)
        if _has_array(self.index):
            np.add.at(y, self.index, x)  # unbuffered: a repeated index adds every contribution
        else:
            y[self.index] = x  # basic indexing cannot repeat an element
        return y

    def backward(self, gy): return gy[self.index]


class Concatenate(Op):
    """y = the inputs joined along an existing axis.   dx_i = the slice of gy that came from input i"""

    def __init__(self, axis=0): self.axis = axis
    def forward(self, *xs): return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        axis = self.axis % gy.ndim
        ends = np.cumsum([x.shape[axis] for x in self.inputs]).tolist()
        head = (slice(None),) * axis
        return tuple(gy[head + (slice(end - x.shape[axis], end),)] for x, end in zip(self.inputs, ends))


class Stack(Op):
    """y = the inputs stacked along a new axis.   dx_i = gy[..., i, ...] along that axis"""

    def __init__(self, axis=0): self.axis = axis
    def forward(self, *xs): return np.stack(xs, axis=self.axis)

    def backward(self, gy):
        head = (slice(None),) * (self.axis % gy.ndim)
        return tuple(gy[head + (i,)] for i in range(len(self.inputs)))
