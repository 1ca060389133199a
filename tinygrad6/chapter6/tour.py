"""The tour: everything chapter 6 shows, reproduced by tinygrad6 and gathered on one page.

    python -m tinygrad6.tour --out tour/                          # quick form (well under 5 minutes), offline
    python -m tinygrad6.tour --out tour/ --full                   # the chapter's sizes (a few minutes)
    python -m tinygrad6.tour --out tour/ --data DIR   # MNIST IDX files from a folder
    python -m tinygrad6.tour --out tour/ --dataset mnist          # download MNIST first (once)

It draws Batch Normalization's graph and writes its step-through backward page (`tinygrad6.viz`), runs the eight
experiments of `tinygrad6.experiments` (numbered 1 to 8 in the progress lines and on the page), and writes
<out>/index.html: every figure with its numbers and what it shows, a text each experiment writes from its own run's
numbers (`what` in each experiment module). Offline it uses MNIST when it is already on disk, else scikit-learn's
8x8 digits.

A folder the tour writes holds one complete run or says it does not: a run first removes tour.json and replaces
index.html by a page saying the run has not finished, and writes tour.json and the real index.html only at its end
(every file through `files.replace_file`). So an interrupted run never leaves the previous run's page beside its
own figures.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from ..engine.modes import record_source
from ..engine.tensor import Tensor
from ..support import files
from . import experiments
from .experiments import cli, training
from .experiments.data import Data, load_data

BATCHNORM_WHAT = ("Batch Normalization built from the engine's primitive ops (mean, subtract, square, sqrt, divide, "
                  "scale, shift), grouped in one BatchNorm1d cluster: nothing in it has a hand-written backward pass. "
                  "The step-through page walks the backward pass op by op, showing the gradient each op receives and "
                  "sends, and marks each gradient when it is final.")
BATCHNORM_WHY_DY = ("The graph ends in loss = sum(BN(x) * dy), where dy is a fixed random array standing for the "
                    "upstream gradient: what the layers after BatchNorm would send back. The gradient of this loss "
                    "with respect to BN(x) is exactly dy, so backward computes what a network's backward pass "
                    "computes at a BatchNorm layer: dy carried back to x, gamma and beta. The plain sum(BN(x)) would "
                    "not do: each column of BN(x) has mean beta whatever x and gamma are, so that sum does not depend "
                    "on them: the gradients of x and gamma would be exactly 0 for any implementation, right or wrong.")


def render_batchnorm(out: Path, seed: int = 0) -> dict[str, Any]:
    """Draw BatchNorm1d's forward graph on a 4x3 batch (and a random upstream gradient dy, so that no gradient is
    trivially zero) and write its step-through backward page. Returns {"files": [...], "note": str or None}."""
    rng = np.random.default_rng(seed)
    bn = nn.BatchNorm1d(3)
    with record_source():
        x = Tensor(rng.normal(2.0, 3.0, size=(4, 3)), requires_grad=True, name="x")
        dy = Tensor(rng.normal(size=(4, 3)), name="dy")
        loss = (bn(x) * dy).sum()
        loss.name = "loss"
    files: list[str] = []
    note = None  # the tour goes on without the drawing; the page says why
    try:
        from .. import viz
    except ImportError as e:  # the graphviz Python package is missing: the message says how to install it
        note = f"The graph could not be drawn: {e}"
    else:
        try:
            viz.render(loss, path=out / "batchnorm_graph.svg", show=("shape",))
            files.append("batchnorm_graph.svg")
            viz.backprop_html(loss, out / "batchnorm_backprop.html", title="Backward pass of Batch Normalization")
            files.append("batchnorm_backprop.html")
        except viz.GraphvizNotFoundError as e:  # its message says how to install Graphviz
            note = f"The graph could not be drawn because Graphviz is missing: {e} Then run the tour again."
        except Exception as e:
            note = f"The graph could not be drawn: {type(e).__name__}: {e}"
    if note:
        print(f"  note: {note}", file=sys.stderr)
    return {"files": files, "note": note}


def run(out: Path, full: bool = False, dataset: str | None = None, data_dir: str | None = None, seed: int = 0,
        only: Sequence[str] | None = None, verbose: bool = True, data: Data | None = None,
        eager: bool = False) -> Path:
    """Run the tour into `out` and return the path of index.html. `data` (already loaded) replaces
    dataset/data_dir (see `experiments.data.load_data`). The experiments train with compiled steps unless
    `eager` (the same numbers)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    mark_unfinished(out)
    names = list(only) if only else list(experiments.NAMES)
    say = print if verbose else (lambda *a, **k: None)
    mode = "full (the chapter's sizes)" if full else "quick (--full for the chapter's sizes)"
    say(f"tinygrad6 tour: Batch Normalization's graph and {len(names)} experiment{'s' if len(names) > 1 else ''}, "
        f"{mode}, writing {out}/")
    chosen = [experiments.get(name).EXPERIMENT for name in names]
    if data is None and any(e.needs_data for e in chosen):
        data = load_data(dataset, data_dir, notice=say)
    if data is not None:
        say(f"data: {data.caption}")
    with training.one_blas_thread():
        t0 = time.perf_counter()
        say("Batch Normalization's graph and step-through page ...", flush=True)
        batchnorm = render_batchnorm(out, seed)
        say(f"      done in {time.perf_counter() - t0:.1f} s")
        results = []
        for k, experiment in enumerate(chosen, start=1):  # numbered as on the page: experiment k of len(chosen)
            say(f"[{k}/{len(chosen)}] {experiment.name} ...", flush=True)
            result = experiment.run(data if experiment.needs_data else None, out, seed=seed, quick=not full,
                                    verbose=verbose, compile=not eager)
            results.append(result)
            say(f"      done in {result['seconds']:.1f} s: {result['summary']}")
    seconds = time.perf_counter() - started
    files.write_text(out / "tour.json", json.dumps({"full": full, "seconds": round(seconds, 1),
                                                    "dataset": data.caption if data else None,
                                                    "experiments": {r["experiment"]: r["summary"] for r in results}},
                                                   indent=2) + "\n")
    index = files.write_text(out / "index.html", page(batchnorm, results, data, full, seconds))  # last
    say(f"finished in {seconds:.0f} s: open {index}")
    return index


