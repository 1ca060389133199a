"""The contract every chapter-6 experiment fulfils, stated as a type: each experiment module defines one
`EXPERIMENT = Experiment(...)`, and the command line, the tour and the tests read it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Experiment:
    """One figure of chapter 6: what it is called and compares, its settings, and how to run it and say what a run
    shows.

    name: the module's name, of the files it writes (<out>/<name>.png and .json) and of its command line
        (`python -m tinygrad6.experiments.<name>`).
    title, setup: the figure's title, and one sentence saying what the figure compares, true of every run.
    needs_data: whether `run` trains on the images (`data.Data`) or needs none (None is passed).
    defaults: the chapter's sizes, one --option each (e.g. --epochs), typed by name (`cli.SETTING_TYPES`).
    quick: the overrides of `--quick` (empty when the full run takes seconds).
    run: `run(data, out, seed, quick, verbose, compile, **settings)` returns a result dict, also written to
        <out>/<name>.json; compile: train with compiled steps (the command line's default; `--eager` turns it off,
        and the numbers are the same).
    what: `what(result)`, what that run shows, written from its own numbers (result["what"]; the tour prints it
        beside the figure). A text never states what the run's numbers could contradict: a comparison is worded from
        the numbers it compares, and where the run is shorter than the chapter's, it says which conclusion needs the
        full run.
    check: `check(settings)` raises ValueError for settings that only clash together; None when there are none.
    run_options: name -> (argparse type, help) of options that change how the run is executed (e.g. --jobs), never
        its numbers; passed to `run` as keywords (None when not given), kept out of its settings.
    """

    name: str
    title: str
    setup: str
    needs_data: bool
    defaults: Mapping[str, Any]
    quick: Mapping[str, Any]
    run: Callable[..., dict[str, Any]]
    what: Callable[[dict[str, Any]], str]
    check: Callable[[dict[str, Any]], None] | None = None
    run_options: Mapping[str, tuple[Callable[[str], Any], str]] = field(default_factory=dict)
