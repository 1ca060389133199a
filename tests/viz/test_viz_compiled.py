"""Drawing a compiled step (`viz.draw(step)`, `viz.render(step, ...)`): the forward and backward ops of its last
trace in one picture, each parameter's gradient an output with an arrow into the optimizer's update box, scopes
collapsible, a clear error before the first call, real SVG from `dot` (skipped without it)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from compiled_steps import chapter_step
from test_viz import dot_nodes_and_edges, needs_dot, parse_svg

import tinygrad6
from tinygrad6 import optim, viz


def compiled_mlp(sizes=(6, [5], 3), n: int = 4, opt_class=optim.SGD):
    """A compiled MLP training step called once (traced) and once more (replayed); (step, model, optimizer)."""
    model, opt, train_step = chapter_step(optimizer=opt_class, lr=0.1, sizes=sizes)
    step = tinygrad6.compile(train_step)
    rng = np.random.default_rng(0)
    for _ in range(2):
        step(rng.random((n, sizes[0])), rng.integers(0, sizes[2], n))
    return step, model, opt


def node_lines(source: str) -> dict[str, str]:
    """Each node's whole DOT statement, by node name."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^\s*(\w+) \[.*$", source, re.M)
            if m.group(1) not in ("graph", "node", "edge")}


def label_of(statement: str) -> str:
    m = re.search(r'label=("(?:[^"\\]|\\.)*"|[^\s\]]+)', statement)
    return m.group(1).strip('"')


def update_nodes(source: str) -> dict[str, str]:
    return {name: s for name, s in node_lines(source).items() if 'class=update' in s}


def test_compiled_step_draws_forward_backward_and_one_update_with_an_arrow_from_each_gradient():
    step, model, opt = compiled_mlp()
    source = viz.draw(step, legend=False).source
    nodes = node_lines(source)
    _, edges = dot_nodes_and_edges(source)
    ops = {name: label_of(s).split("\\n")[0] for name, s in nodes.items() if "class=op" in s}
    # forward: x @ W and + b in each Linear, relu, the loss; backward: each weight gradient is transpose @ delta
    params = [name for name, s in nodes.items() if "tensor param" in s]
    assert len(params) == len(model.parameters())
    forward_matmuls = [dst for src, dst in edges if src in params and ops.get(dst) == "matmul"]
    assert len(forward_matmuls) == 2 and "relu" in ops.values()
    outputs = [name for name, s in nodes.items() if "tensor output" in s]
    assert len(outputs) == 1 + len(model.parameters())  # the loss and every parameter's gradient
    made_by = {dst: src for src, dst in edges if src in ops}
    weight_grads = [t for t in outputs if ops.get(made_by.get(t)) == "matmul"]
    assert len(weight_grads) == 2
    for g in weight_grads:
        operands = [src for src, dst in edges if dst == made_by[g]]
        assert any(ops.get(made_by.get(a)) == "transpose" for a in operands)  # x.T @ dout: Affine's dW
    # the update: one box for opt.step(), escaped like every label, fed by every gradient (not by the loss)
    updates = update_nodes(source)
    assert len(updates) == 1
    (box, statement), = updates.items()
    assert f"update by {opt!r}" in label_of(statement)
    into_update = sorted(src for src, dst in edges if dst == box)
    loss = next(t for t in outputs if label_of(nodes[t]).startswith("loss"))
    assert into_update == sorted(t for t in outputs if t != loss)
    shapes = sorted(label_of(nodes[t]).split("\\n")[1] for t in into_update)
    assert shapes == sorted(f"{p.shape} float64" for p in model.parameters())


def test_collapse_groups_the_compiled_step_by_scope_and_keeps_the_update():
    step, model, opt = compiled_mlp()
    full = viz.draw(step, legend=False).source
    source = viz.draw(step, collapse=True, legend=False).source
    boxes = re.findall(r'label="(\w+) \((\d+) ops?\)" class="scope-box"', source)
    names = [name for name, _ in boxes]
    assert names.count("Linear") == 2 and "ReLU" in names and "log_softmax" in names
    # the backward rules' ops carry their forward op's scope, so a Linear box holds its backward matmuls too
    assert all(int(n) > 2 for name, n in boxes if name == "Linear")
    assert len(node_lines(source)) < len(node_lines(full))
    updates = update_nodes(source)
    assert len(updates) == 1
    _, edges = dot_nodes_and_edges(source)
    assert sum(dst in updates for _, dst in edges) == len(model.parameters())


def test_uncalled_compiled_step_says_to_call_it_first(tmp_path):
    step = tinygrad6.compile(lambda x: None)
    with pytest.raises(ValueError, match="call the step once first: the first call traces it"):
        viz.draw(step)
    with pytest.raises(ValueError, match="call the step once first"):
        viz.render(step, path=tmp_path / "never.svg")
    assert not (tmp_path / "never.svg").exists()


def test_chapter_example_draws_within_max_ops_collapsed_and_not():
    step, _, _ = compiled_mlp((784, [50], 10), n=100)
    for collapse in (False, True):
        source = viz.draw(step, collapse=collapse).source  # refuses past viz.MAX_OPS
        assert len(update_nodes(source)) == 1
    with pytest.raises(ValueError, match="more than max_ops=5"):
        viz.draw(step, max_ops=5)


class Quoted(optim.SGD):
    def __repr__(self) -> str:
        return 'My "SGD" \\N <b>&amp;</b>'


def test_update_label_is_escaped():
    step, _, opt = compiled_mlp(opt_class=Quoted)
    statement, = update_nodes(viz.draw(step).source).values()
    assert 'label="update by My \\"SGD\\" \\\\N <b>&amp;amp;</b>' in statement


@needs_dot
def test_compiled_step_renders_to_svg_with_the_update_box(tmp_path):
    step, model, opt = compiled_mlp(opt_class=Quoted)
    path = viz.render(step, path=tmp_path / "compiled_step.svg", collapse=True)
    _, nodes = parse_svg(path)
    updates = [texts for _, classes, texts, _ in nodes if "update" in classes]
    assert len(updates) == 1 and f"update by {opt!r}" in updates[0]
    assert sum("scope-box" in classes for _, classes, _, _ in nodes) >= 3
