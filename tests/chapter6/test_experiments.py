"""The chapter-6 experiments and the tour: every experiment's --quick run writes a PNG and a JSON whose numbers show
the chapter's lesson; the shared command line picks and describes its data; the tour writes one page with all of
it. Everything runs in-process on scikit-learn's digits (no network), except the checks of the docs' conclusions on
the real MNIST test set ($TINYGRAD6_TEST_MNIST), which skip when it is absent and the
variable is not set (`test_datasets.mnist_skip_reason`)."""

from __future__ import annotations

import ast
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from mnist_files import MNIST_DIR, fake_mnist, needs_mnist

from tinygrad6 import nn, optim, viz
from tinygrad6.chapter6 import experiments, tour
from tinygrad6.chapter6.experiments import cli, training
from tinygrad6.chapter6.experiments.data import Data, load_data
from tinygrad6.chapter6.train import Trainer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with training.one_blas_thread():
        yield


def read_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return imread(path)


def run_cli(name: str, out, *extra: str) -> dict:
    experiments.get(name).main(["--quick", "--dataset", "digits", "--out", str(out), "--quiet", *extra])
    return json.loads((out / f"{name}.json").read_text())


def check_optimizer_paths(r):
    final, paths = r["numbers"]["final"], r["numbers"]["paths"]
    assert set(final) == {"SGD", "Momentum", "AdaGrad", "Adam"}
    for name, path in paths.items():
        assert path[0] == [-7.0, 2.0] and len(path) == 31
        assert final[name]["f"] < 0.2 < 6.45  # f(-7, 2) = 6.45: every optimizer got close to the minimum
    sgd = np.array(paths["SGD"])
    assert np.all(np.sign(sgd[1:6, 1]) == [-1, 1, -1, 1, -1])  # SGD's zig-zag across the valley


def check_optimizer_compare(r):
    for statistic in ("book_final_loss", "mean_loss_before_update"):
        loss = r["numbers"][statistic]
        assert max(loss["Momentum"], loss["AdaGrad"], loss["Adam"]) < loss["SGD"]
    assert r["settings"]["iters"] == experiments.get("optimizer_compare").EXPERIMENT.quick["iters"]


def check_activation_histograms(r):
    layers = r["numbers"]["per_layer"]
    assert len(layers) == 12
    assert layers["sigmoid, std=1"]["saturated_or_zero"][-1] > 0.3  # piled up at 0 and 1
    assert layers["sigmoid, std=0.01"]["std"][-1] < 0.05  # all near 0.5
    assert layers["relu, He"]["std"][-1] > 3 * layers["relu, Xavier"]["std"][-1]  # He keeps ReLU's spread


def check_weight_init_compare(r):
    for statistic in ("book_final_loss", "mean_loss_before_update"):
        loss = r["numbers"][statistic]
        assert abs(loss["std=0.01"] - np.log(10)) < 0.02  # stuck at chance: -log(1/10)
        assert loss["He"] < loss["Xavier"] < loss["std=0.01"]


def check_batchnorm_compare(r):
    final = r["numbers"]["final_train_acc"]
    assert len(final) == 16
    assert r["numbers"]["bn_wins"] >= 12
    assert r["numbers"]["mean_final_train_acc_bn"] > r["numbers"]["mean_final_train_acc_plain"] + 0.3


def check_weight_decay(r):
    gaps = r["numbers"]["gap_last10"]
    assert gaps["lambda = 0.1"] < gaps["lambda = 0"]
    assert len(r["numbers"]["curves"]["lambda = 0"]["test_acc"]) == r["settings"]["epochs"]


def check_dropout(r):
    gaps = r["numbers"]["gap_last10"]
    assert gaps["book's Dropout 0.2"] < gaps["no Dropout"]


def check_hyperparameter_search(r):
    best = r["numbers"]["best"]
    s = r["settings"]
    assert len(best) == s["best"] and len(r["numbers"]["all_trials"]) == s["trials"]
    assert [b["val_acc"] for b in best] == sorted((b["val_acc"] for b in best), reverse=True)
    for b in r["numbers"]["all_trials"]:
        assert 1e-6 <= b["lr"] <= 1e-2 and 1e-8 <= b["weight_decay"] <= 1e-4
    assert s["n_train_used"] == 400 and s["n_val"] == 100
    assert r["numbers"]["best_listing"][0].startswith("Best-1 (val acc: ")


CHECKS = {name: globals()[f"check_{name}"] for name in experiments.NAMES}


