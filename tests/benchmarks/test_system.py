"""benchmarks.allocator: the allocator setting the benchmark pins for every contender (a process-wide choice, so it
lives outside the library: docs/speed.md). Checked by counting page faults, not by timing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.allocator import keep_freed_memory

ROOT = Path(__file__).resolve().parents[2]
FAULTS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from benchmarks.allocator import keep_freed_memory
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
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True, cwd=ROOT)
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


def test_the_library_leaves_the_allocator_alone():
    # a glibc mallopt through ctypes is a program's choice, not the library's: it is not in the package, and the
    # tour and the experiments do not call it
    assert importlib.util.find_spec("tinygrad6.system") is None
    package = ROOT / "tinygrad6"
    assert [str(p) for p in package.rglob("*.py") if "mallopt" in p.read_text() or "keep_freed" in p.read_text()] == []
