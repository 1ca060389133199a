"""The floor: one training step written as hand-fused numpy, with no graph, no objects per op and the backward
derived by hand. Nothing written on top of numpy can do the same arithmetic in less time, so every other
contender is measured as a multiple of this."""

from __future__ import annotations

import numpy as np

from .common import BN_EPS, BN_MOMENTUM, LR


class FloorMLP:
    """784-100x5-10, ReLU (optionally BatchNorm before each ReLU, Dropout after it), softmax cross-entropy, SGD."""

    def __init__(self, params: dict[str, np.ndarray], dtype=np.float64, batchnorm: bool = False,
                 dropout: float = 0.0, seed: int = 0) -> None:
        n = sum(1 for k in params if k.startswith("W"))
        self.W = [params[f"W{i}"].astype(dtype) for i in range(1, n + 1)]
        self.b = [params[f"b{i}"].astype(dtype) for i in range(1, n + 1)]
        self.batchnorm, self.p = batchnorm, dropout
        if batchnorm:
            self.gamma = [params[f"gamma{i}"].astype(dtype) for i in range(1, n)]
            self.beta = [params[f"beta{i}"].astype(dtype) for i in range(1, n)]
            self.running_mean = [np.zeros_like(g) for g in self.gamma]
            self.running_var = [np.ones_like(g) for g in self.gamma]
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)

    def draw_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """Inverted-dropout mask, drawn exactly as tinygrad6.functional.dropout_mask draws it (same generator
        calls, so both see the same masks from the same seed)."""
        keep = self.rng.random(shape) >= self.p
        return keep.astype(self.dtype) * np.asarray(1 / (1 - self.p), dtype=self.dtype)

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        W, b, L = self.W, self.b, len(self.W)
        x = x.astype(self.dtype, copy=False)
        N = len(x)
        inputs, masks, bn_cache = [], [], []
        h = x
        for i in range(L - 1):
            inputs.append(h)
            a = h @ W[i]
            a += b[i]
            if self.batchnorm:
                mu = a.mean(axis=0)
                xc = a - mu
                var = (xc * xc).mean(axis=0)
                std = np.sqrt(var + BN_EPS)
                xn = xc / std
                bn_cache.append((xn, std))
                self.running_mean[i] = BN_MOMENTUM * self.running_mean[i] + (1 - BN_MOMENTUM) * mu
                self.running_var[i] = BN_MOMENTUM * self.running_var[i] + (1 - BN_MOMENTUM) * var
                a = xn * self.gamma[i]
                a += self.beta[i]
            np.maximum(a, 0, out=a)
            if self.p:
                m = self.draw_mask(a.shape)
                masks.append(m)
                a *= m
            h = a
        inputs.append(h)
        z = h @ W[-1]
        z += b[-1]

        # softmax cross-entropy and its gradient (softmax - onehot) / N
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(N)
        loss = float(np.mean(np.log(s[:, 0]) - z[rows, t]))
        g = e / s
        g[rows, t] -= 1
        g /= N

        for i in reversed(range(L)):
            dW = inputs[i].T @ g
            db = g.sum(axis=0)
            if i > 0:
                g = g @ W[i].T
                h = inputs[i]
                if self.p:
                    g *= masks[i - 1]
                g *= h > 0
                if self.batchnorm:
                    xn, std = bn_cache[i - 1]
                    dgamma = (g * xn).sum(axis=0)
                    dbeta = g.sum(axis=0)
                    gx = g * self.gamma[i - 1]
                    g = (gx - gx.mean(axis=0) - xn * (gx * xn).mean(axis=0)) / std
                    self.gamma[i - 1] -= LR * dgamma
                    self.beta[i - 1] -= LR * dbeta
            W[i] -= LR * dW
            b[i] -= LR * db
        return loss
