"""Graph drawing: the DOT of known graphs, real SVG rendered by Graphviz's `dot` and parsed as XML, scopes as
clusters and collapsed boxes, bad input, the printed trace, and the examples.

Tests that need the `dot` program skip when it is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import Tensor, nn, viz

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
POINT = re.compile(r"(-?[\d.]+),(-?[\d.]+)")
needs_dot = pytest.mark.skipif(not viz.dot_available(), reason="Graphviz `dot` is not installed")

BATCHNORM_OPS = Counter({"mean": 2, "sub": 1, "pow": 1, "add": 2, "sqrt": 1, "div": 1, "mul": 1})


def batchnorm_loss(seed: int = 0, n: int = 4, d: int = 3):
    """BatchNorm from primitive ops inside scope("BatchNorm"), projected on a random upstream gradient."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.normal(1.0, 2.0, size=(n, d)), requires_grad=True, name="x")
    gamma = Tensor(rng.uniform(0.5, 1.5, size=d), requires_grad=True, name="gamma")
    beta = Tensor(rng.normal(size=d), requires_grad=True, name="beta")
    with tinygrad6.scope("BatchNorm"):
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc ** 2).mean(axis=0)
        y = gamma * (xc / (var + 1e-5).sqrt()) + beta
    loss = (y * Tensor(rng.normal(size=(n, d)), name="dy")).sum()
    return loss, (x, gamma, beta)


