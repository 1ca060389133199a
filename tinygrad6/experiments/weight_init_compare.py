"""Experiment 4 (chapter 6.2.4, figure 6-15): the same 4x100 ReLU network started from weights of std 0.01, Xavier
(std sqrt(1/n)) and He (std sqrt(2/n)), trained with SGD (lr 0.01) on the same batches of 128 for 2,000 iterations.

    python -m tinygrad6.experiments.weight_init_compare --data ../shared/data/mnist --out out/
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .. import nn, optim
from ..train import Trainer
from . import common

NAME = "weight_init_compare"
TITLE = "Initial weights: std 0.01 vs Xavier vs He (4x100 ReLU network, SGD)"
WHAT = ("With std 0.01 the signal and its gradient shrink layer after layer, so the loss does not move from "
        "log(10) = 2.30 at all; Xavier and He keep them alive and learn, He fastest, as suits ReLU.")
NEEDS_DATA = True
DEFAULTS: dict[str, Any] = {"iters": 2000, "batch_size": 128, "hidden": 100, "layers": 4, "lr": 0.01, "std": 0.01}
QUICK: dict[str, Any] = {"iters": 400}


def run(data: common.Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        **overrides: Any) -> dict[str, Any]:
    started = time.perf_counter()
    s = common.settings(sys.modules[__name__], quick, overrides)
    inits = {f"std={s['std']}": s["std"], "Xavier": "xavier", "He": "he"}
    trainers = {}
    for name, weight_init in inits.items():
        model = nn.MLP(data.input_size, [s["hidden"]] * s["layers"], 10, activation="relu",
                       weight_init=weight_init, rng=seed)
        trainers[name] = Trainer(model, optim.SGD(model.parameters(), lr=s["lr"]), (data.x_train, data.t_train),
                                 verbose=False)
    losses = common.lockstep(trainers, data.x_train, data.t_train, s["iters"], s["batch_size"], seed,
                             desc=NAME, verbose=verbose)
    test_acc = {name: trainer.evaluate(data.x_test, data.t_test)[1] for name, trainer in trainers.items()}

    fig, axes = common.figure(figsize=(7, 4.8))
    ax = axes[0, 0]
    smoothed = common.plot_loss_curves(ax, losses, {name: f"{name}, test acc {test_acc[name]:.3f}" for name in losses},
                                       "os^")
    ax.set_ylim(0, 2.5)
    ax.legend()
    fig.suptitle(f"{TITLE}\n{common.caption(data, quick)}", fontsize=10)

    result = common.loss_curves_result(data, seed, quick, s, losses, smoothed, test_acc)
    return common.finish(sys.modules[__name__], out, fig, result, started)


def main(argv=None) -> dict[str, Any]:
    return common.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
