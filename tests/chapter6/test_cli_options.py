"""The command lines of the experiments and the tour refuse bad values up front: one argparse `error:` line naming
the option, exit status 2, no traceback, and no data loaded or training run before the check."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tinygrad6.chapter6 import experiments, tour
from tinygrad6.chapter6.experiments import cli, settings

REPO = Path(__file__).resolve().parents[2]


# -- the type functions, one by one -------------------------------------------------------------------------------
BAD_VALUES = [
    (settings.positive_int, "0", "positive integer"),
    (settings.positive_int, "-10", "positive integer"),
    (settings.positive_int, "2.5", "positive integer"),
    (settings.positive_int, "many", "positive integer"),
    (settings.nonnegative_int, "-1", "integer >= 0"),
    (settings.nonnegative_int, "nan", "integer >= 0"),
    (settings.probability, "1.5", "[0, 1)"),
    (settings.probability, "1", "[0, 1)"),
    (settings.probability, "-0.1", "[0, 1)"),
    (settings.probability, "nan", "[0, 1)"),
    (settings.fraction, "0", "(0, 1)"),
    (settings.fraction, "1", "(0, 1)"),
    (settings.positive_float, "0", "finite number > 0"),
    (settings.positive_float, "-0.01", "finite number > 0"),
    (settings.positive_float, "nan", "finite number > 0"),
    (settings.positive_float, "inf", "finite number > 0"),
    (settings.positive_float, "1e999", "finite number > 0"),  # parses as inf
    (settings.nonnegative_float, "-0.1", "finite number >= 0"),
    (settings.nonnegative_float, "nan", "finite number >= 0"),
    (settings.finite_float, "inf", "finite number"),
    (settings.finite_float, "-nan", "finite number"),
    (settings.decimal_exponent, "400", "between -300 and 300"),  # 10**400 overflows a float
    (settings.decimal_exponent, "nan", "between -300 and 300"),
]


@pytest.mark.parametrize("check, text, expected", BAD_VALUES)
def test_each_type_refuses_bad_values_and_says_what_it_expects(check, text, expected):
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected .*{expected_re(expected)}.*got {text}"):
        check(text)


def expected_re(text: str) -> str:
    return "".join("\\" + c if c in "[](){}.*+?^$|\\" else c for c in text)


@pytest.mark.parametrize("check, text, value", [
    (settings.positive_int, "3", 3), (settings.nonnegative_int, "0", 0), (settings.probability, "0", 0.0),
    (settings.probability, "0.5", 0.5), (settings.fraction, "0.2", 0.2), (settings.positive_float, "1e-4", 1e-4),
    (settings.nonnegative_float, "0", 0.0), (settings.finite_float, "-7", -7.0),
    (settings.decimal_exponent, "-6", -6.0),
])
def test_each_type_accepts_good_values(check, text, value):
    assert check(text) == value


def test_output_folder_refuses_a_file_and_a_path_under_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a folder"):
        cli.output_folder(str(afile))
    with pytest.raises(argparse.ArgumentTypeError, match=f"{afile} is a file"):
        cli.output_folder(str(afile / "sub" / "dir"))
    assert cli.output_folder(str(tmp_path / "new" / "dir")) == tmp_path / "new" / "dir"
    assert not (tmp_path / "new").exists()  # checking creates nothing


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod does not stop root from writing (the path-under-a-file case "
                           "and test_a_folder_that_cannot_be_made_is_refused_before_loading cover the refusal)")
def test_output_folder_refuses_an_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(argparse.ArgumentTypeError, match="cannot write"):
            cli.output_folder(str(locked / "out"))
    finally:
        locked.chmod(0o700)


def test_output_folder_asks_the_system_whether_it_may_write(tmp_path, monkeypatch):
    """The same refusal as above, on any user: the system says no to writing in tmp_path."""
    monkeypatch.setattr(cli.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(argparse.ArgumentTypeError, match=f"cannot write in {tmp_path} \\(permission denied\\)"):
        cli.output_folder(str(tmp_path / "out"))


def test_mnist_folder_refuses_a_folder_without_mnist_files(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="no MNIST IDX files"):
        cli.mnist_folder(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="not a folder"):
        cli.mnist_folder(str(tmp_path / "missing"))


# -- every option of every experiment -----------------------------------------------------------------------------
def options(name: str) -> list[str]:
    return [f"--{key.replace('_', '-')}" for key in experiments.get(name).EXPERIMENT.defaults]


EVERY_OPTION = [(name, option) for name in experiments.NAMES for option in options(name)]


def parse_error(main, argv: list[str], capsys) -> str:
    """The stderr of main(argv), which must exit with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("name, option", EVERY_OPTION)
