"""The memory run: many training steps of the BatchNorm MLP; the resident set size must stop growing after the first
100 steps (a graph kept alive from step to step, or running statistics that keep their graph, would show here)."""

from __future__ import annotations

import os

from .common import initial_params, make_batches


def rss_bytes() -> int:
    """Current resident set size of this process (psutil when installed, else /proc/self/statm)."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return psutil.Process().memory_info().rss


def memory_run(make_model, steps: int, settle: int = 100) -> dict[str, float]:
    """Peak RSS over the first `settle` steps and over the rest; growth = the difference."""
    model = make_model(initial_params(), batchnorm=True)
    batches = make_batches()
    peak_settle = peak_rest = 0
    for i in range(steps):
        x, t = batches[i % len(batches)]
        model.step(x, t)
        rss = rss_bytes()
        if i < settle:
            peak_settle = max(peak_settle, rss)
        else:
            peak_rest = max(peak_rest, rss)
    return {"steps": steps, "peak_after_settle": peak_settle, "peak_end": peak_rest,
            "growth": peak_rest - peak_settle}
