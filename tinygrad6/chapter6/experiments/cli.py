"""The command line of every experiment and the options it shares with the tour: `parser(experiment)` and
`main(experiment, argv)`, which checks the command line and the output folder before loading any data, runs the
experiment and prints its summary."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import datasets
from . import training
from .data import load_data
from .experiment import Experiment
from .settings import SETTING_TYPES, SIZE_LIMITS, nonnegative_int, resolve_settings

CHAPTER_SIZES_NOTE = "defaults are the chapter's sizes; --quick runs a small version in seconds"


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


def make_output_folder(p: argparse.ArgumentParser, out: Path) -> Path | None:
    """Create --out now, before any work, so that what `output_folder` cannot foresee (a full disk, an ACL, a
    read-only mount seen by root) is still an argparse error and not a lost run. Returns the outermost folder it
    created (None when --out was there already), for `remove_if_empty`."""
    created = next((folder for folder in [*reversed(out.parents), out] if not folder.exists()), None)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        p.error(f"argument --out: cannot create {out}: {e.strerror or e}")
    return created


def remove_if_empty(created: Path | None, out: Path) -> None:
    """Remove the folders `make_output_folder` created, from `out` up to `created`, while they are empty: a run that
    failed before writing anything leaves nothing behind."""
    if created is None:
        return
    for folder in [out, *out.parents]:
        try:
            folder.rmdir()  # only an empty folder
        except OSError:
            return
        if folder == created:
            return


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
    created = make_output_folder(p, args.out)
    try:
        try:
            import matplotlib  # noqa: F401  (fail now, not after the training, when it is missing)

            data = load_data(args.dataset, args.data) if experiment.needs_data else None
        except (OSError, ValueError, ImportError) as e:  # no network, bad IDX file, no scikit-learn or matplotlib
            raise SystemExit(f"error: {e}") from None
        with training.one_blas_thread():
            how = {k: getattr(args, k) for k in experiment.run_options}
            result = experiment.run(data, args.out, seed=args.seed, quick=args.quick, verbose=not args.quiet,
                                    compile=not args.eager, **how, **overrides)
    except BaseException:
        remove_if_empty(created, args.out)
        raise
    if not args.quiet:
        print(result["summary"])
        print("wrote", ", ".join(str(args.out / f) for f in result["files"]))
    return result
