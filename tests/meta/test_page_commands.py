"""What the pages tell a reader to type works where they say to type it: the pdb command of
docs/debugging-backprop.md from the folder the page names, and the number of frames its hook tip says to go up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from tinygrad6 import Tensor, nn

REPO = Path(__file__).resolve().parents[2]
DEBUGGING = REPO / "docs" / "debugging-backprop.md"


def paragraphs_with(text: str, needle: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if needle in p and not p.startswith("```")]


def test_the_pdb_command_runs_from_the_folder_the_page_names():
    command = "python -m pdb examples/debug_batchnorm.py"
    found = paragraphs_with(DEBUGGING.read_text(encoding="utf-8"), f"`{command}`")
    assert found, f"debugging-backprop.md no longer shows `{command}`: update this test"
    for paragraph in found:
        assert "from the repository's root" in paragraph, f"the page does not say where to type it: {paragraph}"
    # PYTHONPATH stands in for the README's `pip install -e .` (pdb puts examples/, not the current folder, first
    # on sys.path, so the repository is found only as an installed package would be)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONBREAKPOINT": "0"}
    run = subprocess.run([sys.executable, *command.split()[1:]], input="c\nq\n", cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0 and "dL/dx =" in run.stdout, run.stdout + run.stderr
    assert "does not exist" not in run.stdout, run.stdout


def test_the_hook_tip_says_how_many_frames_up_the_backward_loop_is():
    """The page: "pdb opens right there, with the backward loop N frames up (`up N`...": from the hook's frame, N
    frames up is `backward_steps`, with `op` and `index` to print."""
    text = " ".join(DEBUGGING.read_text(encoding="utf-8").split())
    tip = re.search(r"with the backward loop (\w+) frames? up \(`up( \d+)?`", text)
    assert tip, "the register_hook section no longer says how far up the backward loop is: update this test"
    up = int(tip.group(2) or 1)
    seen = []

    def hook(g):
        frame = sys._getframe(up)
        seen.append((frame.f_code.co_name, "op" in frame.f_locals and "index" in frame.f_locals))

    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(4, 3)), requires_grad=True, name="x")
    x.register_hook(hook)
    (nn.BatchNorm1d(3)(x) * Tensor(rng.normal(size=(4, 3)))).sum().backward()
    assert seen == [("backward_steps", True)], f"`up {up}` from the hook lands in {seen}"
