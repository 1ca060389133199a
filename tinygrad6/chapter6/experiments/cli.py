"""What the chapter-6 experiments share: the data they run on, their command line, training several models on the
same mini-batches, smoothing, and writing a figure (PNG) and its numbers (JSON).

Every experiment module defines one `EXPERIMENT = Experiment(...)` (see `experiment.py`): its name, title, settings,
`run` and `what`; the functions here take that Experiment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import nn, optim
from ...engine.modes import no_grad
from ...engine.tensor import Tensor
from ...support import files
from .. import datasets
from ..progress import progress_bar
from ..train import Trainer, compiled_trainers
from .experiment import Experiment

CHAPTER_SIZES_NOTE = "defaults are the chapter's sizes; --quick runs a small version in seconds"


# -- data ---------------------------------------------------------------------------------------------------------
@dataclass
class Data:
    """Training and test arrays (x flattened, in [0, 1]; t integer labels) and a caption saying what they are."""

    name: str  # "mnist" or "digits"
    caption: str
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray

    @property
    def input_size(self) -> int:
        return self.x_train.shape[1]


def load_data(dataset: str | None = None, data_dir: str | Path | None = None, notice=print) -> Data:
    """The data an experiment runs on.

    data_dir: a folder of MNIST IDX files: all four (60,000 / 10,000), or only the two test-set files (their 10,000
        images split 8,000 train / 2,000 test, and the caption says so).
    dataset: "mnist" (from `datasets.default_root()`, downloaded when missing), "digits" (scikit-learn's 8x8
        digits), or None: MNIST when it is already on disk, else digits with a notice."""
    if data_dir is not None:
        kind = datasets.mnist_files(data_dir)
        if kind == "all":
            return _mnist(datasets.mnist(data_dir, download=False), "MNIST (60,000 training / 10,000 test images)")
        if kind == "test":
            return _mnist(datasets.mnist_test_split(data_dir),
                          "MNIST test set only (10,000 real images), split 8,000 train / 2,000 test")
        raise FileNotFoundError(f"--data {data_dir}: no MNIST IDX files there (expected t10k-images-idx3-ubyte.gz "
                                f"and t10k-labels-idx1-ubyte.gz, and optionally the two train-*.gz files)")
    if dataset is None:
        if datasets.mnist_files() is not None:
            return load_data(data_dir=datasets.default_root())
        notice(f"notice: MNIST is not in {datasets.default_root()}; using scikit-learn's 8x8 digits instead "
               f"(--dataset mnist downloads MNIST, --data DIR reads it from a folder)")
        dataset = "digits"
    if dataset == "digits":
        (x_train, t_train), (x_test, t_test) = datasets.digits()
        return Data("digits", "scikit-learn 8x8 digits (1,500 training / 297 test images)",
                    x_train, t_train, x_test, t_test)
    if dataset == "mnist":
        if datasets.mnist_files() == "test":
            return load_data(data_dir=datasets.default_root())
        return _mnist(datasets.mnist(), "MNIST (60,000 training / 10,000 test images)")
    raise ValueError(f"dataset must be 'mnist' or 'digits', got {dataset!r}")


def _mnist(arrays: datasets.Arrays, caption: str) -> Data:
    (x_train, t_train), (x_test, t_test) = arrays
    return Data("mnist", caption, x_train, t_train, x_test, t_test)


# -- command line -------------------------------------------------------------------------------------------------
# Every option is checked by its argparse `type=` while the command line is parsed, so a bad value stops the program
# with argparse's usage line and "error: argument --epochs: expected ..." (exit status 2) before any data is loaded.
def _number(parse: Callable[[str], Any], ok: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type: `parse` the text, then require `ok(value)`; otherwise say what was `expected`."""
    def check(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value
    check.__doc__ = f"argparse type: {expected}."
    return check


positive_int = _number(int, lambda v: v > 0, "a positive integer")
nonnegative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
probability = _number(float, lambda v: 0 <= v < 1, "a probability in [0, 1)")
fraction = _number(float, lambda v: 0 < v < 1, "a fraction in (0, 1)")
positive_float = _number(float, lambda v: 0 < v < math.inf, "a finite number > 0")
nonnegative_float = _number(float, lambda v: 0 <= v < math.inf, "a finite number >= 0")
finite_float = _number(float, math.isfinite, "a finite number")
decimal_exponent = _number(float, lambda v: -300 <= v <= 300, "an exponent of 10 between -300 and 300")


def at_most(limit: int) -> Callable[[str], int]:
    """An argparse type: a positive integer no larger than `limit`."""
    return _number(int, lambda v: 0 < v <= limit, f"a positive integer up to {limit:,}")


SIZE_LIMITS: dict[str, int] = {
    "n_train": 60_000,  # MNIST's training set (the chapter: 300 to 1,000); more would be clipped to it anyway
    "epochs": 10_000, "iters": 100_000, "steps": 10_000,  # the chapter: 301 epochs, 2,000 iterations, 30 steps
    "batch_size": 10_000, "hidden": 1_000, "units": 1_000, "layers": 20,  # the chapter: 100 or 128, 100, 4 to 6
    "samples": 100_000, "bins": 1_000, "scales": 100,  # the chapter: 1,000 samples, 30 bins, 16 scales
    "trials": 1_000, "best": 1_000,  # the chapter: 100 trials, the best 20 shown
}
"""The largest value of every size and count setting: at least three times the chapter's (the whole of MNIST for
n_train), and small enough that a typo (--units 2000000) is refused at once instead of running out of memory."""

SETTING_TYPES: dict[str, Callable[[str], Any]] = {
    # sizes and counts, each with its upper bound
    **{key: at_most(limit) for key, limit in SIZE_LIMITS.items()},
    # learning rates, weight decay, initial weights, Dropout
    "lr": positive_float, "lr_sgd": positive_float, "lr_momentum": positive_float, "lr_adagrad": positive_float,
    "lr_adam": positive_float, "lam": nonnegative_float, "std": positive_float, "p": probability,
    # the hyper-parameter search: a validation split and ranges of 10**exponent
    "val_ratio": fraction, "lr_min_exp": decimal_exponent, "lr_max_exp": decimal_exponent,
    "wd_min_exp": decimal_exponent, "wd_max_exp": decimal_exponent,
    # a starting point
    "x0": finite_float, "y0": finite_float,
}
"""The type of every experiment setting, by name: a name means the same thing in every experiment."""


def _usable_path(check: Callable[[str], Path]) -> Callable[[str], Path]:
    """An argparse path type whose system errors (a name too long, a NUL, a loop of links) are one argparse line."""
    def checked(text: str) -> Path:
        try:
            return check(text)
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise argparse.ArgumentTypeError(f"cannot use {text[:80]!r}{'...' if len(text) > 80 else ''} as a "
                                             f"folder: {why}") from None
    checked.__doc__ = check.__doc__
    return checked


@_usable_path
def output_folder(text: str) -> Path:
    """argparse type: a folder that exists or can be made, and can be written (nothing is created here)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder; pass a folder for the PNG and JSON files")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{existing} is a file, so the folder {path} cannot be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {existing} (permission denied); choose another folder")
    return path


@_usable_path
def mnist_folder(text: str) -> Path:
    """argparse type: a folder holding MNIST IDX files (all four, or the two test-set files)."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is not a folder")
    if datasets.mnist_files(path) is None:
        raise argparse.ArgumentTypeError(f"no MNIST IDX files in {path} (expected t10k-images-idx3-ubyte.gz and "
                                         f"t10k-labels-idx1-ubyte.gz, and optionally the two train-*.gz files)")
    return path


