"""Binary arithmetic: add, sub, mul, div, pow, matmul, and neg.

Inputs may have different shapes (NumPy broadcasting); each backward returns gradients of the broadcast shape
and the backward loop sums them back to each input's shape. A rule skips the gradient of an input that does
not require one (returns None) where computing it would cost a full array operation.
"""

from __future__ import annotations

import numpy as np

from ...support.errors import ShapeError
from ..op import Op


class Add(Op):
    """y = a + b.   da = gy,  db = gy"""

    def forward(self, a, b): return a + b
    def backward(self, gy): return gy, gy


class Sub(Op):
    """y = a - b.   da = gy,  db = -gy"""

    def forward(self, a, b): return a - b

    def backward(self, gy):
        (_, b) = self.inputs
        return gy, (-gy if b.requires_grad else None)


class Neg(Op):
    """y = -x.   dx = -gy"""

    def forward(self, x): return -x
    def backward(self, gy): return -gy


class Mul(Op):
    """y = a * b.   da = gy * b,  db = gy * a"""

    def forward(self, a, b): return a * b

    def backward(self, gy):
        a, b = self.inputs
        return (gy * b if a.requires_grad else None), (gy * a if b.requires_grad else None)


class Div(Op):
    """y = a / b.   da = gy / b,  db = -gy * a / b**2 = -da * y"""

    saves_output = True

    def forward(self, a, b): return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b
        gb = -(ga * self.output) if b.requires_grad else None
        return (ga if a.requires_grad else None), gb


class Pow(Op):
    """y = a ** b.   da = gy * b * a**(b - 1),  db = gy * y * log(a), taken as 0 where a = 0 (as PyTorch)"""

    saves_output = True

    def forward(self, a, b): return a**b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy * b * a ** (b - 1) if a.requires_grad else None
        if ga is not None and not b.requires_grad:
            # a constant exponent 0: y = 1, da = 0 (not 0 * 0**-1 = NaN at a = 0); only for a constant b, since
            # the mixed second derivative d/db (b a**(b-1)) = a**-1 at b = 0 is not 0
            ga = ga.where(b != 0, 0.0)
        gb = gy * self.output * a.where(a != 0, 1.0).log() if b.requires_grad else None  # not 0 * log 0 = NaN
        return ga, gb


class MatMul(Op):
    """y = a @ b.   da = gy @ b.T,  db = a.T @ gy   (.T swaps the last two axes; 1-D operands are promoted to
    a row (a) or a column (b) as NumPy does, and batch axes broadcast)."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape}: matmul needs 1 or more axes; use * to scale")
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != k_b:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not align ({a.shape[-1]} != {k_b})")
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        if a.ndim == 1 or b.ndim == 1:
            return _vector_matmul_grads(a, b, gy)
        return (gy @ b.mT if a.requires_grad else None), (a.mT @ gy if b.requires_grad else None)


def _vector_matmul_grads(a, b, gy):
    """MatMul's gradients when an operand is a vector: promote it to a matrix as the forward did (a to a row, b to
    a column), use the matrix rule, and take the promoted axis out of its gradient again."""
    a2 = a if a.ndim >= 2 else a.reshape(1, -1)
    b2 = b if b.ndim >= 2 else b.reshape(-1, 1)
    gy2 = gy.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
    ga = gy2 @ b2.mT if a.requires_grad else None
    gb = a2.mT @ gy2 if b.requires_grad else None
    if ga is not None and a.ndim == 1:
        ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
    if gb is not None and b.ndim == 1:
        gb = gb.reshape(gb.shape[:-1])
    return ga, gb
