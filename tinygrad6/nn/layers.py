"""Layers: `Linear` (the book's Affine), `ReLU`, `Sigmoid`, `Tanh`, `Dropout`, `BatchNorm1d`, `Sequential`.

None of them writes a backward pass: each forward is made of the engine's ops, so backward comes from the graph.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .. import functional as F
from .. import init
from ..random import default_rng
from ..tensor import Tensor
from .module import Module, Parameter


class Linear(Module):
    """y = x @ W + b, the book's Affine layer. W has shape (in_features, out_features), b (out_features,).

    weight_init: "xavier" (std sqrt(1/in), the default), "he" (std sqrt(2/in)), or a number (that std).
    b starts at zero. (PyTorch's nn.Linear stores its weight as (out, in) and draws it from
    U(-1/sqrt(in), 1/sqrt(in)).)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, weight_init: str | float = "xavier",
                 rng: np.random.Generator | int | None = None, dtype=np.float64) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        std = init.std_of(weight_init, in_features, activation="sigmoid")
        self.W = Parameter(init.normal((in_features, out_features), std, rng, dtype), name="W")
        self.b = Parameter(init.zeros(out_features, dtype), name="b") if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.W, self.b)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.b is not None}"


class ReLU(Module):
    """max(0, x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Dropout(Module):
    """Inverted dropout: in training, each unit is zeroed with probability p and the kept units are scaled by
    1/(1-p); in eval it is the identity.

    The book's Dropout does not scale in training and multiplies by (1 - p) at test time instead. Both give
    the same expected output; scaling during training leaves the test-time network untouched (PyTorch's way).

    rng: a numpy Generator or an int seed (the layer keeps one generator, so successive calls draw new masks,
    reproducibly), or None for tinygrad6's default generator (`tinygrad6.manual_seed`). The last mask drawn is
    kept in `.mask` (1/(1-p) where kept, 0 where dropped), as the book's layer keeps it.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p is the probability of dropping a unit and must be in [0, 1), got {p}")
        self.p = p
        self.rng = None if rng is None else default_rng(rng)
        self.mask: np.ndarray | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        self.mask = F.dropout_mask(x.shape, self.p, default_rng(self.rng), dtype=x.dtype)
        return x * self.mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch Normalization over the batch axis of (N, num_features) inputs (chapter 6.3).

    Training (batch statistics, from the engine's ops, so backward comes from the graph):
        mu = mean(x, axis=0);  var = mean((x - mu)**2, axis=0)        (biased variance)
        x_hat = (x - mu) / sqrt(var + eps);  y = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mu   (numpy, outside the graph)
        running_var  = momentum * running_var  + (1 - momentum) * var
    Eval: the same with running_mean and running_var in place of mu and var.

    Defaults follow the book: momentum 0.9, eps 1e-6 (the book writes 10e-7). running_var starts at one
    (the book starts it at zero). PyTorch differs: its momentum 0.1 weighs the NEW statistic
    (running = (1 - 0.1) * running + 0.1 * batch, i.e. our momentum 0.9), it stores the unbiased variance
    (N/(N-1) * var) in running_var, and its eps is 1e-5.
    """

    def __init__(self, num_features: int, momentum: float = 0.9, eps: float = 1e-6, dtype=np.float64) -> None:
        super().__init__()
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.gamma = Parameter(np.ones(num_features, dtype=dtype), name="gamma")
        self.beta = Parameter(np.zeros(num_features, dtype=dtype), name="beta")
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}): expected input of shape (N, {self.num_features}), "
                             f"got {x.shape}")
        if not self.training:
            x_hat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
            return self.gamma * x_hat + self.beta
        if x.shape[0] < 2:
            raise ValueError(f"BatchNorm1d: training needs more than one sample per batch to compute a variance, "
                             f"got shape {x.shape}; call .eval() to use the running statistics")
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc * xc).mean(axis=0)
        std = (var + self.eps).sqrt()
        x_hat = xc / std
        y = self.gamma * x_hat + self.beta
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu.data
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var.data
        return y

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


class Sequential(Module):
    """Layers applied one after the other: Sequential(Linear(2, 8), ReLU(), Linear(8, 3)).
    Its parameters are named by position ("0.W", "0.b", "2.W", ...); `seq[i]` is the i-th layer."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)
