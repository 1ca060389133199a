"""The tinygrad6 contender: the same training step written as a user writes it with the engine (forward with
Tensor operations, `loss.backward()`, an SGD update), so the benchmark measures what users run."""

from __future__ import annotations

import numpy as np

import tinygrad6.functional as F
from tinygrad6 import Tensor, nn, optim

from .common import BN_EPS, LR, SIZES


class EngineMLP:
    """784-100x5-10 as a user builds it: `nn.MLP(784, [100] * 5, 10, batchnorm=..., dropout=...)`, loaded with the
    shared initial weights, `F.cross_entropy`, `loss.backward()` and `optim.SGD`. BatchNorm1d is made of the
    engine's primitive ops (mean, sub, mul, mean, add eps, sqrt, div, mul gamma, add beta), its backward comes
    from the graph."""

    def __init__(self, params: dict[str, np.ndarray], dtype=np.float64, batchnorm: bool = False,
                 dropout: float = 0.0, seed: int = 0) -> None:
        sizes = [params[f"W{i}"].shape[0] for i in range(1, len(SIZES))] + [SIZES[-1]]
        self.dtype = np.dtype(dtype)
        self.model = nn.MLP(sizes[0], sizes[1:-1], sizes[-1], batchnorm=batchnorm, dropout=dropout, dtype=dtype)
        for i, linear in enumerate(self.model.linears, start=1):
            linear.W.data = params[f"W{i}"].astype(dtype)
            linear.b.data = params[f"b{i}"].astype(dtype)
        norms = [m for m in self.model.modules() if isinstance(m, nn.BatchNorm1d)]
        for i, norm in enumerate(norms, start=1):
            norm.eps = BN_EPS
            norm.gamma.data = params[f"gamma{i}"].astype(dtype)
            norm.beta.data = params[f"beta{i}"].astype(dtype)
        rng = np.random.default_rng(seed)  # one generator for every Dropout, drawn in layer order as the floor does
        for m in self.model.modules():
            if isinstance(m, nn.Dropout):
                m.rng = rng
        self.optimizer = optim.SGD(self.model.parameters(), lr=LR)

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        loss = F.cross_entropy(self.model(Tensor(x.astype(self.dtype, copy=False))), t)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()
