"""The learners' scripts in examples/: `--help` describes each one completely and never runs it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "examples").glob("*.py")
                  if not p.name.startswith("_"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_help_prints_the_whole_description_and_every_default_without_running(script, tmp_path):
    result = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    last_line = doc.strip().splitlines()[-1].strip()
    assert last_line in result.stdout, "--help cuts the description short"
    options = [line for line in result.stdout.splitlines() if line.strip().startswith("--")]
    for line in options:
        assert "(default:" in line, f"option without help text or default: {line}"
    assert list(tmp_path.iterdir()) == [], "--help wrote files: it ran the script"
    assert "dL/dx" not in result.stdout and "wrote" not in result.stdout


@pytest.mark.parametrize("script, option", [("higher_order.py", "--order 0"), ("mlp_graph.py", "--seed -1"),
                                            ("batchnorm_graph.py", "--seed x")])
def test_bad_options_are_one_error_line(script, option, tmp_path):
    path = next(p for p in EXAMPLES if p.name == script)
    result = subprocess.run([sys.executable, str(path), *option.split()], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"error: argument {option.split()[0]}" in result.stderr
