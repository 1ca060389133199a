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
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor, nn, optim, viz
from tinygrad6.compile import CompiledStep

DOCS_FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"


def apples_graph() -> Tensor:
    """Section 1: the book's apple-and-tax bill, price = apple * apple_num * tax, after backward with every
    intermediate's gradient kept (retain_grads), so each tensor shows its value and its gradient."""
    with tinygrad6.retain_grads():
        apple = Tensor(100.0, requires_grad=True, name="apple")
        apple_num = Tensor(2.0, requires_grad=True, name="apple_num")
        tax = Tensor(1.1, requires_grad=True, name="tax")
        apple_price = (apple * apple_num).named("apple_price")
        price = (apple_price * tax).named("price")
    price.backward(retain_graph=True)
    return price


def mul_graph() -> Tensor:
    """Section 4: L = sum(a * b), after backward (the leaves show their gradients)."""
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True, name="a")
    b = Tensor([4.0, 5.0, 6.0], requires_grad=True, name="b")
    L = (a * b).sum()
    L.name = "L"
    L.backward(retain_graph=True)
    return L


def x2_plus_x_graph() -> Tensor:
    """Section 5: z = x*x + x at x = 3, after backward: x.grad = 2x + 1 = 7."""
    x = Tensor(3.0, requires_grad=True, name="x")
    t = x * x
    t.name = "t"
    z = t + x
    z.name = "z"
    z.backward(retain_graph=True)
    return z


def second_derivative_graph() -> Tensor:
    """Section 7: dy/dx for y = tanh(x), recorded with create_graph=True; the graph of the gradient itself."""
    x = Tensor(0.5, requires_grad=True, name="x")
    y = x.tanh()
    y.name = "y"
    (dy,) = tinygrad6.grad(y, x, create_graph=True)
    dy.name = "dy/dx"
    return dy


def batchnorm_graph() -> Tensor:
    """Section 8: a BatchNorm1d layer on a (4, 3) batch, projected on a random upstream gradient dy; built under
    record_source(), so the ops know their lines (yours and BatchNorm1d.forward's)."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(2.0, 3.0, size=(4, 3)).round(2), requires_grad=True, name="x")
    dy = Tensor(rng.normal(size=(4, 3)).round(2), name="dy")
    with tinygrad6.record_source():
        loss = (nn.BatchNorm1d(3)(x) * dy).sum()
    loss.name = "loss"
    return loss


def compiled_step_graph() -> CompiledStep:
    """docs/compiled-step.md, last section: the page's 784-50-10 MLP training step, compiled and traced on its
    first batch of 100 (a fresh model, so the optimizer shows the page's first learning rate)."""
    model = nn.MLP(784, [50], 10, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def train_step(x, t):
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(x)), t)
        loss.backward()
        opt.step()
        return loss

    step = tinygrad6.compile(train_step)
    rng = np.random.default_rng(0)
    step(rng.random((100, 784)), rng.integers(0, 10, 100))
    return step


FIGURES: dict[str, tuple[Callable[[], Tensor | CompiledStep], dict]] = {
    "autograd-apples.svg": (apples_graph, {"show": ("value", "grad"), "rankdir": "LR"}),
    "autograd-mul.svg": (mul_graph, {}),
    "autograd-x2-plus-x.svg": (x2_plus_x_graph, {}),
    "autograd-second-derivative.svg": (second_derivative_graph, {"show": ("shape", "value")}),
    "autograd-batchnorm.svg": (batchnorm_graph, {"show": ("shape",)}),
    "autograd-compiled-step.svg": (compiled_step_graph, {"show": ("shape",), "collapse": True}),
}


def draw_all(out: Path) -> list[Path]:
    """Render every figure of FIGURES into the folder `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    return [viz.render(build(), path=out / name, **kwargs) for name, (build, kwargs) in FIGURES.items()]


def accumulation_step(loss: Tensor, name: str = "x") -> int:
    """The backward step at which the tensor called `name` receives its last contribution (x: from mean, after
    sub): the step that shows accumulation, each contribution and their sum."""
    for step in loss.backward_steps(retain_graph=True):
        if any(t.name == name for t, _ in step.finalized):
            return step.index
    raise ValueError(f"no tensor named {name!r} gets a gradient in this graph")


def screenshot_backprop_html(out: Path, step: int | None = None) -> Path:
    """Write the step-through page of the BatchNorm example and a PNG of it at `step` (default: the step where x
    receives its second contribution), in headless Chromium."""
    from playwright.sync_api import sync_playwright

    loss = batchnorm_graph()
    step = accumulation_step(loss) if step is None else step
    page_path = viz.backprop_html(loss, out / "batchnorm_backprop.html")
    png = out / "debugging-backprop-html.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(page_path.resolve().as_uri())
        page.locator("#slider").fill(str(step))
        page.evaluate("document.getElementById('sent').scrollIntoView()")  # the contributions and their sum
        page.screenshot(path=str(png), full_page=False)
        browser.close()
    page_path.unlink()  # the page itself is regenerated by the reader; only the picture is kept
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
