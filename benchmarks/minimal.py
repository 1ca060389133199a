"""A reference for the per-op row: the smallest reverse-mode engine on numpy arrays that can run the chain.

Each value is a numpy array wrapped in a Python object that holds its parents and a closure computing their
gradients from numpy arrays (micrograd's design on arrays), with nothing else: no op objects, no grad mode, no
broadcasting or dtype care, no in-place checks, no scopes, no step records, and backward rules that cannot be
differentiated again (they work on arrays, not on values). It shows how much of tinygrad6's per-op time is the
price of running ops through Python objects at all, and how much its features add.
"""

from __future__ import annotations

import numpy as np


class Value:
    __slots__ = ("data", "grad", "parents", "backward_rule")

    def __init__(self, data: np.ndarray, parents: tuple[Value, ...] = (), backward_rule=None) -> None:
        self.data, self.grad, self.parents, self.backward_rule = data, None, parents, backward_rule

    def __mul__(self, k: float) -> Value:
        k = np.array(k)
        return Value(self.data * k, (self,), lambda g: (g * k,))

    def __add__(self, k: float) -> Value:
        return Value(self.data + np.array(k), (self,), lambda g: (g,))

    def backward(self, grad: np.ndarray) -> None:
        """Reverse topological order without recursion, then each rule once."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
            elif id(v) not in seen:
                seen.add(id(v))
                stack.append((v, True))
                stack.extend((p, False) for p in v.parents)
        self.grad = grad
        for v in reversed(order):
            if v.backward_rule is not None:
                for p, g in zip(v.parents, v.backward_rule(v.grad)):
                    p.grad = g if p.grad is None else p.grad + g


def chain(n: int):
    """n repetitions of x * 0.5 + 1.0 on a one-element array, then backward; returns d/dx0."""

    def run() -> np.ndarray:
        x0 = Value(np.ones(1))
        x = x0
        for _ in range(n):
            x = x * 0.5 + 1.0
        x.backward(np.ones(1))
        return x0.grad

    return run
