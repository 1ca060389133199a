"""`progress_bar`: the one progress bar of the training loop, the experiments and the downloads (tqdm when it can
draw, else nothing)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


class _NoBar:
    """What `progress_bar` gives when it draws nothing: a tqdm bar's calls, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, values: dict[str, str]) -> None:
        pass


@contextlib.contextmanager
def progress_bar(total: int | None, desc: str, show: bool = True, **tqdm_options: Any) -> Iterator[Any]:
    """A tqdm bar of `total` steps on stderr for the block, closed when the block ends, by an error too. When show
    is False, stderr is not a terminal, or tqdm (in the `examples` extra) is not installed, there is no bar: the
    object given has the same update(n) and set_postfix(dict) and does nothing. tqdm_options: e.g. unit="B",
    unit_scale=True (default unit "it")."""
    if not show or not sys.stderr.isatty():
        yield _NoBar()
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield _NoBar()
        return
    bar = tqdm(total=total, desc=desc, leave=False, **{"unit": "it", **tqdm_options})
    try:
        yield bar
    finally:
        bar.close()
