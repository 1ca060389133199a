"""Solution: the sum over the classes keeps its axis, so that it lines up with the rows it belongs to.

Without keepdims, the per-sample sums of an (N, C) input form a vector of shape (N,), which broadcasting lines up
with the last axis (the classes), not the rows: entry (i, j) receives sample j's sum instead of sample i's. That is
right for one sample (a 1-D x), right on the diagonal of a square batch (N = C) and an error for any other batch."""

import numpy as np

from tinygrad6 import Op


class Softmax(Op):
    """y = softmax(x) over the last axis: y_i = exp(x_i) / sum_j exp(x_j), for each sample (row) of x.
    dx = y * (gy - sum_j gy_j y_j), the sum taken over the classes of each sample."""
    saves_output = True
    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    def backward(self, gy):
        y = self.output
        return y * (gy - (gy * y).sum(axis=-1, keepdims=True))
