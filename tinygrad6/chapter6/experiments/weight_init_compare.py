"""Experiment 4 (chapter 6.2.4, figure 6-15): the same 4x100 ReLU network started from weights of std 0.01, Xavier
(std sqrt(1/n)) and He (std sqrt(2/n)), trained with SGD (lr 0.01) on the same batches of 128 for 2,000 iterations.
Loss curves and statistics as in `optimizer_compare` (the book's: the smoothed loss after each update).

    python -m tinygrad6.experiments.weight_init_compare --data DIR --out out/
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import nn, optim
from ..train import Trainer
from . import cli, loss_curves, plots, results, texts, training
from .data import Data
from .experiment import Experiment
from .settings import resolve_settings

STUCK = 0.05
"""A final loss within STUCK of log(10) (the loss of a network that gives every class 1/10) counts as not learning."""


def run(data: Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        compile: bool = False, **overrides: Any) -> dict[str, Any]:
    started = time.perf_counter()
    settings = resolve_settings(EXPERIMENT, quick, overrides)
    inits = {f"std={settings['std']}": settings["std"], "Xavier": "xavier", "He": "he"}
    trainers = {}
    for name, weight_init in inits.items():
        model = nn.MLP(data.input_size, [settings["hidden"]] * settings["layers"], 10, activation="relu",
                       weight_init=weight_init, rng=seed)
        trainers[name] = Trainer(model, optim.SGD(model.parameters(), lr=settings["lr"]), (data.x_train, data.t_train),
                                 verbose=False, compile=compile)
    losses = training.lockstep(trainers, data.x_train, data.t_train, settings["iters"], settings["batch_size"], seed,
                             desc=EXPERIMENT.name, verbose=verbose,
                             after_update=True)  # the book's record, for its statistic
    test_acc = {name: trainer.evaluate(data.x_test, data.t_test)[1] for name, trainer in trainers.items()}

    fig, axes = plots.figure(figsize=(7, 4.8))
    ax = axes[0, 0]
    smoothed = loss_curves.plot_loss_curves(
        ax, losses, {name: f"{name}, test acc {test_acc[name]:.3f}" for name in losses}, "os^")
    ax.set_ylim(0, 2.5)
    ax.legend()
    plots.suptitle(fig, f"{EXPERIMENT.title}\n{texts.caption(data, quick)}")

    before = {name: np.array(trainer.history["loss"]) for name, trainer in trainers.items()}
    result = loss_curves.loss_curves_result(data, seed, quick, settings, before, smoothed, test_acc)
    return results.finish(EXPERIMENT, out, fig, result, started)


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its numbers: whether the small initial weights learned at all (a final loss near
    log(10)), and which of Xavier and He ends lower."""
    settings, book = r["settings"], r["numbers"]["book_final_loss"]
    small = next(name for name in book if name not in ("Xavier", "He"))  # "std=<std>"
    chance = float(np.log(10))
    if abs(book[small] - chance) < STUCK:
        text = (f"With {small} the final loss (the book's statistic) is {book[small]:.3f}, within {STUCK} of "
                f"log(10) = {chance:.3f}, the loss of a network that gives every class 1/10: it does not learn (its "
                f"signals shrink layer after layer, as the activation histograms show). ")
    else:
        learns = book[small] < chance
        text = (f"With {small} the final loss (the book's statistic) is {book[small]:.3f}, "
                f"{'below' if learns else 'above'} log(10) = {chance:.3f}, the loss of a network that gives every "
                f"class 1/10: in this run it {'does learn' if learns else 'learns nothing'}. ")
    text += f"Xavier ends at {book['Xavier']:.3f} and He at {book['He']:.3f}: "
    if book["He"] < book["Xavier"]:
        text += "He learns faster, as suits ReLU (its larger std makes up for the half of the outputs ReLU sets to 0)."
    else:
        text += "in this run Xavier ends lower than He."
    return text + texts.shorter_run(EXPERIMENT, settings, "iters", "iterations",
                                     "the chapter's final losses need the full run (--full).")


EXPERIMENT = Experiment(
    name="weight_init_compare",
    title="Initial weights: std 0.01 vs Xavier vs He (4x100 ReLU network, SGD)",
    setup="The training loss of the same network started from weights of std 0.01, Xavier and He, trained with SGD "
          "on the same mini-batches.",
    needs_data=True,
    defaults={"iters": 2000, "batch_size": 128, "hidden": 100, "layers": 4, "lr": 0.01, "std": 0.01},
    quick={"iters": 400},
    run=run,
    what=what,
)


def main(argv=None) -> dict[str, Any]:
    return cli.main(EXPERIMENT, argv)


if __name__ == "__main__":
    main()
