"""The hyper-parameter search on a Dask cluster (issue 24), on loopback only: a LocalCluster of 2 worker processes
on 127.0.0.1 gives the trials of --jobs 1 bit for bit, also when one of its workers is SIGKILLed after the first
trial has finished; a scheduler nobody answers at is one line and status 2, with nothing written. They need
dask.distributed (in the `dev` and `cluster` extras) and skip without it, unless $TINYGRAD6_TEST_CLUSTER is set
(.ci/run sets it), when they fail instead."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from tinygrad6.chapter6 import datasets
from tinygrad6.chapter6.experiments import cluster, hyperparameter_search, training
from tinygrad6.chapter6.experiments.settings import resolve_settings

CLUSTER_VARIABLE = "TINYGRAD6_TEST_CLUSTER"
needs_distributed = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None and not os.environ.get(CLUSTER_VARIABLE),
    reason=f"dask.distributed is not installed: pip install -e \".[dev]\" (or \".[cluster]\"); with "
           f"${CLUSTER_VARIABLE} set these tests fail instead of skipping")

SMALL = {"trials": 8, "epochs": 5, "best": 3}  # a trial takes about 0.25 s: 8 of them keep 2 workers busy
QUICK = ["--quick", "--dataset", "digits", "--quiet", *(f"--{k}={v}" for k, v in SMALL.items())]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with training.one_blas_thread():
        yield


def search(out: Path, *options: str) -> dict:
    hyperparameter_search.main([*QUICK, "--out", str(out), *options])
    return json.loads((out / "hyperparameter_search.json").read_text())


def split(digits, seed: int = 0) -> tuple[dict, tuple, tuple]:
    settings = resolve_settings(hyperparameter_search.EXPERIMENT, True, SMALL)
    x, t = training.subset(digits, settings["n_train"])
    x_train, t_train, x_val, t_val = datasets.train_val_split(x, t, settings["val_ratio"], seed=seed)
    return settings, (x_train, t_train), (x_val, t_val)


@needs_distributed
def test_a_local_cluster_of_two_workers_gives_the_trials_of_one_job(tmp_path):
    one = search(tmp_path / "one", "--jobs", "1")
    before = set(multiprocessing.active_children())  # joblib's processes, left by other tests, may be among them
    two = search(tmp_path / "local", "--scheduler", "local:2")
    assert two["numbers"] == one["numbers"]  # every trial's lr, weight decay and accuracies, bit for bit
    assert one["steps"] == two["steps"] == "compiled"  # the command line's default reaches the workers
    assert one["cluster"] is None and one["jobs"] == 1
    where = two["cluster"]
    assert where["workers"] == 2 and where["threads"] == 2 and two["jobs"] == 2
    assert where["scheduler"].startswith("tcp://127.0.0.1:")
    assert set(multiprocessing.active_children()) <= before  # the LocalCluster's processes ended with the search


@needs_distributed
def test_a_worker_killed_after_the_first_trial_loses_nothing(digits, monkeypatch):
    from distributed import Client, LocalCluster

    settings, train, val = split(digits)
    reference, where = hyperparameter_search.run_trials(settings, 0, train, val, jobs=1, verbose=False)
    assert where == {"jobs": 1, "cluster": None}

    killed = {}
    map_unordered = cluster.map_unordered

    def kill_a_busy_worker_after_the_first(client, *args, **kwargs):
        with contextlib.closing(map_unordered(client, *args, **kwargs)) as done:
            first = next(done)
            yield first
            pids = client.run(os.getpid)

            def pending(keys) -> int:  # trials not yet handed back
                return sum(key.startswith("trial-") and not key.startswith(f"trial-{first[0]}-") for key in keys)

            busy = {worker: pending(keys) for worker, keys in client.processing().items()}
            for worker, keys in client.has_what().items():
                busy[worker] = busy.get(worker, 0) + pending(keys)
            victim = max(busy, key=busy.get)  # the worker running or holding the most trials not yet handed back
            killed.update(worker=victim, pid=pids[victim], trials=busy[victim])
            os.kill(pids[victim], signal.SIGKILL)
            yield from done

    monkeypatch.setattr(cluster, "map_unordered", kill_a_busy_worker_after_the_first)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.CRITICAL) as local, Client(local) as client:
        trials, where = hyperparameter_search.run_trials(settings, 0, train, val, jobs=None, verbose=False,
                                                         scheduler=local.scheduler_address)
        assert killed["trials"] >= 1  # the kill took trials with it: they had to run again
        assert killed["pid"] not in client.run(os.getpid).values()  # that process is gone
    assert where["cluster"] == {"scheduler": local.scheduler_address, "workers": 2, "threads": 2}
    assert trials == reference  # every trial, its whole curves included, bit for bit


@needs_distributed
def test_a_search_that_fails_midway_still_closes_its_local_cluster(digits, monkeypatch):
    settings, train, val = split(digits)
    map_unordered = cluster.map_unordered

    def fail_after_the_first(*args, **kwargs):
        with contextlib.closing(map_unordered(*args, **kwargs)) as done:
            yield next(done)
            raise KeyboardInterrupt  # Ctrl-C, or any error, while the trials run

    monkeypatch.setattr(cluster, "map_unordered", fail_after_the_first)
    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt):
        hyperparameter_search.run_trials(settings, 0, train, val, jobs=None, verbose=False, scheduler="local:2")
    assert set(multiprocessing.active_children()) <= before  # its scheduler and workers are gone


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_distributed
def test_an_unreachable_scheduler_is_one_line_and_status_2_with_nothing_written(tmp_path, capsys):
    address = f"tcp://127.0.0.1:{closed_port()}"
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        hyperparameter_search.main([*QUICK, "--out", str(out), "--scheduler", address])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")
    assert captured.err.startswith(f"python -m tinygrad6.experiments.hyperparameter_search: error: cannot reach a "
                                   f"Dask scheduler at {address} within {cluster.CONNECT_TIMEOUT:g} s")
    assert not out.exists()  # the folder the command made for its files is gone again


def test_without_dask_the_option_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(SystemExit) as exit_info:
        hyperparameter_search.main([*QUICK, "--out", str(tmp_path), "--scheduler", "local:2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install -e ".[cluster]"' in err
    assert list(tmp_path.iterdir()) == []


def test_jobs_and_scheduler_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        hyperparameter_search.main([*QUICK, "--out", str(tmp_path), "--jobs", "2", "--scheduler", "local:2"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith("error: --jobs 2 and --scheduler local:2 exclude each other: on a "
                                            "cluster every worker thread runs a trial\n")


@pytest.mark.parametrize("address", ["local:0", "local:257", "local:", "127.0.0.1:8786", "tcp://host",
                                     "tcp://host:port", "http://host:8786", "tcp://a b:1", "tcp://::1:8786"])
def test_the_scheduler_option_refuses_what_is_not_an_address(address, capsys):
    with pytest.raises(SystemExit) as exit_info:
        hyperparameter_search.main(["--scheduler", address, "--dataset", "digits"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "python -m tinygrad6.experiments.hyperparameter_search: error: argument --scheduler: expected tcp://HOST:PORT")


@pytest.mark.parametrize("address", ["local:1", "local:256", "tcp://127.0.0.1:8786", "tls://scheduler.lan:8786",
                                     "tcp://[::1]:8786"])
def test_the_scheduler_option_takes_addresses_and_local_clusters(address):
    assert cluster.scheduler_address(address) == address


def test_ci_installs_dask_and_the_readme_says_how():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("dask[distributed]") for req in extras["dev"])  # the README's test install has it
    assert any(req.startswith("dask[distributed]") for req in extras["cluster"])
    ci = (root / ".ci/run").read_text()
    assert '-e ".[dev,examples]"' in ci and f"{CLUSTER_VARIABLE}=1" in ci
    readme = (root / "README.md").read_text()
    assert 'pip install -e ".[dev,examples]"' in readme and "### On a cluster" in readme
    section = readme[readme.index("### On a cluster"):]
    assert "dask scheduler" in section and "dask worker tcp://" in section and "--scheduler tcp://" in section


@needs_distributed
def test_the_connection_deadline_reaches_dask(monkeypatch):
    """The deadline is Dask's own connection timeout (its default, 30 s, would leave a user waiting six times longer
    than the error says); checked by what the Client is given, not by a clock."""
    import distributed

    given = {}

    class NoScheduler:
        def __init__(self, address, timeout=None, **kwargs):
            given.update(address=address, timeout=timeout)
            raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", NoScheduler)
    address = f"tcp://127.0.0.1:{closed_port()}"
    with pytest.raises(cluster.ClusterError, match=r"within 1\.5 s"), cluster.connect(address, timeout=1.5):
        pass
    assert given == {"address": address, "timeout": 1.5}