def add_shared_options(p: argparse.ArgumentParser, out_default: str, out_help: str) -> None:
    """The options every experiment and the tour take: --dataset, --data, --seed, --out, --quiet. (argparse runs a
    string default through its type too, so the default --out is checked like a typed one.)"""
    p.add_argument("--dataset", choices=("mnist", "digits"), default=None,
                   help="default: MNIST when already downloaded, else scikit-learn's digits (with a notice); "
                        "mnist downloads it")
    p.add_argument("--data", metavar="DIR", type=mnist_folder, default=None,
                   help="a folder of MNIST IDX .gz files (all four, or only the two t10k-* test-set files)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="default 0")
    p.add_argument("--out", metavar="DIR", type=output_folder, default=out_default, help=out_help)
    p.add_argument("--quiet", action="store_true", help="no progress bars or printed summary")
    p.add_argument("--eager", action="store_true",
                   help="train with eager steps instead of compiled ones (the same numbers, slower)")


def make_output_folder(p: argparse.ArgumentParser, out: Path) -> None:
    """Create --out now, before any work, so that what `output_folder` cannot foresee (a full disk, an ACL, a
    read-only mount seen by root) is still an argparse error and not a lost run."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        p.error(f"argument --out: cannot create {out}: {e.strerror or e}")


def parser(experiment: Experiment) -> argparse.ArgumentParser:
    """The shared options, plus one --option per number in the experiment's defaults (e.g. --epochs), typed by
    SETTING_TYPES, plus its run_options."""
    p = argparse.ArgumentParser(prog=f"python -m tinygrad6.experiments.{experiment.name}",
                                description=f"{experiment.title}. {experiment.setup} ({CHAPTER_SIZES_NOTE})")
    add_shared_options(p, "out", "where the PNG and JSON go (default: out)")
    p.add_argument("--quick", action="store_true", help="a small, fast version (for CI and a first look)")
    for key, value in experiment.defaults.items():
        quick = experiment.quick.get(key)
        limit = f"; at most {SIZE_LIMITS[key]:,}" if key in SIZE_LIMITS else ""
        p.add_argument(f"--{key.replace('_', '-')}", dest=key, type=SETTING_TYPES[key], default=None,
                       help=f"default {value}" + (f" (--quick: {quick})" if quick is not None else "") + limit)
    for key, (kind, text) in experiment.run_options.items():
        p.add_argument(f"--{key.replace('_', '-')}", dest=key, type=kind, default=None, help=text)
    return p


def main(experiment: Experiment, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse and check the command line and the output folder, load the data, run the experiment, print its
    summary and where its files went."""
    p = parser(experiment)
    args = p.parse_args(argv)
    overrides = {k: getattr(args, k) for k in experiment.defaults if getattr(args, k, None) is not None}
    try:
        resolve_settings(experiment, args.quick, overrides)  # settings that only clash together (its `check`)
    except ValueError as e:
        p.error(str(e))
    make_output_folder(p, args.out)
    try:
        import matplotlib  # noqa: F401  (fail now, not after the training, when it is missing)

        data = load_data(args.dataset, args.data) if experiment.needs_data else None
    except (OSError, ValueError, ImportError) as e:  # no network, bad IDX file, no scikit-learn or matplotlib
        raise SystemExit(f"error: {e}") from None
    with one_blas_thread(), compiled_trainers(not args.eager):
        how = {k: getattr(args, k) for k in experiment.run_options}
        result = experiment.run(data, args.out, seed=args.seed, quick=args.quick, verbose=not args.quiet, **how,
                                **overrides)
    if not args.quiet:
        print(result["summary"])
        print("wrote", ", ".join(str(args.out / f) for f in result["files"]))
    return result


def resolve_settings(experiment: Experiment, quick: bool, overrides: dict[str, Any]) -> dict[str, Any]:
    """The experiment's defaults, with its quick settings on top when quick, with explicit overrides on top of both;
    each value is checked by its SETTING_TYPES entry, then together by the experiment's `check(settings)` when it has
    one. Raises ValueError naming the setting."""
    unknown = set(overrides) - set(experiment.defaults)
    if unknown:
        raise TypeError(f"{experiment.name}.run: unknown settings {sorted(unknown)}; "
                        f"known: {sorted(experiment.defaults)}")
    settings = {**experiment.defaults, **(experiment.quick if quick else {}), **overrides}
    for key, value in settings.items():
        try:
            SETTING_TYPES[key](str(value))
        except argparse.ArgumentTypeError as e:
            raise ValueError(f"{experiment.name}: {key}={value}: {e}") from None
    if experiment.check is not None:
        experiment.check(settings)
    return settings


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit numpy's BLAS to one thread inside the block (with threadpoolctl, when installed).

    The experiments multiply small matrices (batch x 100 by 100 x 100), for which a second BLAS thread only adds
    synchronisation; on a busy 2-core machine it made an iteration 10 to 50 times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# -- training -----------------------------------------------------------------------------------------------------
def subset(data: Data, n_train: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The first n_train training samples (all when None or more than there are)."""
    n = len(data.x_train) if n_train is None else min(n_train, len(data.x_train))
    return data.x_train[:n], data.t_train[:n]


def lockstep(trainers: dict[str, Trainer], x: np.ndarray, t: np.ndarray, iters: int, batch_size: int,
             seed: int, eval_every: int = 0, desc: str = "", verbose: bool = True,
             after_update: bool = False) -> dict[str, np.ndarray]:
    """Train every trainer's model for `iters` iterations on the SAME mini-batches (the book's
    `np.random.choice(train_size, batch_size)` each iteration), as the chapter's comparisons do.
    eval_every > 0: after every `eval_every` iterations (an epoch), each trainer records its train and test
    losses and accuracies (`Trainer.evaluate_epoch`).

    Returns the per-iteration training loss of each: as `Trainer.step` records it, on the batch before the update
    (also in `trainer.history["loss"]`); or, after_update=True, the book's record: the loss on the same batch
    computed again right after the update (one more forward pass per step, without a graph)."""
    rng = np.random.default_rng(seed)
    after: dict[str, list[float]] = {name: [] for name in trainers}
    with progress_bar(iters, desc, verbose) as bar:
        for i in range(1, iters + 1):
            mask = rng.choice(len(x), batch_size)
            for name, trainer in trainers.items():
                trainer.step(x[mask], t[mask])
                if after_update:
                    with no_grad():
                        after[name].append(trainer.loss_fn(trainer.model, Tensor(x[mask]), t[mask]).item())
            if eval_every and i % eval_every == 0:
                for trainer in trainers.values():
                    trainer.evaluate_epoch(i // eval_every)
            bar.update(1)
    if after_update:
        return {name: np.array(losses) for name, losses in after.items()}
    return {name: np.array(trainer.history["loss"]) for name, trainer in trainers.items()}


def smooth_curve(y: Sequence[float], window: int = 11) -> np.ndarray:
    """A noisy curve averaged over a sliding Kaiser window (beta 2) of `window` (odd) points, point i centred on
    y[i], with the book's edge handling (its common/util.py `smooth_curve`): before y[0] come y[window-1], ...,
    y[1] (mirrored without repeating y[0]); after y[-1] come y[-1], y[-2], ..., y[-window+1] (the last point
    repeated). Same length as y; a curve shorter than the window is returned as it is."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) < window:
        return y.copy()
    padded = np.concatenate([y[window - 1:0:-1], y, y[::-1][:window - 1]])
    w = np.kaiser(window, 2.0)
    smoothed = np.convolve(padded, w / w.sum(), mode="valid")  # len(y) + window - 1 points
    half = window // 2
    return smoothed[half:half + len(y)]


# -- output -------------------------------------------------------------------------------------------------------
def figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.8), **kwargs):
    """A matplotlib Figure drawn by the Agg backend (no window, no pyplot global state) and its axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("the experiments draw with matplotlib, part of the `examples` extra: "
                          "pip install -e \".[examples]\"") from None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def wrap_to_width(fig, text: str, fontsize: float) -> str:
    """`text` with each of its lines broken at spaces so that, drawn at `fontsize`, no line is wider than `fig`.
    Constrained layout makes room for a suptitle's height but not its width: a centred line wider than the figure
    is cut on both sides."""
    renderer = fig.canvas.get_renderer()
    width = 0.97 * fig.bbox.width

    def fits(line: str) -> bool:
        probe = fig.text(0, 0, line, fontsize=fontsize)
        inside = probe.get_window_extent(renderer).width <= width
        probe.remove()
        return inside

    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            longer = f"{line} {word}" if line else word
            if line and not fits(longer):
                lines.append(line)
                longer = word
            line = longer
        lines.append(line)
    return "\n".join(lines)


def suptitle(fig, text: str, fontsize: float = 10) -> None:
    """The figure's title (lines separated by \\n), wrapped to the figure's width (`wrap_to_width`)."""
    fig.suptitle(wrap_to_width(fig, text, fontsize), fontsize=fontsize)


def caption(data: Data | None, quick: bool, without_data: str = "") -> str:
    """The line under every figure's title: the data it was made from, and whether it is the quick version."""
    text = data.caption if data is not None else without_data
    return text + (" — quick run (--quick): fewer iterations than the chapter" if quick else "")


