"""`MLP`, the book's MultiLayerNet / MultiLayerNetExtend in one class, and `l2_penalty` (weight decay as a loss
term)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import init
from ..engine.tensor import Tensor
from ..random import default_rng
from .layers import BatchNorm1d, Dropout, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module

ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class MLP(Sequential):
    """A fully connected network; per hidden layer Linear -> [BatchNorm1d] -> activation -> [Dropout], then a
    final Linear producing the scores (feed them to `F.cross_entropy`, the book's SoftmaxWithLoss).

    activation: "relu", "sigmoid" or "tanh".
    weight_init: "auto" (He for relu, Xavier for sigmoid/tanh), "he"/"relu" (std sqrt(2/n_in)),
        "xavier"/"sigmoid" (std sqrt(1/n_in)), or a number (that std for every layer, like the book's
        weight_init_std=0.01). Each layer's n_in is its own input size; biases start at zero.
    batchnorm: insert BatchNorm1d after each hidden Linear (MultiLayerNetExtend's use_batchnorm).
    dropout: the drop probability of a Dropout after each hidden activation (0 = none).
    dropout_inverted: the Dropout form (see `nn.Dropout`): True for PyTorch's inverted Dropout, False for the book's.
    rng: generator or seed for the weights and the dropout masks (None: tinygrad6's default generator).

    Layers are numbered in order, so MLP(2, [8], 3, batchnorm=True) has parameters 0.W, 0.b, 1.gamma, 1.beta,
    3.W, 3.b; `model.linears` lists its Linear layers.
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int, activation: str = "relu",
                 weight_init: str | float = "auto", batchnorm: bool = False, dropout: float = 0.0,
                 dropout_inverted: bool = True, rng: np.random.Generator | int | None = None,
                 dtype=np.float64) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        rng = default_rng(rng) if rng is not None else None
        choice = init.resolve(weight_init, activation)
        sizes = [input_size, *hidden_sizes, output_size]
        layers: list[Module] = []
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
            layers.append(Linear(n_in, n_out, weight_init=choice, rng=rng, dtype=dtype))
            if batchnorm:
                layers.append(BatchNorm1d(n_out, dtype=dtype))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout, rng=rng, inverted=dropout_inverted))
        layers.append(Linear(sizes[-2], sizes[-1], weight_init=choice, rng=rng, dtype=dtype))
        super().__init__(*layers)
        self.activation, self.weight_init, self.batchnorm, self.dropout = activation, weight_init, batchnorm, dropout

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, weight_init={self.weight_init!r}"


def l2_penalty(model: Module, lam: float) -> Tensor:
    """The book's weight-decay term 0.5 * lam * sum(W**2), summed over the weights W of every Linear layer
    (not biases, not BatchNorm's gamma and beta). Add it to the loss; its gradient is lam * W."""
    terms = [(m.W * m.W).sum() for m in model.modules() if isinstance(m, Linear)]
    if not terms:
        return Tensor(0.0)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return 0.5 * lam * total
