"""The op classes, one small class per operation, grouped by kind:

- `arithmetic.py`: add, sub, mul, div, neg, pow, matmul
- `unary.py`: exp, log, sqrt, abs, relu, sigmoid, tanh, cast
- `reduce.py`: sum, mean, max, min
- `shape.py`: reshape, transpose, broadcast_to, sum_to, getitem (and its backward, scatter_add), concatenate, stack
- `select.py`: maximum, minimum, clip, where, compare
"""

from .arithmetic import Add, Div, MatMul, Mul, Neg, Pow, Sub
from .reduce import Max, Mean, Min, Sum
from .select import Clip, Compare, Maximum, Minimum, Where
from .shape import BroadcastTo, Concatenate, GetItem, Reshape, ScatterAdd, Stack, SumTo, Transpose
from .unary import Abs, Cast, Exp, Log, ReLU, Sigmoid, Sqrt, Tanh

__all__ = [
    "Abs", "Add", "BroadcastTo", "Cast", "Clip", "Compare", "Concatenate", "Div", "Exp", "GetItem", "Log", "MatMul",
    "Max", "Maximum", "Mean", "Min", "Minimum", "Mul", "Neg", "Pow", "ReLU", "Reshape", "ScatterAdd", "Sigmoid",
    "Sqrt", "Stack", "Sub", "Sum", "SumTo", "Tanh", "Transpose", "Where",
]
