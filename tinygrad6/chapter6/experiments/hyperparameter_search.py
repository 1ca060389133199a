"""Experiment 8 (chapter 6.5, figure 6-24): random search over the learning rate and the weight decay, judged on a
validation split. 500 training images, 20% of them (shuffled) held out for validation; lr = 10**U(-6, -2) and
lambda = 10**U(-8, -4); a 6x100 ReLU network trained with SGD (batch 100) for 50 epochs per trial; 100 trials.
The best 20 trials, by final validation accuracy, are drawn as a grid and printed with their values.

    python -m tinygrad6.experiments.hyperparameter_search --data DIR --out out/

The test set is never used: the search only ever looks at the validation images.

Trials run in parallel through joblib (--jobs N, default all cores), or on a Dask distributed cluster
(--scheduler tcp://HOST:PORT, a running `dask scheduler`; --scheduler local:N starts N worker processes here; needs
pip install -e ".[cluster]"). Each trial draws its lr, weight decay, initial weights and batches from its own
generator, seeded by (seed, trial index), so the results do not depend on --jobs, on the cluster, on the order the
trials finish, or on a trial being run again after its worker was lost.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ... import nn, optim
from .. import datasets
from ..progress import progress_bar
from ..train import Trainer
from . import cli, cluster, plots, results, texts, training
from .data import Data
from .experiment import Experiment
from .settings import at_most, resolve_settings

LEARNED = 0.2
"""The final validation accuracy the text counts as learned (twice chance, 0.1)."""


def check(settings: dict[str, Any]) -> None:
    """Settings that only clash together: the validation split must hold at least one image."""
    if int(settings["n_train"] * settings["val_ratio"]) == 0:
        raise ValueError(f"n_train {settings['n_train']} (--n-train) with val_ratio {settings['val_ratio']} "
                         f"(--val-ratio) leaves no validation images: n_train * val_ratio must be at least 1")


def trial(index: int, seed: int, settings: dict[str, Any], train: tuple[np.ndarray, np.ndarray],
          val: tuple[np.ndarray, np.ndarray], compile: bool = False) -> dict[str, Any]:
    """Trial `index` of the search: draw lr = 10**U(lr_min_exp, lr_max_exp) and weight decay likewise, train a fresh
    network on `train` and evaluate it on `val` after every epoch. Its values, initial weights and batches come from
    generators seeded by (seed, index) alone, so a trial gives the same result in any process, in any order."""
    streams = np.random.SeedSequence([seed, index]).spawn(3)
    values, weights, batches = (np.random.default_rng(stream) for stream in streams)
    lr = float(10 ** values.uniform(settings["lr_min_exp"], settings["lr_max_exp"]))
    weight_decay = float(10 ** values.uniform(settings["wd_min_exp"], settings["wd_max_exp"]))
    model = nn.MLP(train[0].shape[1], [settings["hidden"]] * settings["layers"], 10, activation="relu", rng=weights)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=lr), train, val, epochs=settings["epochs"],
                      batch_size=settings["batch_size"], l2=weight_decay, sampling="choice", seed=batches,
                      verbose=False, compile=compile)
    with training.one_blas_thread():  # in a worker process too: many small matrices, one BLAS thread each
        history = trainer.fit()
    return {"lr": lr, "weight_decay": weight_decay, "val_acc": history["test_acc"], "train_acc": history["train_acc"],
            "steps": "compiled" if trainer.compiled else "eager"}  # as the worker ran them


def run_trials(settings: dict[str, Any], seed: int, train: tuple[np.ndarray, np.ndarray],
               val: tuple[np.ndarray, np.ndarray], jobs: int | None, verbose: bool,
               scheduler: str | None = None, compile: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every trial, in index order, run by joblib on `jobs` processes (None: all cores, or every worker of the
    joblib backend chosen around the call), or on the Dask cluster at `scheduler` (`cluster.connect`). Returns the
    trials and where they ran: {"jobs": trials at once, "cluster": None, or the scheduler's address and its workers
    and threads when the search started}."""
    if scheduler is not None:
        if jobs is not None:
            raise cluster.ClusterError(f"--jobs {jobs} and --scheduler {scheduler} exclude each other: on a cluster "
                                       f"every worker thread runs a trial")
        with cluster.connect(scheduler) as (client, where), contextlib.closing(cluster.map_unordered(
                client, trial, settings["trials"], {"train": train, "val": val}, seed=seed, settings=settings,
                compile=compile)) as done:
            trials = _in_order(settings["trials"], verbose, done)
        return trials, {"jobs": where.threads, "cluster": dataclasses.asdict(where)}
    try:
        import joblib
    except ImportError:
        raise ImportError("the hyper-parameter search runs its trials through joblib, part of the `examples` extra: "
                          "pip install -e \".[examples]\"") from None
    parallel = joblib.Parallel(n_jobs=-1 if jobs is None else jobs, return_as="generator")
    calls = (joblib.delayed(trial)(i, seed, settings, train, val, compile) for i in range(settings["trials"]))
    trials = _in_order(settings["trials"], verbose, enumerate(parallel(calls)))
    workers = parallel.n_jobs if parallel.n_jobs > 0 else joblib.effective_n_jobs(parallel.n_jobs)
    return trials, {"jobs": workers, "cluster": None}


