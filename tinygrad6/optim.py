"""Optimizers (chapter 6.1): SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW.

    opt = optim.Adam(model.parameters(), lr=0.001)
    for x, t in batches:
        opt.zero_grad()
        F.cross_entropy(model(x), t).backward()
        opt.step()

They also take bare tensors, as in the chapter's f(x, y) = x**2/20 + y**2 example: `SGD([x, y], lr=0.95)`.

Each optimizer's `update` is the book's formula, one line of code per line of math (W is `p.data`, g its
gradient, state arrays named as in the book: v, h, m). Updates work on numpy arrays, so `step()` builds no graph;
they write through `p.data` (in place, keeping the dtype: float32 stays float32), which marks the tensor as
changed for the engine's in-place check. Parameters whose `.grad` is None are skipped.

weight_decay=lam (every optimizer) adds lam * W to the gradient before the update: coupled L2, the same as adding
the book's 0.5 * lam * sum(W**2) to the loss (`nn.l2_penalty`), except that it also applies to biases and
BatchNorm parameters if you pass them. AdamW instead decays W directly, decoupled from Adam's adaptive step.

Hyper-parameters are checked when an optimizer is made (and when a state is loaded), as PyTorch does, with its
messages: `SGD([x], lr=-1)` raises "SGD: Invalid learning rate: -1 (expected a finite number >= 0)".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .engine.tensor import Tensor
from .support import tracing


def _in_unit_interval(v: float) -> bool:
    return 0 <= v < 1


HYPERPARAMETER_RANGES: dict[str, tuple[str, Callable[[float], bool], str]] = {
    # name: (what PyTorch's message calls it, the test, the range in words)
    "lr": ("learning rate", lambda v: 0 <= v < math.inf, "a finite number >= 0"),
    "weight_decay": ("weight_decay value", lambda v: 0 <= v < math.inf, "a finite number >= 0"),
    "momentum": ("momentum value", _in_unit_interval, "in [0, 1)"),
    "decay_rate": ("decay_rate value", _in_unit_interval, "in [0, 1)"),
    "beta1": ("beta1 value", _in_unit_interval, "in [0, 1)"),
    "beta2": ("beta2 value", _in_unit_interval, "in [0, 1)"),
    "eps": ("epsilon value", lambda v: 0 < v < math.inf, "a finite number > 0"),
}
"""The allowed range of each hyper-parameter (NaN fails every test). Stricter than PyTorch, which allows
momentum >= 1 and eps = 0: momentum 1 never forgets a gradient and eps 0 divides by zero on a zero gradient."""


def check_hyperparameter(optimizer: str, name: str, value: float) -> None:
    """Raise ValueError, in PyTorch's words and naming the optimizer, when `value` is out of `name`'s range
    (e.g. "Adam: Invalid learning rate: -1.0 (expected a finite number >= 0)")."""
    what, ok, expected = HYPERPARAMETER_RANGES[name]
    if not ok(value):
        raise ValueError(f"{optimizer}: Invalid {what}: {value} (expected {expected})")


class Optimizer:
    """Base class: holds the parameters, their per-parameter state, and the hyper-parameters.

    Subclasses list their hyper-parameter attribute names in `hyperparams`, pass their values to
    `Optimizer.__init__` (which checks each against HYPERPARAMETER_RANGES and sets it as an attribute) and write
    `update(p, g, state)`: change `p.data` using the gradient array g and the dict `state` (this
    parameter's arrays, created on first use)."""

    hyperparams: tuple[str, ...] = ("lr", "weight_decay")

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0,
                 **hyperparams: float) -> None:
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not a Tensor; "
                                f"pass model.parameters() or tensors created with requires_grad=True")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) is the result of an op, "
                                 f"not a leaf tensor; optimize the leaves it was computed from")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) appears twice")
            seen.add(id(p))
        for name, value in {"lr": lr, "weight_decay": weight_decay, **hyperparams}.items():
            check_hyperparameter(type(self).__name__, name, value)
            setattr(self, name, value)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    @tracing.replayed
    def zero_grad(self) -> None:
        """Forget every parameter's gradient (`.grad = None`), before the next backward."""
        for p in self.params:
            p.grad = None

    @tracing.replayed
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            self.update(p, self.gradient(p), state)

    def gradient(self, p: Tensor) -> np.ndarray:
        """g = dL/dW + weight_decay * W (a new array; `p.grad` is not modified)."""
        g = p.grad.data
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        return g

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def buffer(state: dict[str, Any], name: str, p: Tensor) -> np.ndarray:
        """state[name], created as zeros shaped and typed like p on first use."""
        if name not in state:
            state[name] = np.zeros_like(p.data)
        return state[name]

    # -- saving and loading -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"hyperparams": {name: value}, "state": [per-parameter dict of array copies and counters]}."""
        return {"hyperparams": {name: getattr(self, name) for name in self.hyperparams},
                "state": [{k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                          for s in self.state]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and per-parameter state saved by `state_dict` (checked before anything is
        written: same number of parameters, same shapes, hyper-parameters in range)."""
        states = state_dict["state"]
        if len(states) != len(self.params):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state has {len(states)} parameters, "
                             f"this optimizer {len(self.params)}")
        unknown = set(state_dict["hyperparams"]) - set(self.hyperparams)
        if unknown:
            raise KeyError(f"{type(self).__name__}.load_state_dict: unknown hyper-parameters {sorted(unknown)}; "
                           f"expected {list(self.hyperparams)}")
        for i, (p, s) in enumerate(zip(self.params, states)):
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.shape != p.shape:
                    raise ValueError(f"{type(self).__name__}.load_state_dict: state '{k}' of parameter {i} has "
                                     f"shape {v.shape}, the parameter {p.shape}")
        for name, value in state_dict["hyperparams"].items():
            check_hyperparameter(type(self).__name__, name, value)
        for name, value in state_dict["hyperparams"].items():
            setattr(self, name, value)
        self.state = [{k: np.array(v, dtype=p.dtype, copy=True) if isinstance(v, np.ndarray) else v
                       for k, v in s.items()} for p, s in zip(self.params, states)]

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)}" for name in self.hyperparams)
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


class SGD(Optimizer):
    """Stochastic gradient descent:  W <- W - lr * g."""

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        p.data -= self.lr * g


class Momentum(Optimizer):
    """Momentum SGD:
        v <- momentum * v - lr * g
        W <- W + v
    (PyTorch's SGD(momentum=...) keeps v' = -v/lr and applies lr afterwards; same steps for a fixed lr.)"""

    hyperparams = ("lr", "momentum", "weight_decay")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay, momentum=momentum)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        v = self.buffer(state, "v", p)
        v[...] = self.momentum * v - self.lr * g
        p.data += v


class Nesterov(Momentum):
    """Nesterov's accelerated gradient, as the book's code writes it (Bengio et al. 2012, arXiv:1212.0901):
        v <- momentum * v - lr * g
        W <- W + momentum**2 * v - (1 + momentum) * lr * g"""

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        v = self.buffer(state, "v", p)
        v[...] = self.momentum * v - self.lr * g
        p.data += self.momentum * self.momentum * v - (1 + self.momentum) * self.lr * g


class AdaGrad(Optimizer):
    """AdaGrad: each weight's step shrinks with the sum of its squared gradients.
        h <- h + g * g
        W <- W - lr * g / (sqrt(h) + eps)          (eps = 1e-7, as in the book; PyTorch uses 1e-10)"""

    hyperparams = ("lr", "eps", "weight_decay")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, eps: float = 1e-7,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay, eps=eps)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        h = self.buffer(state, "h", p)
        h += g * g
        p.data -= self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """RMSprop: AdaGrad with an exponentially decaying sum.
        h <- decay_rate * h + (1 - decay_rate) * g * g
        W <- W - lr * g / (sqrt(h) + eps)          (decay_rate 0.99, eps 1e-7, as in the book; PyTorch calls
                                                    decay_rate `alpha` and uses eps 1e-8)"""

    hyperparams = ("lr", "decay_rate", "eps", "weight_decay")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay, decay_rate=decay_rate, eps=eps)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        h = self.buffer(state, "h", p)
        h[...] = self.decay_rate * h + (1 - self.decay_rate) * g * g
        p.data -= self.lr * g / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba), as the book's code writes it, with the bias correction folded into the step size:
        t <- t + 1
        lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
        m <- m + (1 - beta1) * (g - m)            (= beta1 * m + (1 - beta1) * g)
        v <- v + (1 - beta2) * (g * g - v)        (= beta2 * v + (1 - beta2) * g**2)
        W <- W - lr_t * m / (sqrt(v) + eps)       (eps = 1e-7)

    t counts this parameter's updates (the book counts the optimizer's steps: the same whenever every parameter
    has a gradient at every step; per-parameter, a parameter that first gets a gradient late starts at t = 1,
    as in PyTorch). PyTorch computes W - lr * m_hat / (sqrt(v_hat) + eps) with
    m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t) and eps 1e-8: its eps sits outside the bias-corrected
    sqrt(v_hat), ours is added to the uncorrected sqrt(v), so the two differ slightly while v is small."""

    hyperparams = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay, beta1=beta1, beta2=beta2, eps=eps)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        m, v = self.buffer(state, "m", p), self.buffer(state, "v", p)
        state["t"] = t = state.get("t", 0) + 1
        lr_t = self.lr * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g * g - v)
        p.data -= lr_t * m / (np.sqrt(v) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks W directly and is not
    rescaled by Adam's adaptive step:
        W <- W - lr * weight_decay * W
        then the Adam step above with the plain gradient g (no weight_decay * W added to it).
    Default weight_decay 0.01, as PyTorch's AdamW."""

    def __init__(self, params: Iterable[Tensor], lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7, weight_decay: float = 0.01) -> None:
        super().__init__(params, lr, beta1, beta2, eps, weight_decay)

    def gradient(self, p: Tensor) -> np.ndarray:
        return p.grad.data

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        p.data -= self.lr * self.weight_decay * p.data
        super().update(p, g, state)


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.__name__: cls for cls in
                                          (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW)}
"""The optimizers by name, for experiments that compare them: OPTIMIZERS["Adam"](params, lr=0.001)."""
