"""User text is data, never markup, and big graphs stay usable.

- Graphviz: hostile tensor, scope, module and op names and op parameters (quotes, backslashes, `\\N`/`\\G`, braces,
  `|`, `<...>`, HTML entities, line breaks) render as exactly their characters in real SVG from `dot`; NUL and
  other control characters give a ValueError naming the text.
- The step-through page: hostile names and titles run no script in headless Chromium, every button still works,
  and the names are shown literally.
- Size: a 100,000-op chain becomes DOT text and a trace in seconds; past `max_ops` draw/render/backprop_html refuse
  with a message saying how to collapse, cut or lift the limit; `dot` runs with a timeout.

Tests that need `dot` or Chromium skip when they are missing."""

from __future__ import annotations

import json
import re
import time
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from test_backprop_html import page_data

import tinygrad6
from tinygrad6 import Tensor, nn, viz
from tinygrad6.engine.op import Op

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
needs_dot = pytest.mark.skipif(not viz.dot_available(), reason="Graphviz `dot` is not installed")

# every kind of text that DOT, Graphviz's label escapes, HTML-like labels, HTML entities or the page template
# could read as something other than text
HOSTILE = [
    'say "hi"',
    "back\\slash",
    "ends with \\",
    "\\N and \\G and \\E \\T \\H \\L",
    "\\n \\l \\r are not breaks",
    "{record|fields} <port>",
    "<a > b>",
    "<<font color='red'>x>>",
    '<<table><tr><td><img src="IMAGE"/></td></tr></table>>',
    "&lt;b&gt; &amp; &#65;",
    "two\nlines",
    "tab\there",
    "node",
    "-->",
    "é 漢字 \u2028 \u2029",
]


def hostile_graph(names: list[str], image: str = "IMAGE"):
    """One tensor, one scope, one module class and one op parameter per hostile name."""
    names = [n.replace("IMAGE", image) for n in names]
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    y = x
    for i, name in enumerate(names):
        module = type(name, (nn.Module,), {"forward": lambda self, v: v * 2.0})  # a class may be named anything
        with tinygrad6.scope(name):
            y = module()(y)
        y = Note.apply(y, note=name)
        y.name = name
        y = y + float(i)
    return y.sum(), names


class Note(Op):
    """The identity, with a free-text parameter (as an op's parameters are shown under its name)."""

    name = "note"

    def __init__(self, note: str) -> None:
        self.note = note

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def svg_nodes(path):
    root = ET.parse(path).getroot()
    nodes, clusters = [], []
    for g in root.iter(f"{SVG}g"):
        classes = g.get("class", "").split()
        texts = [t.text or "" for t in g.iter(f"{SVG}text")]
        tips = [a.get(f"{XLINK}title") for a in g.iter(f"{SVG}a")]
        if "node" in classes:
            nodes.append((g.get("id"), texts, tips))
        elif "cluster" in classes:
            clusters.append((texts, tips))
    return root, nodes, clusters


# -- Graphviz -------------------------------------------------------------------------------------------------
@needs_dot
def test_hostile_names_render_as_their_own_characters(tmp_path):
    image = tmp_path / "secret.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # a local file an HTML-like label could embed
    loss, names = hostile_graph(HOSTILE, image=str(image))
    path = viz.render(loss, path=tmp_path / "hostile.svg")
    root, nodes, clusters = svg_nodes(path)
    assert not list(root.iter(f"{SVG}image"))  # no file embedded
    assert not [e for e in root.iter() if e.get("fill") == "red" or e.get("stroke") == "red"]  # no <font color>
    # a label's lines are the name's lines; tabs are whitespace in SVG text
    tensors = {texts[0]: tips for node_id, texts, tips in nodes if node_id.startswith("t")}
    for name in names:
        first = name.split("\n")[0]
        assert first in tensors, (name, sorted(tensors))
        assert ("\n".join(t for _, texts, _ in nodes for t in texts if t)).count(first) >= 1
    two = [texts for _, texts, _ in nodes if texts[:2] == ["two", "lines"]]
    assert two, "a line break in a name is a line break in the label"
    # tooltips carry the names too, exactly (the XML parser turns a tab in an attribute into a space)
    tips = "\n".join(tip for _, _, node_tips in nodes for tip in node_tips if tip)
    for name in names:
        assert name.replace("\t", " ") + ": intermediate tensor" in tips, name
    # each scope and each module is a cluster labelled with its name
    labels = [" ".join(texts) for texts, _ in clusters]
    for name in names:
        assert labels.count(name.replace("\n", " ")) == 2, name  # the scope and the module inside it
    # the op parameter, shown as repr under the op's name
    op_texts = [t for node_id, texts, _ in nodes if node_id.startswith("op") for t in texts]
    assert "note='say \"hi\"'" in op_texts and "note='<a > b>'" in op_texts


