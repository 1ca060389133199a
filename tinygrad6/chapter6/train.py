"""`Trainer`: the chapter's training loop (the book's common/trainer.py) on tinygrad6.

    model = nn.MLP(784, [100] * 5, 10, batchnorm=True, rng=0)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.01), (x_train, t_train), (x_test, t_test),
                      epochs=20, batch_size=100, seed=0)
    history = trainer.fit()
    history["test_acc"][-1]

One iteration:  loss = cross_entropy(model(x_batch), t_batch) [+ l2_penalty(model, l2)];  zero_grad; backward;
step. After every epoch the model is evaluated on the training data and on the test (or validation) data, under
`no_grad()` and in `eval()` mode (Dropout off, BatchNorm on its running statistics), then put back in training mode.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np

from .. import functional as F
from .. import nn
from ..compile import compile as compile_step
from ..engine.modes import no_grad
from ..engine.tensor import Tensor
from ..optim import Optimizer
from .datasets import batches
from .progress import progress_bar

Data = tuple[np.ndarray, np.ndarray]

class Trainer:
    """Train `model` with `optimizer` on `train` = (x, t) for `epochs` epochs of mini-batches of `batch_size`.

    test: (x, t) evaluated after every epoch (test or validation data), or None.
    An empty training or test set, or x and t of different lengths, raise ValueError here, before any work.
    l2: the book's weight decay as a loss term, 0.5 * l2 * sum(W**2) over the weights (`nn.l2_penalty`).
    sampling: "epoch" (each sample once per epoch, shuffled) or "choice" (the book's `np.random.choice` batches,
        len(x) // batch_size per epoch).
    eval_size: evaluate on at most this many samples of each set (the first ones: the same subset every epoch),
        the book's `evaluate_sample_num_per_epoch`; None = all.
    seed: seeds the batch order (model weights and dropout masks are seeded where the model is built).
    verbose: a tqdm progress bar when stderr is a terminal (and tqdm is installed; `progress.progress_bar`);
        False: silent.
    loss_fn: (model, x, t) -> scalar Tensor, to replace the cross-entropy.
    compile: run each iteration as a compiled step (`tinygrad6.compile`: the same numbers as eager, faster).

    `history` (also returned by `fit`): "loss" (every iteration), and per epoch "epoch", "train_loss", "train_acc",
    "test_loss", "test_acc"."""

    def __init__(self, model: nn.Module, optimizer: Optimizer, train: Data, test: Data | None = None, *,
                 epochs: int = 20, batch_size: int = 100, l2: float = 0.0, sampling: str = "epoch",
                 eval_size: int | None = None, seed: int | None = None, verbose: bool = True,
                 loss_fn: Callable[[nn.Module, Tensor, np.ndarray], Tensor] | None = None,
                 compile: bool = False) -> None:  # noqa: A002  (named as torch.compile)
        if len(train[0]) != len(train[1]):
            raise ValueError(f"Trainer: train x has {len(train[0])} samples, t has {len(train[1])}")
        if len(train[0]) == 0:
            raise ValueError("Trainer: the training set is empty (0 samples); pass at least one sample")
        if test is not None and len(test[0]) != len(test[1]):
            raise ValueError(f"Trainer: test x has {len(test[0])} samples, t has {len(test[1])}")
        if test is not None and len(test[0]) == 0:
            raise ValueError("Trainer: the test set is empty (0 samples); pass at least one sample, or test=None")
        if not (isinstance(batch_size, Integral) and batch_size > 0):
            raise ValueError(f"Trainer: batch_size must be a positive integer, got {batch_size}")
        if not (isinstance(epochs, Integral) and epochs >= 0):
            raise ValueError(f"Trainer: epochs must be an integer >= 0, got {epochs}")
        if sampling not in ("epoch", "choice"):
            raise ValueError(f"Trainer: sampling must be 'epoch' or 'choice', got {sampling!r}")
        if eval_size is not None and not (isinstance(eval_size, Integral) and eval_size > 0):
            raise ValueError(f"Trainer: eval_size must be a positive integer or None, got {eval_size}")
        self.model, self.optimizer = model, optimizer
        self.train_data, self.test_data = train, test
        self.epochs, self.batch_size, self.l2 = epochs, batch_size, l2
        self.sampling, self.eval_size, self.verbose = sampling, eval_size, verbose
        self.rng = np.random.default_rng(seed)
        self.loss_fn = loss_fn or self.cross_entropy
        self.compiled = compile
        self._step = compile_step(self.train_step) if self.compiled else self.train_step
        self.history: dict[str, list[Any]] = {k: [] for k in
                                              ("loss", "epoch", "train_loss", "train_acc", "test_loss", "test_acc")}

    def cross_entropy(self, model: nn.Module, x: Tensor, t: np.ndarray) -> Tensor:
        """cross_entropy(model(x), t), plus 0.5 * l2 * sum(W**2) when l2 > 0."""
        loss = F.cross_entropy(model(x), t)
        return loss + nn.l2_penalty(model, self.l2) if self.l2 else loss

    def train_step(self, x: np.ndarray, t: np.ndarray) -> Tensor:
        """loss on one mini-batch, its backward pass and the optimizer's update; returns the loss tensor."""
        loss = self.loss_fn(self.model, Tensor(x), t)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        """One update on one mini-batch (compiled or eager); returns the loss before the update."""
        self.model.train()
        value = float(self._step(x, t).item())
        self.history["loss"].append(value)
        return value

    def evaluate(self, x: np.ndarray, t: np.ndarray, batch_size: int = 1000) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of the model on (x, t), in eval mode and without building a graph.
        t: integer labels or one-hot rows. The model's previous mode is restored afterwards. An empty set raises
        ValueError (a mean over no samples is not 0)."""
        if len(x) == 0:
            raise ValueError("Trainer.evaluate: no samples (x is empty); a loss and an accuracy need at least one")
        was_training = self.model.training
        self.model.eval()
        labels = t.argmax(axis=1) if t.ndim == 2 else t
        total_loss, correct = 0.0, 0
        try:
            with no_grad():
                for start in range(0, len(x), batch_size):
                    y = self.model(Tensor(x[start:start + batch_size]))
                    total_loss += F.cross_entropy(y, t[start:start + batch_size]).item() * len(y)
                    correct += int((y.data.argmax(axis=1) == labels[start:start + batch_size]).sum())
        finally:
            self.model.train(was_training)
        return total_loss / len(x), correct / len(x)

    def evaluate_epoch(self, epoch: int) -> None:
        """Record the losses and accuracies on the (first eval_size samples of the) train and test data."""
        self.history["epoch"].append(epoch)
        for name, data in (("train", self.train_data), ("test", self.test_data)):
            if data is None:
                continue
            x, t = data if self.eval_size is None else (data[0][:self.eval_size], data[1][:self.eval_size])
            loss, acc = self.evaluate(x, t)
            self.history[f"{name}_loss"].append(loss)
            self.history[f"{name}_acc"].append(acc)

    def fit(self) -> dict[str, list[Any]]:
        """Run `epochs` epochs; evaluate after each. Returns `history`."""
        x, t = self.train_data
        per_epoch = max(len(x) // self.batch_size, 1) if self.sampling == "choice" else -(-len(x) // self.batch_size)
        with progress_bar(self.epochs * per_epoch, type(self.model).__name__, self.verbose) as bar:
            for epoch in range(1, self.epochs + 1):
                for x_batch, t_batch in batches(x, t, self.batch_size, seed=self.rng, sampling=self.sampling):
                    loss = self.step(x_batch, t_batch)
                    bar.update(1)
                self.evaluate_epoch(epoch)
                shown = {"loss": f"{loss:.3f}", "train_acc": f"{self.history['train_acc'][-1]:.3f}"}
                if self.history["test_acc"]:
                    shown["test_acc"] = f"{self.history['test_acc'][-1]:.3f}"
                bar.set_postfix(shown)
        return self.history
