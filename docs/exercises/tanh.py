"""Exercise: add Tanh as a tinygrad6 Op and check its second derivative.

    y = tanh(x)        dx = gy * (1 - y**2)        d2y/dx2 = -2 y (1 - y**2)

The second derivative comes for free if `backward` is written with Tensor operations: the backward pass is then
itself a graph that can be differentiated (`create_graph=True`). A backward that computes with numpy arrays
(`self.output.data`) gives the right first derivative and a wrong (zero) second one.
Check: `pytest docs/exercises/test_tanh.py`.
"""

import numpy as np

from tinygrad6 import Op


class Tanh(Op):
    name = "tanh"
    saves_output = True  # backward reads self.output

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return tanh(x), elementwise."""
        raise NotImplementedError("tanh.py: write Tanh.forward")

    def backward(self, gy):
        """Return gy * (1 - y * y) with Tensor operations, y = self.output."""
        raise NotImplementedError("tanh.py: write Tanh.backward")
