"""Experiment 2 (chapter 6.1.7, figure 6-9): SGD, Momentum, AdaGrad and Adam training the same 4x100 ReLU network
(He initial weights) on the same mini-batches of 128 images for 2,000 iterations; smoothed loss curves.

    python -m tinygrad6.experiments.optimizer_compare --data DIR --out out/

Learning rates are the book's defaults (0.01, Adam 0.001). All four networks start from the same weights. As in the
book's ch06/optimizer_compare_mnist.py, the curves are the loss on each batch recorded right after its update,
smoothed by `training.smooth_curve`; the JSON gives the book's statistic (the last point of that curve) and tinygrad6's
own (the mean raw loss over the last 200 iterations, recorded before each update), each labelled.
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


def run(data: Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        compile: bool = False, **overrides: Any) -> dict[str, Any]:
    started = time.perf_counter()
    settings = resolve_settings(EXPERIMENT, quick, overrides)
    lrs = {"SGD": settings["lr_sgd"], "Momentum": settings["lr_momentum"], "AdaGrad": settings["lr_adagrad"],
           "Adam": settings["lr_adam"]}
    trainers = {}
    for name, lr in lrs.items():
        model = nn.MLP(data.input_size, [settings["hidden"]] * settings["layers"], 10, activation="relu",
                       rng=seed)  # the same initial weights for every optimizer
        trainers[name] = Trainer(model, optim.OPTIMIZERS[name](model.parameters(), lr=lr),
                                 (data.x_train, data.t_train), verbose=False, compile=compile)
    losses = training.lockstep(trainers, data.x_train, data.t_train, settings["iters"], settings["batch_size"], seed,
                             desc=EXPERIMENT.name, verbose=verbose,
                             after_update=True)  # the book's record, for its statistic
    test_acc = {name: trainer.evaluate(data.x_test, data.t_test)[1] for name, trainer in trainers.items()}

    fig, axes = plots.figure(figsize=(7, 4.8))
    ax = axes[0, 0]
    smoothed = loss_curves.plot_loss_curves(
        ax, losses, {name: f"{name} (lr={lrs[name]}), test acc {test_acc[name]:.3f}" for name in losses}, "o^sD")
    ax.set_ylim(0, 1.0 if max(c[-1] for c in smoothed.values()) < 0.5 else None)
    ax.legend()
    plots.suptitle(fig, f"{EXPERIMENT.title}\n{texts.caption(data, quick)}")

    before = {name: np.array(trainer.history["loss"]) for name, trainer in trainers.items()}
    result = loss_curves.loss_curves_result(data, seed, quick, settings, before, smoothed, test_acc)
    return results.finish(EXPERIMENT, out, fig, result, started)


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its numbers: the optimizers ranked by the book's final loss, which of them end below
    plain SGD, and whether tinygrad6's own statistic ranks them the same."""
    settings, n = r["settings"], r["numbers"]
    book, own = n["book_final_loss"], n["mean_loss_before_update"]
    ranked = sorted(book, key=book.get)
    text = (f"After {settings['iters']} iterations on the same mini-batches from the same weights, the final "
            f"training losses (the book's statistic) rank "
            + " < ".join(f"{name} {book[name]:.3g}" for name in ranked) + ". ")
    others = [name for name in book if name != "SGD"]
    below = [name for name in others if book[name] < book["SGD"]]
    if len(below) == len(others):
        text += (f"{texts.listed(others)} all bring the loss down faster than plain SGD; the lowest, {ranked[0]}, "
                 f"ends {book['SGD'] / book[ranked[0]]:.1f} times below it.")
    elif below:
        rest = [name for name in others if name not in below]
        text += (f"{texts.listed(below)} end below plain SGD; {texts.listed(rest)} "
                 f"{'does' if len(rest) == 1 else 'do'} not.")
    else:
        text += "In this run plain SGD ends lowest: Momentum, AdaGrad and Adam do not beat it."
    same = sorted(own, key=own.get) == ranked
    text += (f" tinygrad6's own statistic (the mean loss before each update over the last tenth of the iterations) "
             f"ranks them {'the same way' if same else 'differently: ' + ' < '.join(sorted(own, key=own.get))}.")
    return text + texts.shorter_run(EXPERIMENT, settings, "iters", "iterations",
                                     "the chapter's final losses need the full run (--full).")


EXPERIMENT = Experiment(
    name="optimizer_compare",
    title="SGD, Momentum, AdaGrad and Adam on a 4x100 ReLU network",
    setup="The training loss of SGD, Momentum, AdaGrad and Adam, each training the same network from the same "
          "weights on the same mini-batches.",
    needs_data=True,
    defaults={"iters": 2000, "batch_size": 128, "hidden": 100, "layers": 4,
              "lr_sgd": 0.01, "lr_momentum": 0.01, "lr_adagrad": 0.01, "lr_adam": 0.001},
    quick={"iters": 400},
    run=run,
    what=what,
)


def main(argv=None) -> dict[str, Any]:
    return cli.main(EXPERIMENT, argv)


if __name__ == "__main__":
    main()
