"""Pieces of the texts the experiments write from their numbers: the caption under a figure's title, what a shorter
run cannot show, lists and accuracies as the texts give them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .data import Data
from .experiment import Experiment


def caption(data: Data | None, quick: bool, without_data: str = "") -> str:
    """The line under every figure's title: the data it was made from, and whether it is the quick version."""
    text = data.caption if data is not None else without_data
    return text + (" — quick run (--quick): fewer iterations than the chapter" if quick else "")


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