@pytest.mark.parametrize("bad", ["nan", "inf", "ten"])
def test_every_experiment_option_refuses_non_numbers(name, option, bad, capsys, monkeypatch):
    forbid_loading(monkeypatch)
    line = parse_error(experiments.get(name).main, [option, bad, "--dataset", "digits"], capsys)
    assert line.startswith(f"python -m tinygrad6.experiments.{name}: error: argument {option}: ")


def test_every_setting_has_a_type():
    for name in experiments.NAMES:
        assert set(experiments.get(name).EXPERIMENT.defaults) <= set(settings.SETTING_TYPES), name


def forbidden(*args, **kwargs):
    raise AssertionError("data was loaded before the command line was checked")


def forbid_loading(monkeypatch) -> None:
    """Make loading data fail, in the experiments' command line and in the tour."""
    for module in (cli, tour):
        monkeypatch.setattr(module, "load_data", forbidden)


# The values of the hardening issue, and the other numbers each option must refuse.
BAD_OPTIONS = [
    ("weight_decay", "--epochs", "0"), ("optimizer_compare", "--iters", "-10"),
    ("weight_init_compare", "--batch-size", "0"), ("batchnorm_compare", "--hidden", "0"),
    ("weight_decay", "--n-train", "-5"), ("dropout", "--layers", "-2"), ("hyperparameter_search", "--trials", "0"),
    ("weight_decay", "--lr", "nan"), ("dropout", "--p", "1.5"), ("dropout", "--seed", "-1"),
    ("weight_decay", "--lam", "-0.1"), ("optimizer_compare", "--lr-adam", "0"), ("optimizer_paths", "--steps", "0"),
    ("optimizer_paths", "--x0", "inf"), ("activation_histograms", "--bins", "0"),
    ("activation_histograms", "--samples", "0"), ("activation_histograms", "--units", "-1"),
    ("batchnorm_compare", "--scales", "0"), ("hyperparameter_search", "--val-ratio", "1"),
    ("hyperparameter_search", "--best", "0"), ("hyperparameter_search", "--lr-max-exp", "1000"),
    ("weight_init_compare", "--std", "0"),
]


@pytest.mark.parametrize("name, option, bad", BAD_OPTIONS)
def test_a_bad_value_is_one_error_line_naming_the_option(name, option, bad, capsys, monkeypatch):
    forbid_loading(monkeypatch)
    line = parse_error(experiments.get(name).main, [option, bad, "--dataset", "digits"], capsys)
    assert f"error: argument {option}: expected " in line and f"got {bad}" in line


def test_settings_that_leave_an_empty_validation_split_are_refused_before_loading(capsys, monkeypatch):
    forbid_loading(monkeypatch)
    line = parse_error(experiments.get("hyperparameter_search").main, ["--n-train", "4", "--dataset", "digits"],
                       capsys)
    assert "--n-train" in line and "--val-ratio" in line and "no validation" in line


