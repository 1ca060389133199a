"""Exercise: write the topological order.

Return the Functions behind y in an order where each Function comes after every Function that uses its output,
so that when its turn comes the gradient of its output is complete. Use Kahn's algorithm with consumer counts
(step 4 of docs/build-your-own.md): first walk the graph once and count, for each Variable, how many input slots
use it (x + x uses x twice); then start from y.creator, and after placing a Function, subtract one from the count
of each of its inputs; an input whose count reaches 0 is complete, and its creator (if any) is ready.
No recursion: a chain of 5,000 Functions must work.
Check: `pytest docs/exercises/test_topo.py`.
"""

from tiny import Function, Variable


def topological_order(y: Variable) -> list[Function]:
    """The Functions behind y, each after all of its output's consumers (y.creator first)."""
    raise NotImplementedError("topo.py: write topological_order")
