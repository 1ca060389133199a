"""Hypothesis strategies for the op tests: shapes, axes, indices, and values inside each op's domain.

Shapes stay small (sides 1..4, up to 3 axes by default) so that central differences, one element at a time, stay
cheap. Values that must avoid a kink or a singularity are drawn away from it by a fixed gap, much larger than the
finite-difference step:

- `positive_arrays`: log, sqrt, the base of pow, in [0.5, 3]
- `nonzero_arrays`: denominators, abs and relu, |x| in [0.25, 3]
- `distinct_arrays`: max/min/maximum/minimum/clip, values on a shuffled grid of spacing 0.25 (no near-ties)

`central_difference` is an independent numerical gradient of a *numpy* function, so the tests compare the
engine against numpy without going through any of tinygrad6's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

GAP = 0.25  # distance kept from kinks, ties and singularities (the finite-difference step is 1e-6)


# -- shapes ------------------------------------------------------------------------------------------------------
def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes, including 0-d () and axes of size 1."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def broadcastable_shapes(draw, num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 4) -> tuple[tuple[int, ...], ...]:
    """`num_shapes` shapes that broadcast together (different ranks, axes of size 1)."""
    result = draw(hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                                    min_side=1, max_side=max_side))
    return result.input_shapes


@st.composite
def axes(draw, ndim: int) -> int | tuple[int, ...] | None:
    """An axis argument for a reduction over `ndim` axes: None, one int (maybe negative) or a tuple of ints."""
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)  # mix negative and positive axes


def permutations(ndim: int) -> st.SearchStrategy:
    """A permutation of range(ndim), for transpose."""
    return st.permutations(list(range(ndim))).map(tuple)


@st.composite
def reshape_targets(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape with the same number of elements, possibly with one -1."""
    size = int(np.prod(shape, dtype=np.int64))
    factors = [p for p in range(2, size + 1) for _ in range(_multiplicity(size, p)) if _is_prime(p)]
    factors = draw(st.permutations(factors))
    n_axes = draw(st.integers(0 if size == 1 else 1, max(1, len(factors))))
    target = [1] * n_axes
    for f in factors:
        target[draw(st.integers(0, n_axes - 1))] *= f
    if n_axes and draw(st.booleans()):
        target.insert(draw(st.integers(0, n_axes)), 1)  # a size-1 axis
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def _multiplicity(n: int, p: int) -> int:
    k = 0
    while n % p == 0:
        n //= p
        k += 1
    return k


# -- values ------------------------------------------------------------------------------------------------------
def arrays(shape: tuple[int, ...], low: float = -3.0, high: float = 3.0) -> st.SearchStrategy:
    """float64 arrays of `shape` with values in [low, high]."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return hnp.arrays(np.float64, shape, elements=elements)


def positive_arrays(shape: tuple[int, ...], low: float = 0.5, high: float = 3.0) -> st.SearchStrategy:
    """Values in the domain of log, sqrt and the base of pow."""
    return arrays(shape, low, high)


@st.composite
def nonzero_arrays(draw, shape: tuple[int, ...], gap: float = GAP, high: float = 3.0) -> np.ndarray:
    """Values with |x| >= gap: denominators, and abs and relu away from their kink at 0."""
    magnitude = draw(arrays(shape, gap, high))
    negative = draw(hnp.arrays(bool, shape))
    return np.where(negative, -magnitude, magnitude)


@st.composite
def distinct_arrays(draw, *shapes_: tuple[int, ...], spacing: float = GAP, offset: float = 0.0) -> list[np.ndarray]:
    """Arrays whose values (across all of them) are distinct points of a shuffled grid with `spacing`: no ties or
    near-ties, for max, min, maximum, minimum; `offset` shifts the grid (to keep values off clip's bounds)."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes_]
    seed = draw(st.integers(0, 2**32 - 1))
    grid = np.random.default_rng(seed).permutation(sum(sizes)) - sum(sizes) // 2  # integers around 0
    values = grid * spacing + offset
    out, start = [], 0
    for shape, size in zip(shapes_, sizes):
        out.append(values[start:start + size].reshape(shape).astype(np.float64))
        start += size
    return out


# -- indices -----------------------------------------------------------------------------------------------------
@st.composite
def basic_indices(draw, shape: tuple[int, ...]):
    """Ints, slices with steps (negative too), Ellipsis and None: numpy's basic indexing."""
    return draw(hnp.basic_indices(shape, min_dims=0, allow_ellipsis=True, allow_newaxis=True))


@st.composite
def integer_array_indices(draw, shape: tuple[int, ...]) -> tuple:
    """An integer array along a random axis, with repeats and negative indices, slices on the other axes."""
    axis = draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    index = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
    return (slice(None),) * axis + (np.array(index),)


@st.composite
def boolean_masks(draw, shape: tuple[int, ...]) -> np.ndarray:
    """A boolean mask over the whole shape, or over the leading axes."""
    ndim = draw(st.integers(1, len(shape)))
    return draw(hnp.arrays(bool, shape[:ndim]))


# -- an independent numerical gradient ---------------------------------------------------------------------------
def central_difference(f: Callable[..., np.ndarray], arrays_: Sequence[np.ndarray], v: np.ndarray,
                       eps: float = 1e-6) -> list[np.ndarray]:
    """d/dx_k sum(v * f(*arrays)) for every k by central differences on a numpy function f, in float64."""
    xs = [np.array(a, dtype=np.float64) for a in arrays_]
    grads = []
    for x in xs:
        g = np.zeros(x.shape)
        for i in np.ndindex(*x.shape):
            saved = x[i]
            x[i] = saved + eps
            up = np.sum(v * f(*xs))
            x[i] = saved - eps
            down = np.sum(v * f(*xs))
            x[i] = saved
            g[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


# -- kinks, ties and permutations that the strategies above keep away from ---------------------------------------
def non_involutions(ndim: int) -> st.SearchStrategy:
    """Permutations of range(ndim) (ndim >= 3) that differ from their own inverse, such as the 3-cycle (1, 2, 0): a
    transpose whose backward applied the permutation instead of its inverse would pass on every other one."""
    if ndim < 3:
        raise ValueError(f"non_involutions: every permutation of {ndim} axes is its own inverse; use ndim >= 3")
    return permutations(ndim).filter(lambda p: tuple(np.argsort(p).tolist()) != p)


def grid_arrays(shape: tuple[int, ...], points: Sequence[float]) -> st.SearchStrategy:
    """float64 arrays of `shape` whose values are drawn from `points` only: put values exactly on a kink (relu and
    abs at 0, clip's bounds) or make ties (maximum, max), which the strategies above avoid on purpose."""
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([float(p) for p in points]))
