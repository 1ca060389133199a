"""Experiment 7 (chapter 6.4.3, figures 6-22 and 6-23): overfitting fought by Dropout. The overfitting setup of
`weight_decay` (a 6x100 ReLU network, 300 training images, SGD lr 0.01) for 301 epochs, without Dropout and with
Dropout 0.2 after every hidden layer; train and test accuracy after every epoch (evaluated with Dropout off).

    python -m tinygrad6.experiments.dropout --data ../shared/data/mnist --out out/
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from . import common

NAME = "dropout"
TITLE = "Overfitting fought by Dropout (6x100 ReLU network, 300 training images)"
WHAT = ("Without Dropout the training accuracy reaches 100% while the test accuracy stays far below; with Dropout "
        "0.2 the network cannot memorise its 300 images as easily: training accuracy rises more slowly and stays "
        "closer to the test accuracy.")
NEEDS_DATA = True
DEFAULTS: dict[str, Any] = {"n_train": 300, "epochs": 301, "batch_size": 100, "hidden": 100, "layers": 6,
                            "lr": 0.01, "p": 0.2}
QUICK: dict[str, Any] = {"epochs": 100}


def run(data: common.Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        **overrides: Any) -> dict[str, Any]:
    return common.run_overfit(sys.modules[__name__], data, out, seed, quick, verbose, overrides,
                              lambda s: {"no Dropout": {"dropout": 0.0}, f"Dropout {s['p']}": {"dropout": s["p"]}})


def main(argv=None) -> dict[str, Any]:
    return common.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