def _in_order(count: int, verbose: bool, done: Iterator[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The trials in index order, from (index, trial) pairs in the order the trials finish, with the experiments'
    progress bar advancing by one as each arrives."""
    trials: list[Any] = [None] * count
    with progress_bar(count, EXPERIMENT.name, verbose) as bar:
        for index, result in done:
            trials[index] = result
            bar.update(1)
    return trials


def run(data: Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        jobs: int | None = None, scheduler: str | None = None, compile: bool = False,
        **overrides: Any) -> dict[str, Any]:
    """The search; jobs: trials run in parallel (None: all cores); scheduler: run them on a Dask cluster instead,
    `tcp://HOST:PORT` or `local:N` (`cluster.connect`; raises cluster.ClusterError, before writing anything, when it
    cannot be reached); compile: each trial trains with compiled steps. The result depends on none of them, except
    for its record of where it ran."""
    started = time.perf_counter()
    settings = resolve_settings(EXPERIMENT, quick, overrides)
    x, t = training.subset(data, settings["n_train"])
    x_train, t_train, x_val, t_val = datasets.train_val_split(x, t, settings["val_ratio"], seed=seed)
    trials, where = run_trials(settings, seed, (x_train, t_train), (x_val, t_val), jobs, verbose, scheduler, compile)
    ranked = sorted(trials, key=lambda r: r["val_acc"][-1], reverse=True)
    best = ranked[:settings["best"]]

    ncols = 4
    nrows = -(-len(best) // ncols)
    fig, axes = plots.figure(nrows, ncols, figsize=(10, 1.9 * nrows + 1.2), sharex=True, sharey=True)
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
    plots.suptitle(fig, f"{EXPERIMENT.title}\n{len(x_train)} training / {len(x_val)} validation images (the test "
                         f"images are never used); {settings['trials']} trials x {settings['epochs']} epochs; solid: "
                         f"validation, dashed: training accuracy\n{texts.caption(data, quick)}")

    lines = [f"Best-{k + 1} (val acc: {r['val_acc'][-1]:.3f}) | lr: {r['lr']:.3g}, weight decay: "
             f"{r['weight_decay']:.3g}" for k, r in enumerate(best)]
    if verbose:
        print("\n".join(lines))
    lrs = [r["lr"] for r in best[:5]]
    summary = (f"best validation accuracy {best[0]['val_acc'][-1]:.3f} with lr {best[0]['lr']:.3g} and weight decay "
               f"{best[0]['weight_decay']:.3g}; the best 5 trials have lr in [{min(lrs):.2g}, {max(lrs):.2g}]")
    steps = sorted({r["steps"] for r in trials})  # how the workers trained: ["compiled"] unless --eager
    result = {"dataset": data.caption, "seed": seed, "quick": quick, **where, "steps": "/".join(steps),
              "settings": {**settings, "n_train_used": len(x_train), "n_val": len(x_val)},
              "numbers": {"best": [{"rank": k + 1, "lr": r["lr"], "weight_decay": r["weight_decay"],
                                    "val_acc": r["val_acc"][-1], "train_acc": r["train_acc"][-1]}
                                   for k, r in enumerate(best)],
                          "all_trials": [{"lr": r["lr"], "weight_decay": r["weight_decay"],
                                          "val_acc": r["val_acc"][-1]} for r in trials],
                          "best_listing": lines},
              "summary": summary}
    return results.finish(EXPERIMENT, out, fig, result, started)


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its trials: how many learned, the ranges of learning rate and weight decay of the
    best (up to 5) of those, and whether the learning rate's range is the narrower one, which is where a next,
    narrower search would go."""
    settings, n = r["settings"], r["numbers"]
    trials = sorted(n["all_trials"], key=lambda t: t["val_acc"], reverse=True)
    learned = [t for t in trials if t["val_acc"] >= LEARNED]
    text = f"{len(learned)} of {len(trials)} trials reach a validation accuracy of {LEARNED} or more (chance is 0.1). "
    if len(learned) >= 2:
        best, which = learned[:5], f"The best {min(len(learned), 5)} of them"
    else:
        best, which = trials[:5], f"The best {min(len(trials), 5)} trials"
    lrs, wds = [t["lr"] for t in best], [t["weight_decay"] for t in best]
    lr_decades, wd_decades = np.log10(max(lrs) / min(lrs)), np.log10(max(wds) / min(wds))
    searched = {"lr": settings["lr_max_exp"] - settings["lr_min_exp"],
                "wd": settings["wd_max_exp"] - settings["wd_min_exp"]}
    text += (f"{which} (validation accuracy {best[0]['val_acc']:.2f} down to {best[-1]['val_acc']:.2f}) have learning "
             f"rates from {min(lrs):.2g} to {max(lrs):.2g} ({lr_decades:.1f} of the {searched['lr']:g} decades "
             f"searched) and weight decays from {min(wds):.2g} to {max(wds):.2g} ({wd_decades:.1f} of the "
             f"{searched['wd']:g} decades searched). ")
    if len(learned) < 2:
        text += "Too few trials learned to point at a range. "
    elif lr_decades < wd_decades:
        text += (f"Their learning rates agree far more than their weight decays: a next, narrower search would draw "
                 f"the learning rate from [{min(lrs):.2g}, {max(lrs):.2g}]. ")
    else:
        text += ("Their learning rates spread at least as widely as their weight decays: in this run the search does "
                 "not yet point at a narrower learning-rate range. ")
    chapter = EXPERIMENT.defaults
    if settings["trials"] < chapter["trials"] or settings["epochs"] < chapter["epochs"]:
        text += (f"This run has {settings['trials']} trials of {settings['epochs']} epochs, the chapter's "
                 f"{chapter['trials']} of {chapter['epochs']}: its networks are undertrained and its ranges "
                 f"rough; the chapter's search needs the full run (--full).")
    return text.rstrip()


EXPERIMENT = Experiment(
    name="hyperparameter_search",
    title="Random search over learning rate and weight decay (6x100 ReLU network, validation split)",
    setup="Validation (solid) and training (dashed) accuracy of the best trials of a random search over the learning "
          "rate and the weight decay, each drawn on a log scale.",
    needs_data=True,
    defaults={"n_train": 500, "val_ratio": 0.2, "trials": 100, "epochs": 50, "batch_size": 100,
              "hidden": 100, "layers": 6, "best": 20, "lr_min_exp": -6.0, "lr_max_exp": -2.0,
              "wd_min_exp": -8.0, "wd_max_exp": -4.0},
    quick={"trials": 12, "epochs": 25, "best": 12},
    run=run,
    what=what,
    check=check,
    run_options={"jobs": (at_most(256), "trials run in parallel through joblib (default: all cores; at most "
                                        "256); the results are the same for every value"),
                 "scheduler": (cluster.scheduler_address,
                               "run the trials on a Dask cluster: tcp://HOST:PORT of a running `dask scheduler`, or "
                               "local:N to start N worker processes here (needs pip install -e \".[cluster]\"); the "
                               "results are the same as with --jobs")},
)


def main(argv=None) -> dict[str, Any]:
    """The command line; a cluster that cannot be used (no dask, no scheduler answering) is one line on stderr and
    exit status 2, with nothing written."""
    try:
        return cli.main(EXPERIMENT, argv)
    except cluster.ClusterError as e:
        print(f"{cli.parser(EXPERIMENT).prog}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
