"""The backward pass as a table, one row per `backward_steps` record, for terminal users:

    >>> tinygrad6.viz.trace(loss)
    step  op   scope  inputs -> output          |grad out|  |grad to inputs|  final  source
       0  sum         t5 (4, 3) -> loss ()               1  3.46              t5     train.py:12
       1  mul         out (4, 3), dy (4, 3) -> t5 ...

Row k is record k of `loss.backward_steps()`, and the names (a tensor's own, else t1, t2, ...) are the ones `draw`
and the step-through page show, so the table, the drawing, the page and a debugger agree. The source column gives
the user's line and, for an op made inside the library, the library line too ("train.py:12 in layers.py:137").
Names are printed with control characters escaped as in repr ("\x1b"), so a name cannot drive the terminal.
Nothing is written to any `.grad`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from ..engine.autograd import BackwardStep, backward_steps
from ..engine.autograd import grad as autograd_grad
from ..engine.tensor import ArrayLike, Tensor
from .model import GraphModel, short_source


@dataclass
class Replay:
    """A backward pass run for looking at, not for learning: the records of `backward_steps`, the graph they
    ran on (with its node ids), and the seed (the gradient of the loss itself)."""

    model: GraphModel
    steps: list[BackwardStep]
    seed: Tensor


def replay_backward(loss: Tensor, grad: ArrayLike | None = None, *, caller: str = "trace") -> Replay:
    """Run `backward_steps` on `loss` without touching any `.grad` (gradients are captured through `inputs=`)
    and keeping the graph (`retain_graph=True`), so the user's own `backward()` works the same afterwards.
    `backward_steps` refuses what `backward()` refuses (a loss without grad, a missing or misshapen `grad`, a
    graph released by an earlier backward), with the same messages."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"{caller}: expected the Tensor to backpropagate from (e.g. the loss), "
                        f"got {type(loss).__name__}")
    model = GraphModel.build([loss])
    leaves = [t for t in model.tensors if t.creator is None and t.requires_grad]
    grads = None if grad is None else [grad]
    steps = list(backward_steps([loss], grads, retain_graph=True, inputs=leaves))
    # the first step receives the seed; a leaf has no step, and its gradient is the seed itself
    seed = steps[0].grad_output if steps else autograd_grad(loss, loss, grads, retain_graph=True)[0]
    return Replay(model, steps, seed)


@dataclass
class TraceRow:
    """One backward step: which op ran, where, on what shapes, and the size (L2 norm) of the gradients."""

    index: int
    op: str
    scope: str
    inputs: list[str]           # "t3 (4, 3)" per input, ids as in draw()
    output: str
    grad_output_norm: float
    grad_input_norms: list[float | None]  # None: that input needs no gradient
    finalized: list[str]        # tensors whose gradient became complete at this step
    source: str | None          # the user's line (file:line) that created the op, else the library line
    library: str | None = None  # the tinygrad6 line that created the op (e.g. in BatchNorm1d.forward), if any


def trace(loss: Tensor, grad: ArrayLike | None = None, *, file: TextIO | None = None,
          quiet: bool = False) -> list[TraceRow]:
    """Print the backward pass of `loss` as a table (one row per step: op, scope, shapes, gradient norms, the
    tensors whose gradient became final) to `file` (default stdout) and return the rows; `quiet=True` only
    returns them (`format_trace(rows)` gives the text). No `.grad` changes.

    Any size: the rows are built in linear time (a 100,000-op chain in about 3 s) and need no Graphviz, so this is
    the view for graphs past draw's `max_ops`. Names are printed as they are (plain text, not markup)."""
    replay = replay_backward(loss, grad, caller="trace")
    model = replay.model

    def label(t: Tensor | None) -> str:
        if t is None:
            return "?"
        if model.role(t) == "const":
            return model.label(t)  # a Python number: its value says more than a name
        return f"{model.label(t)} {t.shape}"

    rows = []
    for step in replay.steps:
        rows.append(TraceRow(
            index=step.index,
            op=step.op.name,
            scope="/".join(step.op.scope),
            inputs=[label(x) for x in step.op.inputs],
            output=label(step.op.output),
            grad_output_norm=grad_norm(step.grad_output),
            grad_input_norms=[None if g is None else grad_norm(g) for g in step.grad_inputs],
            finalized=[model.label(t) for t, _ in step.finalized],
            source=step.op.source,
            library=_library_line(step.op),
        ))
    if not quiet:
        print(format_trace(rows), file=file or sys.stdout)
    return rows


def format_trace(rows: list[TraceRow]) -> str:
    """The rows as a fixed-width text table."""
    header = ["step", "op", "scope", "inputs -> output", "|grad out|", "|grad to inputs|", "final"]
    table = [header]
    for r in rows:
        sent = ", ".join("-" if n is None else f"{n:.3g}" for n in r.grad_input_norms)
        cells = [str(r.index), r.op, r.scope or "-", f"{', '.join(r.inputs)} -> {r.output}",
                 f"{r.grad_output_norm:.3g}", sent, ", ".join(r.finalized) or "-"]
        cells = [printable(c) for c in cells]
        if r.source:
            cells.append(printable(" in ".join(short_source(w) for w in (r.source, r.library) if w)))
        table.append(cells)
    if any(r.source for r in rows):
        header.append("source")
    widths = [max(len(row[i]) for row in table if i < len(row)) for i in range(len(header))]
    right = {0, 4}  # numbers right-aligned
    lines = []
    for row in table:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def printable(text: str) -> str:
    """`text` with every character that is not printable (control characters, ESC, bidirectional overrides...)
    written as its repr escape (\\x1b, \\n, \\u202e): names from user code reach the terminal as text."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _library_line(op) -> str | None:
    """The library line that created `op`, when it is not the line `op.source` already names."""
    location = getattr(op, "location", None)
    if location is None or location.library is None or location.library == op.source:
        return None
    return location.library


def grad_norm(g: Tensor) -> float:
    """The L2 norm of a gradient, summed in float64 (so a float32 gradient's norm does not lose digits); the trace
    and the step-through page both show it."""
    return float(np.sqrt(np.sum(np.square(g.data, dtype=np.float64))))
