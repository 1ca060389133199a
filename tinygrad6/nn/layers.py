"""Layers: `Linear` (the book's Affine), `ReLU`, `Sigmoid`, `Tanh`, `Dropout`, `BatchNorm1d`, `Sequential`.

None of them writes a backward pass: each forward is made of the engine's ops, so backward comes from the graph.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .. import functional as F
from .. import init
from ..engine.modes import no_grad
from ..engine.op import Op
from ..engine.tensor import Tensor
from ..random import default_rng
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
    """Dropout after a layer: in training each unit is zeroed with probability p (m: 1 where kept, 0 where dropped).

        inverted=True (default, PyTorch's):  training  y = x * m / (1-p);   eval  y = x
        inverted=False (the book's layer):   training  y = x * m;           eval  y = x * (1-p)

    The two give the same network function, but not the same training. A book-form network behaves exactly like an
    inverted one whose weights right after each Dropout are (1-p) times smaller; under plain SGD their gradient is
    then 1/(1-p) times larger, so those weights learn with an effective learning rate (1-p)**2 times lower (0.64
    for p = 0.2). The book's form therefore also slows learning down, which is much of what narrows the train/test
    gap in the book's Figure 6-23 (`python -m tinygrad6.experiments.dropout` shows both).

    rng: a numpy Generator or an int seed (the layer keeps one generator, so successive calls draw new masks,
    reproducibly), or None for tinygrad6's default generator (`tinygrad6.manual_seed`). Both forms draw the same
    units from the same generator. The last mask drawn is kept in `.mask` (m / (1-p), or m for the book's form), as
    the book's layer keeps it; it is stored with `set_buffer` (not registered, so not in `state_dict`) so that a
    compiled step stores each replay's mask too. A p outside [0, 1) raises ValueError when the layer is made
    (PyTorch's behaviour), with `F.dropout_mask`'s message.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None, inverted: bool = True) -> None:
        super().__init__()
        self.p, self.inverted = F.check_dropout_p(p), inverted
        self.rng = None if rng is None else default_rng(rng)
        self.mask: np.ndarray | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0:
            return x
        if not self.training:
            return x if self.inverted else (x * (1 - self.p)).named("out")
        mask = F.DropoutMask.apply(shape=x.shape, p=self.p, rng=default_rng(self.rng), dtype=x.dtype,
                                   inverted=self.inverted)
        self.set_buffer("mask", mask)
        return (x * mask).named("out")

    def extra_repr(self) -> str:
        return f"p={self.p}" + ("" if self.inverted else ", inverted=False")


class RunningAverage(Op):
    """y = momentum * running + (1 - momentum) * value, no gradient: BatchNorm's running statistics. One op rather
    than three, so the eager step pays one op's overhead per statistic (a compiled step records it like any op)."""

    def __init__(self, momentum: float) -> None:
        self.momentum = momentum

    def forward(self, running: np.ndarray, value: np.ndarray) -> np.ndarray:
        return self.momentum * running + (1 - self.momentum) * value

    def backward(self, gy: Tensor) -> tuple[None, None]:
        return None, None


class BatchNorm1d(Module):
    """Batch Normalization over the batch axis of (N, num_features) inputs (chapter 6.3).

    Training (batch statistics, from the engine's ops, so backward comes from the graph; the intermediates carry
    the book's names, so a drawn graph shows mu, xc, var, std, xn and out):
        mu = mean(x, axis=0);  xc = x - mu;  var = mean(xc**2, axis=0)   (biased variance)
        std = sqrt(var + eps);  xn = xc / std;  out = gamma * xn + beta
        running_mean = momentum * running_mean + (1 - momentum) * mu   (without grad)
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
            std = (self.buffer("running_var") + self.eps).sqrt().named("std")
            xn = ((x - self.buffer("running_mean")) / std).named("xn")
            return (self.gamma * xn + self.beta).named("out")
        if x.shape[0] < 2:
            raise ValueError(f"BatchNorm1d: training needs more than one sample per batch to compute a variance, "
                             f"got shape {x.shape}; call .eval() to use the running statistics")
        mu = x.mean(axis=0).named("mu")
        xc = (x - mu).named("xc")
        var = (xc * xc).mean(axis=0).named("var")
        std = (var + self.eps).sqrt().named("std")
        xn = (xc / std).named("xn")
        out = (self.gamma * xn + self.beta).named("out")
        with no_grad():
            for name, value in (("running_mean", mu), ("running_var", var)):  # momentum*running + (1-momentum)*value
                self.set_buffer(name, RunningAverage.apply(self.buffer(name), value, momentum=self.momentum))
        return out

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
