"""Experiment 6 (chapter 6.4.1-6.4.2, figures 6-20 and 6-21): overfitting and weight decay. A 6x100 ReLU network
trained on only 300 images with SGD (lr 0.01) for 201 epochs, without weight decay (lambda 0) and with lambda 0.1
(the loss term 0.5 * lambda * sum(W**2), `nn.l2_penalty`); train and test accuracy after every epoch.

    python -m tinygrad6.experiments.weight_decay --data DIR --out out/
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import cli, overfit, texts
from .data import Data
from .experiment import Experiment


def run(data: Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        compile: bool = False, **overrides: Any) -> dict[str, Any]:
    return overfit.run_overfit(EXPERIMENT, data, out, seed, quick, verbose, overrides,
                              lambda settings: {"lambda = 0": {"l2": 0.0},
                                                f"lambda = {settings['lam']}": {"l2": settings["lam"]}},
                              compile=compile)


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its numbers: the final accuracies and the train/test gaps without and with weight
    decay, and, when it is shorter than the chapter's, that its networks are undertrained."""
    settings, final, gaps = r["settings"], r["numbers"]["final"], r["numbers"]["gap_last10"]
    plain, decayed = final  # "lambda = 0", "lambda = <lam>"
    text = (f"Without weight decay the training accuracy ends at {texts.train_accuracy(final[plain]['train_acc'])} "
            f"and the test accuracy at {final[plain]['test_acc']:.3f}: a train/test gap of {gaps[plain]:.3f} over "
            f"the last 10 epochs. With lambda = {settings['lam']} the training accuracy ends at "
            f"{texts.train_accuracy(final[decayed]['train_acc'])}, the test accuracy at "
            f"{final[decayed]['test_acc']:.3f}, and the gap is {gaps[decayed]:.3f}: ")
    if gaps[decayed] < gaps[plain]:
        text += f"weight decay narrows it by {gaps[plain] - gaps[decayed]:.3f}."
    else:
        text += "in this run weight decay does not narrow it."
    return text + texts.shorter_run(
        EXPERIMENT, settings, "epochs", "epochs",
        "the networks are undertrained, and the gap between train and test accuracy that the chapter shows needs the "
        "full run (--full).")


EXPERIMENT = Experiment(
    name="weight_decay",
    title="Overfitting fought by weight decay (6x100 ReLU network, 300 training images)",
    setup="Train (solid) and test (dashed) accuracy after every epoch of the same network trained on 300 images, "
          "without weight decay and with it.",
    needs_data=True,
    defaults={"n_train": 300, "epochs": 201, "batch_size": 100, "hidden": 100, "layers": 6,
              "lr": 0.01, "lam": 0.1},
    quick={"epochs": 100},
    run=run,
    what=what,
)


def main(argv=None) -> dict[str, Any]:
    return cli.main(EXPERIMENT, argv)


if __name__ == "__main__":
    main()
