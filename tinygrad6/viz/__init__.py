"""See the graph: draw it with Graphviz, group it by scopes, step through its backward pass.

    from tinygrad6 import viz
    viz.draw(loss)                                   # a graphviz.Digraph (shows inline in Jupyter)
    viz.render(loss, path="loss.svg", collapse=True) # .svg .png .pdf .dot; each layer as one box
    viz.backprop_html(loss, "backprop.html")         # one self-contained page: Next/Prev through backward
    viz.trace(loss)                                  # the backward pass as a printed table

graph.py   walk, draw, render (Graphviz)
trace.py   trace: one row per backward step (shared with the page)
html.py    backprop_html: the step-through page
"""

from .graph import GraphModel, GraphvizNotFoundError, dot_available, draw, render, walk
from .html import backprop_html
from .trace import TraceRow, format_trace, trace

__all__ = ["GraphModel", "GraphvizNotFoundError", "TraceRow", "backprop_html", "dot_available", "draw",
           "format_trace", "render", "trace", "walk"]
