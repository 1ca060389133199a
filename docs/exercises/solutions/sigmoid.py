"""Solution: Sigmoid as a tinygrad6 Op.   y = 1 / (1 + exp(-x)),   dx = gy * y * (1 - y)"""

import numpy as np

from tinygrad6 import Op


class Sigmoid(Op):
    name = "sigmoid"
    saves_output = True  # backward reads self.output

    def forward(self, x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-x))

    def backward(self, gy):
        y = self.output
        return gy * y * (1 - y)
