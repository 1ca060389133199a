"""Ops that choose between values: maximum, minimum, clip, where, and the comparisons that make their masks.
Gradients flow to the chosen value."""

from __future__ import annotations

import operator

import numpy as np

from ..op import Op
from ..tensor import Tensor


class Maximum(Op):
    """y = max(a, b) elementwise.   da = gy where a > b, db = gy where b > a; ties split the gradient in half"""

    choose, wins = staticmethod(np.maximum), staticmethod(operator.gt)

    def forward(self, a, b): return self.choose(a, b)

    def backward(self, gy):
        a, b = self.inputs
        share_a = self.wins(a, b).astype(gy.dtype) + (a == b).astype(gy.dtype) * 0.5  # 1 where a wins, 0.5 on ties
        # zero the side that lost with where, so an inf gradient does not become inf * 0 = NaN there
        return gy.where(share_a != 0, 0.0) * share_a, gy.where(share_a != 1, 0.0) * (1 - share_a)


class Minimum(Maximum):
    """y = min(a, b) elementwise.   da = gy where a < b, db = gy where b < a; ties split the gradient in half"""

    choose, wins = staticmethod(np.minimum), staticmethod(operator.lt)


class Clip(Op):
    """y = x clipped to [low, high] (either bound may be None).   dx = gy where low <= x <= high, else 0"""

    def __init__(self, low=None, high=None): self.low, self.high = low, high
    def forward(self, x): return np.clip(x, self.low, self.high)

    def backward(self, gy):
        (x,) = self.inputs  # where, not a product with the mask: see ReLU
        gy = gy if self.low is None else gy.where(x >= self.low, 0.0)
        return gy if self.high is None else gy.where(x <= self.high, 0.0)


class Where(Op):
    """y = a where cond else b (cond a boolean tensor, not differentiated).   da = gy where cond, db = gy elsewhere"""

    def forward(self, cond, a, b):
        if b.ndim == 0 and b == 0 and b.dtype == a.dtype and a.shape == cond.shape and np.isfinite(a.sum()):
            # where(cond, a, 0) (ReLU's backward) as a product, whose -0.0s the compiled step must match bit for bit:
            # np.where here and there costs the compiled step about 10%, eager 3-6% (benchmarks, measured twice).
            # Only for finite a (one sum tells): inf * 0 would be NaN
            return a * cond
        return np.where(cond, a, b)

    def backward(self, gy):
        cond, a, b = self.inputs
        zero = Tensor._wrap(np.zeros((), dtype=gy.dtype))
        return (None, Where.apply(cond, gy, zero) if a.requires_grad else None,
                Where.apply(cond, zero, gy) if b.requires_grad else None)


class Compare(Op):
    """y = compare(a, b) elementwise, a boolean array; compare is a numpy comparison's name ("greater", "equal",
    ...). No gradient: a backward rule uses the result as a mask (ReLU's x > 0), a recorded node of the graph."""

    def __init__(self, compare): self.compare = compare
    def forward(self, a, b): return getattr(np, self.compare)(a, b)
    def backward(self, gy): return None, None
