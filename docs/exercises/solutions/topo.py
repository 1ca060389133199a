"""Solution: the topological order by Kahn's algorithm with consumer counts, without recursion."""

from tiny import Function, Variable


def topological_order(y: Variable) -> list[Function]:
    # 1. count, for every Variable, the input slots that use it (each Function visited once)
    pending: dict[int, int] = {}
    seen: set[int] = set()
    stack = [y.creator] if y.creator is not None else []
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        for x in f.inputs:
            pending[id(x)] = pending.get(id(x), 0) + 1
            if x.creator is not None:
                stack.append(x.creator)
    # 2. place a Function once every consumer of its output has been placed
    order: list[Function] = []
    ready = [y.creator] if y.creator is not None else []
    while ready:
        f = ready.pop()
        order.append(f)
        for x in f.inputs:
            pending[id(x)] -= 1
            if pending[id(x)] == 0 and x.creator is not None:
                ready.append(x.creator)
    return order
