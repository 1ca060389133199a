"""`import tinygrad6` needs numpy only: graphviz and matplotlib are imported by `tinygrad6.viz` and the
experiments when they are used."""

from __future__ import annotations

import subprocess
import sys

BLOCK = "import sys; sys.modules['graphviz'] = None; sys.modules['matplotlib'] = None\n"  # import X -> ImportError


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_engine_works_without_graphviz_and_matplotlib():
    result = _run("import tinygrad6\n"
                  "from tinygrad6 import Tensor, nn, optim\n"
                  "x = Tensor([1.0, 2.0], requires_grad=True)\n"
                  "(x * x).sum().backward()\n"
                  "print(x.grad.data.tolist(), 'tinygrad6.viz' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[2.0,", "4.0]", "False"]


def test_viz_is_one_attribute_away():
    result = subprocess.run([sys.executable, "-c", "import tinygrad6; print(tinygrad6.viz.draw.__name__)"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "draw"
