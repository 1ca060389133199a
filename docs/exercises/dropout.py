"""Exercise (about 20 minutes): write Dropout as an Op, as the engine's ops are written.

In training, each unit is dropped with probability p; the kept ones are scaled by 1 / (1 - p) (inverted Dropout,
docs/chapter6.md section 5), so that the expected output equals the input. Draw which units are kept from the
generator `self.rng`, exactly as `tinygrad6.F.dropout_mask(x.shape, self.p, self.rng, x.dtype)` does (you may call
it): then a test that makes the same generator can tell which units you dropped.

`forward` gets the input array and returns the output array. `backward` gets the gradient of the output as a
Tensor: what is dy/dx for a unit that was kept, and for one that was dropped? The mask is not an input of the op
and forward has no Tensor to keep it in: `self.save(mask=...)` keeps it, `self.saved["mask"]` reads it back. Write
the result with Tensor operations (`gy * Tensor(array)` is one). Look at tinygrad6/engine/ops/unary.py for ops
written this way.
Check: `pytest docs/exercises/test_dropout.py`.
"""

import numpy as np

from tinygrad6 import Op


class Dropout(Op):
    name = "dropout"

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        self.p, self.rng = p, rng

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x with each unit dropped with probability p and the kept ones scaled by 1 / (1 - p)."""
        raise NotImplementedError("dropout.py: write Dropout.forward")

    def backward(self, gy):
        """The gradient of the input, with Tensor operations."""
        raise NotImplementedError("dropout.py: write Dropout.backward")
