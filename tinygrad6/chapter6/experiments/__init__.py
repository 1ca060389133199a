"""The chapter-6 experiments, one module each (NAMES), sharing one command line (`cli.py`):

    python -m tinygrad6.experiments.weight_decay --data DIR --out out/ [--quick] [--seed 0]
    python -m tinygrad6.experiments weight_decay --quick          # the same, through the package

Each module states what it is and how it runs in one `EXPERIMENT` (an `experiment.Experiment`). Each writes
<out>/<name>.png and <out>/<name>.json; in Python, `module.run(data, out, quick=True)` does the same and returns the
numbers. `python -m tinygrad6.tour` runs them all and writes one page.

What they share, one module per idea: `experiment` (the contract), `data` (the images a run trains on), `settings`
(each setting's type and bound), `cli` (the command line), `training` (models trained in lockstep, smoothing),
`plots` (figures and their titles), `texts` (pieces of the "what it shows" texts), `results` (the PNG and the JSON),
and the runs two figures each share: `overfit` (weight decay, Dropout) and `loss_curves` (optimizers, initial
weights).
"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("optimizer_paths", "optimizer_compare", "activation_histograms", "weight_init_compare",
         "batchnorm_compare", "weight_decay", "dropout", "hyperparameter_search")
"""The experiments in the chapter's order."""


def get(name: str) -> ModuleType:
    """The experiment module called `name` (one of NAMES); its `EXPERIMENT` says what it is and how it runs."""
    if name not in NAMES:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


__all__ = ["NAMES", "get"]
