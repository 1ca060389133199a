"""The settings of the experiments: the type and the largest value of every setting, by name (a name means the same
thing in every experiment), and `resolve_settings`, which gives a run its settings, checked."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from .experiment import Experiment


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
