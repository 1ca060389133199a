"""Draw the graphs shown in docs/how-autograd-works.md and docs/compiled-step.md (and the step-through page pictured in
docs/debugging-backprop.md), so they can be made again whenever the engine or the renderer changes.

    python tools/docs_figures.py                 # writes docs/figures/autograd-*.svg
    python tools/docs_figures.py --out /tmp/fig  # somewhere else
    python tools/docs_figures.py --screenshot    # also docs/figures/debugging-backprop-html.png (Chromium)

Each figure is built by a small function below with the same code as the page's example, so the drawing and
the printed output on the page show the same graph. Needs Graphviz's `dot`.

(The experiments' figures in docs/figures/<experiment>.png, shown in docs/chapter6.md, come from
`tinygrad6.experiments`, not from this script.)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import graphviz
import numpy as np

import tinygrad6
import tinygrad6.viz.drawing
from tinygrad6 import Tensor, nn, viz
from tinygrad6.chapter6.tour import render_batchnorm
from tinygrad6.support.files import write_bytes

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DOCS_FIGURES = DOCS / "figures"
PYTHON_FENCE = re.compile(r"^```python\s*$")
IMAGE = re.compile(r"^!\[[^\]]*\]\(figures/(?P<name>[^)\s]+)\)")


@dataclass(frozen=True)
class Figure:
    """A drawing made from a page's own code: run the page's ```python blocks that stand above the figure, in one
    namespace (as a reader pasting them would), then draw the object called `draws` there with `options` (draw's
    keyword arguments). When `draws` names a `graphviz.Digraph` the page made itself (viz.draw(...)), it is
    rendered as it is."""

    page: str
    draws: str
    options: dict = field(default_factory=dict)


FIGURES: dict[str, Figure] = {
    "autograd-apples.svg": Figure("how-autograd-works.md", "drawing"),  # the page's viz.draw(price, backward=True)
    "autograd-mul.svg": Figure("how-autograd-works.md", "L"),
    "autograd-x2-plus-x.svg": Figure("how-autograd-works.md", "z"),
    "autograd-second-derivative.svg": Figure("how-autograd-works.md", "dy", {"show": ("shape", "value")}),
    "autograd-batchnorm.svg": Figure("how-autograd-works.md", "loss", {"show": ("shape",)}),
    "autograd-compiled-step.svg": Figure("compiled-step.md", "step", {"show": ("shape",), "collapse": True}),
}
# figures of the tour, drawn by the tour's own code (the README shows them)
TOUR_FIGURES = ("batchnorm_graph.svg",)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line of the opening fence, code) of every ```python block of a Markdown page, in order."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        if PYTHON_FENCE.match(lines[i]):
            start, body = i, []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


def figure_lines(text: str) -> dict[str, int]:
    """figure file name -> the line of the page that shows it."""
    return {m.group("name"): n for n, line in enumerate(text.split("\n"), 1) if (m := IMAGE.match(line))}


def draw_page_figures(page: str, names: list[str], out: Path) -> list[Path]:
    """Run `page`'s python blocks in order, in a scratch folder, and draw each figure of `names` as soon as the
    blocks above it have run (so it shows the objects as the page has them there)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    where = figure_lines(text)
    missing = [name for name in names if name not in where]
    if missing:
        raise ValueError(f"{page} shows no figure {missing}")
    todo = sorted(names, key=where.__getitem__)
    namespace: dict = {"__name__": "__docs__"}
    written = []
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(io.StringIO()):
        os.chdir(scratch)
        try:
            for line, code in [*python_blocks(text), (10**9, "")]:
                while todo and where[todo[0]] < line:
                    name = todo.pop(0)
                    written.append(_draw(namespace, FIGURES[name], out / name))
                if not todo:
                    break
                exec(compile("\n" * line + code, page, "exec"), namespace)
        finally:
            os.chdir(old_cwd)
    return written


def _draw(namespace: dict, figure: Figure, path: Path) -> Path:
    what = namespace[figure.draws]
    if isinstance(what, graphviz.Digraph):
        return write_bytes(path, viz.drawing.pipe(what, path.suffix[1:]))
    return viz.render(what, path=path, **figure.options)


def draw_all(out: Path) -> list[Path]:
    """Render every figure of FIGURES (from their pages' code) and TOUR_FIGURES (from the tour's) into `out`;
    returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for page in dict.fromkeys(figure.page for figure in FIGURES.values()):
        written += draw_page_figures(page, [name for name, f in FIGURES.items() if f.page == page], out)
    with tempfile.TemporaryDirectory() as scratch:
        render_batchnorm(Path(scratch))
        written.append(Path(shutil.copy(Path(scratch) / "batchnorm_graph.svg", out / "batchnorm_graph.svg")))
    for path in written:  # source paths in tooltips relative to the repository, not to this machine
        svg = path.read_text(encoding="utf-8")
        for root in (f"{REPO}/", f"{REPO}/".replace("-", "&#45;")):
            svg = svg.replace(root, "")
        path.write_text(svg, encoding="utf-8")
    return written


