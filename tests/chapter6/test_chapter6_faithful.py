"""Chapter 6 as the book does it: the book's Dropout form (and what it is in terms of inverted Dropout), the book's
loss statistic (the loss after each update, smoothed with its edge handling), and the hyper-parameter search run in
parallel with results that do not depend on the number of jobs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad6 import Tensor, nn, optim
from tinygrad6 import functional as F
from tinygrad6.chapter6.experiments import hyperparameter_search, optimizer_compare, training
from tinygrad6.chapter6.train import Trainer


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with training.one_blas_thread():
        yield


# -- Dropout, the book's form -------------------------------------------------------------------------------------
def test_the_book_form_masks_in_training_and_scales_by_1_minus_p_at_test():
    x = Tensor(np.random.default_rng(0).normal(size=(6, 40)))
    p = 0.3
    inverted = F.dropout(x, p, rng=np.random.default_rng(1))
    book = F.dropout(x, p, rng=np.random.default_rng(1), inverted=False)
    np.testing.assert_array_equal(book.data == 0, inverted.data == 0)  # the same units dropped
    np.testing.assert_allclose(book.data, inverted.data * (1 - p), rtol=1e-15)  # kept units not scaled
    np.testing.assert_allclose(F.dropout(x, p, training=False, inverted=False).data, x.data * (1 - p))
    assert F.dropout(x, p, training=False) is x

    layer = nn.Dropout(p, rng=2, inverted=False)
    y = layer(x)
    assert set(np.unique(layer.mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.data, x.data * layer.mask)
    layer.eval()
    np.testing.assert_allclose(layer(x).data, x.data * (1 - p))
    assert "inverted=False" in repr(layer)


def _after_dropout(model: nn.MLP) -> list[nn.Linear]:
    """The Linear layers that take a Dropout's output."""
    layers = list(model.layers)
    return [b for a, b in zip(layers, layers[1:]) if isinstance(a, nn.Dropout) and isinstance(b, nn.Linear)]


def test_the_book_form_is_inverted_dropout_with_smaller_weights_after_it_and_a_lower_learning_rate():
    # The book's network, trained by SGD with lr, equals an inverted-Dropout network whose weights after each
    # Dropout are (1-p) times the book's and learn with lr * (1-p)**2 (every other parameter with lr), step by step.
    p, lr, steps = 0.2, 0.1, 8
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(200, 12)), rng.integers(0, 4, size=200)
    book = nn.MLP(12, [16, 16, 16], 4, dropout=p, rng=5)
    for layer in book.modules():
        if isinstance(layer, nn.Dropout):
            layer.inverted = False
    inverted = nn.MLP(12, [16, 16, 16], 4, dropout=p, rng=5)  # the same weights, then the same masks
    scaled = _after_dropout(inverted)
    assert len(scaled) == 3
    for layer in scaled:
        layer.W.data *= 1 - p
    slow = [layer.W for layer in scaled]
    rest = [q for q in inverted.parameters() if all(q is not w for w in slow)]
    opt_book = optim.SGD(book.parameters(), lr=lr)
    opt_slow, opt_rest = optim.SGD(slow, lr=lr * (1 - p) ** 2), optim.SGD(rest, lr=lr)

    for step in range(steps):
        batch = rng.choice(len(x), 32)
        loss_book = F.cross_entropy(book(Tensor(x[batch])), t[batch])
        loss_inverted = F.cross_entropy(inverted(Tensor(x[batch])), t[batch])
        assert loss_book.item() == pytest.approx(loss_inverted.item(), rel=1e-12), f"step {step}"
        for model, loss, opts in ((book, loss_book, [opt_book]), (inverted, loss_inverted, [opt_slow, opt_rest])):
            model.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
    for a, b in zip(_after_dropout(book), scaled):
        np.testing.assert_allclose(b.W.data, (1 - p) * a.W.data, rtol=1e-12, atol=1e-15)
    book.eval(), inverted.eval()
    np.testing.assert_allclose(inverted(Tensor(x)).data, book(Tensor(x)).data, rtol=1e-10, atol=1e-12)


def test_the_dropout_experiment_trains_both_forms_on_the_same_masks(digits, tmp_path):
    from tinygrad6.chapter6.experiments import dropout

    r = dropout.run(digits, tmp_path, quick=True, verbose=False, epochs=2)
    assert list(r["numbers"]["final"]) == ["no Dropout", "book's Dropout 0.2", "inverted Dropout 0.2"]
    assert "(1-p)" in r["what"] or "(1-p)" in dropout.NOTE


