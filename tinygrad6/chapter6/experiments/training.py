"""Training for the experiments: several models on the same mini-batches (`lockstep`), the first n training images,
the book's smoothing of a loss curve, and one BLAS thread."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np

from ...engine.modes import no_grad
from ...engine.tensor import Tensor
from ..progress import progress_bar
from ..train import Trainer
from .data import Data


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit numpy's BLAS to one thread inside the block (with threadpoolctl, when installed).

    The experiments multiply small matrices (batch x 100 by 100 x 100), for which a second BLAS thread only adds
    synchronisation; on a busy 2-core machine it made an iteration 10 to 50 times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# -- training -----------------------------------------------------------------------------------------------------
def subset(data: Data, n_train: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The first n_train training samples (all when None or more than there are)."""
    n = len(data.x_train) if n_train is None else min(n_train, len(data.x_train))
    return data.x_train[:n], data.t_train[:n]


def lockstep(trainers: dict[str, Trainer], x: np.ndarray, t: np.ndarray, iters: int, batch_size: int,
             seed: int, eval_every: int = 0, desc: str = "", verbose: bool = True,
             after_update: bool = False) -> dict[str, np.ndarray]:
    """Train every trainer's model for `iters` iterations on the SAME mini-batches (the book's
    `np.random.choice(train_size, batch_size)` each iteration), as the chapter's comparisons do.
    eval_every > 0: after every `eval_every` iterations (an epoch), each trainer records its train and test
    losses and accuracies (`Trainer.evaluate_epoch`).

    Returns the per-iteration training loss of each: as `Trainer.step` records it, on the batch before the update
    (also in `trainer.history["loss"]`); or, after_update=True, the book's record: the loss on the same batch
    computed again right after the update (one more forward pass per step, without a graph)."""
    rng = np.random.default_rng(seed)
    after: dict[str, list[float]] = {name: [] for name in trainers}
    with progress_bar(iters, desc, verbose) as bar:
        for i in range(1, iters + 1):
            mask = rng.choice(len(x), batch_size)
            for name, trainer in trainers.items():
                trainer.step(x[mask], t[mask])
                if after_update:
                    with no_grad():
                        after[name].append(trainer.loss_fn(trainer.model, Tensor(x[mask]), t[mask]).item())
            if eval_every and i % eval_every == 0:
                for trainer in trainers.values():
                    trainer.evaluate_epoch(i // eval_every)
            bar.update(1)
    if after_update:
        return {name: np.array(losses) for name, losses in after.items()}
    return {name: np.array(trainer.history["loss"]) for name, trainer in trainers.items()}


def smooth_curve(y: Sequence[float], window: int = 11) -> np.ndarray:
    """A noisy curve averaged over a sliding Kaiser window (beta 2) of `window` (odd) points, point i centred on
    y[i], with the book's edge handling (its common/util.py `smooth_curve`): before y[0] come y[window-1], ...,
    y[1] (mirrored without repeating y[0]); after y[-1] come y[-1], y[-2], ..., y[-window+1] (the last point
    repeated). Same length as y; a curve shorter than the window is returned as it is."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) < window:
        return y.copy()
    padded = np.concatenate([y[window - 1:0:-1], y, y[::-1][:window - 1]])
    w = np.kaiser(window, 2.0)
    smoothed = np.convolve(padded, w / w.sum(), mode="valid")  # len(y) + window - 1 points
    half = window // 2
    return smoothed[half:half + len(y)]