def batchnorm_graph() -> Tensor:
    """The loss the step-through page's picture walks: how-autograd-works.md's BatchNorm1d on a (4, 3) batch,
    projected on a random upstream gradient dy, built under record_source() so the page shows the lines of code."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(2.0, 3.0, size=(4, 3)).round(2), requires_grad=True, name="x")
    dy = Tensor(rng.normal(size=(4, 3)).round(2), name="dy")
    with tinygrad6.record_source():
        loss = (nn.BatchNorm1d(3)(x) * dy).sum()
    loss.name = "loss"
    return loss


def accumulation_step(loss: Tensor, name: str = "x") -> int:
    """The backward step at which the tensor called `name` receives its last contribution (x: from mean, after
    sub): the step that shows accumulation, each contribution and their sum."""
    for step in loss.backward_steps(retain_graph=True):
        if any(t.name == name for t, _ in step.finalized):
            return step.index
    raise ValueError(f"no tensor named {name!r} gets a gradient in this graph")


SCREENSHOT = "debugging-backprop-html.png"
SCREENSHOT_TITLE = "BatchNorm1d backward"  # the title debugging-backprop.md's code gives the page


def screenshot_backprop_html(out: Path, step: int | None = None) -> Path:
    """Write the step-through page of the BatchNorm example, drive it as a reader would (press -> `step` times from
    step 0; default: the step where x receives its last contribution), photograph it in headless Chromium, and
    record what the page showed, read back from its DOM, in a JSON file next to the PNG (the docs test checks the
    caption against it): the step counter, the highlighted op, the accumulation lines and the zoom."""
    from playwright.sync_api import sync_playwright

    loss = batchnorm_graph()
    step = accumulation_step(loss) if step is None else step
    png = out / SCREENSHOT
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as p:
        page_path = viz.backprop_html(loss, Path(scratch) / "batchnorm_backprop.html", title=SCREENSHOT_TITLE)
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(page_path.resolve().as_uri())
        page.keyboard.press("Home")  # the page opens at step 0; Home makes sure
        for _ in range(step):
            page.keyboard.press("ArrowRight")
        page.evaluate("document.getElementById('sent').scrollIntoView()")  # the contributions and their sum
        shown = page.evaluate("""() => ({
            title: document.querySelector("h1").textContent,
            counter: document.getElementById("counter").textContent,
            op: document.querySelector("#step-info .op-name").textContent,
            highlighted: [...document.querySelectorAll("#graph .cur")].map(e => e.id),
            accumulation: [...document.querySelectorAll("#sent .accum")].map(
                e => e.textContent.split(" contributions")[0].split(" gradient is")[0].trim()),
            zoom: document.getElementById("zoom-level").textContent})""")
        page.screenshot(path=str(png), full_page=False)
        browser.close()
    record = {"presses": step, **shown}
    png.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS_FIGURES, help="folder for the figures")
    parser.add_argument("--screenshot", action="store_true", help="also photograph the step-through page")
    args = parser.parse_args()
    written = draw_all(args.out)
    if args.screenshot:
        written.append(screenshot_backprop_html(args.out))
    for path in written:
        print("wrote", path)


if __name__ == "__main__":
    main()