# -- DOT text -------------------------------------------------------------------------------------------------
def dot_nodes_and_edges(source: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Node names and edges (as a list, so repeated edges count) of DOT text written by graphviz."""
    nodes, edges = [], []
    for line in source.splitlines():
        line = line.strip()
        edge = re.match(r"^(\w+) -> (\w+)", line)
        if edge:
            edges.append((edge.group(1), edge.group(2)))
            continue
        node = re.match(r"^(\w+) \[", line)
        if node and node.group(1) not in ("graph", "node", "edge"):
            nodes.append(node.group(1))
    return nodes, edges


def test_a_plus_a_draws_exactly_its_nodes_and_two_edges():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    y = (a + a).sum()
    nodes, edges = dot_nodes_and_edges(viz.draw(y, legend=False).source)
    # walk order: a is t0, add is op0 making t1, sum is op1 making t2
    assert sorted(nodes) == sorted(["t0", "op0", "t1", "op1", "t2"])
    assert Counter(edges) == Counter({("t0", "op0"): 2, ("op0", "t1"): 1, ("t1", "op1"): 1, ("op1", "t2"): 1})


def test_known_graph_with_a_constant_and_a_reused_tensor():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    W = Tensor(np.ones((3, 2)), requires_grad=True, name="W")
    h = x @ W
    y = (h * 2.0 + h).sum()
    source = viz.draw(y, legend=False).source
    nodes, edges = dot_nodes_and_edges(source)
    # tensors: x W h 2.0 (h*2) (h*2+h) y ; ops: matmul mul add sum
    assert len([n for n in nodes if n.startswith("t")]) == 7
    assert len([n for n in nodes if n.startswith("op")]) == 4
    assert len(edges) == 2 + 1 + 2 + 1 + 2 + 1 + 1 + 1  # inputs and output of matmul, mul, add, sum
    h_id = [n for n, e in Counter(src for src, _ in edges).items() if e == 2 and n.startswith("t")]
    assert len(h_id) == 1  # h feeds mul and add
    assert re.search(r'\[label="constant 2\.0" class="tensor const"', source)  # the constant, saying what it is
    assert "x\\n(3,) float64" in source and "W\\n(3, 2) float64" in source


def test_a_tensor_without_a_graph_draws_one_node():
    nodes, edges = dot_nodes_and_edges(viz.draw(Tensor([1.0, 2.0], name="v"), legend=False).source)
    assert nodes == ["t0"] and edges == []


def test_a_10000_op_chain_draws_without_recursion_error():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y.tanh()
    nodes, edges = dot_nodes_and_edges(viz.draw(y, show=("shape",), legend=False, max_ops=None).source)
    assert sum(n.startswith("op") for n in nodes) == 10_000
    assert len(edges) == 20_000


def test_ids_are_stable_and_names_are_shown():
    def build():
        x = Tensor([1.0, 2.0], requires_grad=True, name="x")
        return (x.exp() * x).sum()

    assert viz.draw(build()).source == viz.draw(build()).source
    assert 'label="x\\n' in viz.draw(build()).source


def labels(source: str) -> str:
    """Every node label of DOT text, one per line (tooltips left out)."""
    return "\n".join(m.group(1) or m.group(2) for m in re.finditer(r'\blabel=(?:"((?:[^"\\]|\\.)*)"|(\S+))', source))


def test_show_controls_the_label_lines():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    y = (x * x).sum()
    full = labels(viz.draw(y).source)
    assert "[1., 2., 3.]" in full and "(3,) float64" in full and "grad: not computed" in full
    bare = labels(viz.draw(y, show=(), legend=False).source)
    assert "[1., 2., 3.]" not in bare and "float64" not in bare and "grad" not in bare
    big = labels(viz.draw(Tensor(np.arange(100.0), requires_grad=True).sum()).source)
    assert "<mean=49.5 std=28.87\\nmin=0 max=99>" in big  # a summary, not 100 values


def test_grad_not_computed_before_backward_and_values_after():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    h = (x * x).retain_grad()
    y = h.sum()
    before = viz.draw(y, legend=False).source
    assert before.count("grad: not computed") == 2  # x and the retained h; never a made-up 0
    y.backward()
    after = viz.draw(y, legend=False).source
    assert "grad: not computed" not in after
    assert "grad [2., 4., 6.]" in after  # dy/dx = 2x
    assert "grad [1., 1., 1.]" in after  # dy/dh
    assert dot_nodes_and_edges(before) == dot_nodes_and_edges(after)  # the structure outlives backward


def test_float32_dtype_is_shown():
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert "(2,) float32" in viz.draw((x * 2.0).sum()).source


# -- bad input ------------------------------------------------------------------------------------------------
def test_a_module_instead_of_a_tensor_says_to_call_it():
    with pytest.raises(TypeError, match=r"call it on an input and draw the result"):
        viz.draw(nn.Linear(2, 3))

    class FakeModule:  # anything callable with parameters, without importing nn
        parameters = ()

        def __call__(self, x):
            return x

    with pytest.raises(TypeError, match="module"):
        viz.render(FakeModule(), path="never.svg")
    with pytest.raises(TypeError, match="not a Tensor"):
        viz.draw(np.ones(3))


def test_unknown_show_key_lists_the_valid_ones():
    y = Tensor([1.0], requires_grad=True).sum()
    with pytest.raises(ValueError, match=r"'colour'.*'shape', 'value', 'grad', 'source'"):
        viz.draw(y, show=("shape", "colour"))
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw(y, rankdir="sideways")
    with pytest.raises(ValueError, match="suffix"):
        viz.render(y, path="graph.jpeg2000")
    loss, _ = batchnorm_loss()
    with pytest.raises(ValueError, match=r"\['BatchNorm1d'\].*its scopes are \['BatchNorm'\]"):
        viz.draw(loss, collapse=("BatchNorm1d",))
    assert viz.draw(loss, collapse="BatchNorm").source == viz.draw(loss, collapse=["BatchNorm"]).source


# -- scopes ---------------------------------------------------------------------------------------------------
def test_scope_entries_equal_their_names_and_tell_calls_apart():
    # core: modes.scope records a ScopeName (a str) carrying a per-block call number
    x = Tensor([1.0], requires_grad=True)
    with tinygrad6.scope("Outer"):
        with tinygrad6.scope("L"):
            a = x * 2.0
        with tinygrad6.scope("L"):
            b = a * 3.0
    assert a.creator.scope == ("Outer", "L") == b.creator.scope
    assert a.creator.scope[0].call_id == b.creator.scope[0].call_id
    assert a.creator.scope[1].call_id != b.creator.scope[1].call_id


def clusters(source: str) -> list[str]:
    return re.findall(r"subgraph (cluster_\w+) \{\s*\n\s*[^\n]*?label=(\"[^\"]*\"|\S+)", source)


def test_two_calls_of_a_layer_are_two_clusters_nested_in_the_model():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Linear(4, 2, rng=1))
    y = model(Tensor(np.ones((2, 3)))).sum()
    source = viz.draw(y, legend=False).source
    labels = [label for _, label in clusters(source)]
    assert sorted(labels) == ["Linear", "Linear", "Sequential"]
    # nesting: both Linear clusters open before the Sequential cluster closes
    seq = source.index("label=Sequential")
    assert source.index("label=Linear") > seq and source.rindex("label=Linear") > seq
    assert source.count("\t\tsubgraph cluster_") == 2  # indented one level: inside Sequential


def nodes_of(source: str, cls: str) -> list[str]:
    return re.findall(rf'^\s*(\w+) \[[^\n]*class="{cls}"', source, re.M)


def test_collapse_true_boxes_each_layer_but_keeps_the_model_cluster():
    model = nn.MLP(6, [5, 5], 3, batchnorm=True, rng=0)
    y = model(Tensor(np.random.default_rng(0).normal(size=(4, 6)))).sum()
    source = viz.draw(y, collapse=True, legend=False).source
    boxes = re.findall(r'label="(\w+) \((\d+) ops?\)" class="scope-box"', source)
    assert Counter(name for name, _ in boxes) == Counter({"Linear": 3, "BatchNorm1d": 2, "ReLU": 2})
    assert all(int(n) == 9 for name, n in boxes if name == "BatchNorm1d")
    assert [label for _, label in clusters(source)] == ["MLP"]
    # a tensor passed between two boxes is an arrow labelled with its name and shape, not a node, even when the
    # library named it (Linear's and BatchNorm1d's "out")
    wires = re.findall(r'(scope\d+) -> (scope\d+) \[label="([^"]+)"', source)
    names = [label.split("\\n")[0] for _, _, label in wires]
    assert [label.split("\\n")[1] for _, _, label in wires] == ["(4, 5)"] * 6  # Linear->BN->ReLU->Linear->BN->...
    assert names[:2] == ["out", "out#2"] and names[2].startswith("t")  # Linear's out, BatchNorm1d's out, ReLU's
    assert len(nodes_of(source, "tensor intermediate")) == 1  # only the last Linear's output, used by the sum
    nodes, _ = dot_nodes_and_edges(source)
    assert [n for n in nodes if n.startswith("op")] == ["op" + str(len(viz.walk([y])[1]) - 1)]  # only the sum


# -- real SVG from `dot` -------------------------------------------------------------------------------------
def parse_svg(path: Path):
    """(clusters, nodes) of a Graphviz SVG: clusters as (label, bbox); nodes as (id, classes, texts, centre)."""
    root = ET.parse(path).getroot()
    found_clusters, nodes = [], []
    for g in root.iter(f"{SVG}g"):
        classes = g.get("class", "").split()
        if "cluster" in classes:
            label = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
            outline = next(e for e in g.iter() if e.tag in (f"{SVG}polygon", f"{SVG}path"))  # rounded: a path
            points = [(float(x), float(y)) for x, y in POINT.findall(outline.get("points") or outline.get("d"))]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            found_clusters.append((label, (min(xs), min(ys), max(xs), max(ys))))
        elif "node" in classes:
            texts = [t.text or "" for t in g.iter(f"{SVG}text")]
            shape = next(iter(g.iter(f"{SVG}polygon")), None)
            ellipse = next(iter(g.iter(f"{SVG}ellipse")), None)
            if ellipse is not None:
                centre = (float(ellipse.get("cx")), float(ellipse.get("cy")))
            elif shape is not None:
                pts = [tuple(map(float, p.split(","))) for p in shape.get("points").split()]
                centre = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
            else:
                t = next(iter(g.iter(f"{SVG}text")))
                centre = (float(t.get("x")), float(t.get("y")))
            nodes.append((g.get("id"), classes, texts, centre))
    return found_clusters, nodes


def inside(point, box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


@needs_dot
def test_batchnorm_svg_has_the_cluster_its_op_boxes_and_the_shapes(tmp_path):
    loss, _ = batchnorm_loss()
    path = viz.render(loss, path=tmp_path / "bn.svg")
    found_clusters, nodes = parse_svg(path)
    bn = [box for label, box in found_clusters if label == "BatchNorm"]
    assert len(bn) == 1
    ops = [(texts[0], centre) for _, classes, texts, centre in nodes if "op" in classes]
    assert Counter(name for name, c in ops if inside(c, bn[0])) == BATCHNORM_OPS
    assert Counter(name for name, c in ops if not inside(c, bn[0])) == Counter({"mul": 1, "sum": 1})
    texts = [t for _, _, ts, _ in nodes for t in ts]
    for shape in ("(4, 3) float64", "(3,) float64", "scalar float64"):
        assert shape in texts
    assert {"x", "gamma", "beta", "dy"} <= set(texts)
    leaves = [ts[0] for _, classes, ts, _ in nodes if "leaf" in classes]  # leaves with grad, not nn.Parameters
    assert sorted(leaves) == ["beta", "gamma", "x"] and not [n for n in nodes if "param" in n[1]]
    assert any("legend" in classes for _, classes, _, _ in nodes)


@needs_dot
def test_collapsed_batchnorm_svg_has_exactly_one_box_for_the_scope(tmp_path):
    loss, (x, gamma, beta) = batchnorm_loss()
    path = viz.render(loss, path=tmp_path / "bn_collapsed.svg", collapse=("BatchNorm",), legend=False)
    found_clusters, nodes = parse_svg(path)
    assert found_clusters == []
    boxes = [(node_id, texts) for node_id, classes, texts, _ in nodes if "scope-box" in classes]
    assert len(boxes) == 1 and boxes[0][1] == ["BatchNorm (9 ops)"]
    assert sorted(texts[0] for _, classes, texts, _ in nodes if "op" in classes) == ["mul", "sum"]
    # the box keeps its inputs (x, gamma, beta) and its output (y)
    source = viz.draw(loss, collapse=("BatchNorm",), legend=False).source
    box = boxes[0][0]
    into = re.findall(rf"(\w+) -> {box}\b", source)
    out = re.findall(rf"{box} -> (\w+)", source)
    labels = {t: re.search(rf'\b{t} \[label="(\w+)', source).group(1) for t in into}
    assert sorted(labels.values()) == ["beta", "gamma", "x"] and len(out) == 1


@needs_dot
def test_render_writes_each_format(tmp_path):
    loss, _ = batchnorm_loss()
    for suffix, magic in ((".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph")):
        path = viz.render(loss, path=tmp_path / f"g{suffix}")
        assert path.read_bytes().startswith(magic)


@needs_dot
def test_jupyter_display_is_svg():
    loss, _ = batchnorm_loss()
    bundle = viz.draw(loss)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def test_missing_dot_writes_the_dot_file_and_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` anywhere
    loss, _ = batchnorm_loss()
    with pytest.raises(viz.GraphvizNotFoundError) as info:
        viz.render(loss, path=tmp_path / "bn.svg")
    message = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install -c conda-forge graphviz"):
        assert hint in message
    assert (tmp_path / "bn.dot").read_text().startswith("digraph")
    assert not (tmp_path / "bn.svg").exists()
    viz.render(loss, path=tmp_path / "only.dot")  # .dot needs no program
    assert (tmp_path / "only.dot").exists()


def test_record_source_puts_the_line_in_the_tooltip_and_label():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with tinygrad6.record_source():
        y = (x * 3.0).sum()
        line = sys._getframe().f_lineno - 1
    source = viz.draw(y, show=("shape", "source")).source
    assert f"test_viz.py:{line}" in source  # label (short) and tooltip (full path)
    assert f"{__file__}:{line}" in source
    assert "source: not recorded" in viz.draw((x * 3.0).sum()).source


# -- trace ----------------------------------------------------------------------------------------------------
def test_trace_rows_follow_backward_steps_and_leave_grad_alone(capsys):
    loss, (x, gamma, beta) = batchnorm_loss()
    rows = viz.trace(loss)
    printed = capsys.readouterr().out
    steps = list(loss.backward_steps(retain_graph=True))
    assert [r.op for r in rows] == [s.op.name for s in steps]
    assert [r.index for r in rows] == list(range(len(steps)))
    for r, s in zip(rows, steps):
        assert r.grad_output_norm == pytest.approx(np.linalg.norm(s.grad_output.data))
        for norm, g in zip(r.grad_input_norms, s.grad_inputs):
            assert (norm is None) == (g is None)
            if g is not None:
                assert norm == pytest.approx(np.linalg.norm(g.data))
    assert rows[0].op == "sum" and rows[0].output == "t11 ()" and rows[0].scope == ""  # 11 unnamed, no gaps
    assert rows[-1].op == "mean" and rows[-1].scope == "BatchNorm" and rows[-1].finalized == ["x"]
    assert "|grad out|" in printed and printed.count("BatchNorm") == 9
    # the backward_steps above filled .grad once; trace did not
    gx = x.grad.data.copy()
    viz.trace(loss, quiet=True)
    np.testing.assert_array_equal(x.grad.data, gx)


def test_trace_of_a_released_graph_says_to_retain_it():
    loss, (x, _, _) = batchnorm_loss()
    assert x.grad is None
    rows = viz.trace(loss, quiet=True)
    assert x.grad is None  # trace captured its gradients through inputs=, no .grad written
    loss.backward()  # the graph survived trace, backward still works
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        viz.trace(loss, quiet=True)
    assert len(rows) == 11


# -- examples -------------------------------------------------------------------------------------------------
def run_example(name: str, out: Path) -> str:
    env = dict(os.environ, MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(REPO / "examples" / name), "--out", str(out)], capture_output=True,
                            text=True, env=env, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_dot
def test_batchnorm_example_matches_the_closed_form_backward(tmp_path):
    out = run_example("batchnorm_graph.py", tmp_path)
    largest = float(re.search(r"largest difference: (\S+)", out).group(1))
    assert largest < 1e-12  # rounding level: graph and formulas differ only in float rounding
    for name in ("batchnorm.svg", "batchnorm.png", "batchnorm_collapsed.svg", "batchnorm_collapsed.png",
                 "batchnorm_backprop.html"):
        assert (tmp_path / name).stat().st_size > 0
    found_clusters, _ = parse_svg(tmp_path / "batchnorm.svg")
    assert [label for label, _ in found_clusters if label == "BatchNorm"] == ["BatchNorm"]


@needs_dot
def test_higher_order_example_graph_grows_and_values_match(tmp_path):
    out = run_example("higher_order.py", tmp_path)
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+\[", line)]
    ops = [int(r[1]) for r in rows]
    errors = [float(r[-1]) for r in rows]
    assert len(rows) == 5 and ops == sorted(ops) and ops[-1] > ops[1]
    assert max(errors) < 1e-12
    _, nodes = parse_svg(tmp_path / "tanh_d4.svg")
    assert sum("op" in classes for _, classes, _, _ in nodes) == ops[-1]


@needs_dot
def test_mlp_example_renders_with_and_without_values(tmp_path):
    run_example("mlp_graph.py", tmp_path)
    _, with_values = parse_svg(tmp_path / "mlp_values.svg")
    _, shapes_only = parse_svg(tmp_path / "mlp_shapes.svg")
    texts = [t for _, _, ts, _ in with_values for t in ts]
    assert any(t.startswith("grad ") for t in texts)  # drawn after backward: W1's gradient summary
    assert not any(t.startswith(("grad", "<mean=")) for _, _, ts, _ in shapes_only for t in ts)
    assert sorted(ts[0] for _, c, ts, _ in with_values if "leaf" in c) == ["W1", "W2", "b1", "b2"]  # Tensors


def test_several_outputs_share_one_drawing():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    h = x.exp()
    y1, y2 = h.sum(), (h * x).sum()
    source = viz.draw(y1, y2, legend=False).source
    nodes, edges = dot_nodes_and_edges(source)
    assert sum(n.startswith("op") for n in nodes) == 4  # exp once, sum, mul, sum
    assert len(nodes_of(source, "tensor output")) == 2
    assert viz.draw([y1, y2]).source == viz.draw(y1, y2).source


def test_public_names():
    assert {"draw", "render", "backprop_html", "trace"} <= set(tinygrad6.viz.__all__)
    assert tinygrad6.viz.draw is viz.draw


# -- names, roles, operands and locations, as the book writes them ---------------------------------------------
def bn_mlp_loss(source: bool = True):
    """The README's BatchNorm MLP with cross_entropy, built under record_source()."""
    model = nn.MLP(4, [8], 3, batchnorm=True, rng=0)
    x = Tensor(np.random.default_rng(1).normal(size=(5, 4)), name="x")
    with tinygrad6.record_source() if source else tinygrad6.enable_grad():
        loss = tinygrad6.F.cross_entropy(model(x), np.array([0, 1, 2, 1, 0]))
    return loss


def svg_graph(path: Path) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The texts of every node by id, and every edge (source id, target id) by the edge's id e_<src>_<dst>..."""
    _, nodes = parse_svg(path)
    texts = {node_id: ts for node_id, _, ts, _ in nodes}
    root = ET.parse(path).getroot()
    edges = []
    for g in root.iter(f"{SVG}g"):
        match = re.match(r"e_([a-z]+\d+)_([a-z]+\d+)", g.get("id") or "")
        if "edge" in g.get("class", "").split() and match:
            edges.append((match.group(1), match.group(2)))
    return texts, edges


def test_fallback_names_are_numbered_without_gaps_in_forward_order():
    loss = bn_mlp_loss()
    model = viz.GraphModel.build([loss])
    fallback = [model.label(t) for t in model.tensors if t.name is None and model.role(t) != "const"]
    assert fallback == [f"t{i}" for i in range(1, len(fallback) + 1)] and len(fallback) >= 8
    shown = labels(viz.draw(loss, show=(), legend=False).source).split("\n")
    drawn = [name for name in shown if re.fullmatch(r"t\d+", name)]  # DOT lists them cluster by cluster
    assert sorted(drawn, key=lambda name: int(name[1:])) == fallback  # each drawn once, no gaps
    # a user name that looks like a fallback name is never given to another tensor
    a = Tensor([1.0, 2.0], requires_grad=True, name="t2")
    names = viz.GraphModel.build([((a * 2.0) * 3.0).sum()]).names
    assert sorted(names.values()) == ["t1", "t2", "t3", "t4"]


@needs_dot
def test_batchnorm_graph_shows_the_books_names_on_the_tensors_its_ops_made(tmp_path):
    x = Tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True, name="x")
    loss = (nn.BatchNorm1d(3)(x) * Tensor(np.random.default_rng(1).normal(size=(4, 3)), name="dy")).sum()
    texts, edges = svg_graph(viz.render(loss, path=tmp_path / "bn.svg", show=("shape",)))
    made = {}  # op node -> (op name, name of the tensor it made)
    for src, dst in edges:
        if src.startswith("op") and dst.startswith("t"):
            made[src] = (texts[src][0], texts[dst][0])
    inputs = {}  # op node -> names of its inputs
    for src, dst in edges:
        if src.startswith("t") and dst.startswith("op"):
            inputs.setdefault(dst, []).append(texts[src][0])
    by_op = Counter(made.values())
    for op_name, tensor_name in [("mean", "mu"), ("sub", "xc"), ("mean", "var"), ("sqrt", "std"), ("div", "xn"),
                                 ("add", "out")]:
        assert by_op[(op_name, tensor_name)] == 1, (op_name, tensor_name, made)
    mean_of = {made[op][1]: inputs[op] for op in made if made[op][0] == "mean"}
    assert mean_of["mu"] == ["x"] and mean_of["var"] != ["x"]  # mu is the mean of x, var the mean of xc * xc
    sub = next(op for op in made if made[op] == ("sub", "xc"))
    assert inputs[sub] == ["x", "mu"]


