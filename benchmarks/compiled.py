"""The compiled tinygrad6 contender: EngineMLP's training step, written the same way, run through
`tinygrad6.compile` (traced on the first call, replayed as a generated numpy program after that)."""

from __future__ import annotations

import numpy as np

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor

from .engine import EngineMLP

MADE: list[CompiledMLP] = []  # every contender made, so a report can read its compiled step (breaks, verification)


class CompiledMLP(EngineMLP):
    """EngineMLP with its step compiled: the same model, optimizer, Dropout generator and losses."""

    def __init__(self, params: dict[str, np.ndarray], dtype=np.float64, batchnorm: bool = False,
                 dropout: float = 0.0, seed: int = 0) -> None:
        super().__init__(params, dtype, batchnorm=batchnorm, dropout=dropout, seed=seed)
        self.compiled = tinygrad6.compile(self.train_step)
        MADE.append(self)

    def train_step(self, x: np.ndarray, t: np.ndarray) -> Tensor:
        loss = F.cross_entropy(self.model(Tensor(x)), t)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.compiled(x.astype(self.dtype, copy=False), t).item()