@needs_dot
def test_a_scope_named_like_an_html_label_is_text_in_png_and_svg(tmp_path):
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    for scope_name in ("<a > b>", "<<font color='red'>x>>", '<<table><tr><td>cell</td></tr></table>>'):
        with tinygrad6.scope(scope_name):
            y = (x * 2.0).sum()
        viz.render(y, path=tmp_path / "s.png")  # used to be a dot syntax error (CalledProcessError) for "<a > b>"
        _, _, clusters = svg_nodes(viz.render(y, path=tmp_path / "s.svg"))
        assert [texts for texts, _ in clusters if texts != ["legend"]] == [[scope_name]]


@pytest.mark.parametrize("bad", ["nul\x00name", "escape\x1b[2J", "bell\x07"])
def test_control_characters_are_refused_naming_the_text(bad):
    x = Tensor([1.0], requires_grad=True, name=bad)
    with pytest.raises(ValueError, match=re.escape(f"tensor name {bad!r}") + ".*control character U\\+00"):
        viz.draw((x * 2.0).sum())
    x.name = "x"
    with tinygrad6.scope(bad):
        y = (x * 2.0).sum()
    with pytest.raises(ValueError, match=re.escape(f"scope name {bad!r}")):
        viz.draw(y)
    source = viz.draw(Note.apply(x, note=bad).sum()).source  # a parameter is shown as its repr: escapes visible
    assert ("note=" + repr(bad)).replace("\\", "\\\\") in source
    assert viz.trace(y, quiet=True)  # text output needs no refusal


def test_dot_source_quotes_every_label():
    loss, names = hostile_graph(HOSTILE)
    source = viz.draw(loss).source
    # every label or tooltip is a bare ID or one well-formed quoted string (no raw quote, no <...> HTML label)
    for m in re.finditer(r"\b(label|tooltip)=", source):
        rest = source[m.end():]
        assert re.match(r'([A-Za-z_][A-Za-z_0-9]*|-?(\.\d+|\d+(\.\d*)?)|"(?:[^"\\]|\\.)*")[\s\]]', rest), rest[:80]


# -- the step-through page ------------------------------------------------------------------------------------
PAYLOADS = [
    "__DATA__<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    "<!--<script>",
    "__JS__",
    "__SVG__ __TITLE__ __CSS__",
    "<b>bold</b> &amp; \u2028\u2029",
]


def hostile_loss(names: list[str] = PAYLOADS, scopes: bool = False):
    """A leaf named names[0] and a few layers whose outputs (and, with `scopes`, scopes) take the other names."""
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True, name=names[0])
    y = x
    for i in range(max(3, len(names) - 1)):
        name = names[i + 1] if i + 1 < len(names) else f"h{i}"
        with tinygrad6.scope(name if scopes else f"Layer{i}"):
            y = (y * float(i + 2)).tanh()
        y.name = name
    return y.sum()


@needs_dot
def test_page_keeps_hostile_names_and_title_as_text(tmp_path):
    title = "__DATA__ </title><script>window.__pwned=1</script> __JS__"
    text = viz.backprop_html(hostile_loss(), tmp_path / "bp.html", title=title).read_text(encoding="utf-8")
    assert text.count("<script") == 2  # the data and the page's own code, nothing else
    assert "<img" not in text and "<b>bold" not in text
    data = page_data(tmp_path / "bp.html")
    labels = {t["label"] for s in data["steps"] for t in s["inputs"]} | {data["loss"]["label"]}
    assert set(PAYLOADS) <= labels
    assert f"<title>{title.replace('<', '&lt;').replace('>', '&gt;')}</title>" in text


