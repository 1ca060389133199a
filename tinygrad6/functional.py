"""Functions built from the primitive ops (so their backward passes come from the graph): softmax,
log_softmax, cross_entropy, mse_loss, linear, and the activations. The functions made of several ops open a
scope named after themselves, so a drawn graph groups their ops.

    import tinygrad6.functional as F
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import numpy as np

from .engine import modes
from .engine.modes import scope
from .engine.op import Op
from .engine.tensor import ArrayLike, Tensor, as_tensor
from .random import default_rng
from .support import locations
from .support.errors import ShapeError


def named_by_caller(fn: Callable) -> Callable:
    """Under record_source(), `a1 = F.linear(x, W, b)` in the user's code names the result a1 (the names the
    functions give, such as "out" or "loss", are defaults)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        if modes._record_source.get():
            locations.name_from_caller(result, sys._getframe(1), args)
        return result

    return wrapper


@named_by_caller
def relu(x: Tensor) -> Tensor:
    return x.relu()


@named_by_caller
def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


@named_by_caller
def tanh(x: Tensor) -> Tensor:
    return x.tanh()


@named_by_caller
def linear(x: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    """y = x @ W + b, with W of shape (in, out) as in the book's Affine layer.
    (PyTorch's `F.linear` stores the weight as (out, in) and computes x @ W.T + b.)"""
    out = x @ W
    return (out if b is None else out + b).named("out")


@named_by_caller
@scope("log_softmax")
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log softmax(x) = (x - m) - log(sum(exp(x - m))), with m = max(x) along axis.
    Subtracting m keeps exp from overflowing; m is held constant, as it changes neither the value nor the gradient."""
    shifted = (x - _max_constant(x, axis)).named("shifted")
    log_sum_exp = shifted.exp().sum(axis=axis, keepdims=True).log().named("log_sum_exp")
    return (shifted - log_sum_exp).named("log_y")


@named_by_caller
@scope("softmax")
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(x) = exp(x - m) / sum(exp(x - m)), with m = max(x) along axis (for stability); the intermediates
    carry the book's names (exp_a, sum_exp_a, y)."""
    exp_a = (x - _max_constant(x, axis)).exp().named("exp_a")
    sum_exp_a = exp_a.sum(axis=axis, keepdims=True).named("sum_exp_a")
    return (exp_a / sum_exp_a).named("y")


def _max_constant(x: Tensor, axis: int) -> Tensor:
    """max(x) along axis, taken without grad (a constant for the gradient, an op of the traced graph), named so a
    drawing says what it is."""
    with modes.no_grad():
        return x.max(axis=axis, keepdims=True).named("c (max, constant)")


@named_by_caller
@scope("cross_entropy")
def cross_entropy(logits: Tensor, targets: ArrayLike) -> Tensor:
    """Mean over the batch of -log softmax(logits)[target].

    logits: (N, C) scores before softmax (the book's SoftmaxWithLoss takes the same).
    targets: N integer class labels, or (N, C) one-hot (or any probability) rows.
    The labels pick their log-probabilities through a one-hot mask made by a recorded comparison
    (labels == 0..C-1), so the labels stay an input of the graph (a compiled step replays it on new labels)."""
    logits, targets = as_tensor(logits), as_tensor(targets)
    t = targets._data
    logp = log_softmax(logits, axis=-1)
    n = logits.shape[0]
    if t.ndim == logits.ndim:
        if t.shape != logits.shape:
            raise ShapeError(f"cross_entropy: one-hot targets of shape {t.shape} do not match logits of shape "
                             f"{logits.shape}")
        return (-(logp * targets.astype(logits.dtype)).sum() / n).named("loss")
    if t.shape != (n,) or t.dtype.kind not in "iu":
        raise ShapeError(f"cross_entropy: targets must be {n} integer labels (shape ({n},)) or one-hot rows of the "
                         f"logits' shape {logits.shape}; got shape {t.shape} dtype {t.dtype}")
    if t.size and (t.min() < 0 or t.max() >= logits.shape[-1]):
        raise ValueError(f"cross_entropy: labels must lie in 0..{logits.shape[-1] - 1}; got {t.min()}..{t.max()}")
    classes = Tensor(np.arange(logits.shape[-1]), name="classes")
    classes._constant = True  # made from a shape only: a compiled step may keep it
    one_hot = (targets.reshape(n, 1) == classes).named("one_hot")
    return (-logp.where(one_hot, 0.0).sum() / n).named("loss")


@named_by_caller
@scope("mse_loss")
def mse_loss(y: Tensor, t: ArrayLike) -> Tensor:
    """mean((y - t)**2), PyTorch's convention. The book's mean_squared_error is 0.5 * sum((y - t)**2)
    (per sample), which is `0.5 * ((y - t)**2).sum()` here.

    t is a scalar or has y's shape: (4, 1) against (4,) would broadcast to (4, 4) and give a wrong loss, so it
    raises ShapeError (PyTorch only warns)."""
    t_shape = t.shape if isinstance(t, Tensor) else np.shape(t)
    if t_shape != () and tuple(t_shape) != y.shape:
        raise ShapeError(f"mse_loss: prediction y of shape {y.shape} and target t of shape {tuple(t_shape)} differ; "
                         f"reshape one of them (e.g. t.reshape(y.shape)) so they match")
    diff = (y - t).named("diff")
    return (diff * diff).mean().named("loss")


def check_dropout_p(p: float) -> float:
    """p, the probability of dropping a unit, if it lies in [0, 1); else ValueError (the one check of p)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    return p


class DropoutMask(Op):
    """m = a fresh dropout mask (see `dropout_mask`) drawn from the generator `rng`. No inputs and no gradient: a
    random op, recorded while tracing, so a compiled step draws a new mask from the same generator on every replay."""

    name = "dropout_mask"

    def __init__(self, shape, p, rng, dtype, inverted):
        self.shape, self.p, self.rng, self.dtype, self.inverted = shape, p, rng, dtype, inverted

    def forward(self):
        return dropout_mask(self.shape, self.p, self.rng, self.dtype, self.inverted)

    def backward(self, gy):
        return ()


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype=np.float64,
                 inverted: bool = True) -> np.ndarray:
    """A dropout mask: each unit kept with probability 1-p. inverted=True: 1/(1-p) where kept, 0 where dropped;
    inverted=False (the book's): 1 where kept, 0 where dropped. Both forms draw the same units from the same rng."""
    check_dropout_p(p)
    keep = rng.random(shape) >= p
    return keep.astype(dtype) * np.asarray(1 / (1 - p) if inverted else 1, dtype=dtype)


@named_by_caller
def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None,
            inverted: bool = True) -> Tensor:
    """Dropout, each unit zeroed with probability p while training (m: 1 where kept, 0 where dropped):

        inverted=True (default, PyTorch's):  training  y = x * m / (1-p);   otherwise  y = x
        inverted=False (the book's):         training  y = x * m;           otherwise  y = x * (1-p)

    Both keep the expected output of training equal to the output at test time (see `nn.Dropout` on how differently
    they train under plain SGD)."""
    if check_dropout_p(p) == 0:
        return x
    if not training:
        return x if inverted else (x * (1 - p)).named("out")
    return (x * DropoutMask.apply(shape=x.shape, p=p, rng=default_rng(rng), dtype=x.dtype, inverted=inverted)
            ).named("out")
