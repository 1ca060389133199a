"""Exercise (about 10 minutes): write the book's Momentum as a tinygrad6 optimizer.

    v <- momentum * v - lr * g          (v starts at 0, one v per parameter)
    W <- W + v

Write `update`, one line of code per line of math. `Optimizer.step` calls it once per parameter that has a
gradient, with p (the parameter: W is p.data), g (its gradient, an array) and state (a dict that belongs to this
parameter and is empty at the first call). The one thing to think about: v must survive from one call to the next.
docs/chapter6.md, section 1, shows how tinygrad6's other optimizers keep their arrays.
Check: `pytest docs/exercises/test_momentum.py`.
"""

from typing import Any

import numpy as np

from tinygrad6 import Tensor
from tinygrad6.optim import Optimizer


class Momentum(Optimizer):
    hyperparams = ("lr", "momentum", "weight_decay")

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay, momentum=momentum)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        """v <- momentum * v - lr * g;  W <- W + v   (self.momentum, self.lr; W is p.data)."""
        raise NotImplementedError("momentum.py: write Momentum.update")
