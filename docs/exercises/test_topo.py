"""The topological order: every Function once, after all consumers of its output; correct gradients on a diamond;
no recursion on a long chain."""

from tiny import Variable


def all_functions(y):
    """Every Function behind y, found by a plain walk (no order promised)."""
    found, stack = {}, [y.creator]
    while stack:
        f = stack.pop()
        if f is not None and id(f) not in found:
            found[id(f)] = f
            stack.extend(x.creator for x in f.inputs)
    return list(found.values())


def assert_topological(order, y):
    functions = all_functions(y)
    assert sorted(map(id, order)) == sorted(map(id, functions)), "every Function exactly once"
    position = {id(f): i for i, f in enumerate(order)}
    for f in functions:
        for x in f.inputs:
            if x.creator is not None:
                assert position[id(x.creator)] > position[id(f)], f"{x.creator.name} placed before its consumer"


def backward_in_order(y, order):
    y.grad = 1.0
    for f in order:
        for x, gx in zip(f.inputs, f.backward(f.output.grad)):
            x.grad = gx if x.grad is None else x.grad + gx


def diamond():
    x = Variable(2.0)
    a = x * x
    y = (a + x) * (a * x)  # x^5 + x^4
    return x, y


def test_diamond_order(load):
    x, y = diamond()
    assert_topological(load("topo").topological_order(y), y)


def test_diamond_gradient(load):
    x, y = diamond()
    backward_in_order(y, load("topo").topological_order(y))
    assert x.grad == 5 * 2.0**4 + 4 * 2.0**3


def test_same_variable_twice(load):
    x = Variable(3.0)
    a = x * x
    y = a + a  # a is used twice by one Function
    order = load("topo").topological_order(y)
    assert_topological(order, y)
    backward_in_order(y, order)
    assert x.grad == 12.0


def test_long_chain_needs_no_recursion(load):
    x, one = Variable(1.5), Variable(1.0)
    y = x
    for _ in range(5000):  # deeper than Python's default recursion limit (1000)
        y = y * one
    order = load("topo").topological_order(y)
    assert len(order) == 5000
    assert_topological(order, y)
