"""Run a real pdb session on the BatchNorm example and put its transcript into docs/debugging-backprop.md.

    python tools/pdb_session.py            # rewrites the transcript block of docs/debugging-backprop.md
    python tools/pdb_session.py --print    # only print it

It starts `python -m pdb examples/debug_batchnorm.py` from the repository's root and without PYTHONPATH (as the
page tells a reader to run it after `pip install -e .`; pdb puts examples/ first on sys.path, so tinygrad6 is the
installed package), feeds it the commands of `commands()` on stdin, and puts
each command back after the `(Pdb) ` prompt that read it (pdb does not echo what it reads from a pipe), so the
transcript reads as if typed. The only other changes to pdb's output: the repository's path is made relative and
the standard library's folder is written <stdlib>. The transcript goes between the page's
`<!-- pdb-session:begin -->` and `<!-- pdb-session:end -->` lines. Run this again whenever the engine changes
(tests/meta/test_docs.py re-runs the session and says so when the page is stale).
"""

from __future__ import annotations

import argparse
import bdb
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = "examples/debug_batchnorm.py"
PAGE = REPO / "docs" / "debugging-backprop.md"
PROMPT = "(Pdb) "
BEGIN, END = "<!-- pdb-session:begin -->", "<!-- pdb-session:end -->"


def commands() -> list[str]:
    """What the session types, in order (the explanations are in docs/debugging-backprop.md). Every breakpoint
    names a function, not a file path, so pdb finds it wherever tinygrad6 is installed."""
    return [
        "import tinygrad6",                                   # so the next commands can name functions
        "b tinygrad6.engine.ops.Div.backward",                      # 1: one op's backward rule
        'b tinygrad6.engine.autograd.run_rule, op.name == "sqrt"',  # 2: the loop calling a rule, for one op only
        "c",
        "p self",
        "p gy.shape",
        "w",
        "n",
        "n",
        "p ga.shape, b.shape",
        "n",
        "p gb.shape",
        "up 2",
        "p index, op",
        "p [x.shape for x in op.inputs]",
        "p pending[id(op.inputs[0])], pending[id(op.inputs[1])]",
        "down 2",
        "c",
        "p op, gy",
        "n",
        "n",
        "s",
        "p self.output",
        "r",
        "retval",
        "c",
        "q",
    ]


def installed_editable() -> bool:
    """True when `import tinygrad6`, run outside the repository with no PYTHONPATH, finds this repository's
    package (the README's `pip install -e .`): then the session runs as a reader's would."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as outside:
        found = subprocess.run([sys.executable, "-c", "import tinygrad6; print(tinygrad6.__file__)"], cwd=outside,
                               env=env, capture_output=True, text=True, timeout=60, check=False)
    return found.returncode == 0 and Path(found.stdout.strip()).resolve().parent == REPO / "tinygrad6"


def run_session() -> str:
    """Run pdb as a reader would after the README's install: from the repository's root, without PYTHONPATH,
    typing the command the page shows."""
    typed = commands()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONUNBUFFERED"] = "1"
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


def errors(transcript: str) -> list[str]:
    """pdb's error lines (`*** ...`): a breakpoint it could not set, a name it could not evaluate."""
    return [line for line in transcript.split("\n") if line.startswith("***")]


def transcript_block(text: str) -> str:
    """The Markdown that goes between the markers: a note of the Python version and the transcript."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"{BEGIN}\n<!-- made by tools/pdb_session.py with Python {version} -->\n```text\n{text}```\n{END}"


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
    if errors(text):
        raise SystemExit("pdb_session: pdb reported errors:\n" + "\n".join(errors(text)))
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
