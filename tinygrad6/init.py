"""Weight initializers (chapter 6.2): each returns a plain numpy array of the given shape.

    W = Parameter(init.he((784, 100), rng=0))

The book's weights have shape (in, out) (`x @ W`), so the fan-in n_in is `shape[0]`:

    normal(shape, std)        N(0, std**2)                    the book's `weight_init_std * randn(...)`
    xavier(shape)             N(0, 1/n_in)                    std sqrt(1/n_in), for sigmoid and tanh
    he(shape)                 N(0, 2/n_in)                    std sqrt(2/n_in), for ReLU
    uniform(shape, std)       U(-a, a) with a = std*sqrt(3)   the same std as normal(shape, std)
    xavier_uniform, he_uniform                                uniform with the std of xavier / he
    zeros(shape)              all zero (biases; as weights it fails: every unit learns the same thing)

Every function takes `rng`: a `numpy.random.Generator`, an int seed, or None for tinygrad6's default generator
(seeded with `tinygrad6.manual_seed`).

Differences from PyTorch: its `xavier_normal_` uses std sqrt(2/(fan_in + fan_out)) (Glorot & Bengio) where the
book uses sqrt(1/n_in); its weights are stored (out, in), so its fan-in is `shape[1]`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .random import default_rng

Shape = int | Sequence[int]
Rng = np.random.Generator | int | None

ACTIVATION_INIT = {"relu": "he", "sigmoid": "xavier", "tanh": "xavier"}


def normal(shape: Shape, std: float = 0.01, rng: Rng = None, dtype=np.float64) -> np.ndarray:
    """Samples of N(0, std**2)."""
    return (std * default_rng(rng).standard_normal(shape)).astype(dtype, copy=False)


def uniform(shape: Shape, std: float = 0.01, rng: Rng = None, dtype=np.float64) -> np.ndarray:
    """Samples of U(-a, a) with a = std * sqrt(3), whose standard deviation is `std`."""
    a = std * math.sqrt(3.0)
    return default_rng(rng).uniform(-a, a, shape).astype(dtype, copy=False)


def xavier(shape: Shape, rng: Rng = None, dtype=np.float64) -> np.ndarray:
    """N(0, 1/n_in): std sqrt(1/n_in), the book's "Xavier" initial value for sigmoid and tanh."""
    return normal(shape, xavier_std(_fan_in(shape)), rng, dtype)


def he(shape: Shape, rng: Rng = None, dtype=np.float64) -> np.ndarray:
    """N(0, 2/n_in): std sqrt(2/n_in), the "He" initial value for ReLU."""
    return normal(shape, he_std(_fan_in(shape)), rng, dtype)


def xavier_uniform(shape: Shape, rng: Rng = None, dtype=np.float64) -> np.ndarray:
    """Uniform with std sqrt(1/n_in): U(-sqrt(3/n_in), sqrt(3/n_in))."""
    return uniform(shape, xavier_std(_fan_in(shape)), rng, dtype)


def he_uniform(shape: Shape, rng: Rng = None, dtype=np.float64) -> np.ndarray:
    """Uniform with std sqrt(2/n_in): U(-sqrt(6/n_in), sqrt(6/n_in))."""
    return uniform(shape, he_std(_fan_in(shape)), rng, dtype)


def zeros(shape: Shape, dtype=np.float64) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def xavier_std(n_in: int) -> float:
    return math.sqrt(1.0 / n_in)


def he_std(n_in: int) -> float:
    return math.sqrt(2.0 / n_in)


def resolve(weight_init: str | float, activation: str = "relu") -> str | float:
    """The concrete choice behind a `weight_init` argument: "he", "xavier", or a number (a std).

    "auto" picks He for ReLU and Xavier for sigmoid/tanh. As in the book's MultiLayerNet, "relu" means "he"
    and "sigmoid" means "xavier"."""
    if isinstance(weight_init, (int, float)) and not isinstance(weight_init, bool):
        if weight_init < 0:
            raise ValueError(f"weight_init: a std must be >= 0, got {weight_init}")
        return float(weight_init)
    choice = str(weight_init).lower()
    if choice == "auto":
        if activation not in ACTIVATION_INIT:
            raise ValueError(f"weight_init='auto': unknown activation {activation!r}; "
                             f"expected one of {sorted(ACTIVATION_INIT)}")
        return ACTIVATION_INIT[activation]
    aliases = {"he": "he", "relu": "he", "kaiming": "he", "xavier": "xavier", "sigmoid": "xavier",
               "tanh": "xavier", "glorot": "xavier"}
    if choice not in aliases:
        raise ValueError(f"weight_init: expected 'auto', 'he'/'relu', 'xavier'/'sigmoid' or a number (a std); "
                         f"got {weight_init!r}")
    return aliases[choice]


def std_of(weight_init: str | float, n_in: int, activation: str = "relu") -> float:
    """The standard deviation a `weight_init` argument gives a layer with n_in inputs."""
    choice = resolve(weight_init, activation)
    if choice == "he":
        return he_std(n_in)
    if choice == "xavier":
        return xavier_std(n_in)
    return choice


def _fan_in(shape: Shape) -> int:
    dims = np.atleast_1d(shape)  # an int n is the shape (n,)
    if dims.size == 0 or dims[0] == 0:
        raise ValueError(f"init: cannot take the fan-in (shape[0]) of shape {tuple(dims.tolist())}")
    return int(dims[0])