@pytest.mark.parametrize("name", experiments.NAMES)
def test_each_quick_experiment_writes_its_figure_and_numbers(name, tmp_path):
    r = run_cli(name, tmp_path)
    image = read_png(tmp_path / f"{name}.png")
    assert image.shape[0] > 300 and image.shape[1] > 500 and image.std() > 0.05  # a real drawing, not blank
    assert r["experiment"] == name and r["quick"] is True and r["files"] == [f"{name}.png", f"{name}.json"]
    assert r["what"] and r["summary"] and r["title"]
    experiment = experiments.get(name).EXPERIMENT
    if experiment.needs_data:
        assert r["dataset"].startswith("scikit-learn 8x8 digits")
    for key, value in experiment.quick.items():
        assert r["settings"][key] == value
    CHECKS[name](r)


# -- the conclusions docs/chapter6.md and README.md state, on the quick runs on real MNIST images ----------------------
# Each assertion names a sentence of the docs; the docs give the full runs' numbers (seeds 0-2), these check that the
# quick run (seed 0) points the same way.
def mnist_optimizer_compare(r):
    # "Momentum, AdaGrad and Adam bring the training loss down far faster than plain SGD", by the book's statistic
    # and by tinygrad6's own; after the quick run's 400 iterations the lead is a factor of 3 or more (60 or more
    # after the full 2,000)
    for statistic in ("book_final_loss", "mean_loss_before_update"):
        loss = r["numbers"][statistic]
        assert max(loss["Momentum"], loss["AdaGrad"], loss["Adam"]) < loss["SGD"] / 2


def mnist_weight_init_compare(r):
    # "with std 0.01 the loss does not move from log(10) = 2.30"; "He ... ends lower" than Xavier
    check_weight_init_compare(r)


def mnist_batchnorm_compare(r):
    # "with Batch Normalization ... ahead at 14 of 16 scales"; without it, a single class at the smallest scales
    assert r["numbers"]["bn_wins"] >= 12
    final = r["numbers"]["final_train_acc"]
    small = [v["no BatchNorm"] for k, v in final.items() if float(k) < 0.03]
    assert small and max(small) < 0.15
    assert max(v["no BatchNorm"] for v in final.values()) > 0.5  # it does learn at some scale


def mnist_weight_decay(r):
    # "without weight decay it reaches train accuracy 1.000 ...; with lambda 0.1 the gap shrinks"
    gaps, final = r["numbers"]["gap_last10"], r["numbers"]["final"]
    assert final["lambda = 0"]["train_acc"] > 0.95
    assert gaps["lambda = 0.1"] < gaps["lambda = 0"]


def mnist_dropout(r):
    # "with the book's Dropout ... the gap is clearly narrower than without Dropout"; "inverted Dropout learns faster
    # than the book's form and its gap is wider"
    gaps, final = r["numbers"]["gap_last10"], r["numbers"]["final"]
    book, inverted = "book's Dropout 0.2", "inverted Dropout 0.2"
    assert gaps[book] < gaps["no Dropout"] - 0.05
    assert final[book]["train_acc"] < final[inverted]["train_acc"]
    assert gaps[book] < gaps[inverted]


def mnist_hyperparameter_search(r):
    # "the best trials share a narrow band of learning rates while their weight decays spread over orders of
    # magnitude" (the quick run's 12 trials: its best 3; the full run's best 10 in the docs)
    best = r["numbers"]["best"][:3]
    lrs, wds = [b["lr"] for b in best], [b["weight_decay"] for b in best]
    assert np.log10(max(lrs) / min(lrs)) < 1 < np.log10(max(wds) / min(wds))
    assert min(lrs) > 1e-3


MNIST_CHECKS = {"optimizer_paths": check_optimizer_paths, "activation_histograms": check_activation_histograms,
                **{name: globals()[f"mnist_{name}"] for name in experiments.NAMES if f"mnist_{name}" in globals()}}


@needs_mnist
@pytest.mark.parametrize("name", experiments.NAMES)
def test_each_quick_experiment_on_mnist_reaches_the_conclusion_the_docs_state(name, tmp_path):
    r = experiments.get(name).main(["--quick", "--data", str(MNIST_DIR), "--out", str(tmp_path), "--quiet"])
    if experiments.get(name).EXPERIMENT.needs_data:
        assert r["dataset"].startswith("MNIST test set only")
    MNIST_CHECKS[name](r)


def test_command_line_settings_override_the_quick_ones(tmp_path):
    r = run_cli("weight_decay", tmp_path, "--epochs", "3", "--lam", "0.5", "--seed", "4")
    assert r["settings"]["epochs"] == 3 and r["settings"]["lam"] == 0.5 and r["seed"] == 4
    assert "lambda = 0.5" in r["numbers"]["final"]


