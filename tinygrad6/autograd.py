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

import numpy as np

from . import modes
from .op import Op
from .tensor import ArrayLike, Tensor


@dataclass(slots=True)
class BackwardStep:
    """What one step of the backward pass did.

    index: position in the backward order (0 is the op that produced the output).
    op: the op node processed; `op.inputs` and `op.output` are its tensors.
    grad_output: the complete gradient of op.output that arrived at the op.
    grad_inputs: the gradient the op sent to each input (None where an input needs none), already summed back
        to the input's shape.
    finalized: (tensor, gradient) for every tensor whose gradient became complete at this step.
    """

    index: int
    op: Op
    grad_output: Tensor
    grad_inputs: tuple[Tensor | None, ...]
    finalized: tuple[tuple[Tensor, Tensor], ...]

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return self.op.inputs

    @property
    def output(self) -> Tensor | None:
        return self.op.output


def backward_steps(outputs: Sequence[Tensor], grad_outputs: Sequence[ArrayLike | None] | None = None, *,
                   retain_graph: bool | None = None, create_graph: bool = False,
                   inputs: Sequence[Tensor] | None = None) -> Iterator[BackwardStep]:
    """Backpropagate from `outputs`, yielding one `BackwardStep` per op.

    Without `inputs`, gradients of leaves (and of tensors that retain grad) are added to their `.grad`.
    With `inputs`, no `.grad` is touched: the generator returns the gradients of `inputs` as a list (the value of
    its final StopIteration; `tinygrad6.grad` collects it for you).
    """
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seeds(outputs, grad_outputs)
    given = {_owner(s._data) for s in seeds}  # arrays already handed out: a .grad must not share them
    captured: dict[int, Tensor | None] | None = None if inputs is None else {id(t): None for t in inputs}

    # 1. count, for every tensor in the graph, the ops that will send it a gradient
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

    # 2. seed the outputs; those that no other output depends on are complete already
    grads: dict[int, Tensor] = {}
    for t, seed in zip(outputs, seeds):
        grads[id(t)] = grads[id(t)] + seed if id(t) in grads else seed
    ready: list[tuple[Tensor, Tensor]] = []
    for t in outputs:
        if pending.get(id(t), 0) == 0 and id(t) in grads:
            g = _finalize(t, grads.pop(id(t)), captured, given)
            if t.creator is not None:
                ready.append((t, g))

    # 3. run each op once its output's gradient is complete
    anomaly = modes._anomaly.get()
    index = 0
    while ready:
        y, gy = ready.pop()
        op = y.creator
        if op.released or op.changed():
            _check_usable(op)  # raises, saying what happened
        gxs = run_rule(op, gy, create_graph)
        sent: list[Tensor | None] = []
        finalized: list[tuple[Tensor, Tensor]] = []
        for x, gx in zip(op.inputs, gxs):
            if not x.requires_grad:
                sent.append(None)
                continue
            if gx is not None:
                if gx._data.shape != x._data.shape:
                    gx = gx.sum_to(x.shape)  # undo broadcasting, once, here for every op
                if gx._data.dtype is not x._data.dtype and gx._data.dtype != x._data.dtype:
                    gx = gx.astype(x.dtype)
                if anomaly:
                    op.check_finite("backward", gx._data, op.inputs)
            sent.append(gx)
            key = id(x)
            total = grads.pop(key, None)  # the sum of what x received before
            if gx is not None:
                total = gx if total is None else total + gx
            left = pending[key] - 1
            pending[key] = left
            if left:  # more to come: keep the running sum
                if total is not None:
                    grads[key] = total
                continue
            if total is None:  # every consumer sent None: the gradient is zero
                total = Tensor._wrap(np.zeros_like(x._data))
            if x.creator is None or x._hooks or x._retains_grad or captured is not None:
                total = _finalize(x, total, captured, given)
            finalized.append((x, total))
            if x.creator is not None:
                ready.append((x, total))
        if not retain_graph:
            op.saved = None
            op.released = True
        yield BackwardStep(index, op, gy, tuple(sent), tuple(finalized))
        index += 1
    if captured is not None:
        return [captured[id(t)] for t in inputs]


