"""Pictures true to their text: every figure in docs/figures that is not an experiment's plot is made by
tools/docs_figures.py, and what a caption (or the page around it) says is checked against the figure's own data:
the arrows and their labels, the ops drawn, the gradients on the backward arrows, the source lines cited in the
tooltips, and, for the step-through page's screenshot, the step and op the page showed (recorded from its DOM in
the JSON file next to the PNG)."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
FIGURES = DOCS / "figures"
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}title"
# what the line of code that makes an op must contain (the ops BatchNorm1d.forward is made of)
OP_TEXT = {"mean": ".mean(", "sub": "-", "mul": "*", "div": "/", "add": "+", "sqrt": ".sqrt(", "pow": "**",
           "sum": ".sum("}
LINE = re.compile(r"(?P<kind>your line|library line): (?P<file>\S+\.py):(?P<line>\d+)")


def captions(page: str) -> dict[str, str]:
    """figure file name -> its alt text (the caption) on `page`."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return {m.group(2): m.group(1) for m in re.finditer(r"!\[([^\]]*)\]\(figures/([^)\s]+)\)", text)}


class Drawing:
    """What an SVG written by Graphviz from viz.draw shows: nodes (id -> first line of text, all text, tooltip)
    and edges (tail id, head id, label, classes)."""

    def __init__(self, path: Path) -> None:
        root = ET.parse(path).getroot()
        self.name, self.texts, self.tooltip, self.edges = {}, {}, {}, []
        for g in root.iter(f"{SVG}g"):
            classes = g.get("class", "").split()
            texts = ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]
            tips = [a.get(XLINK) for a in g.iter(f"{SVG}a") if a.get(XLINK)]
            if "node" in classes:
                self.name[g.get("id")] = texts[0] if texts else ""
                self.texts[g.get("id")] = texts
                self.tooltip[g.get("id")] = tips[0] if tips else ""
            elif "edge" in classes:
                tail, head = g.find(f"{SVG}title").text.split("->")
                self.edges.append((tail, head, " ".join(texts), classes))

    def forward(self):
        return [(t, h, label) for t, h, label, classes in self.edges if "backward" not in classes]

    def backward_into(self, name: str) -> list[str]:
        """Labels of the backward arrows that end at the tensor called `name`."""
        ids = [i for i, n in self.name.items() if n == name]
        return [label for t, h, label, classes in self.edges if "backward" in classes and t in ids]

    def ops(self) -> Counter:
        return Counter(self.name[i] for i in self.name if re.fullmatch(r"op\d+", i))


def tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_figures", REPO / "tools" / "docs_figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_every_drawn_figure_is_made_by_the_tool():
    figures = tool()
    drawn = {p.name for p in FIGURES.glob("*.svg")}
    assert drawn == set(figures.FIGURES) | set(figures.TOUR_FIGURES)
    assert (FIGURES / figures.SCREENSHOT).exists() and (FIGURES / figures.SCREENSHOT).with_suffix(".json").exists()


@pytest.mark.parametrize("svg", sorted(FIGURES.glob("*.svg")), ids=lambda p: p.name)
def test_every_source_line_in_a_tooltip_holds_the_op_it_names(svg):
    drawing, checked = Drawing(svg), 0
    for tip in drawing.tooltip.values():
        op = re.match(r"(\w+) \(op\d+\)", tip) or re.search(r"made by (\w+)", tip)
        lines = list(LINE.finditer(tip))
        if not op or not lines or op.group(1) not in OP_TEXT:
            continue
        where = lines[-1]  # the line that made the op: the library's when the op was made inside a layer
        path = REPO / where.group("file")
        assert path.exists(), f"{svg.name}: the tooltip cites {where.group(0)}, a file that is not in the repository"
        code = path.read_text(encoding="utf-8").splitlines()[int(where.group("line")) - 1]
        cited = f"{where.group('file')}:{where.group('line')}"
        assert OP_TEXT[op.group(1)] in code, (f"{svg.name}: the tooltip says {op.group(1)} was made at {cited}, "
                                              f"which reads {code.strip()!r}: run python tools/docs_figures.py")
        checked += 1
    if svg.name == "batchnorm_graph.svg":
        assert checked >= 9, "the BatchNorm drawing of the tour was made under record_source(): its lines are cited"


