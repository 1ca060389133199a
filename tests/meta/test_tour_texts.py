"""The tour states only what the run it shows supports: every "what it shows" text follows the run's own numbers
(fed here results that go against the chapter's usual conclusion), a quick run says which conclusions need the full
run, no figure cuts its titles, long tables fold, and the step counter counts the experiments the page shows."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import numpy as np
import pytest
from mnist_files import fake_mnist

from tinygrad6.chapter6 import experiments, tour
from tinygrad6.chapter6.experiments import plots, results, training
from tinygrad6.chapter6.experiments.data import Data, load_data


def what_of(name: str, numbers: dict, settings: dict, tmp_path: Path, quick: bool = False) -> str:
    """The "what it shows" text the experiment writes for a result with these numbers and settings (through
    `results.finish`, as a run writes it)."""
    experiment = experiments.get(name).EXPERIMENT
    fig, _ = plots.figure(figsize=(2, 2))
    s = {**experiment.defaults, **(experiment.quick if quick else {}), **settings}
    result = {"dataset": "fake", "seed": 0, "quick": quick, "settings": s, "numbers": numbers, "summary": "fake"}
    return results.finish(experiment, tmp_path, fig, result, time.perf_counter())["what"]


def affirms(text: str, phrase: str) -> bool:
    """Whether `text` contains `phrase` not preceded by a negation ("not", "no")."""
    return re.search(rf"(?<!not )(?<!no ){re.escape(phrase)}", text) is not None


# -- each text follows its run's numbers -----------------------------------------------------------------------------
def search_result(lrs, wds, vals):
    best = [{"rank": k + 1, "lr": lr, "weight_decay": wd, "val_acc": v, "train_acc": v}
            for k, (lr, wd, v) in enumerate(zip(lrs, wds, vals))]
    return {"best": best, "all_trials": [{k: b[k] for k in ("lr", "weight_decay", "val_acc")} for b in best],
            "best_listing": []}


def test_search_text_gives_the_runs_learning_rate_band(tmp_path):
    lrs = [0.0028, 0.0019, 0.0011, 0.00072, 0.00048, 3e-5, 2e-6]
    wds = [3e-8, 5e-5, 2e-7, 8e-6, 1e-6, 1e-5, 1e-7]
    vals = [0.91, 0.9, 0.88, 0.85, 0.8, 0.3, 0.1]
    text = what_of("hyperparameter_search", search_result(lrs, wds, vals), {"trials": 7, "best": 7}, tmp_path)
    assert "0.001 and 0.01" not in text  # the chapter's band, not this run's
    assert "0.00048" in text and "0.0028" in text


def test_search_text_does_not_point_at_a_learning_rate_band_the_best_trials_do_not_share(tmp_path):
    lrs = [0.009, 2e-6, 0.0004, 3e-5, 1e-3]  # spread over 3.7 decades
    wds = [1e-6, 1.1e-6, 1.2e-6, 0.9e-6, 1e-6]  # all alike
    vals = [0.7, 0.68, 0.66, 0.6, 0.55]
    text = what_of("hyperparameter_search", search_result(lrs, wds, vals), {"trials": 5, "best": 5}, tmp_path)
    assert not affirms(text, "whatever their weight decay") and not affirms(text, "narrower search")
    assert "2e-06" in text and "0.009" in text


def test_search_text_says_when_trials_did_not_learn_and_that_a_quick_search_is_not_the_chapters(tmp_path):
    lrs, wds = [0.0059, 0.0041, 0.0024, 0.00013, 3.7e-6], [2e-7, 5e-7, 3e-5, 8e-8, 7e-6]
    vals = [0.6, 0.37, 0.23, 0.15, 0.15]
    text = what_of("hyperparameter_search", search_result(lrs, wds, vals), {"trials": 5, "best": 5}, tmp_path,
                   quick=True)
    assert "3 of 5 trials" in text  # only three reach 0.2 (chance is 0.1)
    assert "from 0.0024 to 0.0059" in text  # the band of the trials that learned, not of the best 5
    assert "--full" in text


def overfit_numbers(train: dict[str, float], test: dict[str, float]) -> dict:
    final = {n: {"train_acc": train[n], "test_acc": test[n], "gap": train[n] - test[n]} for n in train}
    return {"final": final, "gap_last10": {n: v["gap"] for n, v in final.items()}, "curves": {}}


def test_weight_decay_text_follows_its_numbers(tmp_path):
    numbers = overfit_numbers({"lambda = 0": 0.983, "lambda = 0.1": 0.97}, {"lambda = 0": 0.88, "lambda = 0.1": 0.7})
    text = what_of("weight_decay", numbers, {"epochs": 201}, tmp_path)
    assert "100%" not in text and "almost perfectly" not in text and "0.983" in text
    assert not affirms(text, "gap is smaller") and not affirms(text, "gap is narrower")  # 0.27 is wider than 0.103
    assert "--full" not in text  # a run of the chapter's length needs no caveat


def test_quick_weight_decay_text_says_its_networks_are_undertrained(tmp_path):
    numbers = overfit_numbers({"lambda = 0": 0.987, "lambda = 0.1": 0.88}, {"lambda = 0": 0.794, "lambda = 0.1": 0.759})
    text = what_of("weight_decay", numbers, {}, tmp_path, quick=True)
    assert "undertrained" in text and "--full" in text and "100 of the chapter's 201 epochs" in text


def test_dropout_text_follows_its_numbers(tmp_path):
    names = ("no Dropout", "book's Dropout 0.2", "inverted Dropout 0.2")
    numbers = overfit_numbers(dict(zip(names, (0.983, 0.95, 0.6))), dict(zip(names, (0.85, 0.7, 0.55))))
    text = what_of("dropout", numbers, {}, tmp_path, quick=True)
    assert "100%" not in text and "0.983" in text
    assert not affirms(text, "clearly narrower") and not affirms(text, "narrower than without")  # 0.25 > 0.133
    assert not affirms(text, "learns faster than the book's form")  # inverted ends at 0.6, the book's form at 0.95
    assert "undertrained" in text and "--full" in text


def loss_numbers(book: dict[str, float]) -> dict:
    return {"book_final_loss": book, "mean_loss_before_update": dict(book), "test_acc": {n: 0.9 for n in book},
            "loss_smoothed": {}, "loss_smoothed_every": 10}


def test_optimizer_text_follows_its_numbers(tmp_path):
    numbers = loss_numbers({"SGD": 0.05, "Momentum": 0.2, "AdaGrad": 0.1, "Adam": 0.3})
    text = what_of("optimizer_compare", numbers, {}, tmp_path)
    assert not affirms(text, "faster than plain SGD") and "0.05" in text
    assert "--full" not in text


def test_weight_init_text_follows_its_numbers(tmp_path):
    numbers = loss_numbers({"std=0.01": 1.2, "Xavier": 0.5, "He": 0.8})
    text = what_of("weight_init_compare", numbers, {}, tmp_path, quick=True)
    assert "does not move" not in text and "1.2" in text
    assert not affirms(text, "He fastest") and not affirms(text, "He learns faster")
    assert "--full" in text


def test_batchnorm_text_follows_its_numbers(tmp_path):
    scales = [f"{w:.4g}" for w in np.logspace(0, -4, 16)]
    final = {w: {"BatchNorm": 0.3, "no BatchNorm": 0.5 if k > 2 else 0.2} for k, w in enumerate(scales)}
    numbers = {"final_train_acc": final, "bn_wins": 3, "mean_final_train_acc_bn": 0.3,
               "mean_final_train_acc_plain": 0.46, "train_acc": {}}
    text = what_of("batchnorm_compare", numbers, {}, tmp_path, quick=True)
    assert "almost every" not in text and "3 of 16" in text
    assert not affirms(text, "does not start at all")
    assert "--full" in text


def histogram_numbers(layers: int = 5) -> dict:
    std = {"sigmoid": 0.2, "tanh": 0.5, "relu": 0.5}
    per_layer = {f"{a}, {w}": {"std": [std[a]] * layers, "saturated_or_zero": [0.05] * layers}
                 for a in ("sigmoid", "tanh", "relu") for w in ("std=1", "std=0.01", "Xavier", "He")}
    per_layer["relu, He"]["std"] = list(np.geomspace(0.8, 0.05, layers))  # He's spread shrinks
    return {"per_layer": per_layer, "note": ""}


def test_activation_text_follows_its_numbers(tmp_path):
    text = what_of("activation_histograms", histogram_numbers(), {}, tmp_path)
    assert not affirms(text, "He keeps the same spread") and not affirms(text, "pile up")
    assert not affirms(text, "collapse to one value")  # std 0.2 and 0.5 at std 0.01 here
    assert "5%" in text


def test_optimizer_paths_text_follows_its_numbers(tmp_path):
    straight = [[-7 + 7 * k / 30, 2 - 2 * k / 30] for k in range(31)]  # straight in: no zig-zag, no overshoot
    paths = {n: straight for n in ("SGD", "Momentum", "AdaGrad", "Adam")}
    final = {n: {"x": 0.0, "y": 0.0, "f": 0.0} for n in paths}
    text = what_of("optimizer_paths", {"final": final, "paths": paths}, {}, tmp_path)
    assert not affirms(text, "zig-zag") and not affirms(text, "overshoots")
    assert "0 times" in text


# -- figures: no title cut at the figure's edge ----------------------------------------------------------------------
TINY = {"optimizer_paths": {}, "optimizer_compare": {"iters": 12}, "activation_histograms": {"samples": 50},
        "weight_init_compare": {"iters": 12}, "batchnorm_compare": {"epochs": 1, "n_train": 200},
        "weight_decay": {"epochs": 2}, "dropout": {"epochs": 2},
        "hyperparameter_search": {"trials": 3, "epochs": 1, "best": 3, "jobs": 1}}


@pytest.fixture(scope="module")
def long_caption_digits(tmp_path_factory) -> Data:
    """The digits under the longest caption a run can have (that of the MNIST test set alone, split 8,000 / 2,000),
    so titles are as wide as on the real data."""
    folder = tmp_path_factory.mktemp("mnist")
    fake_mnist(folder, n_test=10_000, test_only=True)
    with training.one_blas_thread():
        data = load_data("digits")
    data.caption = load_data(data_dir=folder).caption
    return data


@pytest.mark.parametrize("name", experiments.NAMES)
def test_no_figure_cuts_its_titles(name, long_caption_digits, tmp_path, monkeypatch):
    figures = []
    finish = results.finish

    def keep(experiment, out, fig, result, started):
        figures.append(fig)
        return finish(experiment, out, fig, result, started)

    monkeypatch.setattr(results, "finish", keep)
    experiment = experiments.get(name).EXPERIMENT
    with training.one_blas_thread():
        experiment.run(long_caption_digits if experiment.needs_data else None, tmp_path, quick=True, verbose=False,
                   **TINY[name])
    (fig,) = figures
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    titles = [fig._suptitle, fig._supxlabel] + [t for ax in fig.axes for t in (ax.title, ax._left_title,
                                                                              ax._right_title)]
    for title in titles:
        if not isinstance(title, Text) or not title.get_visible() or not title.get_text():
            continue
        box = title.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width and 0 <= box.y0 and box.y1 <= fig.bbox.height, (
            f"{name}: title {title.get_text()!r} spans x {box.x0:.0f}..{box.x1:.0f}, y {box.y0:.0f}..{box.y1:.0f} "
            f"in a figure of {fig.bbox.width:.0f} x {fig.bbox.height:.0f}")


# -- the page ----------------------------------------------------------------------------------------------------------
def test_the_step_counter_counts_the_experiments_the_page_shows(tmp_path, capsys):
    names = ["optimizer_paths", "activation_histograms"]
    index = tour.run(tmp_path, only=names, verbose=True)
    out = capsys.readouterr().out
    page = index.read_text()
    sections = re.findall(r"<h2 id='(\w+)'", page)
    shown = [s for s in sections if s in experiments.NAMES]
    assert shown == names
    counters = re.findall(r"^\[(\d+)/(\d+)\]", out, flags=re.M)
    assert counters == [(str(k), str(len(shown))) for k in range(1, len(shown) + 1)], out
    assert f"{len(shown)} experiments" in out
    headings = re.findall(r"<h2 id='\w+'>Experiment (\d+) of (\d+)", page)
    assert headings == counters


def fake_result(rows: int) -> dict:
    return {"experiment": "weight_decay", "title": "<T>", "what": "w", "summary": "s", "dataset": "d", "seed": 0,
            "seconds": 1.0, "settings": {"epochs": 3, "note": "<b>"},
            "numbers": {f"n{k}": float(k) for k in range(rows)}}


def test_long_tables_fold_and_short_ones_stay_open():
    long, short = tour.numbers_table(fake_result(20)), tour.numbers_table(fake_result(2))
    assert long.startswith("<details><summary>") and "</table></details>" in long
    assert short.startswith("<details open><summary>")
    assert "&lt;b&gt;" in short and "<b>" not in short.split("</summary>")[1]  # settings stay escaped


def test_the_batchnorm_section_says_why_the_loss_is_sum_bn_x_times_dy(tmp_path):
    page = tour.page({"files": [], "note": None}, [], None, False, 1.0)
    assert html.escape("sum(BN(x) * dy)") in page and "upstream gradient" in page
