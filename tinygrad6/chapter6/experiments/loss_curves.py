"""The loss-curve comparisons (optimizers, initial weights): their smoothed curves and their numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import results, training
from .data import Data


def plot_loss_curves(ax, losses: dict[str, np.ndarray], labels: dict[str, str], markers: str) -> dict[str, np.ndarray]:
    """Draw each run's training loss, smoothed by `smooth_curve`, on `ax` (one marker per run, `labels` in the
    legend); return the smoothed curves."""
    smoothed = {name: training.smooth_curve(loss) for name, loss in losses.items()}
    for (name, curve), marker in zip(smoothed.items(), markers):
        ax.plot(curve, marker=marker, markevery=max(len(curve) // 20, 1), markersize=4, label=labels[name])
    ax.set_xlabel("iterations")
    ax.set_ylabel("training loss after each update (smoothed)")
    return smoothed


BOOK_STATISTIC = ("the book's statistic: the last point of smooth_curve of the loss recorded after each update, "
                  "as ch06/optimizer_compare_mnist.py and weight_init_compare.py plot it")


def loss_curves_result(data: Data, seed: int, quick: bool, settings: dict[str, Any], before: dict[str, np.ndarray],
                       smoothed: dict[str, np.ndarray], test_acc: dict[str, float]) -> dict[str, Any]:
    """The JSON of a loss-curve comparison (optimizers, initial weights). Two statistics of the final loss:
    "book_final_loss", the book's (the last point of the smoothed curve of the loss after each update, `smoothed`),
    and "mean_loss_before_update", tinygrad6's (the mean raw loss over the last tenth of the iterations, each
    recorded before its update, `before`); the test accuracy; the smoothed curves (every 10th point)."""
    tail = max(settings["iters"] // 10, 1)
    book = {name: float(curve[-1]) for name, curve in smoothed.items()}
    mean_before = {name: float(loss[-tail:].mean()) for name, loss in before.items()}
    summary = ("final loss, the book's statistic (last point of the smoothed loss after each update): "
               + ", ".join(f"{n} {v:.4f}" for n, v in book.items())
               + f"; mean loss over the last {tail} of {settings['iters']} iterations, recorded before each update: "
               + ", ".join(f"{n} {v:.4f}" for n, v in mean_before.items())
               + "; test accuracy: " + ", ".join(f"{n} {v:.3f}" for n, v in test_acc.items()))
    return {"dataset": data.caption, "seed": seed, "quick": quick, "settings": settings,
            "numbers": {"book_final_loss": book, "book_final_loss_is": BOOK_STATISTIC,
                        "mean_loss_before_update": mean_before,
                        "mean_loss_before_update_is": f"the mean raw loss over the last {tail} iterations, each "
                                                      f"recorded before its update (Trainer.step)",
                        "test_acc": test_acc,
                        "loss_smoothed": {n: results.rounded(c[::10]) for n, c in smoothed.items()},
                        "loss_smoothed_every": 10},
            "summary": summary}
