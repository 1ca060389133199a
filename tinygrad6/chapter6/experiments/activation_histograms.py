"""Experiment 3 (chapter 6.2.2-6.2.3, figures 6-10 to 6-14): histograms of the activations of 5 layers of 100 units
fed 1,000 random inputs, for initial weights of std 1, std 0.01, Xavier (sqrt(1/n)) and He (sqrt(2/n)), each with
sigmoid, tanh and ReLU.

    python -m tinygrad6.experiments.activation_histograms --out out/

The forward pass runs on the engine (Tensors, under no_grad); inputs and weights are standard normal draws.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import init
from ...engine.modes import no_grad
from ...engine.tensor import Tensor
from . import cli, plots, results, texts
from .data import Data
from .experiment import Experiment
from .settings import resolve_settings

MAX_VALUES = 20_000_000
"""The most activations one row of the figure holds (samples x units x layers floats, 160 MB; the chapter's:
500,000)."""


def check(settings: dict[str, Any]) -> None:
    """Settings that only clash together: samples x units x layers activations must fit in MAX_VALUES."""
    values = settings["samples"] * settings["units"] * settings["layers"]
    if values > MAX_VALUES:
        raise ValueError(f"samples x units x layers = {settings['samples']} x {settings['units']} x "
                         f"{settings['layers']} = {values:,} activations, more than {MAX_VALUES:,} "
                         f"({MAX_VALUES * 8 >> 20} MiB); lower --samples, --units or --layers")


INITS = {"std=1": 1.0, "std=0.01": 0.01, "Xavier": "xavier", "He": "he"}  # label -> `weight_init` argument
ACTIVATIONS = ("sigmoid", "tanh", "relu")
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 1.0)}


def activations(x: np.ndarray, weight_init: str | float, activation: str, layers: int, units: int,
                rng: np.random.Generator) -> list[np.ndarray]:
    """The outputs of each of `layers` layers z = act(a @ W) (no bias, as in the book), W ~ N(0, std**2) with the
    std that `init.std_of(weight_init, n_in)` gives."""
    a = Tensor(x)
    outputs = []
    with no_grad():
        for _ in range(layers):
            W = Tensor(init.normal((a.shape[1], units), init.std_of(weight_init, a.shape[1]), rng))
            a = getattr(a @ W, activation)()
            outputs.append(a.data)
    return outputs


def run(data: Data | None = None, out: Path = Path("out"), seed: int = 0, quick: bool = False,
        verbose: bool = True, compile: bool = False, **overrides: Any) -> dict[str, Any]:
    started = time.perf_counter()
    settings = resolve_settings(EXPERIMENT, quick, overrides)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((settings["samples"], settings["units"]))
    rows = [(act, w) for act in ACTIVATIONS for w in INITS]
    fig, axes = plots.figure(len(rows), settings["layers"], figsize=(2.0 * settings["layers"] + 1, 1.25 * len(rows)),
                              sharey="row")
    stats: dict[str, dict[str, Any]] = {}
    for r, (act, w) in enumerate(rows):
        outs = activations(x, INITS[w], act, settings["layers"], settings["units"], np.random.default_rng([seed, r]))
        saturated = {"sigmoid": lambda a: (a < 0.01) | (a > 0.99), "tanh": lambda a: np.abs(a) > 0.99,
                     "relu": lambda a: a == 0}[act]
        stats[f"{act}, {w}"] = {"std": [float(f"{a.std():.4g}") for a in outs],
                                "saturated_or_zero": [round(float(saturated(a).mean()), 4) for a in outs]}
        if act == "relu":  # half the outputs are exactly 0: draw the others, on a scale that fits this row
            shown = [a[a > 0] for a in outs]
            lo, hi = 0.0, float(max(np.percentile(v, 99) if v.size else 0.0 for v in shown)) or 1.0
        else:
            shown, (lo, hi) = [a.ravel() for a in outs], RANGES[act]
        for i, a in enumerate(shown):
            ax = axes[r, i]
            ax.hist(a, bins=settings["bins"], range=(lo, hi), color="tab:blue")
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.set_title(f"layer {i + 1}", fontsize=9)
        axes[r, 0].set_ylabel(f"{act}\n{w}", fontsize=9)
    plots.suptitle(fig, f"{EXPERIMENT.title}\n{settings['samples']} standard-normal inputs; rows: activation and "
                         f"initial weights; x axis: activation value (ReLU: the non-zero outputs only)")

    last = {k: v["std"][-1] for k, v in stats.items()}
    summary = (f"sigmoid, std=1: {100 * stats['sigmoid, std=1']['saturated_or_zero'][-1]:.0f}% of layer "
               f"{settings['layers']}'s outputs below 0.01 or above 0.99; "
               f"std of layer {settings['layers']}'s activations: "
               + ", ".join(f"{k} {last[k]:.3g}" for k in ("sigmoid, std=0.01", "sigmoid, Xavier", "tanh, Xavier",
                                                           "relu, std=0.01", "relu, Xavier", "relu, He")))
    result = {"dataset": f"{settings['samples']} standard-normal random inputs (no data set)", "seed": seed,
              "quick": quick, "settings": settings,
              "numbers": {"per_layer": stats,
                          "note": "saturated_or_zero: sigmoid < 0.01 or > 0.99; tanh |a| > 0.99; relu a == 0"},
              "summary": summary}
    return results.finish(EXPERIMENT, out, fig, result, started)


def trend(first: float, last: float) -> str:
    """How a spread changes from the first layer to the last, in words: more than doubled, less than halved, or
    neither."""
    if last > 2 * first:
        return "grows"
    if last < first / 2:
        return "shrinks"
    return "stays within a factor of 2"


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its numbers: the share of saturated outputs with std 1, the spread left with std
    0.01, and how the spread of ReLU's outputs changes from layer to layer under each initialisation."""
    layers, stats = r["settings"]["layers"], r["numbers"]["per_layer"]
    sat = {act: stats[f"{act}, std=1"]["saturated_or_zero"][-1] for act in ("sigmoid", "tanh")}
    text = (f"With std 1, {100 * sat['sigmoid']:.0f}% of sigmoid's and {100 * sat['tanh']:.0f}% of tanh's "
            f"layer-{layers} outputs sit at their extremes (sigmoid below 0.01 or above 0.99, tanh beyond ±0.99), "
            f"where their gradient is almost 0. ")
    tiny = {act: stats[f"{act}, std=0.01"]["std"][-1] for act in ("sigmoid", "tanh")}
    text += (f"With std 0.01 the outputs of layer {layers} have a std of only {tiny['sigmoid']:.2g} (sigmoid) and "
             f"{tiny['tanh']:.2g} (tanh): ")
    text += ("they collapse to nearly one value, so every unit says the same thing. " if max(tiny.values()) < 0.05
             else "in this run they keep some spread. ")
    xavier = {act: stats[f"{act}, Xavier"]["std"] for act in ("sigmoid", "tanh")}
    text += (f"With Xavier the std goes from {xavier['sigmoid'][0]:.2g} in layer 1 to {xavier['sigmoid'][-1]:.2g} "
             f"in layer {layers} (sigmoid) and from {xavier['tanh'][0]:.2g} to {xavier['tanh'][-1]:.2g} (tanh). ")
    relu = {w: stats[f"relu, {w}"]["std"] for w in INITS}
    by_trend: dict[str, list[str]] = {}
    for w, std in relu.items():
        by_trend.setdefault(trend(std[0], std[-1]), []).append(w)
    text += (f"For ReLU the std goes from layer 1 to layer {layers}: "
             + ", ".join(f"{w} {std[0]:.2g} to {std[-1]:.2g}" for w, std in relu.items())
             + "; it " + "; it ".join(f"{how} with {texts.listed(ws)}" for how, ws in by_trend.items()) + ".")
    return text


EXPERIMENT = Experiment(
    name="activation_histograms",
    title="Activations of 5 layers x 100 units under different initial weights",
    setup="Histograms of each layer's activations for sigmoid, tanh and ReLU under four choices of initial weights "
          "(std 1, std 0.01, Xavier, He).",
    needs_data=False,
    defaults={"samples": 1000, "units": 100, "layers": 5, "bins": 30},
    quick={},  # a few small matrix products: the quick run is the full one
    run=run,
    what=what,
    check=check,
)


def main(argv=None) -> dict[str, Any]:
    return cli.main(EXPERIMENT, argv)


if __name__ == "__main__":
    main()
