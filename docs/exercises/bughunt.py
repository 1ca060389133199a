"""Exercise (about 30 minutes): a bug hunt. This Softmax op has a planted bug in its backward rule.

Do not read `backward` yet. Find the bug with the tools of docs/debugging-backprop.md, in the order
docs/exercises.md#hunt-a-planted-bug walks through them: gradcheck, the trace, a conditional breakpoint, the
step-through page. Then fix it here (one line).
Check: `pytest docs/exercises/test_bughunt.py`.
"""

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
        return y * (gy - (gy * y).sum(axis=-1))
