"""Solution: inverted Dropout as an Op.   y = x * m,   dx = gy * m   (m: 1/(1-p) where kept, 0 where dropped)"""

import numpy as np

from tinygrad6 import F, Op, Tensor


class Dropout(Op):
    name = "dropout"

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        self.p, self.rng = p, rng

    def forward(self, x: np.ndarray) -> np.ndarray:
        mask = F.dropout_mask(x.shape, self.p, self.rng, x.dtype)
        self.save(mask=mask)
        return x * mask

    def backward(self, gy):
        return gy * Tensor(self.saved["mask"])
