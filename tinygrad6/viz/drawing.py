"""Drawing with Graphviz: `draw` (a `graphviz.Digraph`) and `render` (a file: .svg .png .pdf .dot), and running
Graphviz's `dot` program on DOT text (`pipe`), within a deadline and falling back to a drawing with long arrows cut.

    y = ((x @ W).tanh() ** 2).sum()
    tinygrad6.viz.render(y, path="y.svg")                     # values and, after backward, gradients
    tinygrad6.viz.render(loss, path="net.svg", collapse=True)  # each layer (innermost scope) as one box
    tinygrad6.viz.render(step, path="step.svg", collapse=True)  # a compiled step: forward, backward, update

What is drawn is a `GraphModel` (model.py) written as DOT text (dot.py); user text is data, never markup (see
escaping.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..engine.tensor import Tensor
from ..support.files import write_bytes, write_text
from .dot import CUT_NOTE, build_digraph, graphviz  # dot.py imports graphviz, or says how to install it
from .model import DOT_TIMEOUT, MAX_LAYOUT, MAX_OPS, GraphModel, Update, check_size, compiled_parts
from .trace import replay_backward

SHOW_KEYS = ("shape", "value", "grad", "source")
FALLBACK_AFTER = 10.0  # seconds render and the page give dot before they fall back to the drawing with cut arrows
RANKDIRS = ("TB", "LR", "BT", "RL")
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


INSTALL_HELP = (
    "Graphviz's `dot` program is needed to render a graph to {fmt} but was not found on PATH. Install Graphviz:\n"
    "    Debian/Ubuntu:  sudo apt-get install graphviz\n"
    "    macOS:          brew install graphviz\n"
    "    conda:          conda install -c conda-forge graphviz\n"
    "(the Python package `graphviz` only writes DOT text; it calls this program to draw it)."
)



class GraphvizNotFoundError(RuntimeError):
    """`dot` is not installed; the message says how to install it. The .dot file was written anyway."""



def draw(*outputs, show: Iterable[str] | str = ("shape", "value", "grad"), rankdir: str = "TB",
         collapse: bool | Iterable[str] = (), legend: bool = True, max_ops: int | None = MAX_OPS,
         max_layout: int | None = MAX_LAYOUT, backward: bool = False) -> graphviz.Digraph:
    """The computation graph behind `outputs` (tensors, or one compiled step once called: see `compiled_parts`) as
    a `graphviz.Digraph` (displays inline in Jupyter; `.source` is the DOT text; `render` writes files).

    show: what tensor nodes print besides their name: "shape" (shape and dtype), "value" (the values when few,
        else mean/std/min/max), "grad" (the gradient once computed, "grad: not computed" before), "source"
        (in each op box, with `tinygrad6.record_source()` on: your file:line and the library's, e.g.
        "in layers.py:137" inside BatchNorm1d.forward; both are always in the tooltips).
    rankdir: "TB" (top to bottom, the default), "LR", "BT" or "RL".
    collapse: scope names to draw as one box each (e.g. ("BatchNorm1d",)), or True for every innermost scope
        (each layer); a box keeps its scope's inputs and outputs.
    legend: add a small legend of the node colours.
    max_ops: the most op nodes (ops plus collapsed boxes) to draw, MAX_OPS (2,000) by default: past a few thousand,
        Graphviz needs minutes. A bigger graph raises ValueError saying how to shrink it (collapse=True, or draw an
        intermediate tensor); max_ops=None draws any size (building the DOT text stays linear: seconds for 100,000
        ops).
    max_layout: the most `layout_cost` (an estimate of dot's work: nodes, plus a hidden node per rank crossed by a long
        arrow) to lay out as is, MAX_LAYOUT by default. Past it, arrows over more than LONG_ARROW ranks (a weight
        shared by every step of a loop) are cut: the tensor is drawn again, small and dashed, beside each op it feeds,
        and the drawing and a warning say so. 0: always cut them; None: never (dot may need minutes).
    backward: also draw the backward pass as the book's figure 5-16 does: against every arrow, a red dashed arrow
        labelled with the gradient that flows back along it, read from the records of `backward_steps` (for x -> op,
        what op's rule sent to x; for op -> y, the gradient of y that op received; and the seed into the output).
        Runs backward once more from the (single) output, keeping the graph and touching no `.grad`; a graph
        freed by an earlier `backward()` needs that call to pass `retain_graph=True`.

    Names are shown literally, never as markup: tensor, scope and op names, op parameters and source paths may
    hold quotes, backslashes (`\\N`), `<b>`, `&amp;`, braces, `|` and line breaks; the drawing shows those very
    characters. A control character other than tab and line breaks (NUL, ESC, ...) cannot pass through Graphviz
    or SVG: draw raises ValueError naming the text.
    """
    updates: list[Update] = []
    if len(outputs) == 1 and not isinstance(outputs[0], Tensor) and hasattr(outputs[0], "traced"):
        outputs, updates = compiled_parts(outputs[0])
    tensors = _check_outputs(outputs)
    show = (show,) if isinstance(show, str) else tuple(show)
    unknown = [k for k in show if k not in SHOW_KEYS]
    if unknown:
        raise ValueError(f"draw: unknown show key(s) {unknown}; valid keys are {list(SHOW_KEYS)}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {list(RANKDIRS)}, got {rankdir!r}")
    if backward and (len(tensors) != 1 or updates):
        raise ValueError("draw: backward=True draws the backward pass of one output tensor (the loss); "
                         f"got {len(tensors)} outputs{' of a compiled step' if updates else ''}: draw one at a time")
    model = GraphModel.build(tensors, collapse)
    check_size(model, max_ops, "draw")
    replay = replay_backward(tensors[0], caller="draw") if backward else None
    return build_digraph(model, show, rankdir, legend, updates, max_layout, replay)


def render(*outputs, path: str | os.PathLike, timeout: float | None = DOT_TIMEOUT, **draw_kwargs) -> Path:
    """Draw `outputs` (tensors or a compiled step; see `draw` for the keyword arguments, `max_ops=` included) and
    write the file `path`; the format comes from its suffix: .svg, .png, .pdf, or .dot (the DOT text, no Graphviz
    program needed). Returns the path. Names appear literally (see `draw`).

    When Graphviz's `dot` is not installed, the .dot file is written next to `path` and GraphvizNotFoundError
    says how to install it. `dot` runs for at most `timeout` seconds (None: no limit), else TimeoutError; a drawing
    that dot has not finished after FALLBACK_AFTER seconds is drawn again with its long arrows cut (see `draw`'s
    max_layout; not with max_layout=None), with a warning."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"render: cannot tell the format of {str(path)!r}; use one of the suffixes "
                         f"{sorted(FORMATS)}")
    graph = draw(*outputs, **draw_kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        return write_text(path, graph.source)
    fast = None if draw_kwargs.get("max_layout", MAX_LAYOUT) is None else (
        lambda: draw(*outputs, **dict(draw_kwargs, max_layout=0)))
    return write_bytes(path, pipe_or_cut(graph, fast, fmt, fallback_dot=path.with_suffix(".dot"), timeout=timeout))


def pipe_or_cut(graph: graphviz.Digraph, fast, fmt: str, fallback_dot: Path | None = None,
                timeout: float | None = DOT_TIMEOUT) -> bytes:
    """`pipe`, but when dot has not finished after FALLBACK_AFTER seconds and `fast()` (the same drawing with every
    long arrow cut) differs, warn and render that instead: no one waits minutes for a drawing that can be fast."""
    if fast is None or CUT_NOTE in graph.source or (timeout is not None and timeout <= FALLBACK_AFTER):
        return pipe(graph, fmt, fallback_dot, timeout)
    with warnings.catch_warnings(record=True) as said:  # said below, only if the cut drawing is used
        warnings.simplefilter("always")
        cut = fast()
    if CUT_NOTE not in cut.source:  # nothing to cut: no faster drawing to fall back to
        return pipe(graph, fmt, fallback_dot, timeout)
    try:
        return pipe(graph, fmt, fallback_dot, FALLBACK_AFTER)
    except TimeoutError:
        warnings.warn(f"Graphviz's dot had not finished after {FALLBACK_AFTER:g} s, so the drawing was made again "
                      f"with its long arrows cut ({said[-1].message if said else CUT_NOTE})", stacklevel=3)
        return pipe(cut, fmt, fallback_dot, None if timeout is None else timeout - FALLBACK_AFTER)


def pipe(graph: graphviz.Digraph, fmt: str, fallback_dot: Path | None = None,
         timeout: float | None = DOT_TIMEOUT) -> bytes:
    """Run `dot` on the graph and return the rendered bytes. A missing `dot` becomes GraphvizNotFoundError (after
    writing the DOT text to `fallback_dot`, if given), a run past `timeout` seconds TimeoutError, and a failing run
    RuntimeError with dot's own message."""
    source = graph.source
    program = shutil.which("dot")
    if program is None:
        message = INSTALL_HELP.format(fmt=fmt.upper())
        if fallback_dot is not None:
            write_text(fallback_dot, source)
            message += f"\nThe DOT text was written to {fallback_dot}."
        raise GraphvizNotFoundError(message)
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        nodes = source.count(" [label=")
        raise TimeoutError(f"Graphviz's dot did not finish drawing {nodes:,} nodes within {timeout:g} s; draw fewer "
                           f"(collapse=True, or an intermediate tensor) or pass a larger timeout=") from None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"Graphviz's dot failed (exit status {done.returncode}) drawing {fmt.upper()}: {error}")
    return done.stdout


def dot_available() -> bool:
    """True when Graphviz's `dot` program is on PATH."""
    return shutil.which("dot") is not None


def _check_outputs(outputs: Sequence) -> list[Tensor]:
    if len(outputs) == 1 and isinstance(outputs[0], (list, tuple)):
        outputs = tuple(outputs[0])
    if not outputs:
        raise ValueError("draw: give at least one tensor to draw, e.g. draw(loss)")
    for i, t in enumerate(outputs):
        if isinstance(t, Tensor):
            continue
        kind = type(t).__name__
        if callable(t) and hasattr(t, "parameters"):
            raise TypeError(f"draw: argument {i} is a {kind} module, not a tensor. A module has no graph until it "
                            f"runs: call it on an input and draw the result, e.g. draw(model(x)) or draw(loss)")
        raise TypeError(f"draw: argument {i} is a {kind}, not a Tensor; draw the Tensor computed from it")
    return list(outputs)
