"""Elementwise functions of one tensor: exp, log, sqrt, abs, relu, sigmoid, tanh, and the dtype cast."""

from __future__ import annotations

import numpy as np

from ..op import Op


class Exp(Op):
    """y = exp(x).   dx = gy * y"""

    saves_output = True

    def forward(self, x): return np.exp(x)
    def backward(self, gy): return gy * self.output


class Log(Op):
    """y = log(x).   dx = gy / x"""

    def forward(self, x): return np.log(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy / x


class Sqrt(Op):
    """y = sqrt(x).   dx = gy / (2 y)"""

    saves_output = True

    def forward(self, x): return np.sqrt(x)
    def backward(self, gy): return gy / (self.output * 2)


class Abs(Op):
    """y = |x|.   dx = gy * sign(x)   (0 at x = 0)"""

    def forward(self, x): return np.abs(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy * ((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype))


class ReLU(Op):
    """y = max(x, 0).   dx = gy * (x > 0) = gy * (y > 0)"""

    saves_output = True

    def forward(self, x): return np.maximum(x, 0)

    def backward(self, gy):
        # the mask from y, not x: then x is not needed after forward (a compiled step overwrites it with y). where,
        # not gy * mask: an inf arriving at a zeroed unit (relu(x).sqrt() at x < 0) gives 0, not inf * 0 = NaN
        return gy.where(self.output > 0, 0.0)


class Sigmoid(Op):
    """y = 1 / (1 + exp(-x)).   dx = gy * y * (1 - y)"""

    saves_output = True

    def forward(self, x):
        e = np.exp(-np.abs(x))  # never overflows; both branches are exact where they are used
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, gy):
        y = self.output
        return gy * y * (1 - y)


class Tanh(Op):
    """y = tanh(x).   dx = gy * (1 - y**2)"""

    saves_output = True

    def forward(self, x): return np.tanh(x)

    def backward(self, gy):
        y = self.output
        return gy * (1 - y * y)


class Cast(Op):
    """y = x as another dtype.   dx = gy cast back to x's dtype"""

    def __init__(self, dtype): self.dtype = np.dtype(dtype)
    def forward(self, x): return x.astype(self.dtype)
    def backward(self, gy): return gy.astype(self.inputs[0].dtype)
