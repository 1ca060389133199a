"""Exercise: make x + x right.

Write `backward(y)`, the creator loop of step 2 of docs/build-your-own.md, for the engine in tiny.py: seed
y.grad = 1.0, then take functions from a list, starting with y.creator; for each, call backward(output.grad)
and hand each input its gradient, then put the input's creator (if any) on the list.
"Hand each input its gradient" must ADD to what the input already has (None means nothing yet): in x + x the
same x receives two gradients, and both count. Graphs where a non-input Variable is used twice (diamonds) are
the next exercise's business, not this one's.
Check: `pytest docs/exercises/test_accumulate.py`.
"""

from tiny import Variable


def backward(y: Variable) -> None:
    """Fill in .grad of every Variable behind y (y.grad becomes 1.0), adding up gradients that meet."""
    raise NotImplementedError("accumulate.py: write backward")