def finish(experiment: Experiment, out: Path, fig, result: dict[str, Any], started: float) -> dict[str, Any]:
    """Write <out>/<name>.png and <out>/<name>.json (each through `files.replace_file`: complete or not at all, a
    symlink there replaced, not followed); return the result with its file names, run time and "what":
    `experiment.what(result)`, the text of what this run shows."""
    out.mkdir(parents=True, exist_ok=True)
    png, js = f"{experiment.name}.png", f"{experiment.name}.json"
    files.replace_file(out / png, lambda f: fig.savefig(f, format="png", dpi=90))
    result = {"experiment": experiment.name, "title": experiment.title, "what": "", **result,
              "seconds": round(time.perf_counter() - started, 2), "files": [png, js]}
    result["what"] = experiment.what(result)
    files.write_text(out / js, json.dumps(result, indent=2, default=_json_default) + "\n")
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def rounded(values, digits: int = 4) -> list:
    """A list of floats rounded for the JSON (curves of thousands of points stay readable and small)."""
    return [round(float(v), digits) for v in values]


# -- the texts of what a run shows --------------------------------------------------------------------------------
def shorter_run(experiment: Experiment, settings: dict[str, Any], key: str, unit: str, needs: str) -> str:
    """" This run trains 100 of the chapter's 201 epochs: <needs>" when setting `key` is below the chapter's (the
    experiment's defaults), else "": how a text says which of its conclusions need the full run."""
    chapter = experiment.defaults[key]
    if settings[key] >= chapter:
        return ""
    return f" This run trains {settings[key]} of the chapter's {chapter} {unit}: {needs}"