# -- the book's statistic -----------------------------------------------------------------------------------------
def test_smooth_curve_handles_the_edges_as_the_book():
    # the book extends the start by y[window-1..1] (y[0] not repeated) and the end by y[-1..-window+1] (y[-1]
    # repeated), so a spike at the last point weighs the centre and the next tap of the Kaiser window, at the first
    # point only the centre
    w = np.kaiser(11, 2.0)
    w = w / w.sum()
    last, first = np.zeros(40), np.zeros(40)
    last[-1] = first[0] = 1.0
    assert training.smooth_curve(last)[-1] == pytest.approx(w[5] + w[6], rel=1e-12)
    assert training.smooth_curve(first)[0] == pytest.approx(w[5], rel=1e-12)
    ramp = np.arange(40.0)
    np.testing.assert_allclose(training.smooth_curve(ramp)[5:-5], ramp[5:-5], rtol=1e-12)  # inside: centred
    assert len(training.smooth_curve(ramp)) == 40


def test_lockstep_can_record_the_loss_after_each_update_as_the_book(digits):
    x, t = digits.x_train[:300], digits.t_train[:300]

    def trainer():
        model = nn.MLP(64, [20], 10, rng=0)
        return Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x, t), verbose=False)

    recorded = trainer()
    after = training.lockstep({"a": recorded}, x, t, iters=5, batch_size=16, seed=3, after_update=True)["a"]
    by_hand, rng = trainer(), np.random.default_rng(3)
    expected = []
    for _ in range(5):
        batch = rng.choice(len(x), 16)
        by_hand.step(x[batch], t[batch])
        expected.append(F.cross_entropy(by_hand.model(Tensor(x[batch])), t[batch]).item())
    np.testing.assert_allclose(after, expected, rtol=1e-12)
    np.testing.assert_allclose(recorded.history["loss"], by_hand.history["loss"], rtol=1e-12)  # before: kept


def test_the_loss_comparisons_report_the_books_statistic_beside_their_own(digits, tmp_path):
    r = optimizer_compare.run(digits, tmp_path, quick=True, verbose=False, iters=60)
    numbers = r["numbers"]
    assert set(numbers["book_final_loss"]) == set(numbers["mean_loss_before_update"]) == {
        "SGD", "Momentum", "AdaGrad", "Adam"}
    assert "after each update" in numbers["book_final_loss_is"] and "smooth_curve" in numbers["book_final_loss_is"]
    assert "before its update" in numbers["mean_loss_before_update_is"]
    assert "the book's statistic" in r["summary"] and "before each update" in r["summary"]
    saved = json.loads((tmp_path / "optimizer_compare.json").read_text())
    assert saved["numbers"]["book_final_loss"] == numbers["book_final_loss"]


# -- the hyper-parameter search on every core ---------------------------------------------------------------------
def test_the_search_gives_the_same_trials_with_1_and_4_jobs(digits, tmp_path):
    settings = {"trials": 5, "epochs": 2, "best": 3}
    one = hyperparameter_search.run(digits, tmp_path / "one", quick=True, verbose=False, jobs=1, **settings)
    four = hyperparameter_search.run(digits, tmp_path / "four", quick=True, verbose=False, jobs=4, **settings)
    assert one["jobs"] == 1 and four["jobs"] == 4
    assert one["numbers"]["all_trials"] == four["numbers"]["all_trials"]
    assert one["numbers"]["best"] == four["numbers"]["best"]
    other_seed = hyperparameter_search.run(digits, tmp_path / "s1", seed=1, quick=True, verbose=False, jobs=1,
                                           **settings)
    assert other_seed["numbers"]["all_trials"] != one["numbers"]["all_trials"]


def test_the_search_command_line_takes_jobs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        hyperparameter_search.main(["--jobs", "0", "--dataset", "digits", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "argument --jobs: expected a positive integer up to 256, got 0" in capsys.readouterr().err
    hyperparameter_search.main(["--quick", "--dataset", "digits", "--out", str(tmp_path), "--quiet", "--jobs", "2",
                                "--trials", "2", "--epochs", "1", "--best", "2"])
    r = json.loads((tmp_path / "hyperparameter_search.json").read_text())
    assert r["jobs"] == 2 and "jobs" not in r["settings"]


def test_mlp_builds_either_dropout_form():
    from tinygrad6 import nn

    for inverted in (True, False):
        model = nn.MLP(4, [8, 8], 3, dropout=0.2, dropout_inverted=inverted, rng=0)
        forms = [layer.inverted for layer in model.modules() if isinstance(layer, nn.Dropout)]
        assert forms == [inverted, inverted]
