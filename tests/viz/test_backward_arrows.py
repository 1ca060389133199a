"""`viz.draw(y, backward=True)`: the book's figure 5-16, a red arrow against every arrow of the graph, labelled with
the gradient that `backward_steps` sent along it (read from its records, never recomputed), with no `.grad` touched.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tinygrad6 import Tensor, viz

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(not viz.dot_available(), reason="Graphviz `dot` is not installed")
BACKWARD = re.compile(r'^\s*(\w+) -> (\w+) \[label=("(?:[^"\\]|\\.)*"|\S+) class=backward id=(\w+)')


def backward_arrows(source: str) -> dict[str, tuple[str, str, str]]:
    """id -> (tail node, head node, label text) of every backward arrow in DOT text."""
    arrows = {}
    for line in source.splitlines():
        m = BACKWARD.match(line)
        if m:
            arrows[m.group(4)] = (m.group(1), m.group(2), m.group(3).strip('"').replace("\\n", "\n"))
    return arrows


def node_ids(source: str) -> dict[str, str]:
    """tensor or op name (the first line of its label) -> node id."""
    ids = {}
    for m in re.finditer(r'^\s*(\w+) \[label=("(?:[^"\\]|\\.)*"|\S+) class=', source, re.M):
        ids.setdefault(m.group(2).strip('"').split("\\n")[0], m.group(1))
    return ids


def apples():
    apple = Tensor(100.0, requires_grad=True, name="apple")
    apple_num = Tensor(2.0, requires_grad=True, name="apple_num")
    tax = Tensor(1.1, requires_grad=True, name="tax")
    apple_price = (apple * apple_num).named("apple_price")
    price = (apple_price * tax).named("price")
    return price, (apple, apple_num, tax, apple_price)


def test_the_apples_carry_the_books_gradients_backward_and_no_grad_is_touched():
    price, (apple, apple_num, tax, apple_price) = apples()
    source = viz.draw(price, backward=True).source
    ids, arrows = node_ids(source), backward_arrows(source)
    against = {(tail, head): label for tail, head, label in arrows.values()}
    # the book's figure 5-16: 1 into price, 1.1 to apple_price, 200 to tax, 2.2 to apple, 110 to apple_num
    assert float(against[(ids["apple"], "op0")]) == pytest.approx(2.2)
    assert float(against[(ids["apple_num"], "op0")]) == pytest.approx(110)
    assert float(against[(ids["tax"], "op1")]) == pytest.approx(200)
    assert float(against[(ids["apple_price"], "op1")]) == pytest.approx(1.1)
    assert float(against[("op0", ids["apple_price"])]) == pytest.approx(1.1)  # what the first mul receives
    assert float(against[("op1", ids["price"])]) == 1.0
    assert float(against[(ids["price"], f"seed_{ids['price']}")]) == 1.0
    assert len(arrows) == 7  # one against each of the 6 arrows, and the seed
    assert all(t.grad is None for t in (apple, apple_num, tax, apple_price))  # drawn, not learned
    price.backward()  # and the graph is still there for the user's own backward
    assert apple.grad.item() == pytest.approx(2.2)


def test_a_fork_shows_each_use_and_the_labels_add_up_to_the_gradient():
    x = Tensor(3.0, requires_grad=True, name="x")
    z = (x * x + x).named("z")
    arrows = backward_arrows(viz.draw(z, backward=True).source)
    into_x = sorted(float(label) for tail, _, label in arrows.values() if tail == "t0")
    sent = sorted(c.grad.item() for step in z.backward_steps(retain_graph=True)
                  for inp, c in zip(step.inputs, step.contributions) if inp is x)
    assert into_x == sent and len(into_x) == 3  # mul sends x twice, add once
    assert sum(into_x) == pytest.approx(x.grad.item()) == pytest.approx(2 * 3.0 + 1)


def test_a_broadcast_input_gets_the_gradient_summed_back_to_its_shape():
    X = Tensor(np.ones((2, 3)), requires_grad=True, name="X")
    b = Tensor([10.0, 20.0, 30.0], requires_grad=True, name="b")
    out = (X + b).sum()
    source = viz.draw(out, backward=True).source
    ids = node_ids(source)
    labels = [label for tail, _, label in backward_arrows(source).values() if tail == ids["b"]]
    assert labels == ["[2., 2., 2.]"]


def test_a_freed_graph_asks_for_retain_graph_and_several_outputs_are_refused():
    price, _ = apples()
    price.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.draw(price, backward=True)
    a = Tensor(1.0, requires_grad=True, name="a")
    with pytest.raises(ValueError, match="one output"):
        viz.draw(a * 2, a * 3, backward=True)


@needs_dot
def test_hostile_names_in_the_backward_tooltips_stay_text(tmp_path):
    name = 'a"<b>&amp;\\N'
    a = Tensor(2.0, requires_grad=True, name=name)
    y = (a * a).named("y")
    svg = ET.parse(viz.render(y, path=tmp_path / "y.svg", backward=True)).getroot()
    backward = [g for g in svg.iter(f"{SVG}g") if "backward" in g.get("class", "").split()]
    assert len(backward) == 4  # two against the arrows into mul, one against mul -> y, the seed
    tips = [a.get("{http://www.w3.org/1999/xlink}title") for g in backward for a in g.iter(f"{SVG}a")]
    assert f"mul sends {name} its gradient (1 of 2)\n2." in tips
    labels = sorted("".join(t.itertext()) for g in backward for t in g.iter(f"{SVG}text"))
    assert labels == ["1.", "1.", "2.", "2."]