def test_legend_tells_a_leaf_that_requires_grad_from_a_parameter():
    x = Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    source = viz.draw(nn.Linear(3, 2, rng=0)(x).sum()).source
    role = {m.group(2): m.group(1) for m in re.finditer(r'class="tensor (\w+)" id=(t\d+)', source)}
    assert role[re.search(r'(t\d+) \[label="x\\n', source).group(1)] == "leaf"
    assert role[re.search(r'(t\d+) \[label="W\\n', source).group(1)] == "param"
    legend = labels(source[source.index("cluster_legend"):])
    assert "leaf that requires grad" in legend and "nn.Parameter" in legend
    leaf_style = re.search(r'legend_leaf \[[^\n]*fillcolor="(#\w+)"', source).group(1)
    param_style = re.search(r'legend_param \[[^\n]*fillcolor="(#\w+)"', source).group(1)
    assert leaf_style != param_style


def test_operand_order_is_labelled_on_the_arrows_of_sub_div_pow_matmul():
    a = Tensor(np.ones((2, 2)), requires_grad=True, name="a")
    b = Tensor(np.full((2, 2), 2.0), requires_grad=True, name="b")
    y = ((b - a) / a) ** b @ a
    source = viz.draw(y.sum(), legend=False).source
    ids = {m.group(2): m.group(1) for m in re.finditer(r'(t\d+) \[label="(\w+)\\n', source)}
    for op, formula in (("sub", "a - b"), ("div", "a / b"), ("pow", "a \\*\\* b"), ("matmul", "a @ b")):
        node = re.search(rf'(op\d+) \[label="{op}\\n{formula}"', source)
        assert node, op
        arrows = re.findall(rf"(t\d+) -> {node.group(1)} \[label=(\w) [^\n]*fontsize=(\d+)", source)
        assert [operand for _, operand, _ in arrows] == ["a", "b"] and all(int(size) >= 10 for *_, size in arrows)
        if op == "sub":  # b - a: the arrow from b is the operand a
            assert [src for src, _, _ in arrows] == [ids["b"], ids["a"]]
    assert not re.search(r"-> op\d+ \[label=\w[^\n]*\n", re.search(r'(op\d+) \[label=sum', source).group(0))


