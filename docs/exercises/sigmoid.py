"""Exercise (about 15 minutes): write Sigmoid as a tinygrad6 Op and gradcheck it.

Forward: the sigmoid of the book's chapter 3, elementwise. Backward: derive dy/dx yourself (the chain rule on
1 / (1 + exp(-x)); then write the result with y alone, since y is what the op keeps) and multiply the gradient
arriving at the output by it. The book's chapter 5 (the sigmoid layer) draws the same derivation as a graph.

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
        """The sigmoid of x, elementwise."""
        raise NotImplementedError("sigmoid.py: write Sigmoid.forward")

    def backward(self, gy):
        """The gradient of the input: gy times dy/dx, written with y = self.output."""
        raise NotImplementedError("sigmoid.py: write Sigmoid.backward")
