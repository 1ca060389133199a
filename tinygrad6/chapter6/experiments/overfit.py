"""The overfitting experiments (weight decay, Dropout): the chapter's setup, its train/test accuracy curves, and
their figure and numbers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import nn, optim
from ..train import Trainer
from . import plots, results, texts, training
from .data import Data
from .experiment import Experiment
from .settings import resolve_settings


def overfit(data: Data, variants: dict[str, dict[str, Any]], settings: dict[str, Any], seed: int, desc: str,
            verbose: bool, compile: bool = False) -> dict[str, dict[str, list[float]]]:
    """The chapter's overfitting setup: the first settings["n_train"] training images, an MLP of settings["layers"]
    x settings["hidden"] ReLU units (He initial weights), SGD with settings["lr"], settings["epochs"] epochs of
    settings["batch_size"] batches.
    variants: name -> {"l2": lambda, "dropout": p, "inverted": bool (the Dropout form, see `nn.Dropout`; default
    True)}; every variant starts from the same weights and sees the same batches, and variants with the same p
    draw the same Dropout masks. Returns name -> {"train_acc": [...], "test_acc": [...]} (after every epoch, on
    all the training images and all the test images). compile: train with compiled steps (`Trainer`'s compile)."""
    x, t = training.subset(data, settings["n_train"])
    per_epoch = max(len(x) // settings["batch_size"], 1)
    trainers = {}
    for name, v in variants.items():
        model = nn.MLP(data.input_size, [settings["hidden"]] * settings["layers"], 10, activation="relu",
                       dropout=v.get("dropout", 0.0), dropout_inverted=v.get("inverted", True), rng=seed)
        trainers[name] = Trainer(model, optim.SGD(model.parameters(), lr=settings["lr"]), (x, t),
                                 (data.x_test, data.t_test), l2=v.get("l2", 0.0), verbose=False, compile=compile)
    training.lockstep(trainers, x, t, settings["epochs"] * per_epoch, settings["batch_size"], seed,
                      eval_every=per_epoch, desc=desc, verbose=verbose)
    return {name: {"train_acc": tr.history["train_acc"], "test_acc": tr.history["test_acc"]}
            for name, tr in trainers.items()}


def gap(curves: dict[str, list[float]], last: int = 10) -> float:
    """Train minus test accuracy, averaged over the last `last` epochs (one epoch alone is noisy)."""
    train, test = np.asarray(curves["train_acc"][-last:]), np.asarray(curves["test_acc"][-last:])
    return float((train - test).mean())


def draw_overfit(curves: dict[str, dict[str, list[float]]], title: str, subtitle: str, note: str = ""):
    """One panel per variant: train (solid) and test (dashed) accuracy per epoch, with the final accuracies and
    the gap over the last 10 epochs; `note` (what the panels teach) goes under the panels."""
    fig, axes = plots.figure(1, len(curves), figsize=(5 * len(curves), 4.4 + 0.3 * bool(note)), sharey=True)
    for ax, (name, c) in zip(axes[0], curves.items()):
        epochs = np.arange(1, len(c["train_acc"]) + 1)
        ax.plot(epochs, c["train_acc"], label="train", color="tab:blue")
        ax.plot(epochs, c["test_acc"], "--", label="test", color="tab:orange")
        ax.set_title(f"{name}\nfinal train {c['train_acc'][-1]:.3f}, test {c['test_acc'][-1]:.3f}; "
                     f"gap (last 10 epochs) {gap(c):.3f}", fontsize=9)
        ax.set_xlabel("epochs")
        ax.set_ylim(0, 1.0)
        ax.legend(loc="lower right")
    axes[0, 0].set_ylabel("accuracy")
    plots.suptitle(fig, f"{title}\n{subtitle}")
    if note:
        fig.supxlabel(plots.wrap_to_width(fig, note, 9), fontsize=9)
    return fig


def run_overfit(experiment: Experiment, data: Data, out: Path, seed: int, quick: bool, verbose: bool,
                overrides: dict[str, Any], variants_of, note: str = "", compile: bool = False) -> dict[str, Any]:
    """The whole run of an overfitting experiment (weight decay, Dropout): train the variants that
    `variants_of(settings)` names side by side, draw train/test accuracy per epoch (with `note` under the
    panels), and write the PNG and JSON. compile: train with compiled steps."""
    started = time.perf_counter()
    settings = resolve_settings(experiment, quick, overrides)
    curves = overfit(data, variants_of(settings), settings, seed, experiment.name, verbose, compile)
    gaps = {name: gap(c) for name, c in curves.items()}
    final = {name: {"train_acc": c["train_acc"][-1], "test_acc": c["test_acc"][-1],
                    "gap": c["train_acc"][-1] - c["test_acc"][-1]} for name, c in curves.items()}
    fig = draw_overfit(curves, experiment.title,
                       f"{settings['n_train']} training images; {texts.caption(data, quick)}", note)
    summary = "final train/test accuracy: " + "; ".join(
        f"{n}: {v['train_acc']:.3f}/{v['test_acc']:.3f} (gap {v['gap']:.3f})" for n, v in final.items())
    summary += "; gap averaged over the last 10 epochs: " + ", ".join(f"{n} {g:.3f}" for n, g in gaps.items())
    result = {"dataset": data.caption, "seed": seed, "quick": quick, "settings": settings,
              "numbers": {"final": final, "gap_last10": gaps,
                          "curves": {n: {k: results.rounded(v) for k, v in c.items()} for n, c in curves.items()}},
              "summary": summary}
    return results.finish(experiment, out, fig, result, started)
