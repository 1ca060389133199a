"""The tiny engine from docs/build-your-own.md, as the exercises use it: scalar Variables and two Functions.

A Variable holds `data`, `grad` (None until a gradient arrives) and `creator` (the Function that made it, None for
an input). A Function remembers its `inputs` and `output`; its `backward(gy)` returns one gradient per input.
"""

from __future__ import annotations


class Variable:
    def __init__(self, data: float, creator: Function | None = None) -> None:
        self.data = data
        self.grad: float | None = None
        self.creator = creator

    def __add__(self, other: Variable) -> Variable:
        return Add()(self, other)

    def __mul__(self, other: Variable) -> Variable:
        return Mul()(self, other)

    def __repr__(self) -> str:
        return f"Variable({self.data}, grad={self.grad})"


class Function:
    name = "function"

    def __call__(self, *inputs: Variable) -> Variable:
        self.inputs = inputs
        self.output = Variable(self.forward(*[x.data for x in inputs]), creator=self)
        return self.output

    def forward(self, *xs: float) -> float:
        raise NotImplementedError

    def backward(self, gy: float) -> tuple[float, ...]:
        raise NotImplementedError


class Add(Function):
    """y = a + b.   da = gy, db = gy"""

    name = "add"

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Mul(Function):
    """y = a * b.   da = gy * b, db = gy * a"""

    name = "mul"

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b.data, gy * a.data