def test_arrow_labels_are_what_the_page_says_they_are():
    """how-autograd-works.md: only the arrows into sub, div, pow and matmul carry a label, a or b; red dashed
    (backward) arrows carry gradients."""
    text = (DOCS / "how-autograd-works.md").read_text(encoding="utf-8")
    assert "into `sub`, `div`, `pow` and `matmul` the two arrows are\nlabelled `a` and `b`" in text
    for name in captions("how-autograd-works.md"):
        drawing = Drawing(FIGURES / name)
        for _tail, head, label in drawing.forward():
            if label and head in drawing.name:
                assert drawing.name[head] in {"sub", "div", "pow", "matmul"} and label in {"a", "b"}, (name, label)
            elif head in drawing.name and drawing.name[head] in {"sub", "div", "pow", "matmul"}:
                raise AssertionError(f"{name}: an arrow into {drawing.name[head]} has no operand label")


def test_the_apples_caption_names_the_gradient_on_each_backward_arrow():
    caption = captions("how-autograd-works.md")["autograd-apples.svg"]
    drawing = Drawing(FIGURES / "autograd-apples.svg")
    claims = re.findall(r"([\d.]+) to (\w+)", caption)
    assert {name for _, name in claims} == {"apple", "apple_num", "tax", "apple_price"}
    for value, name in claims:
        assert [float(v) for v in drawing.backward_into(name)] == [float(value)], (name, drawing.backward_into(name))
    assert "1 into price" in caption and [float(v) for v in drawing.backward_into("price")] == [1.0]


def test_the_graph_captions_of_how_autograd_works_match_the_drawings():
    shown = captions("how-autograd-works.md")
    x2 = Drawing(FIGURES / "autograd-x2-plus-x.svg")
    x = next(i for i, n in x2.name.items() if n == "x")
    assert "x feeds mul twice and add once" in shown["autograd-x2-plus-x.svg"]
    assert Counter(x2.name[h] for t, h, _ in x2.forward() if t == x) == Counter({"mul": 2, "add": 1})
    assert "x's gradient is 7" in shown["autograd-x2-plus-x.svg"] and "grad 7." in x2.texts[x]
    bn = Drawing(FIGURES / "autograd-batchnorm.svg")
    listed = re.search(r"BatchNorm1d layer: ([\w, ]+) inside", shown["autograd-batchnorm.svg"]).group(1)
    assert Counter(listed.split(", ")) == bn.ops() - Counter({"mul": 1, "sum": 1})  # the loss's own mul and sum
    mul = Drawing(FIGURES / "autograd-mul.svg")
    assert mul.ops() == Counter({"mul": 1, "sum": 1})
    assert all(any(t.startswith("grad ") for t in mul.texts[i]) for i, n in mul.name.items() if n in ("a", "b"))
    second = Drawing(FIGURES / "autograd-second-derivative.svg")
    assert {"mul", "sub"} <= set(second.ops()) and "mul and sub ops" in shown["autograd-second-derivative.svg"]


def test_the_compiled_step_caption_matches_its_drawing():
    caption = captions("compiled-step.md")["autograd-compiled-step.svg"]
    drawing = Drawing(FIGURES / "autograd-compiled-step.svg")
    into_update = [t for t, h, _ in drawing.forward() if h.startswith("update")]
    assert "each of the four gradients" in caption and len(into_update) == 4
    named = [drawing.name[t] for t in into_update]
    assert all(re.fullmatch(r"t\d+", n) for n in named) and "numbered t1, t2, ..." in caption


def test_the_screenshot_caption_says_what_the_page_showed():
    """The record is read back from the page's DOM by tools/docs_figures.py --screenshot when it took the PNG."""
    shown = json.loads((FIGURES / "debugging-backprop-html.json").read_text(encoding="utf-8"))
    caption = captions("debugging-backprop.md")["debugging-backprop-html.png"]
    text = (DOCS / "debugging-backprop.md").read_text(encoding="utf-8")
    assert f"at {shown['counter']}:" in caption
    assert f"the `{shown['op']}` op" in caption and shown["highlighted"]
    for line in shown["accumulation"]:
        assert f'"{line} contributions received"' in caption
    assert f"presses → {shown['presses']} times" in " ".join(text.split())
    assert shown["counter"] == f"step {shown['presses']} / {shown['counter'].split(' / ')[1]}"
    page_code = text[:text.index("(figures/debugging-backprop-html.png)")]
    assert f'title="{shown["title"]}"' in page_code  # the picture is of the page the code above it writes
