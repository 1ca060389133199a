"""Exercise: write Sigmoid as a tinygrad6 Op and gradcheck it.

    y = 1 / (1 + exp(-x))        dx = gy * y * (1 - y)

`forward` gets numpy arrays and returns one; `backward` gets the gradient of the output as a Tensor and returns
the gradient of the input, written with Tensor operations (`self.output` is y, `self.inputs` is (x,)).
Check: `pytest docs/exercises/test_sigmoid.py`.
"""

import numpy as np

from tinygrad6 import Op


class Sigmoid(Op):
    name = "sigmoid"
    saves_output = True  # backward reads self.output

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return 1 / (1 + exp(-x)), elementwise."""
        raise NotImplementedError("sigmoid.py: write Sigmoid.forward")

    def backward(self, gy):
        """Return gy * y * (1 - y), with y = self.output."""
        raise NotImplementedError("sigmoid.py: write Sigmoid.backward")
