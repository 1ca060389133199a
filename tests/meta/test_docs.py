"""The docs cannot drift from the code: every example in docs/*.md runs, and every link points at something real.

Conventions (written down here and in docs/README.md):

- A block fenced ```python is executed. The blocks of one page run in order in one namespace, as a reader typing
  them into one Python session would (so a later block may use names from an earlier one). The working directory
  is a fresh temporary folder, so files a block writes do not land in the repository.
- A ```text block that follows a ```python block (nothing but blank lines between them) is that block's printed
  output and must match it exactly (trailing spaces and trailing blank lines are ignored). Print rounded numbers
  so the output does not depend on the last bit of floating point.
- Any other fence (```bash, ```console, ```pycon, ```python skip ...) is shown, not run.
- `breakpoint()` in an executed block is a no-op here (PYTHONBREAKPOINT=0), so a page can show where to put one.
- After a deliberate change, `python tests/meta/test_docs.py --update [docs/page.md ...]` rewrites the ```text blocks
  with what the code prints now; review the result with `git diff` before committing it.
- Links: `[text](relative/path)` must name an existing file or folder (relative to the page). A link into a
  Python file may name what it points at in the fragment: `../tinygrad6/engine/autograd.py#backward_steps` or
  `../tinygrad6/engine/op.py#Op.apply`; the test parses the file and checks that the function, class or method is
  defined there (GitHub opens the file; the fragment tells the reader where to look). A fragment on a Markdown
  link must be one of that page's heading anchors.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINKED_PAGES = [*PAGES, REPO / "README.md"]

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,})(?P<info>[^`\n]*)$")
INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


# -- reading a page -------------------------------------------------------------------------------------------
@dataclass
class Block:
    """One fenced block: its info string ("python", "text", ...), its code, and the line its fence opens on."""

    info: str
    code: str
    line: int

    @property
    def runs(self) -> bool:
        return self.info.strip() == "python"


@dataclass
class Example:
    """An executed block and the output it must print (None: output not checked)."""

    code: Block
    expected: str | None


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced code block of a Markdown text, in order. An unclosed fence is an error (it would silently
    swallow the rest of the page)."""
    blocks: list[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m.group("fence"), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(rf"^ {{0,3}}{fence}`*\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"line {start + 1}: the code fence {fence}{m.group('info')} is never closed")
        blocks.append(Block(m.group("info").strip(), "\n".join(body) + "\n", start + 1))
        i += 1
    return blocks


def examples(text: str) -> list[Example]:
    """The executed blocks of a page, each paired with the ```text block right after it, if there is one."""
    blocks = fenced_blocks(text)
    lines = text.split("\n")
    result = []
    for k, block in enumerate(blocks):
        if not block.runs:
            continue
        expected = None
        if k + 1 < len(blocks) and blocks[k + 1].info == "text":
            closing = block.line + block.code.count("\n")  # 0-based index of the closing fence
            between = lines[closing + 1:blocks[k + 1].line - 1]
            if all(not line.strip() for line in between):
                expected = blocks[k + 1].code
        result.append(Example(block, expected))
    return result


def normalize(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.rstrip().split("\n"))


def run_page(text: str, name: str, workdir: Path, printed: list[str] | None = None) -> list[str]:
    """Run the page's examples in one namespace; return a description of every failure (empty: all good).
    `printed`, when given, receives what each example printed, in order."""
    failures: list[str] = []
    namespace: dict = {"__name__": "__docs__"}
    old_cwd, old_print = os.getcwd(), np.get_printoptions()
    os.chdir(workdir)
    try:
        for ex in examples(text):
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile("\n" * ex.code.line + ex.code.code, name, "exec"), namespace)  # page line numbers
            except Exception:
                failures.append(f"{name} line {ex.code.line}: the block raised\n{traceback.format_exc(limit=-4)}"
                                f"\nprinted before that:\n{out.getvalue()}")
                break  # later blocks depend on this one
            if printed is not None:
                printed.append(out.getvalue())
            if ex.expected is not None and normalize(out.getvalue()) != normalize(ex.expected):
                failures.append(f"{name} line {ex.code.line}: printed output differs from the ```text block\n"
                                f"--- expected\n{normalize(ex.expected)}\n--- printed\n{normalize(out.getvalue())}")
    finally:
        os.chdir(old_cwd)
        np.set_printoptions(**old_print)
    return failures


def update_page(page: Path, workdir: Path) -> int:
    """Rewrite every ```text block that follows an executed block with what the block prints now; returns how
    many blocks changed. For maintainers after a deliberate change: review the result with `git diff`."""
    text = page.read_text(encoding="utf-8")
    printed: list[str] = []
    failures = run_page(text, page.name, workdir, printed)
    raising = [f for f in failures if "the block raised" in f]
    if raising:
        raise RuntimeError(raising[0])
    lines = text.split("\n")
    changed = 0
    for ex, out in reversed(list(zip(examples(text), printed))):
        if ex.expected is None:
            continue
        closing = ex.code.line + ex.code.code.count("\n")  # 0-based index of the code block's closing fence
        start = next(i for i in range(closing + 1, len(lines)) if lines[i].strip().startswith("```text"))
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("```"))
        new = normalize(out).split("\n")
        if lines[start + 1:end] != new:
            lines[start + 1:end] = new
            changed += 1
    page.write_text("\n".join(lines), encoding="utf-8")
    return changed


