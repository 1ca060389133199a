"""Exercise (about 5 minutes once step 2 works): make x + x right.

Write `backward(y)` for the engine in tiny.py (steps 2 and 3 of docs/build-your-own.md): y.grad becomes 1.0, and
every Variable behind y gets its gradient by following the `creator` links back from y. The loop of step 2 gives
x + x a gradient of 1.0 where it should be 2.0: find out why before you change anything (print what each call
of `f.backward` returns, and what x.grad holds after each).
Graphs where a computed Variable is used twice (diamonds) are the next exercise's business, not this one's.
Check: `pytest docs/exercises/test_accumulate.py`.
"""

from tiny import Variable


def backward(y: Variable) -> None:
    """Fill in .grad of every Variable behind y (y.grad becomes 1.0)."""
    raise NotImplementedError("accumulate.py: write backward")
