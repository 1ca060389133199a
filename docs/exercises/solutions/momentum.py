"""Solution: Momentum, one line per line of the book's math; v lives in this parameter's state dict."""

from typing import Any

import numpy as np

from tinygrad6 import Tensor
from tinygrad6.optim import Optimizer


class Momentum(Optimizer):
    hyperparams = ("lr", "momentum", "weight_decay")

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay, momentum=momentum)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        v = self.buffer(state, "v", p)               # zeros the first time, then the same array
        v[...] = self.momentum * v - self.lr * g     # in place: state keeps the new v
        p.data += v
