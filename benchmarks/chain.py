"""Graph overhead: a long chain of tiny ops, `x = x * 0.5 + 1.0`, forward then backward.

- per-op overhead: 1,000 repetitions on a one-element array, as a multiple of the same chain written with bare
  numpy calls and a hand-written backward (the cost of the numpy calls themselves is the floor);
- the deep chain: 1e3 to 1e5 graph nodes, time per node (must stay flat: no quadratic walk, no recursion),
  memory per node while the graph is alive (tracemalloc), and how much of it comes back after `del loss` with the
  garbage collector disabled (the graph must die by reference counting alone).
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
import weakref

import numpy as np

from tinygrad6 import Tensor


def start() -> np.ndarray:
    """The chain's input: a one-element float64 array (shape (1,), so numpy stays on arrays, never scalars)."""
    return np.ones(1)


def numpy_chain(n: int):
    """The floor: n repetitions of x * 0.5 + 1.0 with bare numpy calls, then the backward by hand
    (d(x * 0.5 + 1.0)/dx = 0.5, so the gradient is multiplied by 0.5 once per repetition)."""
    half, one = np.array([0.5]), np.array([1.0])

    def run() -> np.ndarray:
        x = start()
        for _ in range(n):
            x = x * half + one
        g = np.ones_like(x)
        for _ in range(n):
            g = g * half
        return g

    return run


def engine_chain(n: int):
    """The same chain with tinygrad6 tensors and loss.backward()."""

    def run() -> np.ndarray:
        x0 = Tensor(start(), requires_grad=True)
        x = x0
        for _ in range(n):
            x = x * 0.5 + 1.0
        x.backward(np.ones(1))
        return x0.grad.data

    return run


def engine_chain_grad(n: int) -> float:
    """d/dx0 of the chain (0.5**n), from tinygrad6; the correctness check of the chain."""
    return float(engine_chain(n)()[0])


def chain_times(sizes: tuple[int, ...], rounds: int) -> dict[int, tuple[float, float]]:
    """Forward and backward seconds per node for chains of each size in `sizes` (nodes), measured interleaved:
    each round runs every size in turn, each for about the same total number of nodes (so a chain of 1e3 nodes
    runs 100 times where one of 1e5 runs once), and the medians over the rounds are returned."""
    total = max(sizes)
    samples: dict[int, list[tuple[float, float]]] = {n: [] for n in sizes}
    clock = time.perf_counter
    for r in range(rounds):
        for n in sizes if r % 2 == 0 else reversed(sizes):
            reps, forward, backward = n // 2, 0.0, 0.0  # each repetition adds two nodes, mul and add
            for _ in range(max(1, total // n)):
                t0 = clock()
                x0 = Tensor(start(), requires_grad=True)
                x = x0
                for _ in range(reps):
                    x = x * 0.5 + 1.0
                t1 = clock()
                x.backward(np.ones(1))
                t2 = clock()
                del x, x0
                forward += t1 - t0
                backward += t2 - t1
            runs = max(1, total // n)
            samples[n].append((forward / (runs * n), backward / (runs * n)))
    return {n: (statistics.median(f for f, _ in v), statistics.median(b for _, b in v)) for n, v in samples.items()}


def chain_memory(n_nodes: int) -> dict[str, float]:
    """Memory per node while a chain of `n_nodes` is alive (tracemalloc), the fraction of it returned after
    `del loss` with gc disabled (1.0 = all of it), whether the graph died by reference counting alone, and whether
    its gradient was right."""
    reps = n_nodes // 2
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        x0 = Tensor(start(), requires_grad=True)
        before = tracemalloc.get_traced_memory()[0]
        x = x0
        first = x0 * 0.5
        probe = weakref.ref(first)  # the first node's output: alive only as long as the graph is
        x = first + 1.0
        del first
        for _ in range(reps - 1):
            x = x * 0.5 + 1.0
        loss = x
        del x
        alive = tracemalloc.get_traced_memory()[0]
        loss.backward(np.ones(1))
        grad_ok = float(x0.grad.data[0]) == 0.5**reps  # exact: a power of two (0.0 once it underflows)
        x0.grad = None
        del loss
        freed_by_refcount = probe() is None
        # a manual collection empties the interpreter's free lists (it keeps up to 2,000 freed tuples of each small
        # size for reuse, which tracemalloc still counts) and must find no cyclic garbage: the graph has to have
        # died by reference counting alone
        freed_by_refcount = gc.collect() == 0 and freed_by_refcount
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        gc.enable()
    graph = alive - before
    return {
        "nodes": reps * 2,
        "bytes_per_node": graph / (reps * 2),
        "returned": (alive - after) / graph,
        "freed_by_refcount": freed_by_refcount,
        "grad_ok": grad_ok,
    }
