"""Running many independent, pure tasks on a Dask distributed cluster (the hyper-parameter search's trials):
`scheduler_address` (the --scheduler option's type), `connect` (a client of a running scheduler, or of a
`LocalCluster` started here for `local:N`) and `map_unordered` (the tasks, with their large arguments sent to every
worker once, yielded as they finish). Needs the `cluster` extra: pip install -e ".[cluster]"."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

INSTALL = 'pip install -e ".[cluster]"'
CONNECT_TIMEOUT = 5.0
"""Seconds to reach a scheduler and to see its first worker before giving up."""
MAX_LOCAL_WORKERS = 256
_ADDRESS = re.compile(r"(tcp|tls|ws|wss)://([^\s/:\[\]]+|\[[0-9a-fA-F:.]+\]):\d{1,5}|local:\d+")  # host, or [IPv6]


class ClusterError(RuntimeError):
    """The tasks cannot run where they were asked to: the `cluster` extra is missing, or the scheduler cannot be
    reached or has no worker. The message is one line naming the address and what to do."""


@dataclass(frozen=True)
class Where:
    """Where the tasks ran: the scheduler's address, and its workers and their threads when the run started."""

    scheduler: str
    workers: int
    threads: int


def scheduler_address(text: str) -> str:
    """argparse type: `tcp://HOST:PORT` (a running `dask scheduler`; tls://, ws://, wss:// too) or `local:N` (N
    worker processes started on this machine, N up to 256)."""
    if not _ADDRESS.fullmatch(text) or (text.startswith("local:") and
                                        not 0 < int(text[6:]) <= MAX_LOCAL_WORKERS):
        raise argparse.ArgumentTypeError(f"expected tcp://HOST:PORT (a running `dask scheduler`) or local:N (N worker "
                                         f"processes on this machine, N up to {MAX_LOCAL_WORKERS}), got {text!r}")
    return text


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"running on a Dask cluster needs dask.distributed, in the `cluster` extra: {INSTALL}"
                           ) from None
    return distributed


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """No dask log lines while the tasks run: what they report (a lost worker, a task run again) the run handles."""
    names = ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def connect(scheduler: str, timeout: float = CONNECT_TIMEOUT) -> Iterator[tuple[Any, Where]]:
    """(a `distributed.Client`, where it runs) for the block. `scheduler` is `tcp://HOST:PORT` or `local:N`, a
    `LocalCluster` of N single-threaded worker processes on 127.0.0.1, started here and closed (its processes
    ended) when the block ends, by an error too. Raises ClusterError, naming the address, when the `cluster` extra
    is missing or no scheduler with at least one worker answers within `timeout` seconds; ValueError for what is
    not an address."""
    try:
        scheduler = scheduler_address(scheduler)
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"scheduler: {e}") from None
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_logs())
        if scheduler.startswith("local:"):
            target = stack.enter_context(distributed.LocalCluster(
                n_workers=int(scheduler[6:]), threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.CRITICAL))
        else:
            target = scheduler
        try:
            client = stack.enter_context(distributed.Client(target, timeout=timeout))
        except Exception:  # OSError "Timed out trying to connect", or whatever a non-Dask server's reply gave
            raise ClusterError(f"cannot reach a Dask scheduler at {scheduler} within {timeout:g} s; start one there "
                               f"with `dask scheduler`, or run here with --scheduler local:2") from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler at {scheduler} has no worker after {timeout:g} s; start one "
                               f"with `dask worker {client.scheduler.address}`") from None
        nthreads = client.nthreads()
        yield client, Where(client.scheduler.address, len(nthreads), sum(nthreads.values()))


def map_unordered(client: Any, function: Callable[..., Any], count: int, shared: dict[str, Any],
                  **arguments: Any) -> Iterator[tuple[int, Any]]:
    """(i, function(i, **arguments, **shared)) for i in range(count), run on the cluster's workers and yielded in
    the order they finish. `shared` (the large arrays) goes to every worker once, scattered with broadcast=True;
    each task gets a reference to it, not a copy. A worker lost on the way costs only time: the scheduler runs its
    tasks again elsewhere, both those it was running and those whose finished results only it held (up to
    `distributed.scheduler.allowed-failures` times per task, default 3). That is sound because `function` must be
    pure: its result depends on its arguments alone, so a task run twice gives the same result. Tasks still pending
    when the loop is left (an error, Ctrl-C) are cancelled."""
    handles = dict(zip(shared, client.scatter(list(shared.values()), broadcast=True)))
    run = uuid.uuid4().hex[:8]  # one search's tasks are told apart from another's on a shared scheduler
    futures = {client.submit(function, i, **arguments, **handles, key=f"{function.__name__}-{i}-{run}"): i
               for i in range(count)}
    try:
        for future in _distributed().as_completed(futures):
            yield futures[future], future.result()
    finally:
        client.cancel([*futures, *handles.values()])
