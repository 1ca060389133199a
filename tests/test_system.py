"""tinygrad6.system: the opt-in allocator setting. Checked by counting page faults, not by timing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tinygrad6.system import keep_freed_memory

FAULTS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from tinygrad6.system import keep_freed_memory
        assert keep_freed_memory()
    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    def step():  # like a training step: many activations made, then all freed at once
        arrays = [np.ones(50_000) for _ in range(40)]  # 40 x 400 KB
        return sum(a[-1] for a in arrays)
    for _ in range(3):  # warm up: the heap grows to its peak once
        step()
    before = faults()
    for _ in range(20):
        step()
    print((faults() - before) / 20)
""")


def faults_per_cycle(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True)
    return float(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_memory_is_reused_without_page_faults():
    # by default glibc hands the 16 MB back once they are all free, and takes 4,000 page faults to get them again
    assert faults_per_cycle("default") > 1000
    assert faults_per_cycle("keep") < 50


def test_returns_a_bool_and_can_be_called_twice():
    first, second = keep_freed_memory(), keep_freed_memory()
    assert isinstance(first, bool) and first == second
    if sys.platform.startswith("linux"):
        assert first  # glibc here
