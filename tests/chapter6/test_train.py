"""tinygrad6.train.Trainer: it learns, it is deterministic under a seed, it evaluates under no_grad() in eval mode,
it is quiet unless in a terminal; and on real MNIST images a BatchNorm network learns and weight decay narrows
the train/test gap."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from mnist_files import MNIST_DIR, needs_mnist

from tinygrad6 import F, datasets, is_grad_enabled, nn, optim
from tinygrad6.chapter6.experiments import overfit, training
from tinygrad6.chapter6.experiments.data import load_data
from tinygrad6.chapter6.train import Trainer


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with training.one_blas_thread():  # small matrices: a second BLAS thread only slows a busy machine down
        yield


def blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three gaussian blobs in 2-D, labels 0..2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    t = rng.integers(0, 3, size=n)
    return centres[t] + rng.standard_normal((n, 2)), t


def make_trainer(seed: int = 0, **kwargs) -> Trainer:
    x, t = blobs()
    model = nn.MLP(2, [16], 3, rng=seed)
    return Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x[:200], t[:200]), (x[200:], t[200:]),
                   epochs=kwargs.pop("epochs", 5), batch_size=kwargs.pop("batch_size", 20), seed=seed,
                   verbose=False, **kwargs)


def test_trainer_learns_and_records_a_history():
    trainer = make_trainer(epochs=8)
    history = trainer.fit()
    assert history["epoch"] == list(range(1, 9))
    assert len(history["loss"]) == 8 * 10  # 200 samples / batches of 20
    assert len(history["train_acc"]) == len(history["test_acc"]) == len(history["test_loss"]) == 8
    assert history["test_acc"][-1] > 0.95  # the blobs are nearly separable; chance is 1/3
    assert history["train_loss"][-1] < 0.5 * history["loss"][0]


def test_trainer_is_deterministic_under_a_seed():
    a, b, c = make_trainer(seed=3).fit(), make_trainer(seed=3).fit(), make_trainer(seed=4).fit()
    assert a == b
    assert a["loss"] != c["loss"]


def test_choice_sampling_runs_n_over_batch_size_iterations_per_epoch():
    trainer = make_trainer(epochs=3, batch_size=30, sampling="choice")
    trainer.fit()
    assert len(trainer.history["loss"]) == 3 * (200 // 30)


class Probe(nn.Module):
    """Records, at every forward, whether grad mode is on and whether the module is in training mode."""

    def __init__(self):
        super().__init__()
        self.net = nn.MLP(2, [8], 3, batchnorm=True, dropout=0.3, rng=0)
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.calls.append((is_grad_enabled(), self.training))
        return self.net(x)


def test_evaluation_runs_under_no_grad_in_eval_mode():
    x, t = blobs(100)
    model = Probe()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x[:60], t[:60]), (x[60:], t[60:]),
                      epochs=1, batch_size=20, verbose=False)
    trainer.fit()
    assert model.calls[:3] == [(True, True)] * 3  # 3 training batches
    assert model.calls[3:] == [(False, False)] * 2  # evaluation on train, then on test
    assert model.training and model.net.training  # back in training mode afterwards

    bn = model.net[1]
    running = bn.running_mean.copy()
    first = trainer.evaluate(x, t)
    np.testing.assert_array_equal(bn.running_mean, running)  # eval mode: the running statistics are untouched
    assert trainer.evaluate(x, t) == first  # and Dropout is off: the same numbers twice


def test_evaluate_accepts_one_hot_targets():
    trainer = make_trainer()
    trainer.fit()
    x, t = trainer.test_data
    assert trainer.evaluate(x, np.eye(3)[t]) == pytest.approx(trainer.evaluate(x, t))


def test_l2_adds_the_books_weight_decay_term_to_the_loss():
    trainer = make_trainer(l2=0.3)
    model = trainer.model
    weights = [layer.W.data.copy() for layer in model.linears]
    x, t = trainer.train_data
    ce = F.cross_entropy(model(x[:20]), t[:20]).item()
    loss = trainer.step(x[:20], t[:20])
    assert loss == pytest.approx(ce + 0.5 * 0.3 * sum((W**2).sum() for W in weights), rel=1e-12)


def test_quiet_unless_in_a_terminal(capsys, monkeypatch):
    make_trainer(epochs=1).fit()
    trainer = make_trainer(epochs=1)
    trainer.verbose = True
    trainer.fit()  # stderr is not a terminal under pytest
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    trainer = make_trainer(epochs=2)
    trainer.verbose = True
    trainer.fit()
    err = capsys.readouterr().err
    assert "MLP" in err and "20/20" in err  # tqdm's bar: 2 epochs x 10 iterations
    trainer = make_trainer(epochs=1)  # verbose=False
    trainer.fit()
    assert capsys.readouterr() == ("", "")


# -- real MNIST images --------------------------------------------------------------------------------------------
@needs_mnist
def test_a_batchnorm_mlp_learns_real_digits_where_the_plain_one_cannot():
    (x, t), (x_test, t_test) = datasets.mnist_test_split(MNIST_DIR)  # 8,000 / 2,000 of the real test set
    test_acc = {}
    for batchnorm in (True, False):  # the chapter's Batch Normalization setup at one of its weight scales
        model = nn.MLP(784, [100] * 5, 10, weight_init=0.01, batchnorm=batchnorm, rng=0)
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.01), (x[:1000], t[:1000]), (x_test, t_test),
                          epochs=20, batch_size=100, seed=0, verbose=False)
        test_acc[batchnorm] = trainer.fit()["test_acc"][-1]
    # trained on 1,000 images, tested on 2,000 others. Measured over seeds 0-2: with BatchNorm 0.88-0.90; without
    # it the signal dies in the 5 layers of std-0.01 weights and accuracy stays at 0.11 (chance is about 0.1).
    assert test_acc[True] > 0.85
    assert test_acc[False] < 0.2


@needs_mnist
def test_weight_decay_narrows_the_train_test_gap_on_real_digits():
    from tinygrad6.chapter6.experiments import weight_decay

    data = load_data(data_dir=MNIST_DIR)
    # the chapter's setup: 300 images, 6x100 ReLU, SGD 0.01, 201 epochs
    settings = dict(weight_decay.EXPERIMENT.defaults)
    curves = overfit.overfit(data, {"0": {"l2": 0.0}, "0.1": {"l2": 0.1}}, settings, seed=0, desc="",
                            verbose=False)
    gap_0, gap_01 = overfit.gap(curves["0"]), overfit.gap(curves["0.1"])
    # measured (seed 0): lambda 0 trains to 1.000 and tests at 0.80 (gap 0.195); lambda 0.1: gap 0.145
    assert curves["0"]["train_acc"][-1] > 0.99  # without weight decay it memorises its 300 images
    assert gap_01 < gap_0 - 0.02


@pytest.mark.parametrize("which, name", [("train", "training"), ("test", "test")])
def test_an_empty_set_is_refused_when_the_trainer_is_made(which, name):
    x, t = blobs(20)
    empty = (x[:0], t[:0])
    model = nn.MLP(2, [4], 3, rng=0)
    sets = {"train": empty, "test": (x, t)} if which == "train" else {"train": (x, t), "test": empty}
    with pytest.raises(ValueError, match=f"^Trainer: the {name} set is empty"):
        Trainer(model, optim.SGD(model.parameters()), sets["train"], sets["test"], verbose=False)


def test_evaluate_refuses_an_empty_set():
    trainer = make_trainer()
    x, t = blobs(5)
    with pytest.raises(ValueError, match="^Trainer.evaluate: no samples"):
        trainer.evaluate(x[:0], t[:0])


def test_mismatched_or_meaningless_settings_are_refused():
    x, t = blobs(20)
    model = nn.MLP(2, [4], 3, rng=0)
    opt = optim.SGD(model.parameters())
    with pytest.raises(ValueError, match="test x has 20 samples, t has 19"):
        Trainer(model, opt, (x, t), (x, t[:19]), verbose=False)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        Trainer(model, opt, (x, t), batch_size=0, verbose=False)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -1"):
        Trainer(model, opt, (x, t), epochs=-1, verbose=False)
    with pytest.raises(ValueError, match="sampling must be 'epoch' or 'choice', got 'random'"):
        Trainer(model, opt, (x, t), sampling="random", verbose=False)
    with pytest.raises(ValueError, match="eval_size must be a positive integer or None, got 0"):
        Trainer(model, opt, (x, t), eval_size=0, verbose=False)
