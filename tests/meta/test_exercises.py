"""The exercises of docs/build-your-own.md and docs/exercises.md: their tests pass on the solutions, fail on the
untouched stubs (one failure per test, the reader's to-do list), and catch the tempting wrong answers; the bug
hunt's planted bug hides from the check its author would have run and is caught by gradcheck on a batch.

The exercise tests live in docs/exercises (outside `testpaths`, so a plain `pytest` does not collect them); they
run here in a subprocess, as a reader runs them."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "docs" / "exercises"
NAMES = ["sigmoid", "tanh", "accumulate", "topo", "softmax_loss", "momentum", "dropout"]
HUNT = "bughunt"  # its "stub" is an op with a planted bug: its tests fail by gradcheck, not NotImplementedError


def run_exercises(impl: Path) -> tuple[int, dict[str, int], str]:
    """Run `pytest docs/exercises --impl impl`: exit code, {"passed": n, "failed": m}, and the output."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(EXERCISES),
                           "--impl", str(impl)], cwd=REPO, capture_output=True, text=True, timeout=300)
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error)", proc.stdout)}
    return proc.returncode, counts, proc.stdout + proc.stderr


def count_tests(name: str = "*") -> int:
    """How many tests pytest collects from docs/exercises/test_NAME.py (a parametrized test counts once per case)."""
    total = 0
    for path in EXERCISES.glob(f"test_{name}.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                cases = [d for d in node.decorator_list if isinstance(d, ast.Call) and "parametrize" in ast.unparse(d)]
                total += len(cases[0].args[1].elts) if cases else 1
    return total


def test_solutions_pass():
    code, counts, out = run_exercises(EXERCISES / "solutions")
    assert code == 0, out
    assert counts == {"passed": count_tests()}, out


def test_stubs_fail_every_test():
    code, counts, out = run_exercises(EXERCISES)
    assert code == 1, out
    assert counts == {"failed": count_tests()}, out
    stubs = count_tests() - count_tests(HUNT)
    assert out.count("NotImplementedError") >= stubs, "each failure should point at a stub to fill in"
    assert "GradcheckError" in out and "6 of 9 elements differ" in out, "the hunt's op fails by its gradient"


def test_every_exercise_has_a_stub_a_solution_and_tests():
    for name in NAMES:
        assert "raise NotImplementedError" in (EXERCISES / f"{name}.py").read_text(), name
        assert "NotImplementedError" not in (EXERCISES / "solutions" / f"{name}.py").read_text(), name
        assert (EXERCISES / f"test_{name}.py").exists(), name
        assert re.search(r"Exercise \(about \d+ minutes", (EXERCISES / f"{name}.py").read_text()), f"{name}: time"
    assert (EXERCISES / f"test_{HUNT}.py").exists() and (EXERCISES / "solutions" / f"{HUNT}.py").exists()


def test_stubs_do_not_give_the_derivative_away():
    # the Op stubs ask for a derivative: its formula must not be in the stub (it is in the solution)
    for name, formula in [("sigmoid", "y * (1 - y)"), ("tanh", "1 - y")]:
        assert formula in (EXERCISES / "solutions" / f"{name}.py").read_text(), name
        assert formula not in (EXERCISES / f"{name}.py").read_text(), name


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


def test_rebinding_the_velocity_instead_of_updating_it_is_caught(tmp_path):
    # v = ... makes a new array each step: the state keeps zeros and Momentum forgets its velocity
    folder = wrong_answers(tmp_path, "momentum", "v[...] = self.momentum * v - self.lr * g",
                           "v = self.momentum * v - self.lr * g")
    code, counts, out = run_exercises(folder)
    assert code == 1 and counts.get("failed") == 2, out
    assert "test_three_steps_on_a_constant_gradient" in out, out


def test_reading_one_contribution_instead_of_the_complete_gradient_is_caught(tmp_path):
    folder = tmp_path / "wrong"
    shutil.copytree(EXERCISES / "solutions", folder)
    path = folder / "softmax_loss.py"
    path.write_text(path.read_text().split("def gradient_arriving_at")[0] + (
        "def gradient_arriving_at(loss, tensor):\n"
        "    for step in tinygrad6.backward_steps([loss], inputs=[tensor]):\n"
        "        for x, g in zip(step.inputs, step.grad_inputs):\n"
        "            if x is tensor:\n"
        "                return g.data\n"))
    code, counts, out = run_exercises(folder)
    assert code == 1 and counts.get("failed") == 1, out
    assert "test_a_tensor_with_two_consumers_gets_the_sum" in out, out


def load_op(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"hunt_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_the_planted_bug_passes_a_one_sample_check_and_gradcheck_catches_it_on_a_batch():
    from tinygrad6 import Tensor, gradcheck
    from tinygrad6.gradcheck import GradcheckError

    planted = load_op(EXERCISES / f"{HUNT}.py", "Softmax")
    fixed = load_op(EXERCISES / "solutions" / f"{HUNT}.py", "Softmax")
    rng = np.random.default_rng(0)
    one_sample, batch = rng.standard_normal(4), rng.standard_normal((3, 3))
    # the check its author ran (one sample) passes: the bug hides there
    assert gradcheck(lambda t: planted.apply(t), Tensor(one_sample, requires_grad=True))
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3, 3\)\) at index \(0, 1\).*6 of 9 elements"):
        gradcheck(lambda t: planted.apply(t), Tensor(batch, requires_grad=True))
    for x in (one_sample, batch, rng.standard_normal((4, 3))):
        assert gradcheck(lambda t: fixed.apply(t), Tensor(x, requires_grad=True))


