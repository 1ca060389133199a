"""Every ```python block of the docs pastes into a plain Python prompt, as the pages tell the reader to do.

A prompt reads a paste line by line (`code.InteractiveConsole.push` is that reader): a blank line ends a compound
statement, so a blank line inside a `def` body ends the `def` and the next indented line is an IndentationError;
and a line at the left margin right after an indented body, with no blank line between, is a SyntaxError. So a
pasteable block puts a blank line after each compound statement and none inside its body. test_docs.py runs the
same blocks as whole files (where both are fine); this test reads them as the prompt does, one console per page,
the blocks in order, the reader pressing Enter once more at the end of each block.

A prompt also echoes the value of a bare expression (`sys.displayhook`): `backward(y)` on its own line prints the list
it returns, though the same line in a file prints nothing. So each block's pasted output (stdout, echoes included)
must be its ```text block, or nothing when it has none (README.md's blocks print without showing it, and test_docs.py
does not check them: there a block only must not echo). The one expected difference is where code says it was
written: at a prompt that is `<stdin>:3` (line 3 of the statement being typed), in test_docs.py `page.md:40`. The
console here compiles each statement under the page's name at the page's line numbers, so such location strings
(an op's "created at", a trace's "where" column, with its padding) print as the page shows them.
"""

from __future__ import annotations

import code
import contextlib
import difflib
import io
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from meta.test_docs import PAGES, REPO, examples, normalize, run_page


class PastedPage(code.InteractiveConsole):
    """A Python prompt that records, instead of printing, each error with the page line being typed. After the
    first error raised by running code it only compiles what follows (the rest would fail for the same reason).
    Each statement is compiled as `page` at its page line (a real prompt says `<stdin>`, line 1 of the statement)."""

    def __init__(self, page: str) -> None:
        super().__init__({"__name__": "__console__"}, filename=page)
        self.page, self.line, self.errors, self.raised = page, 0, [], False
        self.echoes: list[tuple[int, str]] = []  # (page line, repr) of each value the prompt echoed

    def runsource(self, source: str, filename: str = "<input>", symbol: str = "single") -> bool:
        first_line = self.line - len(self.buffer) + 1  # the page line the statement being typed starts on
        return super().runsource("\n" * (first_line - 1) + source, filename, symbol)

    def showsyntaxerror(self, filename=None, **kwargs) -> None:
        self.errors.append(f"{self.page}:{self.line}: a paste stops here with {self._last_error()}")

    def showtraceback(self) -> None:
        self.errors.append(f"{self.page}:{self.line}: the pasted code raised {self._last_error()}")
        self.raised = True

    def runcode(self, code) -> None:
        if not self.raised:
            hook, sys.displayhook = sys.displayhook, self._echo
            try:
                super().runcode(code)
            finally:
                sys.displayhook = hook

    def _echo(self, value: object) -> None:
        """The prompt's echo of a bare expression's value (None is not echoed), noted with its line."""
        if value is not None:
            self.echoes.append((self.line, repr(value).split("\n")[0][:120]))
        sys.__displayhook__(value)

    def paste(self, lines: list[str], first_line: int) -> None:
        for n, line in enumerate(lines, start=first_line):
            self.line = n
            self.push(line)

    @staticmethod
    def _last_error() -> str:
        return traceback.format_exception_only(*sys.exc_info()[:2])[-1].strip()


def output_difference(page: str, line: int, printed: str, expected: str | None, echoes: list[tuple[int, str]],
                      prints_unshown: bool) -> str:
    """page:line: what the pasted block printed that its ```text block does not show (or the reverse), as a diff,
    after the lines whose value the prompt echoed."""
    shown = "its ```text block" if expected is not None else "nothing (it has no ```text block)"
    if expected is None and prints_unshown:  # its prints are not shown on the page: only the echoes are wrong
        return "\n".join([f"{page}:{line}: pasted into a prompt, the block echoes values the page does not show",
                          *(f"{page}:{n}: the prompt echoes {value}" for n, value in echoes)])
    diff = list(difflib.unified_diff(normalize(expected or "").split("\n"), normalize(printed).split("\n"),
                                     "page", "pasted", n=1, lineterm=""))
    if len(diff) > 24:  # an echoed list of 5,000 records: its first lines say enough
        diff = diff[:24] + [f"... {len(diff) - 24} more diff lines"]
    return "\n".join([f"{page}:{line}: pasted into a prompt, the block prints other than {shown}",
                      *(f"{page}:{n}: the prompt echoes {value}" for n, value in echoes),
                      *(d[:200] for d in diff)])