def test_trace_escapes_control_characters_in_names(capsys):
    x = Tensor([1.0, 2.0], requires_grad=True, name="\x1b[2Jx\x07")
    with tinygrad6.scope("evil\x1b]0;title\x07"):
        y = (x * 2.0).sum()
    viz.trace(y)
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed
    assert "\\x1b[2Jx\\x07" in printed and "evil\\x1b]0;title\\x07" in printed


def test_trace_and_tooltips_show_the_user_line_and_the_library_line():
    loss = bn_mlp_loss()
    rows = viz.trace(loss, quiet=True)
    bn = [r for r in rows if r.scope.endswith("BatchNorm1d")]
    assert all(os.path.basename(r.source).startswith("test_viz.py:") for r in bn)
    library = [os.path.basename(r.library) for r in bn]
    assert all(w.startswith("layers.py:") for w in library) and len(set(library)) >= 5  # the lines of forward
    text = viz.format_trace(rows)
    assert re.search(r"test_viz\.py:\d+ in layers\.py:\d+", text)
    source = viz.draw(loss).source
    sqrt = re.search(r'op\d+ \[label=sqrt [^\n]*tooltip="([^"]*)"', source).group(1)
    assert re.search(r"your line: [^&]*test_viz\.py:\d+&#10;library line: [^&]*layers\.py:\d+", sqrt)
    assert "std = (var + self.eps).sqrt()" in linecache_line(sqrt.split("library line: ")[1])