def test_the_hunt_page_shows_the_op_of_the_exercise_file():
    # docs/exercises.md defines the planted op in a code block; it must be the exercise file's, character for character
    page = (REPO / "docs" / "exercises.md").read_text()
    block = re.search(r"```python\n(.*?class Softmax\(Op\):.*?)```", page, re.S)
    assert block, "docs/exercises.md no longer defines the planted Softmax op"
    source = (EXERCISES / f"{HUNT}.py").read_text()
    cls = source[source.index("class Softmax(Op):"):].rstrip()
    assert cls in block.group(1), "the op on docs/exercises.md differs from docs/exercises/bughunt.py"


# -- the pages: no answer on screen above the exercise that asks for it ------------------------------------------
def folded(text: str, position: int) -> bool:
    """True when `position` of a Markdown text lies inside a <details> element."""
    before = text[:position]
    return before.count("<details>") > before.count("</details>")


def test_every_your_turn_is_answered_in_a_fold_after_it():
    page = (REPO / "docs" / "build-your-own.md").read_text()
    turns = [m.start() for m in re.finditer(r"\*\*Your turn\*\* \(about \d+ minutes\)", page)]
    assert len(turns) >= 3, "build-your-own.md poses its steps as exercises"
    for turn in turns:
        answer = page.index("```python\n", turn)  # the first code after the exercise that runs: its answer
        assert folded(page, answer), f"the code after 'Your turn' at character {turn} is not folded"


def test_the_code_an_exercise_asks_for_is_not_on_the_page_above_it():
    page = (REPO / "docs" / "build-your-own.md").read_text()
    for asked, answer in [("x + x gave 1.0 where 2.0 is right", "x.grad = gx if x.grad is None else x.grad + gx"),
                          ("each function runs exactly once", "pending[id(x)] -= 1"),
                          ("Write `backward(y)`: it sets", "functions.append(x.creator)")]:
        exercise, first = page.find(asked), page.find(answer)
        assert exercise >= 0, f"build-your-own.md no longer asks {asked!r}; update this test"
        assert first > exercise and folded(page, first), f"{answer!r} is shown before, or unfolded after, {asked!r}"


def test_predict_prompts_fold_their_output():
    # build-your-own.md's prompts are marked "Predict, then run:"; the other pages' are the numbered items of their
    # Exercises section
    for name in ["build-your-own.md", "how-autograd-works.md", "debugging-backprop.md", "chapter6.md"]:
        page = (REPO / "docs" / name).read_text()
        section = page if name == "build-your-own.md" else page.split("\n## Exercises\n", 1)[1].split("\n## ", 1)[0]
        marker = r"Predict, then run:\*\*" if name == "build-your-own.md" else r"\*\*\d\. "
        prompts = [m.end() for m in re.finditer(marker, section)]
        assert len(prompts) >= 2, f"{name} has fewer than two predict-then-run prompts"
        for prompt in prompts:
            output = section.index("```text\n", prompt)
            assert folded(section, output), f"{name}: the output after a prompt at character {prompt} is not folded"


def test_the_readme_set_up_installs_what_the_exercises_run():
    """The exercise pages check every exercise with pytest; a reader who installed with the README's set-up
    (`pip install -e ".[examples]"`) must have it."""
    examples = re.search(r"^examples = \[(.*)\]$", (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert '".[examples]"' in (REPO / "README.md").read_text()
    assert re.search(r'"pytest[>=<~ ]', examples), examples  # (tomllib would need Python 3.11)
    for page in ("exercises.md", "build-your-own.md"):
        assert "pytest docs/exercises" in (REPO / "docs" / page).read_text()
