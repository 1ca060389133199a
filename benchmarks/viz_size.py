"""Big graphs in `tinygrad6.viz`: how long a long chain of `x = x * 0.5 + 1.0` takes to become DOT text (`draw`) and a
backward trace (`trace`), which must stay linear, and how long Graphviz's `dot` takes to lay out a chain as big as
`viz.MAX_OPS` (superlinear; the reason for that limit), and how long it takes on an unrolled loop with shared
weights, whose long arrows make it slow far below that size, drawn in full and with its long arrows cut
(`viz.MAX_LAYOUT`)."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np

from tinygrad6 import Tensor, viz
from tinygrad6.viz.dot import layout_cost


def chain(n_ops: int) -> Tensor:
    """x = x * 0.5 + 1.0 repeated until the graph has `n_ops` ops (two per repetition, and two constants)."""
    x = Tensor(np.ones(1), requires_grad=True)
    for _ in range(n_ops // 2):
        x = x * 0.5 + 1.0
    return x


def dot_text_and_trace(n_ops: int) -> tuple[float, float]:
    """Seconds to build the DOT text (values shown, no size limit) and the trace of an `n_ops` chain."""
    y = chain(n_ops)
    t0 = time.perf_counter()
    source = viz.draw(y, max_ops=None).source
    assert source.startswith("digraph")
    t1 = time.perf_counter()
    viz.trace(y, grad=np.ones(1), quiet=True)
    return t1 - t0, time.perf_counter() - t1


def dot_layout(n_ops: int) -> float | None:
    """Seconds `dot -Tsvg` takes on the drawing of an `n_ops` chain; None without Graphviz."""
    program = shutil.which("dot")
    if program is None:
        return None
    source = viz.draw(chain(n_ops), max_ops=None).source.encode("utf-8")
    t0 = time.perf_counter()
    subprocess.run([program, "-Tsvg"], input=source, capture_output=True, check=True, timeout=600)
    return time.perf_counter() - t0


def shared_weight_loop(n_ops: int) -> Tensor:
    """h = tanh(h @ W + x @ U), unrolled until the graph has `n_ops` ops (four per step): W, U and x read by every
    step, so their arrows span the whole drawing."""
    W, U = Tensor(np.full((3, 3), 0.1), requires_grad=True), Tensor(np.full((3, 3), 0.2), requires_grad=True)
    x, h = Tensor(np.ones((1, 3))), Tensor(np.zeros((1, 3)))
    for _ in range(n_ops // 4):
        h = (h @ W + x @ U).tanh()
    return h.sum()


def loop_layout(n_ops: int, max_layout: int | None, timeout: float = 120.0) -> tuple[int, float | None]:
    """(layout cost, seconds `dot -Tsvg` takes) for the drawing of an `n_ops` shared-weight loop with `max_layout`
    (None: every arrow drawn); seconds None without Graphviz, inf past `timeout`."""
    import re
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the note that long arrows were cut
        source = viz.draw(shared_weight_loop(n_ops), max_ops=None, max_layout=max_layout).source
    cost, _ = layout_cost(re.findall(r"^\s*(\w+) -> (\w+) \[", source, re.M))
    program = shutil.which("dot")
    if program is None:
        return cost, None
    t0 = time.perf_counter()
    try:
        subprocess.run([program, "-Tsvg"], input=source.encode("utf-8"), capture_output=True, check=True,
                       timeout=timeout)
    except subprocess.TimeoutExpired:
        return cost, float("inf")
    return cost, time.perf_counter() - t0