def test_run_refuses_bad_settings_from_python(tmp_path):
    module = experiments.get("weight_decay")
    with pytest.raises(ValueError, match=r"weight_decay: epochs=0: expected a positive integer"):
        module.run(None, tmp_path, epochs=0)
    with pytest.raises(ValueError, match=r"lr=nan: expected a finite number > 0"):
        module.run(None, tmp_path, lr=math.nan)


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_a_bad_out_is_refused_before_loading(where, tmp_path, capsys, monkeypatch):
    forbid_loading(monkeypatch)
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = afile if where == "file" else afile / "out"
    line = parse_error(experiments.get("weight_decay").main, ["--out", str(out), "--dataset", "digits"], capsys)
    assert "error: argument --out: " in line and str(afile) in line


def test_a_folder_that_cannot_be_made_is_refused_before_loading(tmp_path, capsys, monkeypatch):
    """Whatever output_folder cannot foresee (a full disk, an ACL, root on a read-only mount) is caught by making
    the folder before any work."""
    forbid_loading(monkeypatch)

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    for main in (experiments.get("dropout").main, tour.main):
        line = parse_error(main, ["--out", str(tmp_path / "new"), "--dataset", "digits"], capsys)
        assert "error: argument --out: cannot create" in line and "Permission denied" in line


def test_a_bad_data_folder_is_refused_at_parse_time(tmp_path, capsys):
    line = parse_error(experiments.get("dropout").main, ["--data", str(tmp_path), "--out", str(tmp_path)], capsys)
    assert "error: argument --data: " in line and "no MNIST IDX files" in line


@pytest.mark.parametrize("argv, option", [
    (["--seed", "-1"], "--seed"), (["--only", "nothing"], "--only"), (["--dataset", "cifar"], "--dataset"),
    (["--out", "{afile}"], "--out"), (["--out", "{afile}/sub"], "--out"), (["--data", "{tmp}"], "--data"),
])
def test_the_tour_refuses_bad_options(argv, option, tmp_path, capsys, monkeypatch):
    forbid_loading(monkeypatch)
    (tmp_path / "afile").write_text("x")
    argv = [a.format(afile=tmp_path / "afile", tmp=tmp_path) for a in argv]
    line = parse_error(tour.main, argv, capsys)
    assert line.startswith(f"python -m tinygrad6.tour: error: argument {option}: ")


def test_the_tour_and_the_experiments_share_one_definition_of_their_options():
    shared = ("--dataset", "--data", "--seed", "--out", "--quiet")
    tour_parser = tour.parser()
    for name in experiments.NAMES:
        experiment = cli.parser(experiments.get(name).EXPERIMENT)
        for option in shared:
            mine, theirs = action(experiment, option), action(tour_parser, option)
            assert (mine.type, mine.choices, mine.metavar) == (theirs.type, theirs.choices, theirs.metavar), option


def action(p: argparse.ArgumentParser, option: str) -> argparse.Action:
    return next(a for a in p._actions if option in a.option_strings)


