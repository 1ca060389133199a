"""The package's random number generator, used by initializers, Dropout and `randn` unless one is passed in."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed tinygrad6's default generator (as `torch.manual_seed`); returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """`rng` itself when given (a Generator, or a seed for a new one), else tinygrad6's default generator."""
    if rng is None:
        return _generator
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