def test_the_search_never_touches_the_test_set(digits, tmp_path):
    module = experiments.get("hyperparameter_search")
    blind = Data("digits", "no test set", digits.x_train, digits.t_train, None, None)  # any use would fail
    r = module.run(blind, tmp_path, quick=True, verbose=False, trials=3, epochs=2, best=3)
    assert len(r["numbers"]["best"]) == 3


def test_a_folder_with_only_the_test_set_is_split_8000_2000(tmp_path):
    fake_mnist(tmp_path / "mnist", n_test=10_000, test_only=True)
    data = load_data(data_dir=tmp_path / "mnist")
    assert data.name == "mnist" and len(data.x_train) == 8000 and len(data.x_test) == 2000
    assert "10,000" in data.caption and "split 8,000 train / 2,000 test" in data.caption
    experiments.get("weight_decay").main(["--quick", "--data", str(tmp_path / "mnist"), "--out", str(tmp_path),
                                          "--epochs", "2", "--quiet"])
    r = json.loads((tmp_path / "weight_decay.json").read_text())
    assert r["dataset"] == data.caption


def test_default_data_is_mnist_when_on_disk_else_digits_with_a_notice(tmp_path, monkeypatch):
    notices = []
    monkeypatch.setenv("TINYGRAD6_DATA", str(tmp_path / "empty"))
    data = load_data(notice=notices.append)
    assert data.name == "digits" and len(notices) == 1
    assert "digits" in notices[0] and str(tmp_path / "empty") in notices[0] and "--dataset mnist" in notices[0]
    fake_mnist(tmp_path / "full", n_train=40, n_test=10)
    monkeypatch.setenv("TINYGRAD6_DATA", str(tmp_path / "full"))
    data = load_data(notice=notices.append)
    assert data.name == "mnist" and len(data.x_train) == 40 and len(notices) == 1
    assert "60,000" in data.caption


def test_a_bad_data_folder_names_the_files_it_expects(tmp_path):
    # on the command line, --data is checked while parsing (tests/chapter6/test_cli_options.py)
    with pytest.raises(FileNotFoundError, match=r"^--data .*no MNIST IDX files .*t10k-images-idx3-ubyte.gz"):
        load_data(data_dir=tmp_path)


def test_smooth_curve_keeps_length_and_removes_noise():
    rng = np.random.default_rng(0)
    y = np.linspace(2, 0, 500) + 0.3 * rng.standard_normal(500)
    s = training.smooth_curve(y)
    assert s.shape == y.shape
    assert np.std(np.diff(s)) < 0.3 * np.std(np.diff(y))
    np.testing.assert_allclose(training.smooth_curve(np.full(50, 3.0)), 3.0)


class RecordingBars:
    """A stand-in for the tqdm module: records every bar made, its options, updates and whether it was closed."""

    def __init__(self) -> None:
        self.bars: list[RecordingBars.Bar] = []
        outer = self

        class Bar:
            def __init__(self, **options) -> None:
                self.options, self.n, self.closed = options, 0, False
                outer.bars.append(self)

            def update(self, k: int = 1) -> None:
                self.n += k

            def set_postfix(self, values) -> None:
                pass

            def close(self) -> None:
                self.closed = True

        self.tqdm = Bar


def test_progress_bars_come_from_one_helper_and_are_closed_on_errors(monkeypatch):
    fake = RecordingBars()
    monkeypatch.setitem(sys.modules, "tqdm", fake)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    x = np.random.default_rng(0).standard_normal((40, 2))
    t = np.arange(40) % 2
    model = nn.MLP(2, [3], 2, rng=0)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x, t), epochs=1, batch_size=10, verbose=True)
    trainer.fit()
    training.lockstep({"a": trainer}, x, t, iters=3, batch_size=10, seed=0, desc="lockstep")
    assert [(bar.options["total"], bar.n, bar.closed) for bar in fake.bars] == [(4, 4, True), (3, 3, True)]

    def broken(x, t):
        raise RuntimeError("a step that fails")

    trainer.step = broken
    for train in (trainer.fit, lambda: training.lockstep({"a": trainer}, x, t, 3, 10, seed=0, desc="lockstep")):
        with pytest.raises(RuntimeError, match="a step that fails"):
            train()
        assert fake.bars[-1].closed  # no bar left drawn under the traceback
    assert len(fake.bars) == 4


