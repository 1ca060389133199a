"""User text into DOT: every tensor, scope and op name, op parameter and source path reaches Graphviz through
`dot_label` or `dot_tooltip`, so that the drawing shows exactly the characters of the name (quotes, backslashes,
`\\N`, `<b>`, `&amp;`, braces and `|` included), or `check_text` refuses it, naming the text."""

from __future__ import annotations

import re
from collections.abc import Sequence

# NUL ends a C string inside dot, and XML (so SVG) allows no other C0 control character but tab and line breaks;
# a lone surrogate cannot be written as UTF-8.
_UNDRAWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# In a quoted DOT string `\"` is a quote; in a plain label `\\` is a backslash, `\n` a line break (`\N`, `\G`, `\l`
# ... would be expanded), and `&amp;` an ampersand (Graphviz decodes HTML entities in plain labels too).
_LABEL_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "&": "&amp;", "\n": "\\n", "\r": "\\n"})
# A tooltip is unescaped twice on its way into the SVG, so a backslash needs four; a line break is `&#10;`.
_TOOLTIP_ESCAPES = str.maketrans({"\\": "\\\\\\\\", '"': '\\"', "&": "&amp;", "\n": "&#10;", "\r": "&#10;"})
_DOT_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def check_text(text: str, what: str = "text") -> str:
    """`text` itself when Graphviz can draw it, else ValueError naming it (`what`: "tensor name", "scope name"...).
    Every character can be drawn but the control characters other than tab and line breaks, and lone surrogates."""
    bad = _UNDRAWABLE.search(text)
    if bad is None:
        return text
    char = bad.group()
    kind = "a lone surrogate (not valid Unicode)" if char >= "\ud800" else f"the control character U+{ord(char):04X}"
    raise ValueError(f"draw: the {what} {text!r} contains {kind}, which Graphviz and SVG cannot carry (NUL ends a "
                     f"string inside dot); rename it without control characters (tabs and line breaks are fine)")


def dot_label(lines: Sequence[str]) -> str:
    """A plain (never HTML-like) DOT label, quoted, that Graphviz draws as exactly these lines of text."""
    text = "\n".join(lines).replace("\r\n", "\n")
    check_text(text)
    escaped = text.translate(_LABEL_ESCAPES)
    if escaped.isidentifier() and escaped.isascii() and escaped.lower() not in _DOT_KEYWORDS:
        return escaped  # a bare DOT ID, as the graphviz package writes it
    return f'"{escaped}"'


def dot_tooltip(lines: Sequence[str]) -> str:
    """A DOT tooltip, quoted, that shows these lines exactly (tabs show as spaces)."""
    text = "\n".join(lines).replace("\r\n", "\n")
    check_text(text)
    return f'"{text.translate(_TOOLTIP_ESCAPES)}"'
