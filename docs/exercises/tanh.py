"""Exercise (about 15 minutes): add Tanh as a tinygrad6 Op and check its second derivative.

Forward: np.tanh. Backward: derive d tanh(x)/dx from tanh(x) = (e^x - e^-x) / (e^x + e^-x) (the quotient rule)
and write it with y = tanh(x) alone. The tests also check the second derivative, which you do not write: how
must `backward` be written for tinygrad6 to differentiate it again? (docs/how-autograd-works.md, section 7, says.)
Check: `pytest docs/exercises/test_tanh.py`.
"""

import numpy as np

from tinygrad6 import Op


class Tanh(Op):
    name = "tanh"
    saves_output = True  # backward reads self.output

    def forward(self, x: np.ndarray) -> np.ndarray:
        """tanh(x), elementwise."""
        raise NotImplementedError("tanh.py: write Tanh.forward")

    def backward(self, gy):
        """The gradient of the input: gy times dy/dx, written with y = self.output."""
        raise NotImplementedError("tanh.py: write Tanh.backward")