# -- links ----------------------------------------------------------------------------------------------------
def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link and image outside code blocks and inline code."""
    found = []
    in_fence = None
    for n, line in enumerate(text.split("\n"), start=1):
        m = FENCE.match(line)
        if m and in_fence is None:
            in_fence = m.group("fence")
            continue
        if in_fence is not None:
            if re.match(rf"^ {{0,3}}{in_fence}`*\s*$", line):
                in_fence = None
            continue
        code_spans = [c.span() for c in INLINE_CODE.finditer(line)]
        for m in LINK.finditer(line):
            if not any(a <= m.start() < b for a, b in code_spans):  # `[x](y)` inside inline code is not a link
                found.append((n, m.group("target")))
    return found


def defined_names(path: Path) -> set[str]:
    """Functions and classes defined in a Python file, with methods as Class.method (and nested classes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()

    def visit(body, prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(prefix + node.name)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not prefix:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))  # module constants (OPTIMIZERS)

    visit(tree.body, "")
    return names


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors, counts = set(), {}
    in_fence = False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
        if in_fence or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip()
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def check_link(page: Path, target: str) -> str | None:
    """None when the link is good, else what is wrong with it."""
    if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
        return None
    path_part, _, fragment = target.partition("#")
    path = (page.parent / path_part).resolve() if path_part else page
    if not path.exists():
        return f"{target}: no such file or folder ({path})"
    if REPO not in path.parents and path != REPO:
        return f"{target}: points outside the repository"
    if not fragment:
        return None
    if re.fullmatch(r"L\d+(-L\d+)?", fragment):
        return f"{target}: line-number anchors go stale when the file changes; name the function instead"
    if path.suffix == ".py":
        names = defined_names(path)
        return None if fragment in names else f"{target}: {path.name} defines no function, class or method " \
                                              f"named {fragment!r}"
    if path.suffix == ".md":
        anchors = heading_anchors(path)
        return None if fragment in anchors else f"{target}: {path.name} has no heading with anchor {fragment!r}"
    return None


# -- the tests ------------------------------------------------------------------------------------------------
@pytest.fixture
def no_breakpoints(monkeypatch):
    monkeypatch.setenv("PYTHONBREAKPOINT", "0")
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_there_are_docs_to_check():
    names = {p.name for p in PAGES}
    assert {"how-autograd-works.md", "chapter6.md", "debugging-backprop.md"} <= names, names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run_and_print_what_the_page_shows(page, tmp_path, no_breakpoints):
    failures = run_page(page.read_text(encoding="utf-8"), page.name, tmp_path)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: p.name)
def test_links_point_at_files_and_definitions_that_exist(page):
    text = page.read_text(encoding="utf-8")
    problems = [f"{page.name} line {n}: {err}" for n, target in links(text) if (err := check_link(page, target))]
    assert not problems, "\n".join(problems)


def test_readme_learn_section_links_the_three_pages():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^## Learn\s*$", text, re.M), "README has no '## Learn' section"
    learn = text.split("## Learn", 1)[1].split("\n## ", 1)[0]
    targets = {t for _, t in links(learn)}
    for name in ("docs/how-autograd-works.md", "docs/debugging-backprop.md", "docs/chapter6.md"):
        assert name in targets, f"the Learn section does not link {name}"