def run_rule(op: Op, gy: Tensor, create_graph: bool = False) -> tuple[Tensor | None, ...]:
    """Run `op.backward(gy)`, the op's backward rule, and return one gradient (or None) per input.

    The rule's own ops are recorded only under create_graph (then inside the op's scope, so a drawing of the
    backward graph groups them like the forward ops). They are not checked one by one by detect_anomaly: a NaN
    they make is reported by the loop as this op's. To stop at one op in a debugger:
    `b tinygrad6.autograd.run_rule, op.name == "sqrt"`."""
    rule_modes = _rule_modes(op, create_graph)
    with rule_modes:
        gxs = op.backward(gy)
    return gxs if type(gxs) is tuple else (gxs,)


def _rule_modes(op: Op, create_graph: bool) -> modes._Mode:
    settings = {modes._grad_enabled: create_graph, modes._anomaly: False}
    if create_graph:
        settings[modes._scope] = op.scope
    return modes._Mode(settings)


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
    steps = backward_steps(outputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                           inputs=inputs)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            results = stop.value
            break
    for i, (x, g) in enumerate(zip(inputs, results)):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) is not used to compute the outputs; "
                               f"pass allow_unused=True to get None for it")
    return results


def _seeds(outputs: Sequence[Tensor], grad_outputs) -> list[Tensor]:
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise ValueError(f"backward: {len(outputs)} outputs but {len(grad_outputs)} gradients for them")
    seeds = []
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(
                f"backward: output {i} (shape {t.shape}) does not require grad: no input of its graph had "
                f"requires_grad=True, or it was computed under no_grad()")
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if t.size != 1:
                raise RuntimeError(
                    f"backward: the output has shape {t.shape}; a gradient can be created implicitly only for a "
                    f"scalar output. Reduce it first (e.g. y.sum()) or pass grad= an array of shape {t.shape}")
            g = Tensor._wrap(np.ones_like(t._data))
        else:
            g = g if isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=t.dtype))
            if g.shape != t.shape:
                raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {t.shape}")
        seeds.append(g)
    return seeds


def _finalize(t: Tensor, g: Tensor, captured: dict[int, Tensor | None] | None, given: set[int]) -> Tensor:
    """The gradient of `t` is complete: run its hooks, then store it where it belongs."""
    if t._hooks:
        for hook in list(t._hooks.values()):
            replaced = hook(g)
            if replaced is not None:
                g = replaced if isinstance(replaced, Tensor) else Tensor(replaced)
                given.add(_owner(g._data))  # the hook's array may be kept elsewhere: .grad gets a copy
    if captured is not None:
        if id(t) in captured:
            captured[id(t)] = g
    elif t.creator is None or t._retains_grad:
        if t.grad is not None:
            t.grad = t.grad + g
        elif g.requires_grad:
            t.grad = g
        else:
            # an array of its own, since optimizers and users update .grad in place: copied when it may be shared,
            # i.e. read-only (a broadcast view) or its memory was already handed out (a + b sends one gradient to
            # both inputs; the seed belongs to the caller)
            owner = _owner(g._data)
            if g._data.flags.writeable and owner not in given:
                given.add(owner)
                t.grad = g
            else:
                t.grad = Tensor._wrap(np.array(g._data))
    return g


def _owner(a: np.ndarray) -> int:
    """id of the array that owns a's memory (a itself, or the array a is a view of)."""
    return id(a if a.base is None else a.base)


def _check_usable(op: Op) -> None:
    if op.released:
        raise RuntimeError(
            f"backward through {op.name} a second time, but its saved values were released after the first "
            f"backward. Pass retain_graph=True to the first backward() to run backward twice, or recompute the "
            f"forward pass.")
    where = f" (created at {op.location})" if getattr(op, "location", None) else ""
    for i, x in enumerate(op.inputs):
        if x._version > op.stamp:
            label = f"'{x.name}' " if x.name else ""
            raise RuntimeError(
                f"{op.name}{where}: its input {i} {label}of shape {x.shape} was modified in place after the forward "
                f"pass, so the gradient would be wrong. Recompute the forward pass after changing .data, or change "
                f"a copy.")
    output = op.output
    if op.saves_output and output is not None and output._version > op.stamp:
        raise RuntimeError(
            f"{op.name}{where}: its output of shape {output.shape}, which its backward uses, was modified in place "
            f"after the forward pass, so the gradient would be wrong. Change a copy of it instead (y = y * 1 "
            f"first), or recompute the forward pass.")
