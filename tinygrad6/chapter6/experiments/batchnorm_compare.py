"""Experiment 5 (chapter 6.3.2, figure 6-19): a 5x100 ReLU network with and without Batch Normalization, trained
with SGD (lr 0.01) on 1,000 images for 20 epochs, for 16 scales of the initial weights from 1 down to 0.0001
(np.logspace(0, -4, 16)); a 4x4 grid of training-accuracy curves.

    python -m tinygrad6.experiments.batchnorm_compare --data DIR --out out/

For each scale both networks start from the same weights (BatchNorm adds gamma = 1, beta = 0) and see the same
mini-batches. The training accuracy is measured on the 1,000 training images after every epoch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import nn, optim
from ..progress import progress_bar
from ..train import Trainer
from . import cli, plots, results, texts, training
from .data import Data
from .experiment import Experiment
from .settings import resolve_settings

LEARNED, STUCK = 0.5, 0.2
"""Final training accuracies the text counts as learned (at least LEARNED) and as not learning (below STUCK;
chance is 0.1)."""


def run(data: Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        compile: bool = False, **overrides: Any) -> dict[str, Any]:
    started = time.perf_counter()
    settings = resolve_settings(EXPERIMENT, quick, overrides)
    x, t = training.subset(data, settings["n_train"])
    per_epoch = max(len(x) // settings["batch_size"], 1)
    scales = np.logspace(0, -4, settings["scales"])
    curves: dict[str, dict[str, list[float]]] = {}
    with progress_bar(len(scales), EXPERIMENT.name, verbose) as bar:
        for i, w in enumerate(scales):
            trainers = {}
            for name, batchnorm in (("BatchNorm", True), ("no BatchNorm", False)):
                model = nn.MLP(data.input_size, [settings["hidden"]] * settings["layers"], 10, activation="relu",
                               weight_init=float(w), batchnorm=batchnorm, rng=seed + i)
                trainers[name] = Trainer(model, optim.SGD(model.parameters(), lr=settings["lr"]), (x, t), verbose=False,
                                         compile=compile)
            with np.errstate(over="ignore", invalid="ignore"):  # large initial weights without BatchNorm overflow
                training.lockstep(trainers, x, t, settings["epochs"] * per_epoch, settings["batch_size"], seed + i,
                                eval_every=per_epoch, verbose=False)
            curves[f"{w:.4g}"] = {name: tr.history["train_acc"] for name, tr in trainers.items()}
            bar.update(1)

    side = int(np.ceil(np.sqrt(len(scales))))
    fig, axes = plots.figure(side, side, figsize=(10, 9), sharex=True, sharey=True)
    epochs = np.arange(1, settings["epochs"] + 1)
    for ax, (w, acc) in zip(axes.flat, curves.items()):
        ax.plot(epochs, acc["BatchNorm"], color="tab:blue", label="Batch Normalization")
        ax.plot(epochs, acc["no BatchNorm"], "--", color="tab:orange", label="without BatchNorm")
        ax.set_title(f"initial std {w}", fontsize=9)
        ax.set_ylim(0, 1.0)
    for ax in axes.flat[len(curves):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epochs")
    for ax in axes[:, 0]:
        ax.set_ylabel("train accuracy")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    plots.suptitle(fig, f"{EXPERIMENT.title}\n{len(x)} training images; {texts.caption(data, quick)}")

    final = {w: {name: float(a[-1]) for name, a in acc.items()} for w, acc in curves.items()}
    wins = sum(v["BatchNorm"] > v["no BatchNorm"] for v in final.values())
    mean_bn = float(np.mean([v["BatchNorm"] for v in final.values()]))
    mean_plain = float(np.mean([v["no BatchNorm"] for v in final.values()]))
    summary = (f"after {settings['epochs']} epochs, BatchNorm's training accuracy beats the plain network's at "
               f"{wins} of {len(final)} weight scales; mean over the scales: {mean_bn:.3f} with, "
               f"{mean_plain:.3f} without")
    result = {"dataset": data.caption, "seed": seed, "quick": quick, "settings": {**settings, "n_train_used": len(x)},
              "numbers": {"final_train_acc": final, "bn_wins": wins, "mean_final_train_acc_bn": mean_bn,
                          "mean_final_train_acc_plain": mean_plain,
                          "train_acc": {w: {n: results.rounded(a) for n, a in acc.items()}
                                        for w, acc in curves.items()}},
              "summary": summary}
    return results.finish(EXPERIMENT, out, fig, result, started)


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its numbers: at how many weight scales Batch Normalization ends ahead, and at how
    many each network learned or did not start."""
    settings, n = r["settings"], r["numbers"]
    final = n["final_train_acc"]
    count = len(final)
    learned = {name: sum(v[name] >= LEARNED for v in final.values()) for name in ("BatchNorm", "no BatchNorm")}
    stuck = [w for w, v in final.items() if v["no BatchNorm"] < STUCK]
    text = (f"After {settings['epochs']} epochs, Batch Normalization (solid) ends with the higher training accuracy at "
            f"{n['bn_wins']} of {count} initial weight scales (mean over the scales {n['mean_final_train_acc_bn']:.2f} "
            f"with, {n['mean_final_train_acc_plain']:.2f} without). With it the training accuracy reaches "
            f"{LEARNED} at {learned['BatchNorm']} of {count} scales; without it (dashed) at "
            f"{learned['no BatchNorm']}")
    if stuck:
        text += (f", and at {len(stuck)} scales (initial std {', '.join(stuck)}) it stays below {STUCK} (chance is "
                 f"0.1): there learning does not start.")
    else:
        text += ", and it starts learning at every scale."
    return text + texts.shorter_run(EXPERIMENT, settings, "epochs", "epochs",
                                     "the curves stop early, and the chapter's curves need the full run (--full).")


EXPERIMENT = Experiment(
    name="batchnorm_compare",
    title="Batch Normalization vs none over 16 initial weight scales (5x100 ReLU network, SGD)",
    setup="Training accuracy per epoch of the same network with Batch Normalization (solid) and without it (dashed), "
          "one panel per scale of the initial weights.",
    needs_data=True,
    defaults={"n_train": 1000, "epochs": 20, "batch_size": 100, "hidden": 100, "layers": 5,
              "lr": 0.01, "scales": 16},
    quick={"epochs": 10},
    run=run,
    what=what,
)


def main(argv=None) -> dict[str, Any]:
    return cli.main(EXPERIMENT, argv)


if __name__ == "__main__":
    main()