def test_learn_order_for_a_chapter_5_reader():
    # build-your-own first (it starts from the book's MulLayer), then how autograd works, debugging, chapter 6; the
    # engineering pages after the word "Optional"
    order = ["build-your-own.md", "how-autograd-works.md", "debugging-backprop.md", "chapter6.md"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, text in [("README.md's Learn", readme.split("## Learn", 1)[1].split("\n## ", 1)[0]),
                       ("docs/README.md", (DOCS / "README.md").read_text(encoding="utf-8").split("\n## ", 1)[0])]:
        targets = [t.split("/")[-1] for _, t in links(text)]
        positions = [targets.index(page) for page in order]
        assert positions == sorted(positions), f"{name} lists {targets}, not {order} in this order"
        optional = text.index("Optional")
        for page in ("compiled-step.md", "speed.md"):
            assert text.index(page) > optional, f"{name}: {page} is not under the 'Optional' heading"
        assert all(text.index(page) < optional for page in order), f"{name}: a guided page is marked optional"


def test_every_guided_page_has_executed_examples_with_checked_output():
    for page in PAGES:
        if page.name in ("README.md", "speed.md"):  # the folder's index, and a reference page of benchmark numbers
            continue
        exs = examples(page.read_text(encoding="utf-8"))
        assert exs, f"{page.name} has no ```python block"
        assert any(ex.expected is not None for ex in exs), f"{page.name}: no block's output is checked"


# -- the checker itself can fail --------------------------------------------------------------------------------
PAGE = """# A page

```python
x = 2
print(x * 3)
```

```text
6
```

Not run:

```python skip
raise SystemExit
```

```python
print(x + 1)
```
"""


def test_harness_pairs_blocks_with_their_output():
    exs = examples(PAGE)
    assert [ex.code.line for ex in exs] == [3, 18]
    assert exs[0].expected == "6\n" and exs[1].expected is None


def test_harness_passes_a_true_page_and_catches_wrong_output(tmp_path):
    assert run_page(PAGE, "page.md", tmp_path) == []
    failures = run_page(PAGE.replace("6\n```", "7\n```"), "page.md", tmp_path)
    assert len(failures) == 1 and "line 3" in failures[0] and "7" in failures[0]


def test_harness_reports_a_block_that_raises(tmp_path):
    failures = run_page(PAGE.replace("print(x + 1)", "print(y)"), "page.md", tmp_path)
    assert len(failures) == 1 and "NameError" in failures[0] and "line 18" in failures[0]
    assert 'File "page.md", line 19' in failures[0]  # the traceback points at the page's line


def test_update_rewrites_only_the_stale_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE.replace("6\n```", "7\n```"), encoding="utf-8")
    assert update_page(page, tmp_path) == 1
    assert page.read_text(encoding="utf-8") == PAGE
    assert update_page(page, tmp_path) == 0


def test_harness_rejects_an_unclosed_fence():
    with pytest.raises(ValueError, match="never closed"):
        fenced_blocks("```python\nprint(1)\n")


def test_link_checker_catches_missing_files_and_names(tmp_path):
    page = DOCS / "how-autograd-works.md"
    assert check_link(page, "../tinygrad6/engine/autograd.py#backward_steps") is None
    assert check_link(page, "../tinygrad6/engine/op.py#Op.apply") is None
    assert "defines no" in check_link(page, "../tinygrad6/engine/autograd.py#backward_stepz")
    assert "no such file" in check_link(page, "../tinygrad6/autograds.py")
    assert "line-number" in check_link(page, "../tinygrad6/engine/op.py#L10")
    assert "no heading" in check_link(page, "chapter6.md#no-such-section")
    assert links("see [`op.py`](../tinygrad6/engine/op.py#Op) and `[not](a link)`\n```\n[x](nope)\n```\n") == \
        [(1, "../tinygrad6/engine/op.py#Op")]


# -- the figures are the script's output -------------------------------------------------------------------------
def _load_tool(name: str):
    """A maintainers' script from tools/ (they regenerate the docs' figures and transcript)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), REPO / "tools" / name)
    module = importlib.util.module_from_spec(spec)
    __import__("sys").modules[spec.name] = module  # a dataclass in it looks its module up there
    spec.loader.exec_module(module)
    return module


def _svg_texts(path: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    return sorted(el.text or "" for el in ET.parse(path).iter("{http://www.w3.org/2000/svg}text"))


@pytest.mark.skipif(not __import__("shutil").which("dot"), reason="Graphviz `dot` is not installed")
def test_committed_figures_match_what_the_script_draws_now(tmp_path):
    """Each committed docs/figures/autograd-*.svg says what tools/docs_figures.py draws today (same labels:
    names, shapes, values, gradients). When this fails, run `python tools/docs_figures.py` and commit."""
    figures = _load_tool("docs_figures.py")
    written = figures.draw_all(tmp_path)
    assert {p.name for p in written} == set(figures.FIGURES) | set(figures.TOUR_FIGURES)
    linked = {Path(t).name for page in PAGES for _, t in links(page.read_text(encoding="utf-8"))
              if Path(t).name.startswith("autograd-")}
    assert linked == set(figures.FIGURES), "a page shows a figure the script does not draw, or the reverse"
    for path in written:
        committed = DOCS / "figures" / path.name
        assert committed.exists(), f"{committed} is missing: run python tools/docs_figures.py"
        assert _svg_texts(committed) == _svg_texts(path), f"{committed.name} is stale: run tools/docs_figures.py"


def _without_line_numbers(transcript: str) -> str:
    """pdb's file:line and file(line) with the numbers taken out: an edit that only moves code up or down a few
    lines leaves the session's story (where it stops, what it prints) unchanged."""
    return re.sub(r"(\.py)(:|\()\d+", r"\1\2N", transcript)