@needs_dot
@pytest.mark.parametrize("names, scopes", [(PAYLOADS[:1], False), (PAYLOADS, True)], ids=["one-name", "all"])
def test_browser_runs_no_payload_and_every_button_works(browser, tmp_path, names, scopes):
    # one payload alone ran on the old page (later ones, like <!--, broke it in other ways)
    title = "__DATA__ <img src=x onerror=window.__pwned=2> __SVG__"
    loss = hostile_loss(names, scopes)
    path = viz.backprop_html(loss, tmp_path / "bp.html", title=title)
    n_steps = len(viz.trace(loss, quiet=True))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    pwned = "() => window.__pwned === undefined ? null : window.__pwned"
    assert page.evaluate(pwned) is None
    assert page.title() == title and page.locator("h1").inner_text() == title
    counter = page.locator("#counter")
    assert counter.inner_text() == f"step 0 / {n_steps - 1}"
    seen = page.locator("#step-info").inner_text() + page.locator("#sent").inner_text()
    for _ in range(n_steps - 1):
        page.click("#next")
        seen += page.locator("#sent").inner_text() + page.locator("#arriving").inner_text()
        seen += page.locator("#step-info").inner_text()
    assert counter.inner_text() == f"step {n_steps - 1} / {n_steps - 1}"
    for name in names:  # shown literally in the panel
        assert name.replace("\u2028", " ").replace("\u2029", " ").split()[0] in seen, name
    graph_text = page.locator("#graph svg").text_content()
    assert all(name.split("\u2028")[0] in graph_text for name in names)
    assert page.locator("#graph svg g.node.op.done").count() == n_steps - 1
    page.click("#prev")
    assert counter.inner_text() == f"step {n_steps - 2} / {n_steps - 1}"
    page.click("#first")
    assert counter.inner_text() == f"step 0 / {n_steps - 1}"
    assert page.locator("#graph svg g.node.op.done").count() == 0  # a jump back takes the marks off
    final_at_0 = 1 + len(page_data(path)["steps"][0]["finalized"])  # the seed and what step 0 finalized
    assert page.locator("#graph svg g.node.final").count() == final_at_0
    assert page.locator("#final-table tr[data-step]:visible").count() == final_at_0
    page.click("#last")
    assert counter.inner_text() == f"step {n_steps - 1} / {n_steps - 1}"
    page.locator("#slider").fill("1")
    assert counter.inner_text() == f"step 1 / {n_steps - 1}"
    width = page.evaluate("() => document.querySelector('#graph svg').style.width")
    page.click("#zoom-in")
    assert page.evaluate("() => document.querySelector('#graph svg').style.width") != width
    page.click("#zoom-out")
    page.click("#zoom-fit")
    leaf = page.locator('#final-table tr[data-leaf="true"]')
    page.click("#last")
    assert leaf.count() == 1 and PAYLOADS[0] in leaf.inner_text()
    assert json.loads(leaf.get_attribute("data-values")) == pytest.approx(
        tinygrad6.grad(loss, [x for x in viz.walk([loss])[0] if x.name == PAYLOADS[0]])[0].data.tolist())
    assert page.evaluate(pwned) is None
    assert errors == []
    page.close()


@needs_dot
def test_a_name_that_graphviz_cannot_carry_is_refused_by_the_page(tmp_path):
    x = Tensor([1.0, 2.0], requires_grad=True, name="x\x00y")
    with pytest.raises(ValueError, match=re.escape("tensor name 'x\\x00y'")):
        viz.backprop_html((x * x).sum(), tmp_path / "bp.html")


