"""Experiment 1 (chapter 6.1, figures 6-3 to 6-8): the paths of SGD, Momentum, AdaGrad and Adam on
f(x, y) = x**2 / 20 + y**2, from (-7, 2), 30 steps each, drawn on the contour lines of f.

    python -m tinygrad6.experiments.optimizer_paths --out out/

The gradients come from the engine: x and y are Tensors, f is built from them and `backward()` fills x.grad and
y.grad, which the optimizer reads, exactly as it would for a network's weights.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import optim
from ...engine.tensor import Tensor
from . import cli, plots, results
from .data import Data
from .experiment import Experiment
from .settings import resolve_settings


def f(x, y):
    """f(x, y) = x**2 / 20 + y**2: a valley 20 times steeper in y than in x, minimum 0 at (0, 0)."""
    return x * x / 20 + y * y


def path(optimizer_class: type[optim.Optimizer], lr: float, start: tuple[float, float], steps: int) -> np.ndarray:
    """The (steps + 1, 2) positions visited by `optimizer_class(lr=lr)` minimizing f from `start`."""
    x = Tensor(start[0], requires_grad=True, name="x")
    y = Tensor(start[1], requires_grad=True, name="y")
    opt = optimizer_class([x, y], lr=lr)
    points = [(x.item(), y.item())]
    for _ in range(steps):
        opt.zero_grad()
        f(x, y).backward()
        opt.step()
        points.append((x.item(), y.item()))
    return np.array(points)


def run(data: Data | None = None, out: Path = Path("out"), seed: int = 0, quick: bool = False,
        verbose: bool = True, compile: bool = False, **overrides: Any) -> dict[str, Any]:
    """Compute the four paths and draw them. `data`, `seed` and `compile` are unused (nothing here is random, and no
    Trainer runs)."""
    started = time.perf_counter()
    settings = resolve_settings(EXPERIMENT, quick, overrides)
    start = (settings["x0"], settings["y0"])
    runs = {"SGD": (optim.SGD, settings["lr_sgd"]), "Momentum": (optim.Momentum, settings["lr_momentum"]),
            "AdaGrad": (optim.AdaGrad, settings["lr_adagrad"]), "Adam": (optim.Adam, settings["lr_adam"])}
    paths = {name: path(cls, lr, start, settings["steps"]) for name, (cls, lr) in runs.items()}

    fig, axes = plots.figure(2, 2, figsize=(9, 7.5))
    xs, ys = np.meshgrid(np.linspace(-10, 10, 400), np.linspace(-5, 5, 200))
    zs = f(xs, ys)
    for ax, (name, points) in zip(axes.flat, paths.items()):
        ax.contour(xs, ys, zs, levels=np.geomspace(0.05, 30, 12), colors="0.75", linewidths=0.8)
        ax.plot(points[:, 0], points[:, 1], "o-", color="tab:red", markersize=3, linewidth=1)
        ax.plot(0, 0, "+", color="black", markersize=10)
        ax.set_title(f"{name} (lr={runs[name][1]})")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    plots.suptitle(fig, f"{EXPERIMENT.title}: {settings['steps']} steps from {start}, gradients from tinygrad6's "
                         f"backward()", fontsize=12)

    final = {name: {"x": float(p[-1, 0]), "y": float(p[-1, 1]), "f": float(f(p[-1, 0], p[-1, 1]))}
             for name, p in paths.items()}
    summary = "final f after {} steps: {}".format(
        settings["steps"],
        ", ".join(f"{name} {v['f']:.3g} at ({v['x']:.3f}, {v['y']:.3f})" for name, v in final.items()))
    result = {"dataset": "none (a function of two variables)", "seed": seed, "quick": quick, "settings": settings,
              "numbers": {"final": final, "paths": {name: p.round(6).tolist() for name, p in paths.items()}},
              "summary": summary}
    return results.finish(EXPERIMENT, out, fig, result, started)


def sign_changes(values: np.ndarray) -> int:
    """How often a coordinate crosses 0 along a path (points exactly at 0 are skipped)."""
    signs = np.sign(values[values != 0])
    return int(np.count_nonzero(signs[1:] != signs[:-1]))


def times(count: int) -> str:
    """'once', '2 times', ..."""
    return "once" if count == 1 else f"{count} times"


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its paths: how often each optimizer crosses the valley's floor (y = 0) and passes
    the minimum in x, how AdaGrad's steps in y shrink, and where each ends."""
    settings, n = r["settings"], r["numbers"]
    paths = {name: np.array(p, dtype=float) for name, p in n["paths"].items()}
    y_turns = {name: sign_changes(p[:, 1]) for name, p in paths.items()}
    x_turns = {name: sign_changes(p[:, 0]) for name, p in paths.items()}
    text = f"From ({settings['x0']:g}, {settings['y0']:g}), in {settings['steps']} steps: "
    sgd = y_turns["SGD"]
    text += (f"SGD crosses the valley's floor (y = 0) {times(sgd)}: "
             + ("it zig-zags across the steep y direction, because the gradient points across the valley rather than "
                "at the minimum. " if sgd >= 3 else "no zig-zag at this learning rate. "))
    m = x_turns["Momentum"]
    text += (f"Momentum crosses y = 0 {times(y_turns['Momentum'])} and x = 0 {times(m)}: "
             + ("like a ball rolling in a bowl it overshoots the minimum and comes back. " if m >= 1
                else "it does not pass the minimum in x. "))
    dy = np.abs(np.diff(paths["AdaGrad"][:, 1]))
    shrink = dy[-1] < dy[0]
    text += (f"AdaGrad's steps in y {'shrink' if shrink else 'do not shrink'} (from {dy[0]:.2g} to {dy[-1]:.2g}) "
             f"and it crosses y = 0 {times(y_turns['AdaGrad'])}"
             + (", so it heads almost straight in. " if shrink and y_turns["AdaGrad"] <= 1 else ". "))
    a, m_turns = y_turns["Adam"], y_turns["Momentum"]
    text += (f"Adam crosses y = 0 {times(a)}, "
             + ("fewer than Momentum: it sways less. " if a < m_turns else "not less often than Momentum. "))
    text += "Final f: " + ", ".join(f"{name} {v['f']:.2g}" for name, v in n["final"].items()) + "."
    return text


EXPERIMENT = Experiment(
    name="optimizer_paths",
    title="Optimizer paths on f(x, y) = x²/20 + y²",
    setup="The paths of SGD, Momentum, AdaGrad and Adam from the same start on the contour lines of f, a valley 20 "
          "times steeper in y than in x with its minimum at (0, 0).",
    needs_data=False,
    defaults={"steps": 30, "x0": -7.0, "y0": 2.0,
              "lr_sgd": 0.95, "lr_momentum": 0.1, "lr_adagrad": 1.5, "lr_adam": 0.3},
    quick={},  # 30 steps take milliseconds: the quick run is the full one
    run=run,
    what=what,
)


def main(argv=None) -> dict[str, Any]:
    return cli.main(EXPERIMENT, argv)


if __name__ == "__main__":
    main()
