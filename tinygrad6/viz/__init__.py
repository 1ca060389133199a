"""See the graph: draw it with Graphviz, group it by scopes, step through its backward pass.

    from tinygrad6 import viz
    viz.draw(loss)                                   # a graphviz.Digraph (shows inline in Jupyter)
    viz.render(loss, path="loss.svg", collapse=True) # .svg .png .pdf .dot; each layer as one box
    viz.render(step, path="step.svg", collapse=True) # a compiled step, once called: forward, backward, update
    viz.backprop_html(loss, "backprop.html")         # one self-contained page: Next/Prev through backward
    viz.stepper(loss)                                # the same page inline in Jupyter (.save(path) writes it)
    viz.trace(loss)                                  # the backward pass as a printed table

model.py     walk, GraphModel: the graph as data, the size limits, the text of a node (numpy only)
escaping.py  user text into DOT, shown literally
dot.py       build_digraph: a GraphModel as DOT text (the graphviz package)
drawing.py   draw, render: Graphviz's dot program lays the DOT text out
trace.py     trace: one row per backward step (shared with the page)
html.py      backprop_html, stepper: the step-through page (rule, both source lines, accumulation)
page/      the page's template, style and script (stepper.html, .css, .js), package data

Names are shown literally, never as markup or script. draw/render/backprop_html refuse graphs of more than
MAX_OPS (2,000) ops, which Graphviz would need minutes for; the error says how to collapse, cut or lift the limit.
Long arrows (a weight shared by every step of a loop) slow Graphviz far more than ops: past MAX_LAYOUT they are cut
and their tensor drawn again beside each op it feeds, and the drawing and a warning say so.
"""

from .html import Stepper, backprop_html, stepper
from .model import MAX_LAYOUT, MAX_OPS, GraphModel, walk
from .trace import TraceRow, format_trace, trace

DRAWING = ("GraphvizNotFoundError", "dot_available", "draw", "render")


def __getattr__(name: str):
    """`draw`, `render`, `dot_available` and `GraphvizNotFoundError` are imported on first use: they need the graphviz
    package (and its absence is explained then), while the trace and the page's data need numpy alone."""
    if name in DRAWING:
        from . import drawing

        return getattr(drawing, name)
    raise AttributeError(f"module 'tinygrad6.viz' has no attribute {name!r}")


__all__ = ["MAX_LAYOUT", "MAX_OPS", "GraphModel", "GraphvizNotFoundError", "Stepper", "TraceRow", "backprop_html",
           "dot_available", "draw", "format_trace", "render", "stepper", "trace", "walk"]