def test_pdb_transcript_in_the_page_is_what_pdb_prints_today():
    """The pdb session shown in docs/debugging-backprop.md is re-run (tools/pdb_session.py) and must match, up to
    line numbers. When this fails, run `python tools/pdb_session.py` (it rewrites the transcript in the page) and
    commit; run it now and then anyway, to refresh the line numbers."""
    import sys

    session = _load_tool("pdb_session.py")
    version, committed = session.page_transcript((DOCS / "debugging-backprop.md").read_text(encoding="utf-8"))
    typed = [line[len(session.PROMPT):] for line in committed.split("\n") if line.startswith(session.PROMPT)]
    assert [_without_line_numbers(c) for c in typed] == [_without_line_numbers(c) for c in session.commands()], \
        "the page's session typed other commands than tools/pdb_session.py"
    assert session.errors(committed) == [], "the page's pdb session shows pdb errors"
    if not session.installed_editable():
        pytest.skip("tinygrad6 is not installed in editable mode from this repository (pip install -e .), so pdb "
                    "cannot be run as the page's reader runs it")
    fresh = session.run_session()  # outside the repository, no PYTHONPATH: as a reader after the README's install
    assert session.errors(fresh) == [], f"pdb reported errors running the page's session: {session.errors(fresh)}"
    if version != f"{sys.version_info.major}.{sys.version_info.minor}":
        pytest.skip(f"the transcript was made with Python {version}; pdb's output differs between versions")
    assert _without_line_numbers(fresh) == _without_line_numbers(committed), \
        "the pdb transcript is stale: run python tools/pdb_session.py"


def test_transcript_comparison_ignores_only_line_numbers():
    a = "> tinygrad6/engine/tensor.py(153)backward()\nBreakpoint 2 at tinygrad6/engine/autograd.py:103\nTensor([0.5])"
    b = a.replace("153", "154").replace(":103", ":99")
    assert _without_line_numbers(a) == _without_line_numbers(b)
    assert _without_line_numbers(a) != _without_line_numbers(b.replace("0.5", "0.6"))


def test_chapter6_shows_the_figure_of_every_experiment():
    from tinygrad6.chapter6 import experiments

    text = (DOCS / "chapter6.md").read_text(encoding="utf-8")
    shown = {Path(t).stem for _, t in links(text) if t.startswith("figures/") and t.endswith(".png")}
    missing = [name for name in experiments.NAMES if name not in shown]
    assert not missing, f"docs/chapter6.md does not show the figure of {missing}"



def test_the_readme_snippets_run_in_order_and_backward_steps_does_not_double_the_grads(tmp_path, monkeypatch):
    """The README's python blocks, pasted one after the other into one session as a reader would: they run, and the
    `backward_steps` snippet of "How backward works" leaves x.grad what "Ten lines" computed (it used to double it)."""
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(blocks[0], "README.md: Ten lines", "exec"), namespace)
        first = namespace["x"].grad.data.copy()
        exec(compile(blocks[1], "README.md: How backward works", "exec"), namespace)
    np.testing.assert_allclose(namespace["x"].grad.data, first, rtol=1e-12)

if __name__ == "__main__":
    # python tests/meta/test_docs.py --update [docs/page.md ...]: refresh the ```text blocks from what the code prints
    import sys
    import tempfile

    args = sys.argv[1:]
    if not args or args[0] != "--update":
        raise SystemExit("usage: python tests/meta/test_docs.py --update [docs/page.md ...]  (then review `git diff`)")
    os.environ["PYTHONBREAKPOINT"] = "0"
    for page in [Path(a).resolve() for a in args[1:]] or PAGES:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{page.name}: {update_page(page, Path(tmp))} output block(s) updated")
