"""A compiled training step: trace one call of the step, then replay it as a generated straight-line numpy program.

    step = tinygrad6.compile(train_step)   # train_step(x, t): zero_grad, forward, backward, opt.step(), return loss
    loss = step(x, t)                      # the first call traces: it runs the step eagerly, recording what it does
    loss = step(x, t)                      # the second replays the program and checks it against eager, once
    loss = step(x, t)                      # later calls run the program: no Tensor, no Op, one numpy call a line
    print(step.source())                   # the program, with the tensor names of the graph
    print(step.explain())                  # graph breaks and guard failures, with the user's line

The contract: every call returns what the eager step would return, with the same effects, bit for bit; or runs the
step eagerly (a graph break: warned once, with the line and what to change); or, with `fullgraph=True`, raises
`CompileError` before any visible state changed. How: docs/compiled-step.md. Read in this order: tracer.py (what a
trace records and what breaks it), program.py (the generated program), guard.py and state.py (what is checked
before a replay, and what a call may change), step.py (the contract on every call)."""

from .guard import Guard
from .program import Program, identifier, numpy_text, store_grad
from .state import StepState
from .step import CompiledStep, compile
from .tracer import ArgumentArray, Break, CompileError, GraphBreakWarning, Tracer, trace

__all__ = ["ArgumentArray", "Break", "CompileError", "CompiledStep", "GraphBreakWarning", "Guard", "Program",
           "StepState", "Tracer", "compile", "identifier", "numpy_text", "store_grad", "trace"]
