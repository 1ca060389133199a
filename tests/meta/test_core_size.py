"""The core stays readable in one sitting (issue 14): its size, the backward loop's length and each op class's length
are measured here, and the README's numbers are checked against the measurement."""

import ast
import inspect
import re
from pathlib import Path

import tinygrad6.engine.ops
from tinygrad6.engine import autograd

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "tinygrad6" / "engine"  # the core is this folder, every file in it (what it leans on: ../support)


def core_lines() -> tuple[int, int]:
    """(all lines, non-blank lines) of the engine folder's files, docstrings and comments included."""
    lines = [line for f in sorted(ENGINE.rglob("*.py")) for line in f.read_text().splitlines()]
    return len(lines), sum(1 for line in lines if line.strip())


def code_lines(node: ast.AST, source: list[str]) -> int:
    """Lines of a class or function that are neither blank, comments nor docstrings."""
    docstrings = set()
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    return sum(1 for i in range(node.lineno, node.end_lineno + 1)
               if i not in docstrings and source[i - 1].strip() and not source[i - 1].strip().startswith("#"))


def test_the_core_is_at_most_1450_lines_and_1100_non_blank():
    total, non_blank = core_lines()
    assert total <= 1450, f"the core grew to {total} lines"
    assert non_blank <= 1100, f"the core grew to {non_blank} non-blank lines"


def test_the_readme_states_the_core_size_measured():
    total, non_blank = core_lines()
    text = (ROOT / "README.md").read_text()
    stated = re.search(r"about ([\d,]+) lines\s+with\s+docstrings \(([\d,]+) not counting blank lines\)", text)
    assert stated, "the README no longer states the core's size"
    said_total, said_non_blank = (int(g.replace(",", "")) for g in stated.groups())
    assert abs(said_total - total) <= 25 and abs(said_non_blank - non_blank) <= 25, (total, non_blank)


def test_backward_steps_is_at_most_40_lines():
    lines, _ = inspect.getsourcelines(autograd.backward_steps)
    assert len(lines) <= 40, len(lines)


def test_every_op_class_is_under_15_lines_of_code():
    too_long = {}
    for path in (ENGINE / "ops").glob("*.py"):
        source = path.read_text().splitlines()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and hasattr(tinygrad6.engine.ops, node.name):
                n = code_lines(node, source)
                if n >= 15:
                    too_long[node.name] = n
    assert not too_long, too_long


def test_each_module_of_the_compiled_step_is_under_400_lines():
    """Issue 15 kept the compiled step under 400 lines; issue 20's contract (traps, guards, state checks, verification)
    made it a package of five modules, each one job, each still readable in one sitting: under 400 lines."""
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "tinygrad6/compile").glob("*.py")}
    assert len(sizes) >= 5 and all(n < 400 for n in sizes.values()), sizes
