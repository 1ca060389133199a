"""Experiment 6 (chapter 6.4.1-6.4.2, figures 6-20 and 6-21): overfitting and weight decay. A 6x100 ReLU network
trained on only 300 images with SGD (lr 0.01) for 201 epochs, without weight decay (lambda 0) and with lambda 0.1
(the loss term 0.5 * lambda * sum(W**2), `nn.l2_penalty`); train and test accuracy after every epoch.

    python -m tinygrad6.experiments.weight_decay --data ../shared/data/mnist --out out/
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from . import common

NAME = "weight_decay"
TITLE = "Overfitting fought by weight decay (6x100 ReLU network, 300 training images)"
WHAT = ("Without weight decay the network learns its 300 training images almost perfectly while test accuracy "
        "stays far lower: it overfits; with lambda = 0.1 training accuracy stays lower and the train/test gap is "
        "smaller.")
NEEDS_DATA = True
DEFAULTS: dict[str, Any] = {"n_train": 300, "epochs": 201, "batch_size": 100, "hidden": 100, "layers": 6,
                            "lr": 0.01, "lam": 0.1}
QUICK: dict[str, Any] = {"epochs": 100}


def run(data: common.Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        **overrides: Any) -> dict[str, Any]:
    return common.run_overfit(sys.modules[__name__], data, out, seed, quick, verbose, overrides,
                              lambda s: {"lambda = 0": {"l2": 0.0}, f"lambda = {s['lam']}": {"l2": s["lam"]}})


def main(argv=None) -> dict[str, Any]:
    return common.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
