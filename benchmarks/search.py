"""The hyper-parameter search's trials per second, three ways on the same trials, side by side: --jobs 1 (in this
process), --jobs 2 (joblib's local processes) and --scheduler local:2 (a Dask LocalCluster of 2 worker processes on
127.0.0.1), and what the cluster path costs over local processes: its start (the scheduler and 2 workers), its end,
and its rate once running. Each way's trials must equal --jobs 1's, bit for bit (the guard). Eager steps throughout
(`compile=False`), so every way trains the same way.

    python -m benchmarks.search [--trials 24] [--epochs 25] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import time
from dataclasses import dataclass
from typing import Any

from tinygrad6.chapter6 import datasets
from tinygrad6.chapter6.experiments import cluster, hyperparameter_search, training
from tinygrad6.chapter6.experiments.data import load_data
from tinygrad6.chapter6.experiments.settings import resolve_settings


@dataclass
class Way:
    """One way of running the trials: its wall time from start to end, and for the cluster the parts of it."""

    name: str
    seconds: float
    trials: list[dict[str, Any]]
    start: float = 0.0  # the cluster's start (scheduler, workers, connection, data scattered once: in `running`)
    stop: float = 0.0  # the cluster's end (its processes joined)

    @property
    def running(self) -> float:
        return self.seconds - self.start - self.stop


def available() -> bool:
    return importlib.util.find_spec("distributed") is not None


def search_ways(trials: int, epochs: int, rounds: int = 1, seed: int = 0) -> dict[str, Way]:
    """The same `trials` trials of `epochs` epochs on the digits (the --quick sizes otherwise), three ways, each
    timed `rounds` times in turns (A B C, C B A, ...) so that a machine busier at one moment favours no way; each
    way's median round."""
    settings = resolve_settings(hyperparameter_search.EXPERIMENT, True, {"trials": trials, "epochs": epochs,
                                                                         "best": min(trials, 12)})
    x, t = training.subset(load_data("digits"), settings["n_train"])
    x_train, t_train, x_val, t_val = datasets.train_val_split(x, t, settings["val_ratio"], seed=seed)
    train, val = (x_train, t_train), (x_val, t_val)

    def local_processes(jobs: int) -> Way:
        t0 = time.perf_counter()
        done, _ = hyperparameter_search.run_trials(settings, seed, train, val, jobs=jobs, verbose=False)
        return Way(f"--jobs {jobs}", time.perf_counter() - t0, done)

    def local_cluster() -> Way:
        t0 = time.perf_counter()
        with cluster.connect("local:2") as (client, _):
            t1 = time.perf_counter()
            with contextlib.closing(cluster.map_unordered(client, hyperparameter_search.trial, trials,
                                                          {"train": train, "val": val}, seed=seed,
                                                          settings=settings)) as finished:
                done = [r for _, r in sorted(finished, key=lambda pair: pair[0])]
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        return Way("--scheduler local:2", t3 - t0, done, start=t1 - t0, stop=t3 - t2)

    ways = {"--jobs 1": lambda: local_processes(1), "--jobs 2": lambda: local_processes(2)}
    if available():
        ways["--scheduler local:2"] = local_cluster
    times: dict[str, list[Way]] = {name: [] for name in ways}
    for r in range(rounds):
        for name in ways if r % 2 == 0 else reversed(ways):
            times[name].append(ways[name]())
    return {name: sorted(measured, key=lambda way: way.seconds)[len(measured) // 2]
            for name, measured in times.items()}


def report(ways: dict[str, Way]) -> tuple[str, bool]:
    """One line: each way's trials per second (wall time from start to end), the cluster's start, end and running rate,
    and its time over --jobs 2's; and whether every way gave --jobs 1's trials."""
    n = len(ways["--jobs 1"].trials)
    same = all(way.trials == ways["--jobs 1"].trials for way in ways.values())
    parts = [f"{name}: {n / way.seconds:.2f} trials/s" for name, way in ways.items()]
    local = ways.get("--scheduler local:2")
    if local is None:
        parts.append("--scheduler local:2 skipped (dask.distributed not installed)")
    else:
        jobs2 = ways["--jobs 2"].seconds
        parts[-1] += (f" ({local.start:.1f} s to start, {local.stop:.1f} s to stop, {n / local.running:.2f} "
                      f"trials/s running); {local.seconds / jobs2:.2f} × --jobs 2's time, "
                      f"{local.seconds - jobs2:+.1f} s")
    return "; ".join(parts), same


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--rounds", type=int, default=3, help="each way timed this many times, in turns; the median")
    args = p.parse_args(argv)
    with training.one_blas_thread():
        ways = search_ways(args.trials, args.epochs, args.rounds)
    line, same = report(ways)
    print(f"hyper-parameter search, {args.trials} trials x {args.epochs} epochs (digits, 6x100 ReLU, eager), median "
          f"of {args.rounds} rounds: {line}")
    print("every way gave --jobs 1's trials, bit for bit" if same else "GUARD FAILED: the trials differ")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
