"""The exercises of docs/build-your-own.md: their tests pass on the solutions, fail on the untouched stubs (one
failure per test, the reader's to-do list), and catch the tempting wrong answers the page warns about.

The exercise tests live in docs/exercises (outside `testpaths`, so a plain `pytest` does not collect them); they
run here in a subprocess, as a reader runs them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "docs" / "exercises"
NAMES = ["sigmoid", "tanh", "accumulate", "topo"]


def run_exercises(impl: Path) -> tuple[int, dict[str, int], str]:
    """Run `pytest docs/exercises --impl impl`: exit code, {"passed": n, "failed": m}, and the output."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(EXERCISES),
                           "--impl", str(impl)], cwd=REPO, capture_output=True, text=True, timeout=300)
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error)", proc.stdout)}
    return proc.returncode, counts, proc.stdout + proc.stderr


def count_tests() -> int:
    return sum(len(re.findall(r"^def test_", p.read_text(), re.M)) for p in EXERCISES.glob("test_*.py"))


def test_solutions_pass():
    code, counts, out = run_exercises(EXERCISES / "solutions")
    assert code == 0, out
    assert counts == {"passed": count_tests()}, out


def test_stubs_fail_every_test():
    code, counts, out = run_exercises(EXERCISES)
    assert code == 1, out
    assert counts == {"failed": count_tests()}, out
    assert out.count("NotImplementedError") >= count_tests(), "each failure should point at a stub to fill in"


def test_every_exercise_has_a_stub_a_solution_and_tests():
    for name in NAMES:
        assert "raise NotImplementedError" in (EXERCISES / f"{name}.py").read_text(), name
        assert "NotImplementedError" not in (EXERCISES / "solutions" / f"{name}.py").read_text(), name
        assert (EXERCISES / f"test_{name}.py").exists(), name


def wrong_answers(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """The solutions, with one line of one file replaced by a plausible mistake."""
    folder = tmp_path / "wrong"
    shutil.copytree(EXERCISES / "solutions", folder)
    path = folder / f"{name}.py"
    text = path.read_text()
    assert old in text, f"{name}.py no longer contains {old!r}; update this test"
    path.write_text(text.replace(old, new))
    return folder


def test_overwriting_instead_of_adding_is_caught(tmp_path):
    folder = wrong_answers(tmp_path, "accumulate", "x.grad = gx if x.grad is None else x.grad + gx", "x.grad = gx")
    code, counts, out = run_exercises(folder)
    assert code == 1 and counts.get("failed", 0) >= 2, out


def test_tanh_backward_on_arrays_is_caught_by_the_second_derivative(tmp_path):
    # right first derivative, but the backward pass is not recorded: the second derivative comes out 0
    folder = wrong_answers(tmp_path, "tanh", "return gy * (1 - y * y)", "return gy * (1 - y.data * y.data)")
    code, counts, out = run_exercises(folder)
    assert code == 1 and counts.get("failed") == 2, out
    assert "test_second_derivative_matches_formula" in out and "test_gradgradcheck" in out, out


def test_recursive_order_is_caught_by_the_long_chain(tmp_path):
    folder = tmp_path / "wrong"
    shutil.copytree(EXERCISES / "solutions", folder)
    (folder / "topo.py").write_text(
        "def topological_order(y):\n"
        "    order, seen = [], set()\n\n"
        "    def visit(f):\n"
        "        if f is None or id(f) in seen:\n"
        "            return\n"
        "        seen.add(id(f))\n"
        "        for x in f.inputs:\n"
        "            visit(x.creator)\n"
        "        order.append(f)\n\n"
        "    visit(y.creator)\n"
        "    return order[::-1]\n")
    code, counts, out = run_exercises(folder)
    assert code == 1 and counts.get("failed") == 1, out
    assert "test_long_chain_needs_no_recursion" in out and "RecursionError" in out, out
