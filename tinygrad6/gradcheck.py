"""Check analytic gradients against central differences: `numerical_grad`, `gradcheck`, `gradgradcheck`.

The check projects the output onto a random upstream gradient v (it compares the gradient of sum(v * f(x)),
never of plain sum(f(x))): some functions, Batch Normalization among them, have an identically zero gradient of
their sum, which would make a sum-based check pass whatever the implementation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .engine.autograd import grad
from .engine.modes import enable_grad, no_grad
from .engine.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree; the message names the input, the element and both values."""


def numerical_grad(fn: Callable[..., Tensor], *inputs, grad_output=None, eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences, in float64, of sum(grad_output * fn(*inputs)) with respect to each input that
    requires grad: (f(x + eps) - f(x - eps)) / (2 eps), one element at a time. grad_output defaults to ones."""
    xs = [_float64_copy(x) if _differentiable(x) else x for x in inputs]
    with no_grad():
        v = None if grad_output is None else np.asarray(getattr(grad_output, "data", grad_output), dtype=np.float64)

        def f() -> float:
            y = np.asarray(fn(*xs).data, dtype=np.float64)
            return float((y if v is None else y * v).sum())

        grads = []
        for x, original in zip(xs, inputs):
            if not _differentiable(original):
                continue
            g = np.zeros(x.shape)
            for i in np.ndindex(*x.shape):
                saved = x.data[i]
                x.data[i] = saved + eps
                up = f()
                x.data[i] = saved - eps
                down = f()
                x.data[i] = saved
                g[i] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


def gradcheck(fn: Callable[..., Tensor], *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              seed: int = 0) -> bool:
    """Compare the gradient of every input with requires_grad=True against central differences in float64,
    for a random upstream gradient. Returns True, or raises GradcheckError naming the input, the element index
    and both values."""
    xs = [_float64_copy(x, requires_grad=True) if _differentiable(x) else x for x in inputs]
    wrt = [x for x in xs if _differentiable(x)]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")
    with enable_grad():
        y = fn(*xs)
    v = np.random.default_rng(seed).standard_normal(y.shape)
    # an output that does not require grad does not depend on the inputs (e.g. the first derivative of a linear
    # function, in gradgradcheck): its analytic gradient is zero
    analytic = grad(y, wrt, grad_outputs=[v], allow_unused=True) if y.requires_grad else [None] * len(wrt)
    numerical = numerical_grad(fn, *xs, grad_output=v, eps=eps)
    for k, (x, a, n) in enumerate(zip(wrt, analytic, numerical)):
        a = np.zeros(x.shape) if a is None else np.asarray(a.data, dtype=np.float64)
        bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise GradcheckError(
                f"gradcheck: gradient mismatch for input {k} (shape {x.shape}) at index {i}: analytic {a[i]:.10g}, "
                f"numerical {n[i]:.10g} (atol={atol}, rtol={rtol}; {int(bad.sum())} of {bad.size} elements differ)")
    return True


def gradgradcheck(fn: Callable[..., Tensor], *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of x -> sum_i w_i * grad(sum(v * fn(x)), x_i), with fixed random v and
    w_i. The inner gradient is taken with create_graph=True, so this checks that backward rules are themselves
    differentiable (a Hessian-vector product against central differences)."""
    rng = np.random.default_rng(seed + 1)
    probe = [_float64_copy(x) if _differentiable(x) else x for x in inputs]
    with no_grad():
        y_shape = fn(*probe).shape
    v = rng.standard_normal(y_shape)
    ws = [rng.standard_normal(x.shape) for x in inputs if _differentiable(x)]

    def first_derivative(*xs):
        with enable_grad():
            xs = [x if not isinstance(x, Tensor) or x.requires_grad or not np.issubdtype(x.dtype, np.floating)
                  else Tensor(x.data, requires_grad=True) for x in xs]
            wrt = [x for x, original in zip(xs, inputs) if _differentiable(original)]
            gs = grad(fn(*xs), wrt, grad_outputs=[v], create_graph=True, allow_unused=True)
            total = Tensor(0.0)
            for g, w in zip(gs, ws):
                if g is not None:
                    total = total + (g * w).sum()
            return total

    return gradcheck(first_derivative, *inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)


def _differentiable(x) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _float64_copy(x: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.array(x.data, dtype=np.float64), requires_grad=requires_grad, name=x.name)