def paste_errors(text: str, page: str, workdir: Path, prints_unshown: bool = False) -> list[str]:
    """Paste each ```python block of a Markdown text into one prompt, in order; the errors, as page:line: what.
    An error is a SyntaxError, an exception, or a block whose output (echoes included) is not its ```text block
    (nothing when it has none; with `prints_unshown`, a block with no ```text block may print but not echo)."""
    console = PastedPage(page)
    old_cwd, old_print = os.getcwd(), np.get_printoptions()
    os.chdir(workdir)
    try:
        for ex in examples(text):
            out, console.echoes = io.StringIO(), []
            with contextlib.redirect_stdout(out):
                console.paste(ex.code.code.rstrip("\n").split("\n") + [""], ex.code.line + 1)
                console.resetbuffer()
            if console.raised:
                continue
            checked = ex.expected is not None or not prints_unshown
            if (normalize(out.getvalue()) != normalize(ex.expected or "")) if checked else console.echoes:
                console.errors.append(output_difference(page, ex.code.line, out.getvalue(), ex.expected,
                                                        console.echoes, prints_unshown))
    finally:
        os.chdir(old_cwd)
        np.set_printoptions(**old_print)
    return console.errors


@pytest.fixture
def no_breakpoints(monkeypatch):
    monkeypatch.setenv("PYTHONBREAKPOINT", "0")
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.mark.parametrize("page", [*PAGES, REPO / "README.md"], ids=lambda p: str(p.relative_to(REPO)))
def test_every_python_block_pastes_into_a_python_prompt(page, tmp_path, no_breakpoints):
    errors = paste_errors(page.read_text(encoding="utf-8"), page.name, tmp_path, prints_unshown=page.parent == REPO)
    assert not errors, "\n".join(errors)


# -- the checker itself can fail --------------------------------------------------------------------------------
GOOD = """```python
def f(x):
    y = x + 1
    return y * 2

for i in range(2):
    print(f(i))

print("done")
```

```text
2
4
done
```
"""


def test_a_pasteable_page_passes(tmp_path):
    assert paste_errors(GOOD, "page.md", tmp_path) == []


def test_a_blank_line_inside_a_body_is_caught_with_its_line(tmp_path):
    errors = paste_errors(GOOD.replace("    y = x + 1\n", "    y = x + 1\n\n"), "page.md", tmp_path)
    assert errors and errors[0].startswith("page.md:5:") and "IndentationError" in errors[0], errors


def test_a_dedent_right_after_a_body_is_caught_with_its_line(tmp_path):
    errors = paste_errors(GOOD.replace('    print(f(i))\n\n', '    print(f(i))\n'), "page.md", tmp_path)
    assert errors and errors[0].startswith("page.md:8:") and "SyntaxError" in errors[0], errors


def test_a_block_that_raises_is_caught(tmp_path):
    errors = paste_errors(GOOD.replace('print("done")', "print(undefined)"), "page.md", tmp_path)
    assert errors == ["page.md:9: the pasted code raised NameError: name 'undefined' is not defined"], errors


def test_an_echo_is_caught_with_its_line(tmp_path):
    # the block prints its ```text block, and then the prompt echoes f(1): 4, which the page does not show
    errors = paste_errors(GOOD.replace('print("done")', 'print("done")\nf(1)'), "page.md", tmp_path)
    assert len(errors) == 1 and errors[0].startswith("page.md:1: pasted into a prompt, the block prints other"), errors
    assert "page.md:10: the prompt echoes 4" in errors[0] and "\n+4" in errors[0], errors


def test_an_echo_in_a_block_without_output_is_caught(tmp_path):
    page = "```python\nx = [1, 2]\nx.pop()\n```\n"
    for prints_unshown in (False, True):
        errors = paste_errors(page, "page.md", tmp_path, prints_unshown)
        assert len(errors) == 1 and "page.md:3: the prompt echoes 2" in errors[0], errors


def test_output_other_than_the_text_block_is_caught(tmp_path):
    errors = paste_errors(GOOD.replace("4\ndone", "4\nfinished"), "page.md", tmp_path)
    assert len(errors) == 1 and "-finished\n+done" in errors[0], errors


def test_unshown_prints_fail_on_a_docs_page_and_pass_in_the_readme(tmp_path):
    page = GOOD.split("\n```text")[0] + "\n"  # the block without its output
    assert len(paste_errors(page, "page.md", tmp_path)) == 1
    assert paste_errors(page, "README.md", tmp_path, prints_unshown=True) == []


WHERE = """```python
import sys

for frame in [sys._getframe()]:
    print(frame.f_code.co_filename,
          sys._getframe().f_lineno)

```

```text
page.md 6
```
"""


def test_code_says_it_is_at_the_page_line_as_in_test_docs(tmp_path):
    # at a real prompt this prints "<stdin> 3" (line 3 of the statement being typed); here, as under exec in
    # test_docs.py, the page's name and line, so location strings in a page's output need no other normalising
    assert paste_errors(WHERE, "page.md", tmp_path) == []
    assert run_page(WHERE, "page.md", tmp_path) == []