def listed(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def train_accuracy(acc: float) -> str:
    """A final training accuracy as the texts give it: 100% only when every training image is right."""
    return "1.000 (every training image right)" if acc == 1.0 else f"{acc:.3f}"


# -- the overfitting experiments (weight decay, dropout) ----------------------------------------------------------
def overfit(data: Data, variants: dict[str, dict[str, Any]], settings: dict[str, Any], seed: int, desc: str,
            verbose: bool) -> dict[str, dict[str, list[float]]]:
    """The chapter's overfitting setup: the first settings["n_train"] training images, an MLP of settings["layers"]
    x settings["hidden"] ReLU units (He initial weights), SGD with settings["lr"], settings["epochs"] epochs of
    settings["batch_size"] batches.
    variants: name -> {"l2": lambda, "dropout": p, "inverted": bool (the Dropout form, see `nn.Dropout`; default
    True)}; every variant starts from the same weights and sees the same batches, and variants with the same p
    draw the same Dropout masks. Returns name -> {"train_acc": [...], "test_acc": [...]} (after every epoch, on
    all the training images and all the test images)."""
    x, t = subset(data, settings["n_train"])
    per_epoch = max(len(x) // settings["batch_size"], 1)
    trainers = {}
    for name, v in variants.items():
        model = nn.MLP(data.input_size, [settings["hidden"]] * settings["layers"], 10, activation="relu",
                       dropout=v.get("dropout", 0.0), dropout_inverted=v.get("inverted", True), rng=seed)
        trainers[name] = Trainer(model, optim.SGD(model.parameters(), lr=settings["lr"]), (x, t),
                                 (data.x_test, data.t_test), l2=v.get("l2", 0.0), verbose=False)
    lockstep(trainers, x, t, settings["epochs"] * per_epoch, settings["batch_size"], seed, eval_every=per_epoch,
             desc=desc, verbose=verbose)
    return {name: {"train_acc": tr.history["train_acc"], "test_acc": tr.history["test_acc"]}
            for name, tr in trainers.items()}


def gap(curves: dict[str, list[float]], last: int = 10) -> float:
    """Train minus test accuracy, averaged over the last `last` epochs (one epoch alone is noisy)."""
    train, test = np.asarray(curves["train_acc"][-last:]), np.asarray(curves["test_acc"][-last:])
    return float((train - test).mean())


def draw_overfit(curves: dict[str, dict[str, list[float]]], title: str, subtitle: str, note: str = ""):
    """One panel per variant: train (solid) and test (dashed) accuracy per epoch, with the final accuracies and
    the gap over the last 10 epochs; `note` (what the panels teach) goes under the panels."""
    fig, axes = figure(1, len(curves), figsize=(5 * len(curves), 4.4 + 0.3 * bool(note)), sharey=True)
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
    suptitle(fig, f"{title}\n{subtitle}")
    if note:
        fig.supxlabel(wrap_to_width(fig, note, 9), fontsize=9)
    return fig


def run_overfit(experiment: Experiment, data: Data, out: Path, seed: int, quick: bool, verbose: bool,
                overrides: dict[str, Any], variants_of, note: str = "") -> dict[str, Any]:
    """The whole run of an overfitting experiment (weight decay, Dropout): train the variants that
    `variants_of(settings)` names side by side, draw train/test accuracy per epoch (with `note` under the
    panels), and write the PNG and JSON."""
    started = time.perf_counter()
    settings = resolve_settings(experiment, quick, overrides)
    curves = overfit(data, variants_of(settings), settings, seed, experiment.name, verbose)
    gaps = {name: gap(c) for name, c in curves.items()}
    final = {name: {"train_acc": c["train_acc"][-1], "test_acc": c["test_acc"][-1],
                    "gap": c["train_acc"][-1] - c["test_acc"][-1]} for name, c in curves.items()}
    fig = draw_overfit(curves, experiment.title, f"{settings['n_train']} training images; {caption(data, quick)}", note)
    summary = "final train/test accuracy: " + "; ".join(
        f"{n}: {v['train_acc']:.3f}/{v['test_acc']:.3f} (gap {v['gap']:.3f})" for n, v in final.items())
    summary += "; gap averaged over the last 10 epochs: " + ", ".join(f"{n} {g:.3f}" for n, g in gaps.items())
    result = {"dataset": data.caption, "seed": seed, "quick": quick, "settings": settings,
              "numbers": {"final": final, "gap_last10": gaps,
                          "curves": {n: {k: rounded(v) for k, v in c.items()} for n, c in curves.items()}},
              "summary": summary}
    return finish(experiment, out, fig, result, started)


def plot_loss_curves(ax, losses: dict[str, np.ndarray], labels: dict[str, str], markers: str) -> dict[str, np.ndarray]:
    """Draw each run's training loss, smoothed by `smooth_curve`, on `ax` (one marker per run, `labels` in the
    legend); return the smoothed curves."""
    smoothed = {name: smooth_curve(loss) for name, loss in losses.items()}
    for (name, curve), marker in zip(smoothed.items(), markers):
        ax.plot(curve, marker=marker, markevery=max(len(curve) // 20, 1), markersize=4, label=labels[name])
    ax.set_xlabel("iterations")
    ax.set_ylabel("training loss after each update (smoothed)")
    return smoothed


BOOK_STATISTIC = ("the book's statistic: the last point of smooth_curve of the loss recorded after each update, "
                  "as ch06/optimizer_compare_mnist.py and weight_init_compare.py plot it")


def loss_curves_result(data: Data, seed: int, quick: bool, settings: dict[str, Any], before: dict[str, np.ndarray],
                       smoothed: dict[str, np.ndarray], test_acc: dict[str, float]) -> dict[str, Any]:
    """The JSON of a loss-curve comparison (optimizers, initial weights). Two statistics of the final loss:
    "book_final_loss", the book's (the last point of the smoothed curve of the loss after each update, `smoothed`),
    and "mean_loss_before_update", tinygrad6's (the mean raw loss over the last tenth of the iterations, each
    recorded before its update, `before`); the test accuracy; the smoothed curves (every 10th point)."""
    tail = max(settings["iters"] // 10, 1)
    book = {name: float(curve[-1]) for name, curve in smoothed.items()}
    mean_before = {name: float(loss[-tail:].mean()) for name, loss in before.items()}
    summary = ("final loss, the book's statistic (last point of the smoothed loss after each update): "
               + ", ".join(f"{n} {v:.4f}" for n, v in book.items())
               + f"; mean loss over the last {tail} of {settings['iters']} iterations, recorded before each update: "
               + ", ".join(f"{n} {v:.4f}" for n, v in mean_before.items())
               + "; test accuracy: " + ", ".join(f"{n} {v:.3f}" for n, v in test_acc.items()))
    return {"dataset": data.caption, "seed": seed, "quick": quick, "settings": settings,
            "numbers": {"book_final_loss": book, "book_final_loss_is": BOOK_STATISTIC,
                        "mean_loss_before_update": mean_before,
                        "mean_loss_before_update_is": f"the mean raw loss over the last {tail} iterations, each "
                                                      f"recorded before its update (Trainer.step)",
                        "test_acc": test_acc,
                        "loss_smoothed": {n: rounded(c[::10]) for n, c in smoothed.items()},
                        "loss_smoothed_every": 10},
            "summary": summary}
