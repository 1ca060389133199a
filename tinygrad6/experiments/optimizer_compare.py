"""Experiment 2 (chapter 6.1.7, figure 6-9): SGD, Momentum, AdaGrad and Adam training the same 4x100 ReLU network
(He initial weights) on the same mini-batches of 128 images for 2,000 iterations; smoothed loss curves.

    python -m tinygrad6.experiments.optimizer_compare --data ../shared/data/mnist --out out/

Learning rates are the book's defaults (0.01, Adam 0.001). All four networks start from the same weights.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .. import nn, optim
from ..train import Trainer
from . import common

NAME = "optimizer_compare"
TITLE = "SGD, Momentum, AdaGrad and Adam on a 4x100 ReLU network"
WHAT = ("Trained on the same mini-batches from the same weights, Momentum, AdaGrad and Adam drive the loss down much "
        "faster than plain SGD.")
NEEDS_DATA = True
DEFAULTS: dict[str, Any] = {"iters": 2000, "batch_size": 128, "hidden": 100, "layers": 4,
                            "lr_sgd": 0.01, "lr_momentum": 0.01, "lr_adagrad": 0.01, "lr_adam": 0.001}
QUICK: dict[str, Any] = {"iters": 400}


def run(data: common.Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        **overrides: Any) -> dict[str, Any]:
    started = time.perf_counter()
    s = common.settings(sys.modules[__name__], quick, overrides)
    lrs = {"SGD": s["lr_sgd"], "Momentum": s["lr_momentum"], "AdaGrad": s["lr_adagrad"], "Adam": s["lr_adam"]}
    trainers = {}
    for name, lr in lrs.items():
        model = nn.MLP(data.input_size, [s["hidden"]] * s["layers"], 10, activation="relu", rng=seed)  # same W
        trainers[name] = Trainer(model, optim.OPTIMIZERS[name](model.parameters(), lr=lr),
                                 (data.x_train, data.t_train), verbose=False)
    losses = common.lockstep(trainers, data.x_train, data.t_train, s["iters"], s["batch_size"], seed,
                             desc=NAME, verbose=verbose)
    test_acc = {name: trainer.evaluate(data.x_test, data.t_test)[1] for name, trainer in trainers.items()}

    fig, axes = common.figure(figsize=(7, 4.8))
    ax = axes[0, 0]
    smoothed = common.plot_loss_curves(
        ax, losses, {name: f"{name} (lr={lrs[name]}), test acc {test_acc[name]:.3f}" for name in losses}, "o^sD")
    ax.set_ylim(0, 1.0 if max(c[-1] for c in smoothed.values()) < 0.5 else None)
    ax.legend()
    fig.suptitle(f"{TITLE}\n{common.caption(data, quick)}", fontsize=10)

    result = common.loss_curves_result(data, seed, quick, s, losses, smoothed, test_acc)
    return common.finish(sys.modules[__name__], out, fig, result, started)


def main(argv=None) -> dict[str, Any]:
    return common.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
