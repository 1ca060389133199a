"""Reductions over axes: sum, mean, max, min (axis an int, a tuple of ints or None for all; keepdims as NumPy)."""

from __future__ import annotations

import numpy as np

from ..op import Op


def kept_shape(shape: tuple[int, ...], axis) -> tuple[int, ...]:
    """The shape of a reduction over `axis` with keepdims=True: the reduced axes become 1."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Op):
    """y = sum of x over axis.   dx = gy broadcast back to x's shape"""

    name = "sum"

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.inputs
        return gy.reshape(kept_shape(x.shape, self.axis)).broadcast_to(x.shape)


class Mean(Op):
    """y = mean of x over axis (n values each).   dx = gy broadcast back to x's shape / n"""

    name = "mean"

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.inputs
        n = x.size // max(gy.size, 1) if x.size else 1
        return gy.reshape(kept_shape(x.shape, self.axis)).broadcast_to(x.shape) * (1 / n)


class Max(Op):
    """y = max of x over axis.   dx = gy where x equals the max, split evenly between ties, 0 elsewhere"""

    name = "max"
    reduce = staticmethod(np.max)

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        y = self.reduce(x, axis=self.axis, keepdims=self.keepdims)
        is_max = x == y.reshape(kept_shape(x.shape, self.axis))
        self.save(share=np.divide(is_max, is_max.sum(axis=self.axis, keepdims=True), dtype=x.dtype))
        return y

    def backward(self, gy):
        (x,) = self.inputs
        return gy.reshape(kept_shape(x.shape, self.axis)) * self.saved["share"]


class Min(Max):
    """y = min of x over axis.   dx = gy where x equals the min, split evenly between ties, 0 elsewhere"""

    name = "min"
    reduce = staticmethod(np.min)
