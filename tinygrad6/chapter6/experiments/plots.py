"""Figures for the experiments: a matplotlib Figure without pyplot, and titles wrapped to the figure's width."""

from __future__ import annotations


def figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.8), **kwargs):
    """A matplotlib Figure drawn by the Agg backend (no window, no pyplot global state) and its axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("the experiments draw with matplotlib, part of the `examples` extra: "
                          "pip install -e \".[examples]\"") from None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def wrap_to_width(fig, text: str, fontsize: float) -> str:
    """`text` with each of its lines broken at spaces so that, drawn at `fontsize`, no line is wider than `fig`.
    Constrained layout makes room for a suptitle's height but not its width: a centred line wider than the figure
    is cut on both sides."""
    renderer = fig.canvas.get_renderer()
    width = 0.97 * fig.bbox.width

    def fits(line: str) -> bool:
        probe = fig.text(0, 0, line, fontsize=fontsize)
        inside = probe.get_window_extent(renderer).width <= width
        probe.remove()
        return inside

    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            longer = f"{line} {word}" if line else word
            if line and not fits(longer):
                lines.append(line)
                longer = word
            line = longer
        lines.append(line)
    return "\n".join(lines)


def suptitle(fig, text: str, fontsize: float = 10) -> None:
    """The figure's title (lines separated by \\n), wrapped to the figure's width (`wrap_to_width`)."""
    fig.suptitle(wrap_to_width(fig, text, fontsize), fontsize=fontsize)
