"""Experiment 7 (chapter 6.4.3, figures 6-22 and 6-23): overfitting fought by Dropout. The overfitting setup of
`weight_decay` (a 6x100 ReLU network, 300 training images, SGD lr 0.01) for 301 epochs, without Dropout and with
Dropout 0.2 after every hidden layer; train and test accuracy after every epoch (evaluated with Dropout off).

    python -m tinygrad6.experiments.dropout --data ../shared/data/mnist --out out/
"""

from __future__ import annotations

import sys
import time
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
    started = time.perf_counter()
    s = common.settings(sys.modules[__name__], quick, overrides)
    variants = {"no Dropout": {"dropout": 0.0}, f"Dropout {s['p']}": {"dropout": s["p"]}}
    curves = common.overfit(data, variants, s, seed, NAME, verbose)
    gaps = {name: common.gap(c) for name, c in curves.items()}
    final = {name: {"train_acc": c["train_acc"][-1], "test_acc": c["test_acc"][-1],
                    "gap": c["train_acc"][-1] - c["test_acc"][-1]} for name, c in curves.items()}
    fig = common.draw_overfit(curves, TITLE, f"{s['n_train']} training images; {common.caption(data, quick)}")
    summary = "final train/test accuracy: " + "; ".join(
        f"{n}: {v['train_acc']:.3f}/{v['test_acc']:.3f} (gap {v['gap']:.3f})" for n, v in final.items())
    summary += "; gap averaged over the last 10 epochs: " + ", ".join(f"{n} {g:.3f}" for n, g in gaps.items())
    result = {"dataset": data.caption, "seed": seed, "quick": quick, "settings": s,
              "numbers": {"final": final, "gap_last10": gaps,
                          "curves": {n: {k: common.rounded(v) for k, v in c.items()} for n, c in curves.items()}},
              "summary": summary}
    return common.finish(sys.modules[__name__], out, fig, result, started)


def main(argv=None) -> dict[str, Any]:
    return common.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
