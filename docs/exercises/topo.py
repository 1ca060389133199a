"""Exercise (about 25 minutes): run every Function once, at the right time.

Return the Functions behind y in an order in which each Function comes after every Function that uses its
output: then, when its turn comes, the gradient of its output is complete. Step 4 of docs/build-your-own.md says
why the order matters (the diamond); how to find such an order is the exercise (the page has a hint, folded).
No recursion: a chain of 5,000 Functions must work (Python stops recursing at about 1,000).
Check: `pytest docs/exercises/test_topo.py`.
"""

from tiny import Function, Variable


def topological_order(y: Variable) -> list[Function]:
    """The Functions behind y, each after all of its output's consumers (y.creator first)."""
    raise NotImplementedError("topo.py: write topological_order")
