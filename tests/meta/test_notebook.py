"""examples/autograd_walkthrough.ipynb runs from top to bottom in a fresh kernel and shows what its text says."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "autograd_walkthrough.ipynb"

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra")
pytestmark = pytest.mark.skipif(not shutil.which("dot"), reason="the notebook draws graphs with Graphviz's `dot`")


def _outputs(cell) -> str:
    """Everything a code cell showed: printed text and each display's HTML, SVG or plain text."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        for kind in ("text/html", "image/svg+xml", "text/plain"):
            parts.append(out.get("data", {}).get(kind, ""))
    return "\n".join(parts)


def test_the_walkthrough_notebook_runs_and_shows_its_results(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    # the kernel imports this checkout's tinygrad6, as the tests do (not whatever copy is installed)
    path = os.pathsep.join(p for p in (str(NOTEBOOK.parents[1]), os.environ.get("PYTHONPATH")) if p)
    client.execute(env={**os.environ, "PYTHONPATH": path})  # raises CellExecutionError if any cell fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = [_outputs(c) for c in code]
    # the book's figure 5-16
    assert "d total / d apple = 2.2, d total / d num = 110.0, d total / d tax = 200.0" in shown[1]
    assert "<svg" in shown[2] and ">price<" in shown[2]  # the assignment named the tensor
    # x waits for both consumers: final only at the last step, with dy/dx = 2x + 1 = 7
    steps = [line for line in shown[3].splitlines() if line.startswith("step ")]
    assert [("final now: ['x']" in line) for line in steps] == [False, True] and "dy/dx = 7.0" in shown[3]
    # Batch Normalization's graph carries the book's names; the stepper is an inline, sandboxed page
    for name in ("mu", "xc", "var", "std", "xn"):
        assert f">{name}<" in shown[4], name
    assert "<iframe" in shown[5] and 'sandbox="allow-scripts"' in shown[5]
    # "your line" names the cell as Jupyter numbers it ([N] beside the cell), not ipykernel's temporary file
    cell = code[4].execution_count
    assert f"your line: &lt;cell {cell}&gt;:6" in shown[4]  # the graph's tooltips (SVG-escaped)
    assert f'\\u003ccell {cell}\\u003e:6' in shown[5]  # the stepper's data (JSON inside the iframe)
    assert "ipykernel_" not in "".join(shown), "a location still shows ipykernel's temporary file name"
    assert "dL/dgamma" in shown[6]
