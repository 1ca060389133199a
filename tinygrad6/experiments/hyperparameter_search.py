"""Experiment 8 (chapter 6.5, figure 6-24): random search over the learning rate and the weight decay, judged on a
validation split. 500 training images, 20% of them (shuffled) held out for validation; lr = 10**U(-6, -2) and
lambda = 10**U(-8, -4); a 6x100 ReLU network trained with SGD (batch 100) for 50 epochs per trial; 100 trials.
The best 20 trials, by final validation accuracy, are drawn as a grid and printed with their values.

    python -m tinygrad6.experiments.hyperparameter_search --data ../shared/data/mnist --out out/

The test set is never used: the search only ever looks at the validation images.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets, nn, optim
from ..train import Trainer
from . import common

NAME = "hyperparameter_search"
TITLE = "Random search over learning rate and weight decay (6x100 ReLU network, validation split)"
WHAT = ("The best trials by final validation accuracy (solid: validation, dashed: training) all have a learning "
        "rate between about 0.001 and 0.01, whatever their weight decay in this range: the next step would be a "
        "narrower search there.")
NEEDS_DATA = True
DEFAULTS: dict[str, Any] = {"n_train": 500, "val_ratio": 0.2, "trials": 100, "epochs": 50, "batch_size": 100,
                            "hidden": 100, "layers": 6, "best": 20, "lr_min_exp": -6.0, "lr_max_exp": -2.0,
                            "wd_min_exp": -8.0, "wd_max_exp": -4.0}
QUICK: dict[str, Any] = {"trials": 12, "epochs": 25, "best": 12}


def check(s: dict[str, Any]) -> None:
    """Settings that only clash together: the validation split must hold at least one image."""
    if int(s["n_train"] * s["val_ratio"]) == 0:
        raise ValueError(f"n_train {s['n_train']} (--n-train) with val_ratio {s['val_ratio']} (--val-ratio) leaves "
                         f"no validation images: n_train * val_ratio must be at least 1")


def run(data: common.Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        **overrides: Any) -> dict[str, Any]:
    started = time.perf_counter()
    s = common.settings(sys.modules[__name__], quick, overrides)
    x, t = common.subset(data, s["n_train"])
    x_train, t_train, x_val, t_val = datasets.train_val_split(x, t, s["val_ratio"], seed=seed)
    rng = np.random.default_rng(seed)
    trials = []
    bar = common.progress(s["trials"], NAME, verbose)
    for i in range(s["trials"]):
        lr = float(10 ** rng.uniform(s["lr_min_exp"], s["lr_max_exp"]))
        weight_decay = float(10 ** rng.uniform(s["wd_min_exp"], s["wd_max_exp"]))
        model = nn.MLP(data.input_size, [s["hidden"]] * s["layers"], 10, activation="relu", rng=seed + 1 + i)
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=lr), (x_train, t_train), (x_val, t_val),
                          epochs=s["epochs"], batch_size=s["batch_size"], l2=weight_decay, sampling="choice",
                          seed=seed + 1 + i, verbose=False)
        history = trainer.fit()
        trials.append({"lr": lr, "weight_decay": weight_decay, "val_acc": history["test_acc"],
                       "train_acc": history["train_acc"]})
        bar.update(1)
    bar.close()
    ranked = sorted(trials, key=lambda r: r["val_acc"][-1], reverse=True)
    best = ranked[:s["best"]]

    ncols = 4
    nrows = -(-len(best) // ncols)
    fig, axes = common.figure(nrows, ncols, figsize=(10, 1.9 * nrows + 1.2), sharex=True, sharey=True)
    for k, (ax, r) in enumerate(zip(axes.flat, best)):
        epochs = np.arange(1, len(r["val_acc"]) + 1)
        ax.plot(epochs, r["val_acc"], color="tab:blue")
        ax.plot(epochs, r["train_acc"], "--", color="tab:orange")
        ax.set_ylim(0, 1.0)
        ax.set_title(f"Best-{k + 1}: val {r['val_acc'][-1]:.2f}\nlr {r['lr']:.2g}, wd {r['weight_decay']:.2g}",
                     fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(best):]:
        ax.set_visible(False)
    fig.suptitle(f"{TITLE}\n{len(x_train)} training / {len(x_val)} validation images (the test images are never "
                 f"used); {s['trials']} trials x {s['epochs']} epochs; solid: validation, dashed: training accuracy"
                 f"\n{common.caption(data, quick)}", fontsize=10)

    lines = [f"Best-{k + 1} (val acc: {r['val_acc'][-1]:.3f}) | lr: {r['lr']:.3g}, weight decay: "
             f"{r['weight_decay']:.3g}" for k, r in enumerate(best)]
    if verbose:
        print("\n".join(lines))
    lrs = [r["lr"] for r in best[:5]]
    summary = (f"best validation accuracy {best[0]['val_acc'][-1]:.3f} with lr {best[0]['lr']:.3g} and weight decay "
               f"{best[0]['weight_decay']:.3g}; the best 5 trials have lr in [{min(lrs):.2g}, {max(lrs):.2g}]")
    result = {"dataset": data.caption, "seed": seed, "quick": quick,
              "settings": {**s, "n_train_used": len(x_train), "n_val": len(x_val)},
              "numbers": {"best": [{"rank": k + 1, "lr": r["lr"], "weight_decay": r["weight_decay"],
                                    "val_acc": r["val_acc"][-1], "train_acc": r["train_acc"][-1]}
                                   for k, r in enumerate(best)],
                          "all_trials": [{"lr": r["lr"], "weight_decay": r["weight_decay"],
                                          "val_acc": r["val_acc"][-1]} for r in trials],
                          "best_listing": lines},
              "summary": summary}
    return common.finish(sys.modules[__name__], out, fig, result, started)


def main(argv=None) -> dict[str, Any]:
    return common.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