def linecache_line(where: str) -> str:
    import linecache
    file, line = where.rsplit(":", 1)
    return linecache.getline(file, int(line))


def test_a_name_shared_by_several_tensors_is_numbered_from_its_second_use():
    from tinygrad6.viz.model import GraphModel

    h = Tensor([1.0, 2.0], requires_grad=True, name="h")
    outs = []
    for _ in range(2):
        h = (h * 2.0).named("h")
        outs.append(h)
    loss = h.sum()
    model = GraphModel.build([loss])
    assert [model.label(t) for t in outs] == ["h#2", "h#3"]
    assert len({model.label(t) for t in model.tensors if model.role(t) != "const"}) == len(
        [t for t in model.tensors if model.role(t) != "const"])


# -- one place for each idea ----------------------------------------------------------------------------------
PAGE_FILES = ("stepper.html", "stepper.css", "stepper.js")


def test_the_page_is_built_from_package_data_files(tmp_path):
    """The page's HTML, CSS and JS are files a web developer can open, found through importlib.resources (so also
    in an installed wheel), and html.py holds none of their text."""
    from importlib.resources import files

    page_dir = files("tinygrad6.viz").joinpath("page")
    texts = {name: page_dir.joinpath(name).read_text(encoding="utf-8") for name in PAGE_FILES}
    assert texts["stepper.html"].lstrip().startswith("<!DOCTYPE html>")
    assert {"__TITLE__", "__CSS__", "__SVG__", "__DATA__", "__JS__"} <= set(re.findall(r"__[A-Z]+__",
                                                                                         texts["stepper.html"]))
    if viz.dot_available():
        page = viz.stepper(batchnorm_loss()[0]).html
        assert texts["stepper.css"] in page and texts["stepper.js"] in page
    source = (REPO / "tinygrad6" / "viz" / "html.py").read_text(encoding="utf-8")
    assert "<!DOCTYPE" not in source and "addEventListener" not in source and "border-collapse" not in source


