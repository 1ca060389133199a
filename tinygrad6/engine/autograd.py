"""The backward loop: one generator, `backward_steps`, that every gradient computation goes through.

`Tensor.backward()`, `tinygrad6.grad()`, the printed trace and the step-through page all run it. It orders the
graph with Kahn's algorithm: each tensor counts the ops that still have to send it a gradient, and an op runs
only when the gradient of its output is complete (every consumer has sent its share). So in `x*x + x` the
gradient of `x` is final only after both `mul` and `add` have contributed. No recursion: a chain of 100,000 ops
needs no deeper stack than a chain of 3.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..support import errors, tracing
from . import modes
from .op import Op
from .tensor import ArrayLike, Tensor, where


@dataclass(slots=True)
class BackwardStep:
    """What one step of the backward pass did.

    index: position in the backward order (0 is the op that produced the output).
    op: the op node processed; `op.inputs` and `op.output` are its tensors.
    grad_output: the complete gradient of op.output that arrived at the op.
    contributions: what each input received, a `Contribution` (None where an input needs no gradient); `grad_inputs`
        holds their gradients alone, each already summed back to its input's shape.
    finalized: (tensor, gradient) for every tensor whose gradient became complete at this step.
    """

    index: int
    op: Op
    grad_output: Tensor
    contributions: tuple[Contribution | None, ...]
    finalized: tuple[tuple[Tensor, Tensor], ...]

    @property
    def inputs(self) -> tuple[Tensor, ...]: return self.op.inputs
    @property
    def output(self) -> Tensor | None: return self.op.output
    @property
    def grad_inputs(self) -> tuple[Tensor | None, ...]: return tuple(c and c.grad for c in self.contributions)


class Contribution(NamedTuple):
    """One gradient an input received: `grad`, what the rule returned (`rule_grad`) summed back to the input's shape;
    the `received`-th of the `expected` gradients the input waits for; `total`, their sum so far (None if all None)."""

    grad: Tensor | None
    rule_grad: Tensor | None
    received: int
    expected: int
    total: Tensor | None


def backward_steps(outputs: Sequence[Tensor], grad_outputs: Sequence[ArrayLike | None] | None = None, *,
                   retain_graph: bool | None = None, create_graph: bool = False,
                   inputs: Sequence[Tensor] | None = None) -> Iterator[BackwardStep]:
    """Backpropagate from `outputs`, yielding one `BackwardStep` per op. Without `inputs`, gradients of leaves (and
    of tensors that retain grad) are added to their `.grad`; with `inputs`, no `.grad` is touched and the generator
    returns the gradients of `inputs` as a list (its StopIteration's value: `drain` or `tinygrad6.grad` get it)."""
    retain_graph = create_graph if retain_graph is None else retain_graph
    sink = GradientSink(inputs)
    expected = count_consumers(outputs)  # 1. how many gradients each tensor waits for
    pending = dict(expected)  # and how many it still waits for
    grads = _seeds(outputs, grad_outputs)  # 2. seed the outputs: each tensor's running sum of the gradients so far
    ready = [(t, sink.finalize(t, grads.pop(id(t)))) for t in outputs if id(t) in grads and not pending.get(id(t))]
    index = 0
    while ready:  # 3. run the rule of each op whose output's gradient is complete
        y, gy = ready.pop()
        op = y.creator
        if op is None:
            continue
        if op.released or op.changed():
            errors.raise_unusable(op)  # says which: released by an earlier backward, or an input written in place
        sent, finalized = [], []
        for x, gx in zip(op.inputs, run_rule(op, gy, create_graph)):
            if not x.requires_grad:
                sent.append(None)
                continue
            key = id(x)
            fitted = _fit(op, x, gx)  # broadcasting undone, once, here for every op
            if fitted is not None:  # accumulate
                grads[key] = grads[key] + fitted if key in grads else fitted
            pending[key] -= 1
            sent.append(Contribution(fitted, gx, expected[key] - pending[key], expected[key], grads.get(key)))
            if pending[key] == 0:  # every consumer has sent its share: x's gradient is final
                total = _complete(x, grads.pop(key, None), create_graph)
                finalized.append((x, sink.finalize(x, total)))
                ready.append(finalized[-1])
        if not retain_graph:
            op.release()
        yield BackwardStep(index, op, gy, tuple(sent), tuple(finalized))
        index += 1
    return sink.results()


def count_consumers(outputs: Sequence[Tensor]) -> dict[int, int]:
    """For every tensor behind `outputs` that requires grad (by id): how many gradients it will receive, one per
    (op, input slot) that uses it. Each op is visited once, without recursion."""
    pending: dict[int, int] = {}
    seen: set[int] = set()
    stack = [t.creator for t in outputs if t.creator is not None]
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        for x in op.inputs:
            if x.requires_grad:
                pending[id(x)] = pending.get(id(x), 0) + 1
                if x.creator is not None:
                    stack.append(x.creator)
    return pending


def _complete(x: Tensor, total: Tensor | None, create_graph: bool) -> Tensor:
    """x's complete gradient: the sum received, or zeros. Under create_graph, one that does not require grad (piecewise
    constant in x: abs, relu, where, clip...) is joined to x with derivative 0, to be differentiated again (PyTorch)."""
    total = Tensor._wrap(np.zeros_like(x._data)) if total is None else total
    return where(False, x, total) if create_graph and not total.requires_grad else total


def _fit(op: Op, x: Tensor, gx: Tensor | None) -> Tensor | None:
    """The gradient op's rule sent to input x, summed back to x's shape (a rule may return the broadcast shape)
    and cast to x's dtype; under detect_anomaly, checked for NaN and inf."""
    if gx is None:
        return None
    if gx._data.shape != x._data.shape:
        gx = gx.sum_to(x.shape)
    if gx._data.dtype != x._data.dtype:
        gx = gx.astype(x.dtype)
    if modes._anomaly.get():
        errors.check_finite(op, "backward", gx._data, op.inputs)
    return gx


class GradientSink:
    """Where complete gradients go: into `.grad` of leaves and of tensors that retain grad (`backward()`), or, when
    `inputs` are given (`tinygrad6.grad`), to a list of the gradients of those inputs only."""

    def __init__(self, inputs: Sequence[Tensor] | None) -> None:
        self.inputs = inputs
        self.found: dict[int, Tensor | None] | None = None if inputs is None else {id(t): None for t in inputs}

    def finalize(self, t: Tensor, g: Tensor) -> Tensor:
        """The gradient g of t is complete: run t's hooks (one may replace g), then store g where it belongs."""
        if t._hooks:
            for hook in list(t._hooks.values()):
                replaced = hook(g)
                if replaced is not None:
                    g = replaced if isinstance(replaced, Tensor) else Tensor(replaced)
        if self.found is not None:
            if id(t) in self.found:
                self.found[id(t)] = g
        elif t.creator is None or t._retains_grad:
            # .grad gets an array of its own (optimizers and users update it in place; g may be shared with other
            # tensors or be the caller's seed), except under create_graph, where it is the recorded tensor itself
            own = g if g.requires_grad else Tensor._wrap(np.array(g._data))
            t.grad = own if t.grad is None else t.grad + g
            tracing.observe("grad", t, g)
        return g

    def results(self) -> list[Tensor | None] | None:
        return None if self.found is None else [self.found[id(t)] for t in self.inputs]


def run_rule(op: Op, gy: Tensor, create_graph: bool = False) -> tuple[Tensor | None, ...]:
    """Run `op.backward(gy)`, the op's backward rule, and return one gradient (or None) per input.

    The rule's own ops are recorded only under create_graph (then inside the op's scope, so a drawing of the
    backward graph groups them like the forward ops). They are not checked one by one by detect_anomaly: a NaN
    they make is reported by the loop as this op's. To stop at one op in a debugger:
    `b tinygrad6.engine.autograd.run_rule, op.name == "sqrt"`."""
    tokens = set_rule_modes(op, create_graph)  # (its own line: a breakpoint on run_rule stops once per op)
    try:
        gxs = op.backward(gy)
    finally:
        for var, token in tokens:
            var.reset(token)
    return gxs if type(gxs) is tuple else (gxs,)


def set_rule_modes(op: Op, create_graph: bool) -> list:
    """Set the modes a backward rule runs under and return (mode, token) pairs to reset them with: grad mode on only
    under create_graph (then, and while tracing, also the op's scope), detect_anomaly off (the loop checks what the
    rule returns)."""
    tokens = [(modes._grad_enabled, modes._grad_enabled.set(create_graph))]
    if modes._anomaly.get():
        tokens.append((modes._anomaly, modes._anomaly.set(False)))
    if create_graph or tracing.active.get() is not None:  # recorded ops: drawn in the scope of their op
        tokens.append((modes._scope, modes._scope.set(op.scope)))
    return tokens


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: ArrayLike | Sequence[ArrayLike] | None = None, *, create_graph: bool = False,
         retain_graph: bool | None = None, allow_unused: bool = False) -> list[Tensor | None]:
    """The gradients of `outputs` with respect to `inputs`, returned as a list and not added to any `.grad`
    (as `torch.autograd.grad`). With create_graph=True the results are differentiable again, so a second
    derivative is `grad(grad(y, x, create_graph=True)[0], x)`."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) does not require grad; create it with "
                               f"requires_grad=True")
    results = drain(backward_steps(outputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                                   inputs=inputs))
    for i, (x, g) in enumerate(zip(inputs, results)):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) is not used to compute the outputs; "
                               f"pass allow_unused=True to get None for it")
    return results


def drain(steps: Iterator[BackwardStep]):
    """Run a backward_steps generator to its end and return its return value (the gradients, with `inputs`)."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def _seeds(outputs: Sequence[Tensor], grad_outputs) -> dict[int, Tensor]:
    """The gradient each output starts with (by id): the one given, or 1 for a scalar output; an output listed
    twice starts with the sum of its two."""
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise ValueError(f"backward: {len(outputs)} outputs but {len(grad_outputs)} gradients for them")
    seeds: dict[int, Tensor] = {}
    for i, t in enumerate(outputs):
        g = None if grad_outputs is None else grad_outputs[i]
        g = g if g is None or isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=t.dtype))
        errors.check_seed(i, t, g)
        g = Tensor._wrap(np.ones_like(t._data)) if g is None else g
        seeds[id(t)] = seeds[id(t)] + g if id(t) in seeds else g
    return seeds
