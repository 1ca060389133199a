"""Experiment 7 (chapter 6.4.3, figures 6-22 and 6-23): overfitting fought by Dropout. The overfitting setup of
`weight_decay` (a 6x100 ReLU network, 300 training images, SGD lr 0.01, batches of 100) for 301 epochs, as the
book's ch06/overfit_dropout.py: without Dropout, with the book's Dropout 0.2 after every hidden layer, and with
inverted Dropout 0.2 (PyTorch's form, `nn.Dropout`'s default); train and test accuracy after every epoch (evaluated
in eval mode). All three start from the same weights and see the same batches; both Dropout runs draw the same masks.

    python -m tinygrad6.experiments.dropout --data DIR --out out/

The two Dropout forms compute the same function but train differently under SGD: the book's network is an inverted
one whose weights after each Dropout are (1-p) times smaller and learn with a (1-p)**2 times lower learning rate
(see `nn.Dropout`). The book's form learns much more slowly, and that is what narrows its train/test gap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import cli, overfit, texts
from .data import Data
from .experiment import Experiment

NOTE = ("Same weights and batches in every panel, same masks in both Dropout panels. The book's Dropout = inverted "
        "Dropout with the weights after each Dropout (1-p) times smaller and their learning rate (1-p)² times lower.")


def variants(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The three runs, by name: no Dropout, the book's Dropout, inverted Dropout."""
    return {"no Dropout": {"dropout": 0.0},
            f"book's Dropout {settings['p']}": {"dropout": settings["p"], "inverted": False},
            f"inverted Dropout {settings['p']}": {"dropout": settings["p"], "inverted": True}}


def run(data: Data, out: Path = Path("out"), seed: int = 0, quick: bool = False, verbose: bool = True,
        compile: bool = False, **overrides: Any) -> dict[str, Any]:
    return overfit.run_overfit(EXPERIMENT, data, out, seed, quick, verbose, overrides, variants, NOTE, compile=compile)


def what(r: dict[str, Any]) -> str:
    """What this run shows, from its numbers: each form's final accuracies and gap, compared; and, when it is shorter
    than the chapter's, that its networks are undertrained."""
    settings, final, gaps = r["settings"], r["numbers"]["final"], r["numbers"]["gap_last10"]
    plain, book, inverted = final  # the names `variants` gives, in its order
    p = settings["p"]
    text = (f"Without Dropout the training accuracy ends at {texts.train_accuracy(final[plain]['train_acc'])} and "
            f"the test accuracy at {final[plain]['test_acc']:.3f}: a train/test gap of {gaps[plain]:.3f} over the "
            f"last 10 epochs. With the book's Dropout {p} (mask in training, x (1-p) at test) the training accuracy "
            f"ends at {texts.train_accuracy(final[book]['train_acc'])} and the gap is {gaps[book]:.3f}, ")
    text += "narrower than without Dropout. " if gaps[book] < gaps[plain] else "no narrower than without Dropout. "
    faster = final[inverted]["train_acc"] > final[book]["train_acc"]
    text += (f"Inverted Dropout {p} (PyTorch's form) is the same network with the weights after each Dropout learning "
             f"(1-p)^-2 = {1 / (1 - p) ** 2:.2f} times faster: its training accuracy ends at "
             f"{texts.train_accuracy(final[inverted]['train_acc'])}, {'above' if faster else 'not above'} the "
             f"book's form, and its gap is {gaps[inverted]:.3f}, "
             f"{'wider' if gaps[inverted] > gaps[book] else 'no wider'} than the book's form's.")
    if gaps[book] < gaps[plain] and faster and gaps[inverted] - gaps[book] > gaps[plain] - gaps[inverted]:
        text += (" Inverted Dropout's gap is closer to that without Dropout than to the book's form's: much of the "
                 "book's narrower gap comes from learning more slowly.")
    return text + texts.shorter_run(
        EXPERIMENT, settings, "epochs", "epochs",
        "the networks are undertrained (a network that has learned little has little gap), and the gaps the "
        "chapter compares need the full run (--full).")


EXPERIMENT = Experiment(
    name="dropout",
    title="Overfitting fought by Dropout (6x100 ReLU network, 300 training images)",
    setup="Train (solid) and test (dashed) accuracy after every epoch of the same network trained on 300 images, "
          "without Dropout, with the book's Dropout and with inverted Dropout (PyTorch's form).",
    needs_data=True,
    defaults={"n_train": 300, "epochs": 301, "batch_size": 100, "hidden": 100, "layers": 6,
              "lr": 0.01, "p": 0.2},
    quick={"epochs": 100},
    run=run,
    what=what,
)


def main(argv=None) -> dict[str, Any]:
    return cli.main(EXPERIMENT, argv)


if __name__ == "__main__":
    main()
