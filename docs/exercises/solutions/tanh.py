"""Solution: Tanh as a tinygrad6 Op.   y = tanh(x),   dx = gy * (1 - y**2)

backward uses Tensor operations only, so the backward pass is a graph too and the second derivative is right."""

import numpy as np

from tinygrad6 import Op


class Tanh(Op):
    name = "tanh"
    saves_output = True  # backward reads self.output

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def backward(self, gy):
        y = self.output
        return gy * (1 - y * y)
