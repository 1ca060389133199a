"""What every scenario shares: the network's sizes, the initial weights, the data, and the interleaved timer."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .allocator import keep_freed_memory

SIZES = (784, 100, 100, 100, 100, 100, 10)  # the chapter's 784-100x5-10 network
BATCH = 100
LR = 0.1
BN_EPS = 1e-5
BN_MOMENTUM = 0.9  # the book's convention: running = momentum * running + (1 - momentum) * batch statistic
DROPOUT_P = 0.2
N_BATCHES = 8  # steps cycle through this many fixed batches


def pin_allocator() -> str:
    """Keep glibc's malloc from handing freed memory back to the system, for every contender alike (see
    `benchmarks.allocator.keep_freed_memory`). Otherwise a step pays a page fault per 4 KB of its arrays (about 0.5 ms
    per MLP step here) or not, depending on how much the contender that ran before it freed; with the allocator
    pinned, the ratios measure the arithmetic and the graph, as pinning BLAS to one thread does for threads.
    Returns a line for the report's header."""
    if keep_freed_memory():
        return "glibc malloc pinned (keeps freed memory), so no contender pays page faults the others do not"
    return "malloc not pinned (not glibc): the ratios may include page faults"


def initial_params(seed: int = 0) -> dict[str, np.ndarray]:
    """He-initialized float64 weights W1..W6 (in, out), zero biases b1..b6, BatchNorm gamma1..5 = 1, beta1..5 = 0.
    Every contender starts from a copy of these, so their losses can be compared step by step."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        params[f"W{i}"] = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        params[f"b{i}"] = np.zeros(n_out)
        if i < len(SIZES) - 1:
            params[f"gamma{i}"] = np.ones(n_out)
            params[f"beta{i}"] = np.zeros(n_out)
    return params


def make_batches(seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """N_BATCHES fixed (x, t) batches shaped like MNIST: x in [0, 1) of shape (100, 784), t integer labels."""
    rng = np.random.default_rng(seed)
    return [(rng.random((BATCH, SIZES[0])), rng.integers(0, SIZES[-1], BATCH)) for _ in range(N_BATCHES)]


@dataclass
class Settings:
    """How much to repeat: `rounds` interleaved rounds of `block` calls each, after `warmup` calls."""

    rounds: int
    block: int
    warmup: int


def interleaved(contenders: dict[str, Callable[[], object]], settings: Settings) -> dict[str, float]:
    """Median seconds per call of each contender, timed in turns (A B C, C B A, A B C...): each round runs every
    contender for `block` calls, and the order alternates so that neither drift nor position favours anyone. One
    untimed call before each block puts the contender's own arrays back in the cache, so no contender is timed
    on what the one before it left there (the floor, last, would otherwise run twice in a row every other round)."""
    names = list(contenders)
    for name in names:
        for _ in range(settings.warmup):
            contenders[name]()
    gc.collect()
    samples: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for r in range(settings.rounds):
        for name in names if r % 2 == 0 else reversed(names):
            fn = contenders[name]
            fn()
            t0 = clock()
            for _ in range(settings.block):
                fn()
            samples[name].append((clock() - t0) / settings.block)
    return {name: statistics.median(v) for name, v in samples.items()}


def fmt_time(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"
