"""Run a real pdb session on the BatchNorm example and put its transcript into docs/debugging-backprop.md.

    python examples/pdb_session.py            # rewrites the transcript block of docs/debugging-backprop.md
    python examples/pdb_session.py --print    # only print it

It starts `python -m pdb examples/debug_batchnorm.py`, feeds it the commands of `commands()` on stdin, and puts
each command back after the `(Pdb) ` prompt that read it (pdb does not echo what it reads from a pipe), so the
transcript reads as if typed. The only other changes to pdb's output: the repository's path is made relative and
the standard library's folder is written <stdlib>. The transcript goes between the page's
`<!-- pdb-session:begin -->` and `<!-- pdb-session:end -->` lines. Run this again whenever the engine changes
(tests/test_docs.py re-runs the session and says so when the page is stale).
"""

from __future__ import annotations

import argparse
import bdb
import inspect
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = "examples/debug_batchnorm.py"
PAGE = REPO / "docs" / "debugging-backprop.md"
PROMPT = "(Pdb) "
BEGIN, END = "<!-- pdb-session:begin -->", "<!-- pdb-session:end -->"


def loop_line() -> int:
    """The line of the backward loop that calls an op's backward rule (`gxs = op.backward(gy)`)."""
    from tinygrad6 import autograd

    lines, first = inspect.getsourcelines(autograd.backward_steps)
    for i, text in enumerate(lines):
        if "op.backward(gy)" in text:
            return first + i
    raise RuntimeError("pdb_session: cannot find `op.backward(gy)` in tinygrad6/autograd.py backward_steps")


def commands() -> list[str]:
    """What the session types, in order (the explanations are in docs/debugging-backprop.md)."""
    return [
        "import tinygrad6",                                   # so the next command can name a function
        "b tinygrad6.ops.Div.backward",                       # 1: one op's backward rule
        f'b tinygrad6/autograd.py:{loop_line()}, op.name == "sqrt"',  # 2: the backward loop, for one op only
        "c",
        "p self",
        "p gy.shape",
        "w",
        "n",
        "n",
        "p ga.shape, b.shape",
        "n",
        "p gb.shape",
        "up",
        "p index, op",
        "p [x.shape for x in op.inputs]",
        "p pending[id(op.inputs[0])], pending[id(op.inputs[1])]",
        "down",
        "c",
        "p index, op",
        "p gy",
        "s",
        "p self.output",
        "r",
        "retval",
        "c",
        "q",
    ]


def run_session() -> str:
    typed = commands()
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "pdb", TARGET], input="\n".join(typed) + "\n", cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pdb_session: pdb exited with {result.returncode}\n{result.stderr}")
    parts = result.stdout.split(PROMPT)
    if len(parts) - 1 != len(typed):
        raise RuntimeError(f"pdb_session: pdb prompted {len(parts) - 1} times for {len(typed)} commands; "
                           f"the session went differently than planned:\n{result.stdout}")
    text = parts[0] + "".join(f"{PROMPT}{cmd}\n{out}" for cmd, out in zip(typed, parts[1:]))
    text = text.replace(str(REPO) + os.sep, "").replace(os.path.dirname(bdb.__file__), "<stdlib>")
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n")) + "\n"


def transcript_block(text: str) -> str:
    """The Markdown that goes between the markers: a note of the Python version and the transcript."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"{BEGIN}\n<!-- made by examples/pdb_session.py with Python {version} -->\n```text\n{text}```\n{END}"


def page_transcript(page_text: str) -> tuple[str, str]:
    """(Python version, transcript) as found between the markers of the page."""
    block = page_text.split(BEGIN, 1)[1].split(END, 1)[0]
    version = block.split("with Python ", 1)[1].split(" ", 1)[0]
    return version, block.split("```text\n", 1)[1].rsplit("```", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--print", action="store_true", help="print the transcript instead of updating the page")
    args = parser.parse_args()
    text = run_session()
    if args.print:
        print(text, end="")
        return
    page = PAGE.read_text(encoding="utf-8")
    if BEGIN not in page or END not in page:
        raise SystemExit(f"pdb_session: {PAGE} has no {BEGIN} ... {END} lines to put the transcript between")
    head, rest = page.split(BEGIN, 1)
    PAGE.write_text(head + transcript_block(text) + rest.split(END, 1)[1], encoding="utf-8")
    print("updated the transcript in", PAGE.relative_to(REPO))


if __name__ == "__main__":
    main()