# -- as a user types it (a few subprocesses: each imports numpy, about half a second) -----------------------------
def run_module(*argv: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_an_experiment_with_a_file_as_out_fails_before_loading_data(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    # the chapter's sizes (no --quick) and no MNIST on disk: loading the data prints a notice (today: then it
    # trains to the end and fails on --out with a traceback)
    result = run_module("tinygrad6.experiments.weight_decay", "--out", str(afile),
                        env={"TINYGRAD6_DATA": str(tmp_path / "no-mnist-here")})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: ") and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "python -m tinygrad6.experiments.weight_decay: error: argument --out: ")
    assert "notice" not in result.stdout  # the data was never loaded: refused before any work (no clock needed)


@pytest.mark.parametrize("argv, expected", [
    (["tinygrad6.experiments.weight_decay", "--n-train", "-5"], "argument --n-train: expected a positive integer"),
    (["tinygrad6.experiments", "dropout", "--p", "1.5"], "argument --p: expected a probability in [0, 1)"),
    (["tinygrad6.experiments", "no_such_experiment"], "error: unknown experiment 'no_such_experiment'"),
    (["tinygrad6.tour", "--seed", "-1"], "argument --seed: expected an integer >= 0"),
])
def test_the_command_lines_as_typed(argv, expected, tmp_path):
    result = run_module(*argv, "--out", str(tmp_path), timeout=30)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in result.stderr.strip().splitlines()[-1]


# -- issue 21: sizes have upper bounds; an unusable path is one line ----------------------------------------------
TOO_BIG = [
    ("activation_histograms", "--units", "2000000"), ("activation_histograms", "--samples", "10000000000"),
    ("activation_histograms", "--samples", "1e10"), ("activation_histograms", "--bins", "10000000000000"),
    ("batchnorm_compare", "--hidden", "1000000"), ("dropout", "--layers", "100000"),
    ("weight_decay", "--batch-size", "100000000"), ("optimizer_paths", "--steps", "10**9"),
    ("hyperparameter_search", "--trials", "99999999"),
]


@pytest.mark.parametrize("name, option, bad", TOO_BIG)
def test_a_size_too_big_is_one_error_line_naming_the_option(name, option, bad, capsys, monkeypatch):
    module = experiments.get(name)
    forbid_loading(monkeypatch)
    monkeypatch.setattr(module, "EXPERIMENT", replace(module.EXPERIMENT, run=forbidden))  # nothing allocated before
    line = parse_error(module.main, [option, bad, "--dataset", "digits"], capsys)
    assert f"error: argument {option}: expected a positive integer up to " in line and f"got {bad}" in line


def test_sizes_that_only_clash_together_are_refused_before_running(capsys, monkeypatch):
    module = experiments.get("activation_histograms")
    monkeypatch.setattr(module, "EXPERIMENT", replace(module.EXPERIMENT, run=forbidden))
    line = parse_error(module.main, ["--samples", "100000", "--units", "1000", "--layers", "20"], capsys)
    assert "--samples" in line and "2,000,000,000 activations" in line


def test_every_size_bound_allows_the_chapters_values_and_is_in_the_help():
    for name in experiments.NAMES:
        experiment = experiments.get(name).EXPERIMENT
        settings.resolve_settings(experiment, False, {})  # the chapter's sizes pass every check
        text = cli.parser(experiment).format_help()
        for key in set(experiment.defaults) & set(settings.SIZE_LIMITS):
            assert experiment.defaults[key] * 3 <= settings.SIZE_LIMITS[key], (name, key)
            assert f"at most {settings.SIZE_LIMITS[key]:,}" in text, (name, key)
    assert settings.SIZE_LIMITS["n_train"] == 60_000  # all of MNIST


@pytest.mark.parametrize("main", [experiments.get("dropout").main, tour.main], ids=["experiment", "tour"])
@pytest.mark.parametrize("option, path", [("--out", "{tmp}/" + "a" * 300), ("--out", "{tmp}/" + "b/" * 2100),
                                          ("--data", "{tmp}/" + "a" * 300)],
                         ids=["out-long-name", "out-long-path", "data-long-name"])
def test_an_unusable_path_is_one_error_line(main, option, path, tmp_path, capsys, monkeypatch):
    forbid_loading(monkeypatch)
    line = parse_error(main, [option, path.format(tmp=tmp_path), "--dataset", "digits"], capsys)
    assert f"error: argument {option}: cannot use " in line and "as a folder: File name too long" in line, line
    assert len(line) < 300


@pytest.mark.parametrize("existed", [False, True])
def test_a_run_that_fails_before_writing_leaves_no_folder_it_made(existed, tmp_path, monkeypatch):
    """--out is made before the run (so a folder that cannot be made is a usage error); a run that then fails
    before writing anything removes the folders it made, and never a folder the user already had."""
    out = tmp_path / "a" / "b"
    if existed:
        out.mkdir(parents=True)
    module = experiments.get("optimizer_paths")

    def failing(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C before the first file
    monkeypatch.setattr(module, "EXPERIMENT", replace(module.EXPERIMENT, run=failing))
    with pytest.raises(KeyboardInterrupt):
        module.main(["--quick", "--out", str(out), "--quiet"])
    assert out.is_dir() == existed and (tmp_path / "a").is_dir() == existed