def mark_unfinished(out: Path) -> None:
    """Make `out` say that a run is under way: remove the previous run's tour.json, then replace its index.html by
    UNFINISHED_PAGE (the end of the run replaces it by the tour's page)."""
    (out / "tour.json").unlink(missing_ok=True)
    when = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    files.write_text(out / "index.html", UNFINISHED_PAGE.format(when=when, out=html.escape(str(out))))


UNFINISHED_PAGE = """<!doctype html><html><head><meta charset='utf-8'><title>tinygrad6 tour: not finished</title></head>
<body><h1>This tour has not finished</h1><p>A tour run into {out} started at {when} and has not finished: it is
still running, or it was interrupted. The figures in this folder may come from different runs. The run replaces
this page by the tour's page when it completes; to make one, run <code>python -m tinygrad6.tour --out {out}</code>
again.</p></body></html>
"""
"""index.html while a run is under way (or after it was interrupted): {when} and {out} are filled in."""


# -- the page -----------------------------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2.2em; border-bottom: 1px solid #ddd; }
.what { font-size: 1.05em; } .summary { background: #f4f7fb; padding: 0.6em 0.8em; border-radius: 4px; }
img { max-width: 100%; border: 1px solid #eee; } .note { background: #fff4e0; padding: 0.6em 0.8em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
.meta { color: #666; } pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; }
summary { cursor: pointer; color: #555; font-size: 0.9em; }
"""


def page(batchnorm: dict[str, Any], results: list[dict[str, Any]], data: Data | None, full: bool,
         seconds: float) -> str:
    """index.html: the Batch Normalization drawing, then one section per experiment, "Experiment k of n" as the
    progress lines count them."""
    e = html.escape
    toc = [f'<li><a href="#{e(r["experiment"])}">{e(r["title"])}</a></li>' for r in results]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>tinygrad6 tour</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>tinygrad6: chapter 6 of <i>Deep Learning from Scratch</i>, reproduced</h1>",
             f"<p class='meta'>{'Full run (the chapter’s sizes)' if full else 'Quick run (fewer iterations than the chapter; python -m tinygrad6.tour --full for its sizes)'}"  # noqa: E501
             f" in {seconds:.0f} s. Data: {e(data.caption) if data else 'none needed'}. "
             f"Every number below was computed by tinygrad6's own autograd engine on numpy.</p>",
             "<p><a href='#batchnorm'>Batch Normalization: graph and step-through backward page</a>, then "
             f"{len(results)} experiment{'s' if len(results) != 1 else ''}:</p>",
             "<ol>" + "".join(toc) + "</ol>",
             "<h2 id='batchnorm'>Batch Normalization: its graph and its backward pass, step by step</h2>",
             f"<p class='what'>{e(BATCHNORM_WHAT)}</p>",
             f"<p class='what'><b>Why the loss is <code>sum(BN(x) * dy)</code>.</b> {e(BATCHNORM_WHY_DY)}</p>"]
    if "batchnorm_graph.svg" in batchnorm["files"]:
        parts.append("<p><img src='batchnorm_graph.svg' alt='the graph of BatchNorm1d on a 4x3 batch'></p>")
    if "batchnorm_backprop.html" in batchnorm["files"]:
        parts.append("<p><a href='batchnorm_backprop.html'><b>Open the step-through backward page</b></a> "
                     "(Next/Prev or the arrow keys move one op at a time).</p>")
    if batchnorm["note"]:
        parts.append(f"<p class='note'>{e(batchnorm['note'])}</p>")
    for k, r in enumerate(results, start=1):
        name = e(r["experiment"])
        parts += [f"<h2 id='{name}'>Experiment {k} of {len(results)}: {e(r['title'])}</h2>",
                  f"<p class='what'><b>What it shows.</b> {e(r['what'])}</p>",
                  f"<p><img src='{name}.png' alt='{e(r['title'])}'></p>",
                  f"<p class='summary'><b>Numbers.</b> {e(r['summary'])}</p>",
                  numbers_table(r),
                  f"<p class='meta'>Data: {e(str(r['dataset']))}. Seed {r['seed']}, {r['seconds']:.1f} s. "
                  f"All numbers: <a href='{name}.json'>{name}.json</a>. Run it alone: "
                  f"<code>python -m tinygrad6.experiments.{name}{'' if full else ' --quick'}</code>.</p>"]
    parts.append("</body></html>\n")
    return "\n".join(parts)


FOLD_ROWS = 8
"""A settings table of more rows than this starts folded (a click on its summary line opens it)."""


def numbers_table(result: dict[str, Any]) -> str:
    """The settings and the small numbers of a result as an HTML table (long curves stay in the JSON), in a
    <details> element that starts open when the table is short and folded when it has more than FOLD_ROWS rows."""
    rows = [("settings", ", ".join(f"{k}={v}" for k, v in result["settings"].items()))]
    for key, value in result["numbers"].items():
        for label, text in _flatten(key, value):
            rows.append((label, text))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    fold = len(rows) > FOLD_ROWS
    return (f"<details{'' if fold else ' open'}><summary>Settings and numbers ({len(rows)} rows"
            f"{', click to show' if fold else ''})</summary><table>{body}</table></details>")


def _flatten(key: str, value: Any, depth: int = 0) -> list[tuple[str, str]]:
    if isinstance(value, float):
        return [(key, f"{value:.4g}")]
    if isinstance(value, (int, str)):
        return [(key, str(value))]
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            return [(key, "\n".join(value))]
        if len(value) <= 8 and all(isinstance(v, (int, float)) for v in value):
            return [(key, ", ".join(f"{v:.4g}" for v in value))]
        return []  # a long curve or a list of records: in the JSON
    if isinstance(value, dict) and depth < 2:
        if value and all(isinstance(v, (int, float)) for v in value.values()):
            return [(key, ", ".join(f"{k}: {v:.4g}" for k, v in value.items()))]
        rows = []
        for k, v in value.items():
            rows += _flatten(f"{key} / {k}", v, depth + 1)
        return rows
    return []


def parser() -> argparse.ArgumentParser:
    """The tour's command line: the experiments' shared options (`cli.add_shared_options`), --full and --only."""
    p = argparse.ArgumentParser(prog="python -m tinygrad6.tour", description=__doc__.split("\n")[0])
    cli.add_shared_options(p, "tour", "folder for index.html and the figures (default: tour)")
    p.add_argument("--full", action="store_true", help="the chapter's sizes (minutes) instead of the quick form")
    p.add_argument("--only", nargs="+", choices=experiments.NAMES, metavar="NAME",
                   help=f"run only these experiments (of {', '.join(experiments.NAMES)})")
    return p


def main(argv: Sequence[str] | None = None) -> Path:
    """Check the command line and the output folder, load the data once, and run the tour."""
    p = parser()
    args = p.parse_args(argv)
    cli.make_output_folder(p, args.out)
    say = (lambda *a, **k: None) if args.quiet else print
    needs_data = any(experiments.get(name).EXPERIMENT.needs_data for name in (args.only or experiments.NAMES))
    try:
        import matplotlib  # noqa: F401  (fail now, not after the first experiments, when it is missing)

        data = load_data(args.dataset, args.data, notice=say) if needs_data else None
    except (OSError, ValueError, ImportError) as e:  # no files and no network, a bad IDX file, a missing extra
        raise SystemExit(f"error: {e}") from None
    return run(args.out, full=args.full, seed=args.seed, only=args.only, verbose=not args.quiet, data=data,
               eager=args.eager)


if __name__ == "__main__":
    main()