def test_pyproject_package_data_ships_every_page_file():
    """A non-editable install gets only the package data pyproject.toml declares: its globs must match every file of
    tinygrad6/viz/page/ (and each glob at least one), or the installed stepper would fail to find its template."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["tinygrad6.viz"]
    viz_dir = REPO / "tinygrad6" / "viz"
    shipped = sorted(p.relative_to(viz_dir).as_posix() for p in (viz_dir / "page").iterdir() if p.is_file())
    assert sorted(f"page/{name}" for name in PAGE_FILES) == shipped
    for name in shipped:
        assert any(fnmatch.fnmatch(name, g) for g in globs), f"{name} is not matched by package-data {globs}"
    for g in globs:
        assert any(fnmatch.fnmatch(name, g) for name in shipped), f"package-data glob {g!r} matches no file"


def test_viz_modules_import_only_public_names():
    """No viz module reaches into another module's private names (html.py used graph._digraph)."""
    import ast

    for path in sorted((REPO / "tinygrad6" / "viz").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("tinygrad6")):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {node.module}"


def test_missing_graphviz_package_says_how_to_install_it():
    """`import tinygrad6` works without the graphviz package, and so do `viz.trace` and the step-through page's data
    (numpy alone); `viz.draw` says what to install."""
    code = ("import sys\n"
            "sys.modules['graphviz'] = None  # as if the package were not installed\n"
            "import tinygrad6\n"
            "from tinygrad6 import viz\n"
            "from tinygrad6.viz.html import page_data\n"
            "from tinygrad6.viz.trace import replay_backward\n"
            "y = (tinygrad6.Tensor([1.0], requires_grad=True, name='x') * 2.0).sum()\n"
            "rows = viz.trace(y, quiet=True)\n"
            "print(len(rows), len(page_data(replay_backward(y))['steps']))\n"
            "try:\n"
            "    viz.draw(y)\n"
            "except ImportError as e:\n"
            "    print(type(e).__name__, e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 2\nImportError"), done.stdout
    assert "pip install graphviz" in done.stdout
    assert "apt-get install graphviz" in done.stdout and "brew install graphviz" in done.stdout
    assert "conda install" in done.stdout


