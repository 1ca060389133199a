"""PyTorch eager float64 on the same step, when PyTorch is installed (`pip install torch`; never a dependency of
tinygrad6). `available()` says whether it is; everything else imports torch lazily."""

from __future__ import annotations

import importlib.util

import numpy as np

from .common import BN_EPS, BN_MOMENTUM, LR


def available() -> bool:
    return importlib.util.find_spec("torch") is not None


def version() -> str:
    import torch

    return torch.__version__


class TorchMLP:
    """784-100x5-10 with torch tensors of W (in, out), `x @ W + b`, F.batch_norm (training, running statistics),
    relu, F.cross_entropy, loss.backward() and torch.optim.SGD."""

    def __init__(self, params: dict[str, np.ndarray], batchnorm: bool = False) -> None:
        import torch

        torch.set_num_threads(1)
        self.torch = torch
        n = sum(1 for k in params if k.startswith("W"))

        def param(name: str):
            return torch.tensor(params[name], dtype=torch.float64, requires_grad=True)

        self.W = [param(f"W{i}") for i in range(1, n + 1)]
        self.b = [param(f"b{i}") for i in range(1, n + 1)]
        every = self.W + self.b
        self.batchnorm = batchnorm
        if batchnorm:
            self.gamma = [param(f"gamma{i}") for i in range(1, n)]
            self.beta = [param(f"beta{i}") for i in range(1, n)]
            self.running = [(torch.zeros(len(g), dtype=torch.float64), torch.ones(len(g), dtype=torch.float64))
                            for g in self.gamma]
            every += self.gamma + self.beta
        self.optimizer = torch.optim.SGD(every, lr=LR)

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        torch, F = self.torch, self.torch.nn.functional
        h = torch.from_numpy(x)
        for i in range(len(self.W) - 1):
            h = h @ self.W[i] + self.b[i]
            if self.batchnorm:
                mean, var = self.running[i]
                h = F.batch_norm(h, mean, var, self.gamma[i], self.beta[i], training=True,
                                 momentum=1 - BN_MOMENTUM, eps=BN_EPS)
            h = torch.relu(h)
        loss = F.cross_entropy(h @ self.W[-1] + self.b[-1], torch.from_numpy(t))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()


def chain(n: int):
    """A function running n repetitions of `x * 0.5 + 1.0` on a 0-d float64 tensor, then backward."""
    import torch

    torch.set_num_threads(1)

    def run() -> None:
        x0 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        x = x0
        for _ in range(n):
            x = x * 0.5 + 1.0
        x.backward()

    return run
