"""Ops that choose between values: maximum, minimum, clip, where. Gradients flow to the chosen value."""

from __future__ import annotations

import numpy as np

from ..op import Op
from ..tensor import Tensor


class Maximum(Op):
    """y = max(a, b) elementwise.   da = gy where a > b, db = gy where b > a; ties split the gradient in half"""

    choose, wins = staticmethod(np.maximum), staticmethod(np.greater)

    def forward(self, a, b):
        y = self.choose(a, b)
        share_a = self.wins(a, b) + 0.5 * (a == b)  # 1 where a wins, 0.5 on ties
        self.save(share_a=share_a.astype(y.dtype, copy=False))
        return y

    def backward(self, gy):
        share_a = self.saved["share_a"]
        # zero the side that lost with where, so an inf gradient does not become inf * 0 = NaN there
        return gy.where(share_a != 0, 0.0) * share_a, gy.where(share_a != 1, 0.0) * (1 - share_a)


class Minimum(Maximum):
    """y = min(a, b) elementwise.   da = gy where a < b, db = gy where b < a; ties split the gradient in half"""

    choose, wins = staticmethod(np.minimum), staticmethod(np.less)


class Clip(Op):
    """y = x clipped to [low, high] (either bound may be None).   dx = gy where low <= x <= high, else 0"""

    def __init__(self, low=None, high=None): self.low, self.high = low, high

    def forward(self, x):
        inside = np.ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        self.save(inside=inside)
        return np.clip(x, self.low, self.high)

    def backward(self, gy):
        return gy.where(self.saved["inside"], 0.0)  # where, not a product: see ReLU


class Where(Op):
    """y = a where cond else b (cond a boolean array, not differentiated).   da = gy where cond, db = gy elsewhere"""

    def __init__(self, cond): self.cond = cond

    def forward(self, a, b):
        if b.ndim == 0 and b == 0 and b.dtype == a.dtype and a.shape == self.cond.shape and np.isfinite(a.sum()):
            # where(cond, a, 0), as ReLU's backward asks, as a product: np.where branches on every element and a ReLU
            # mask is unpredictable; this buys about 10% of a training step of the chapter's network (measured).
            # Only for finite a (one sum tells): inf * 0 would be NaN
            return a * self.cond
        return np.where(self.cond, a, b)

    def backward(self, gy):
        zero = Tensor(np.zeros((), dtype=gy.dtype))
        return Where.apply(gy, zero, cond=self.cond), Where.apply(zero, gy, cond=self.cond)
