"""The book's way: layer objects with a hand-written `forward` and `backward` each (Affine, Relu,
BatchNormalization, SoftmaxWithLoss), chained in an ordered list, as chapter 5 and 6 build their networks.
Written here in that style for the comparison; the network is the same 784-100x5-10 with BatchNorm before each
ReLU, trained by plain SGD."""

from __future__ import annotations

import numpy as np

from .common import BN_EPS, BN_MOMENTUM, LR


class Affine:
    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b
        self.x = self.dW = self.db = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def __init__(self) -> None:
        self.mask = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout[self.mask] = 0
        return dout


class BatchNormalization:
    """Normalizes each feature over the batch, then scales by gamma and shifts by beta; keeps running statistics
    for inference. The backward is the chain rule through the forward's steps, written by hand."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray) -> None:
        self.gamma, self.beta = gamma, beta
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.ones_like(gamma)
        self.batch_size = self.xc = self.xn = self.std = None
        self.dgamma = self.dbeta = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        mu = x.mean(axis=0)
        xc = x - mu
        var = np.mean(xc**2, axis=0)
        std = np.sqrt(var + BN_EPS)
        xn = xc / std
        self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
        self.running_mean = BN_MOMENTUM * self.running_mean + (1 - BN_MOMENTUM) * mu
        self.running_var = BN_MOMENTUM * self.running_var + (1 - BN_MOMENTUM) * var
        return self.gamma * xn + self.beta

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class SoftmaxWithLoss:
    """Softmax then cross-entropy with integer labels. (The book adds 1e-7 inside the log; here the log is
    taken of the shifted softmax exactly, so that the loss can be compared with the other contenders to 1e-10.)"""

    def __init__(self) -> None:
        self.y = self.t = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        z = x - x.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        self.y, self.t = e / s, t
        rows = np.arange(len(t))
        return float(np.mean(np.log(s[:, 0]) - z[rows, t]))

    def backward(self, dout: float = 1.0) -> np.ndarray:
        dx = self.y.copy()
        dx[np.arange(len(self.t)), self.t] -= 1
        return dx * dout / len(self.t)


class BookNet:
    """Layers in order: (Affine, BatchNormalization, Relu) x 5, Affine, then SoftmaxWithLoss; SGD on every
    parameter each step."""

    def __init__(self, params: dict[str, np.ndarray], batchnorm: bool = True) -> None:
        n = sum(1 for k in params if k.startswith("W"))
        self.layers: list = []
        for i in range(1, n + 1):
            self.layers.append(Affine(params[f"W{i}"].copy(), params[f"b{i}"].copy()))
            if i < n:
                if batchnorm:
                    self.layers.append(BatchNormalization(params[f"gamma{i}"].copy(), params[f"beta{i}"].copy()))
                self.layers.append(Relu())
        self.last_layer = SoftmaxWithLoss()

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        for layer in self.layers:
            x = layer.forward(x)
        loss = self.last_layer.forward(x, t)
        dout = self.last_layer.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        for layer in self.layers:
            if isinstance(layer, Affine):
                layer.W -= LR * layer.dW
                layer.b -= LR * layer.db
            elif isinstance(layer, BatchNormalization):
                layer.gamma -= LR * layer.dgamma
                layer.beta -= LR * layer.dbeta
        return loss