def test_without_tqdm_training_draws_no_bar(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm (the `examples` extra) missing
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    x, t = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20) % 2
    model = nn.MLP(2, [3], 2, rng=0)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x, t), epochs=1, batch_size=10, verbose=True)
    trainer.fit()
    training.lockstep({"a": trainer}, x, t, iters=2, batch_size=10, seed=0, desc="lockstep")
    assert capsys.readouterr() == ("", "")


def test_the_experiments_call_their_settings_settings():
    # `s` for the settings in every experiment made a reader look up what `s` was; no function of the experiments
    # has a parameter or a variable named `s` any more
    folder = Path(cli.__file__).parent
    short = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.arg) and node.arg == "s" or isinstance(node, ast.Name) and node.id == "s":
                short.append(f"{path.name}:{node.lineno}")
    assert short == []


# -- the tour -----------------------------------------------------------------------------------------------------
def test_the_tour_writes_one_page_with_every_figure(digits, tmp_path):
    names = ["optimizer_paths", "weight_decay"]
    index = tour.run(tmp_path, only=names, data=digits, verbose=False)
    page = index.read_text()
    for name in names:
        r = json.loads((tmp_path / f"{name}.json").read_text())
        assert f"<img src='{name}.png'" in page and (tmp_path / f"{name}.png").is_file()
        assert f"<a href='{name}.json'>" in page
        for text in (r["title"], r["what"], r["summary"]):
            assert __import__("html").escape(text) in page
    assert "Quick run" in page and digits.caption in page
    if viz.dot_available():
        svg = ET.parse(tmp_path / "batchnorm_graph.svg").getroot()
        texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
        assert "BatchNorm1d" in texts and "sqrt" in texts and "mean" in texts
        assert "<img src='batchnorm_graph.svg'" in page and "<a href='batchnorm_backprop.html'>" in page
        assert "Backward pass of Batch Normalization" in (tmp_path / "batchnorm_backprop.html").read_text()


def test_the_tour_goes_on_without_graphviz(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no `dot` anywhere on PATH
    index = tour.run(tmp_path, only=["optimizer_paths"], data=digits, verbose=False)
    page = index.read_text()
    assert "could not be drawn because Graphviz is missing" in page and "apt-get install graphviz" in page
    assert "<img src='batchnorm_graph.svg'" not in page and not (tmp_path / "batchnorm_graph.svg").exists()
    assert "<img src='optimizer_paths.png'" in page


def test_the_tour_command_line(tmp_path, capsys):
    tour.main(["--out", str(tmp_path), "--only", "optimizer_paths"])
    out = capsys.readouterr().out
    assert "Batch Normalization's graph" in out and "[1/1] optimizer_paths" in out and "index.html" in out
    assert (tmp_path / "index.html").is_file() and json.loads((tmp_path / "tour.json").read_text())["full"] is False


@pytest.fixture
def trainers_made(monkeypatch):
    """The `compiled` flag of every Trainer made while the test runs (in this process, in any thread)."""
    made, init = [], Trainer.__init__

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self.compiled)
    monkeypatch.setattr(Trainer, "__init__", spy)
    return made


@pytest.mark.parametrize("flags, compiled", [((), True), (("--eager",), False)])
def test_the_command_line_trains_with_compiled_steps_unless_eager(flags, compiled, tmp_path, trainers_made):
    run_cli("optimizer_compare", tmp_path, "--iters", "2", *flags)
    assert trainers_made and set(trainers_made) == {compiled}


def test_search_trials_on_other_workers_train_as_asked(digits, trainers_made):
    """`compile` is an argument of each trial, so it reaches trials that run in other threads or processes (a
    context variable set around the search did not: its trials in joblib's workers trained eagerly)."""
    import joblib

    from tinygrad6.chapter6.experiments import hyperparameter_search as search
    settings = {**search.EXPERIMENT.defaults, **search.EXPERIMENT.quick, "trials": 2, "epochs": 1}
    train, val = (digits.x_train[:200], digits.t_train[:200]), (digits.x_train[200:300], digits.t_train[200:300])
    with joblib.parallel_config(backend="threading"):  # other threads see this process's spy
        compiled, _ = search.run_trials(settings, 0, train, val, jobs=2, verbose=False, compile=True)
        eager, _ = search.run_trials(settings, 0, train, val, jobs=2, verbose=False, compile=False)
    assert trainers_made == [True, True, False, False]
    assert [r.pop("steps") for r in compiled] == ["compiled"] * 2 and [r.pop("steps") for r in eager] == ["eager"] * 2
    assert compiled == eager  # the same numbers, bit for bit
