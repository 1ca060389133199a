"""Reductions over axes: sum, mean, max, min (axis an int, a tuple of ints or None for all; keepdims as NumPy)."""

from __future__ import annotations

import numpy as np

from ..op import Op


def kept_shape(shape: tuple[int, ...], axis) -> tuple[int, ...]:
    """The shape of a reduction over `axis` with keepdims=True: the reduced axes become 1."""
    if axis is None:
        return (1,) * len(shape)
    kept = list(shape)
    for a in axis if isinstance(axis, tuple) else (axis,):
        kept[a % len(shape)] = 1
    return tuple(kept)


def unreduce(gy, shape: tuple[int, ...], axis):
    """gy (the gradient of a reduction over `axis`) broadcast back to the input's `shape`. The reduced axes are put
    back as size 1 first, unless gy already broadcasts as it is (keepdims, all axes, or only leading axes)."""
    kept = kept_shape(shape, axis)
    if gy.shape != kept[len(kept) - gy.ndim:]:
        gy = gy.reshape(kept)
    return gy.broadcast_to(shape)


class Sum(Op):
    """y = sum of x over axis.   dx = gy broadcast back to x's shape"""

    def __init__(self, axis=None, keepdims=False): self.axis, self.keepdims = axis, keepdims
    def forward(self, x): return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.inputs
        return unreduce(gy, x.shape, self.axis)


class Mean(Op):
    """y = mean of x over axis (n values each).   dx = gy broadcast back to x's shape / n"""

    def __init__(self, axis=None, keepdims=False): self.axis, self.keepdims = axis, keepdims
    def forward(self, x): return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.inputs
        n = x.size // max(gy.size, 1) if x.size else 1
        return unreduce(gy * (1 / n), x.shape, self.axis)


class Max(Op):
    """y = max of x over axis.   dx = gy where x equals the max, split evenly between ties, 0 elsewhere"""

    saves_output = True
    reduce = staticmethod(np.ndarray.max)

    def __init__(self, axis=None, keepdims=False): self.axis, self.keepdims = axis, keepdims
    def forward(self, x): return self.reduce(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        # the share is found here, not in forward, so a max taken without grad (softmax's shift) costs nothing more
        (x,) = self.inputs
        kept = kept_shape(x.shape, self.axis)
        is_max = (x == self.output.reshape(kept)).astype(x.dtype)
        return gy.reshape(kept) * (is_max / is_max.sum(axis=self.axis, keepdims=True))


class Min(Max):
    """y = min of x over axis.   dx = gy where x equals the min, split evenly between ties, 0 elsewhere"""

    reduce = staticmethod(np.ndarray.min)