def test_value_lines_are_the_core_preview_wrapped_to_a_narrow_node():
    from tinygrad6.support.display import preview
    from tinygrad6.viz.model import LABEL_WIDTH, value_lines

    arrays = [np.arange(100.0), np.array(2.5), np.arange(6.0), np.linspace(-1e5, 1e5, 7), np.zeros((0, 3)),
              np.array(["a", "b"]), np.full(50, np.nan)]
    for a in arrays:
        lines = value_lines(a)
        assert " ".join(lines) == preview(a, max_chars=48)
        assert all(len(line) <= LABEL_WIDTH for line in lines) or len(lines) == 1


def test_replay_leaves_the_seed_checks_to_backward_steps():
    """trace and the page refuse what backward() refuses, with the same message: one check, in backward_steps."""
    no_grad = Tensor([1.0, 2.0]).sum()
    vector = Tensor([1.0, 2.0], requires_grad=True) * 2.0
    for loss in (no_grad, vector):
        with pytest.raises(RuntimeError) as from_backward:
            loss.backward()
        with pytest.raises(RuntimeError) as from_trace:
            viz.trace(loss, quiet=True)
        assert str(from_trace.value) == str(from_backward.value)


def test_trace_and_page_give_the_same_gradient_norms():
    from tinygrad6.viz.html import expand, page_data
    from tinygrad6.viz.trace import replay_backward

    loss, _ = batchnorm_loss()
    rows = viz.trace(loss, quiet=True)
    records = expand(page_data(replay_backward(loss)))["steps"]
    for row, record in zip(rows, records, strict=True):
        assert row.grad_output_norm == record["grad_output"]["norm"]
        assert row.grad_input_norms == [None if x["grad"] is None else x["grad"]["norm"] for x in record["inputs"]]
