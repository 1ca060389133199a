"""Every ```python block of the docs pastes into a plain Python prompt, as the pages tell the reader to do.

A prompt reads a paste line by line (`code.InteractiveConsole.push` is that reader): a blank line ends a compound
statement, so a blank line inside a `def` body ends the `def` and the next indented line is an IndentationError;
and a line at the left margin right after an indented body, with no blank line between, is a SyntaxError. So a
pasteable block puts a blank line after each compound statement and none inside its body. test_docs.py runs the
same blocks as whole files (where both are fine); this test reads them as the prompt does, one console per page,
the blocks in order, the reader pressing Enter once more at the end of each block.
"""

from __future__ import annotations

import code
import contextlib
import io
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from meta.test_docs import PAGES, REPO, fenced_blocks


class PastedPage(code.InteractiveConsole):
    """A Python prompt that records, instead of printing, each error with the page line being typed. After the
    first error raised by running code it only compiles what follows (the rest would fail for the same reason)."""

    def __init__(self, page: str) -> None:
        super().__init__({"__name__": "__console__"}, filename="<stdin>")
        self.page, self.line, self.errors, self.raised = page, 0, [], False

    def showsyntaxerror(self, filename=None, **kwargs) -> None:
        self.errors.append(f"{self.page}:{self.line}: a paste stops here with {self._last_error()}")

    def showtraceback(self) -> None:
        self.errors.append(f"{self.page}:{self.line}: the pasted code raised {self._last_error()}")
        self.raised = True

    def runcode(self, code) -> None:
        if not self.raised:
            super().runcode(code)

    def paste(self, lines: list[str], first_line: int) -> None:
        for n, line in enumerate(lines, start=first_line):
            self.line = n
            self.push(line)

    @staticmethod
    def _last_error() -> str:
        return traceback.format_exception_only(*sys.exc_info()[:2])[-1].strip()


def paste_errors(text: str, page: str, workdir: Path) -> list[str]:
    """Paste each ```python block of a Markdown text into one prompt, in order; the errors, as page:line: what."""
    console = PastedPage(page)
    old_cwd, old_print = os.getcwd(), np.get_printoptions()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for block in fenced_blocks(text):
                if block.runs:
                    console.paste(block.code.rstrip("\n").split("\n") + [""], block.line + 1)
                    console.resetbuffer()
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
    errors = paste_errors(page.read_text(encoding="utf-8"), page.name, tmp_path)
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