# -- big graphs -----------------------------------------------------------------------------------------------
def chain(n_ops: int) -> Tensor:
    """x = x * 0.5 + 1.0 repeated: two ops (and two constants) per repetition."""
    x = Tensor(np.ones(1), requires_grad=True, name="x0")
    for _ in range(n_ops // 2):
        x = x * 0.5 + 1.0
    return x


def test_a_100000_op_chain_becomes_dot_text_and_a_trace_in_linear_time():
    # The finding was about speed (29 s, then 8 s for 100,000 ops); a test does not assert wall-clock time (a busy
    # machine took 47.7 s): it checks growth within one run. Linear work grows 10x from 10,000 to 100,000 ops, the
    # quadratic version grew 100x; 30x leaves room for a noisy machine. Seconds belong in `python -m benchmarks`.
    seconds = {}
    for n in (10_000, 100_000):
        y = chain(n)
        start = time.perf_counter()
        source = viz.draw(y, max_ops=None).source
        rows = viz.trace(y, grad=np.ones(1), quiet=True)
        seconds[n] = time.perf_counter() - start
        assert source.count("class=op") == n and len(rows) == n
        assert rows[-1].finalized == ["x0"]
    assert seconds[100_000] < 30 * seconds[10_000], seconds


def shared_weight_loop(n_ops: int) -> Tensor:
    """An unrolled loop with shared weights, h = tanh(h @ W + x @ U): W, U and x are read by every step, so their
    arrows span the whole drawing (what makes Graphviz's dot slow, not the number of ops)."""
    W = Tensor(np.full((3, 3), 0.1), requires_grad=True, name="W")
    U = Tensor(np.full((3, 3), 0.2), requires_grad=True, name="U")
    x = Tensor(np.ones((1, 3)), name="x")
    h = Tensor(np.zeros((1, 3)), name="h0")
    for _ in range(n_ops // 4):
        h = (h @ W + x @ U).tanh()
    return h.sum()


def drawn_edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+) \[", source, re.M)


def test_long_arrows_are_cut_past_the_layout_cost_and_the_drawing_says_so():
    # A 121-op loop with shared weights took dot more than 120 s (a 150-op fan-out 99 s), far below MAX_OPS. The
    # drawing now estimates dot's work (nodes plus a hidden node per rank an arrow crosses) and, past MAX_LAYOUT,
    # draws W, U and x once and a small reference beside every other op that reads them.
    y = shared_weight_loop(121)
    full = viz.draw(y, max_layout=None).source
    from tinygrad6.viz.dot import layout_cost

    cost, _ = layout_cost(drawn_edges(full))
    assert cost > viz.MAX_LAYOUT  # what made dot slow
    with pytest.warns(UserWarning, match=r"draw: long arrows cut: \d+ arrows over more than 3 ranks \(from U, W, x\)"):
        fast = viz.draw(y).source
    cut_cost, spans = layout_cost(drawn_edges(fast))
    assert cut_cost < viz.MAX_LAYOUT / 2 and max(spans) <= viz.model.LONG_ARROW, (cut_cost, max(spans))
    assert "long arrows cut" in fast and "max_layout=None" in fast  # the note in the drawing itself
    # nothing is lost: the same arrows into the same ops, each cut one from a reference named as its tensor
    assert sorted(dst for _, dst in drawn_edges(fast)) == sorted(dst for _, dst in drawn_edges(full))
    refs = re.findall(r"^\s*(ref\d+) \[label=(\w+) class=ref", fast, re.M)
    assert refs and {name for _, name in refs} == {"W", "U", "x"}
    assert re.findall(r"^\s*(t\d+) \[", fast, re.M) == re.findall(r"^\s*(t\d+) \[", full, re.M)  # every tensor once
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = viz.draw(shared_weight_loop(41)).source  # small enough: drawn as it is, silently
    assert "class=ref" not in small


@needs_dot
def test_a_slow_layout_never_makes_the_user_wait_minutes(tmp_path):
    # stepper() on a 200-op graph raised TimeoutError after 120 s
    y = shared_weight_loop(201)
    with pytest.warns(UserWarning, match="long arrows cut"):
        page = viz.stepper(y).html
    assert "long arrows cut" in page and len(page_data_of(page)["steps"]) == 201
    with pytest.warns(UserWarning, match="long arrows cut"):
        svg = viz.render(y, path=tmp_path / "loop.svg").read_text()
    assert "long arrows cut" in svg


@needs_dot
def test_render_falls_back_to_the_cut_drawing_when_dot_is_slow(tmp_path, monkeypatch):
    # under max_layout the estimate can still be wrong: after FALLBACK_AFTER seconds render and the page stop dot
    # and draw the cut version (here forced with a tiny FALLBACK_AFTER and a max_layout that never cuts)
    from tinygrad6.viz import drawing

    monkeypatch.setattr(drawing, "FALLBACK_AFTER", 1e-4)
    y = shared_weight_loop(41)
    with pytest.warns(UserWarning, match=r"had not finished after 0.0001 s, so the drawing was made again"):
        svg = viz.render(y, path=tmp_path / "loop.svg", max_layout=10**9).read_text()
    assert "long arrows cut" in svg and "class=\"node ref\"" in svg


def page_data_of(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="backward-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_the_page_stores_each_gradient_and_rule_once():
    # the page's JSON for a 2,003-op network was 13.3 MB: each gradient was written up to four times (sent,
    # summed, final, arriving at the next op) and each rule once per op. Now each is stored once and referenced.
    model = nn.MLP(4, [8] * 20, 3, batchnorm=True, rng=0)
    x = Tensor(np.random.default_rng(0).normal(size=(5, 4)))
    loss = tinygrad6.F.cross_entropy(model(x), np.array([0, 1, 2, 1, 0]))
    from tinygrad6.viz.html import page_data as raw_page_data
    from tinygrad6.viz.trace import replay_backward

    data = raw_page_data(replay_backward(loss))
    n = len(data["steps"])
    sent = sum(g is not None for s in data["steps"] for g in (x["grad"] for x in s["inputs"]))
    assert len(data["grads"]) <= sent + 1  # each gradient once (the seed too), not again as a sum, final, arriving
    assert len(data["rules"]) < 20  # one per op class
    assert len(json.dumps(data)) < 2_000 * n  # was about 6,600 characters per op
    assert all(isinstance(s["grad_output"], int) for s in data["steps"])


def test_a_graph_past_max_ops_is_refused_with_the_ways_out(tmp_path):
    y = chain(viz.MAX_OPS + 2)
    with pytest.raises(ValueError, match=r"2,002 ops to draw, more than max_ops=2,000") as info:
        viz.draw(y)
    message = str(info.value)
    assert "max_ops=None" in message and "intermediate tensor" in message and "collapse=True" not in message
    with pytest.raises(ValueError, match="max_ops"):
        viz.render(y, path=tmp_path / "big.svg")
    assert not (tmp_path / "big.svg").exists()
    with pytest.raises(ValueError, match=r"backprop_html: .*viz\.trace\(loss\)"):
        viz.backprop_html(y, tmp_path / "big.html", grad=np.ones(1))
    assert viz.draw(y, max_ops=None).source.count("class=op") == viz.MAX_OPS + 2
    assert viz.draw(y, max_ops=3000) is not None

    # a model: the message says how many boxes collapse=True would draw, and that fits
    model = nn.MLP(4, [4] * 200, 2, batchnorm=True, rng=0)
    loss = model(Tensor(np.ones((3, 4)))).sum()
    with pytest.raises(ValueError, match=r"collapse=True draws each layer .*: (\d[\d,]*) ops and boxes") as info:
        viz.draw(loss)
    boxes = int(re.search(r"(\d[\d,]*) ops and boxes", str(info.value)).group(1).replace(",", ""))
    assert boxes < viz.MAX_OPS
    assert viz.draw(loss, collapse=True).source.count('class="scope-box"') == boxes - 1  # and the final sum


@needs_dot
def test_dot_runs_with_a_timeout(tmp_path):
    y = chain(1_000)  # about a second of layout
    with pytest.raises(TimeoutError, match=r"did not finish drawing [\d,]+ nodes within 0.01 s"):
        viz.render(y, path=tmp_path / "c.svg", timeout=0.01)
    with pytest.raises(TimeoutError, match="timeout="):
        viz.backprop_html(y, tmp_path / "c.html", grad=np.ones(1), timeout=0.01)
