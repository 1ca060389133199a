"""`CompiledStep`: the cache of programs, the contract on every call (replay, eager with a warning, or refuse), and
the verification of each program's first replay against eager."""

from __future__ import annotations

import inspect
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import nn, optim
from ..engine import modes
from ..engine.tensor import Tensor
from ..functional import DropoutMask
from ..support import tracing
from .guard import Guard, build_guard
from .program import Program, Unsupported, identifier
from .state import IMMUTABLE, StepState, TooLarge, code_names, differences, step_roots, token
from .tracer import ArgumentArray, Break, CompileError, GraphBreakWarning, Tracer, flatten, leaf_key, unflatten


@dataclass
class Entry:
    key: tuple
    program: Program
    guard: Guard
    keep: list  # the arguments keyed by identity, kept alive so their ids are not reused
    traced: list | None  # the traced call's arguments, bit for bit (while the program keeps arrays it made)
    verified: bool = False


class CompiledStep:
    """`fn` traced on its first call for each kind of arguments, replayed as a program after that. `programs` is the
    cache, in trace order; a call runs the first whose key matches and whose guard passes."""

    opaque_state = True  # not part of the state a step changes (see stepstate)

    def __init__(self, fn: Callable, cache_size: int = 8, fullgraph: bool = False, verify: bool = True) -> None:
        self.fn, self.cache_size, self.fullgraph, self.verify = fn, cache_size, fullgraph, verify
        self.programs: list[Entry] = []
        self.last: Program | None = None
        self.traces = 0  # how many times fn was traced
        self.replays = 0  # how many calls ran a program
        self.eager_calls = 0  # how many calls ran fn eagerly (after a graph break, or while a mode forbids a replay)
        self.breaks: list[Break] = []  # why the step runs eagerly (empty while it compiles)
        self.log: list[str] = []  # guard failures and verifications, for explain()
        self.verify_seconds = 0.0  # time spent checking first replays against eager
        self.warned: set[str] = set()
        # for viz.draw(step), from the last trace: loss and gradients, each gradient's parameter, optimizers stepped
        self.traced, self.traced_params, self.traced_updates = [], [], []  # type: ignore[var-annotated]
        self.names = None  # set on the first trace

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if tracing.active.get() is not None:  # called inside another compiled step's trace: traced as part of it
            return self.fn(*args, **kwargs)
        problem = ("detect_anomaly() is on" if modes._anomaly.get() else
                   "retain_grads() is on" if modes._retain_grads.get() else None)
        if self.breaks or problem:
            if problem and self.fullgraph:
                raise CompileError(f"compile(fullgraph=True): {problem}; its checks do not run in a replay: leave "
                                   f"the block, or call the step function itself")
            if problem:
                self._warn(Break(problem, fix="its effects do not run in a replay, so this call runs eagerly"),
                           permanent=False)
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        leaves: list = []
        structure = flatten((args, kwargs), leaves)
        roots: list[int] = []
        key = (modes._grad_enabled.get(), structure, tuple(leaf_key(v, roots) for v in leaves))
        for entry in self.programs:
            if entry.key == key:
                if entry.guard.check():
                    self.last = entry.program
                    # verified once; on the traced arguments again, the arrays the program kept are right anyway
                    if not entry.verified and (self.verify or entry.program.fresh) and (
                            entry.traced is None or entry.traced != _tokens(leaves)):
                        return self._verify(entry, args, kwargs, leaves)
                    self.replays += 1
                    return entry.program.run(*leaves)
                self.log.append(f"guard failed, retracing: {entry.guard.failure()}")
        if self.traces >= 2 * self.cache_size:
            self._warn(Break(f"the step was traced {self.traces} times (its guards keep failing: "
                             f"{self.log[-1] if self.log else 'new arguments'})",
                             fix="keep settings fixed between calls, or run this step eagerly"))
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        return self._trace(key, args, kwargs, leaves)

    def _given(self, leaves: list, structure_args: tuple) -> list[str]:
        try:
            params = list(inspect.signature(self.fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        plain = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(plain) == len(leaves) == len(structure_args):
            given = [identifier(p.name, "arg") for p in plain]
            if len(set(given)) == len(given) and not set(given) & {"np", "Tensor", "store_grad"}:
                return given
        return [f"arg{i}" for i in range(len(leaves))]

    def _trace(self, key: tuple, args: tuple, kwargs: dict, leaves: list) -> Any:
        given = self._given(leaves, args if not kwargs else ())
        global_names, names = code_names(self.fn)  # (names are the attribute names the code can read)
        roots = step_roots(self.fn, leaves, given, global_names)
        try:
            state = StepState.scan(roots, names)
            before = state.snapshot() if self.fullgraph else None  # (only a refusal puts the state back)
            print_before = StepState.fingerprint(roots, names)
        except TooLarge as e:
            return self._break_now(Break(str(e), fix="run this step eagerly, or compile a step that reaches less"),
                                   args, kwargs)
        grads_before = {id(t): t.grad for t in state.objects if isinstance(t, Tensor)}
        recorded = Tracer(self.fullgraph, grads_before)
        traced_leaves = [v.view(ArgumentArray) if type(v) is np.ndarray else v for v in leaves]
        targs, tkwargs = unflatten(flatten((args, kwargs), []), traced_leaves)
        self.traces += 1
        try:
            with modes._Mode(tracing.active, recorded), modes._Mode(modes._record_source, modes._record_source.get()):
                result = self.fn(*targs, **tkwargs)
        except CompileError:
            StepState.restore(before)
            raise
        problems = list(recorded.breaks)
        program = None
        if not problems:
            try:
                program = Program(recorded, self.fn, given, leaves, result, set(state.paths))
            except Unsupported as e:
                problems.append(e.args[0])
        if not problems:
            problems += self._untraced_effects(recorded, state, print_before, StepState.fingerprint(roots, names))
        if problems:
            if self.fullgraph:
                StepState.restore(before)
                raise CompileError(f"compile(fullgraph=True): {problems[0]}")
            for problem in problems:
                self._warn(problem)
            return result
        guard = build_guard(recorded, program, state, names)
        keep = [v for v in leaves if not isinstance(v, (np.ndarray, Tensor, *IMMUTABLE))]
        traced = _tokens(leaves) if program.fresh else None
        entry = Entry(key, program, guard, keep, traced)
        self.programs = self.programs[len(self.programs) + 1 - self.cache_size:] + [entry]
        self.last = program
        self.traced_params, grads = list(zip(*[e[1:3] for e in recorded.events if e[0] == "grad"])) or ((), ())
        self.traced = [result] * isinstance(result, Tensor) + list(grads)
        self.traced_updates = [e[1] for e in recorded.events if e[0] == "call" and e[2].__name__ == "step"]
        return result

    def _untraced_effects(self, recorded: Tracer, state: StepState, before: dict, after: dict) -> list[Break]:
        """The changes the traced call made that the program would not make again (a Python counter, a list
        appended to, a global rebound, numpy's random state...), as Breaks."""
        allowed = ["tinygrad6.random"]
        for event in recorded.events:
            if event[0] == "call":
                allowed.append(state.path(event[1]))
                allowed += [f"{state.path(p)}.{a}" for p in getattr(event[1], "params", ()) for a in ("data", "grad")]
            elif event[0] == "grad":
                allowed.append(f"{state.path(event[1])}.grad")
            elif event[0] == "write":
                allowed.append(f"{state.path(event[1])}.{event[2]}")
            elif event[0] == "op" and isinstance(event[1], DropoutMask):
                allowed.append(state.path(event[1].rng))
        allowed = [a for a in allowed if a and not a.startswith("None")]
        changed = [p for p in differences(before, after)
                   if not any(p == a or p.startswith((a + ".", a + "[")) for a in allowed)]
        if not changed:
            return []
        what = "numpy's global random generator" if changed[0] == "numpy.random" else \
            "Python's random module" if changed[0] == "random" else changed[0]
        return [Break(f"the step changes {what} outside tinygrad6 ops ({len(changed)} value(s) changed)",
                      fix="a replay would not change it again: draw random numbers with tinygrad6 ops (Dropout) and "
                      "keep counters and lists outside the compiled step")]

    def _verify(self, entry: Entry, args: tuple, kwargs: dict, leaves: list) -> Any:
        """Run the first replay of a program, then the eager step from the same state, and compare bit for bit
        everything the program touches (its modules, optimizers, tensors and generators, the arguments, the result:
        the trace already showed the step changes nothing else); keep eager's result. A difference is a graph
        break."""
        start = time.perf_counter()
        given, names = self._given(leaves, args if not kwargs else ()), set()
        roots = {**dict(zip(given, leaves)), "program": _touched(entry)}
        try:
            state = StepState.scan(roots, names)
        except TooLarge as e:
            return self._break_now(Break(str(e), fix="the first replay cannot be verified; run this step eagerly"),
                                   args, kwargs)
        before = state.snapshot()
        replayed = entry.program.run(*leaves)
        with_program = StepState.fingerprint({**roots, "result": _values(replayed)}, names)
        StepState.restore(before)
        result = self.fn(*args, **kwargs)
        with_eager = StepState.fingerprint({**roots, "result": _values(result)}, names)
        differ = differences(with_program, with_eager)
        self.verify_seconds += time.perf_counter() - start
        if differ and self.fullgraph:
            StepState.restore(before)
            raise CompileError(f"compile(fullgraph=True): the program's first replay differs from the eager step in "
                               f"{differ[0]}: the step computes something with numpy from its arguments; make it "
                               f"with tensor ops")
        if differ:
            self._warn(Break(f"the program's first replay differs from the eager step in {differ[0]}"
                             f"{f' and {len(differ) - 1} more value(s)' if len(differ) > 1 else ''}",
                             fix="this step runs eagerly (please report it: the trace missed something)"))
            self.eager_calls += 1
            return result
        entry.verified = True
        self.log.append(f"verified: the first replay equals the eager step ({len(with_eager)} values compared)")
        self.replays += 1
        return result

    def _break_now(self, problem: Break, args: tuple, kwargs: dict) -> Any:
        if self.fullgraph:
            raise CompileError(f"compile(fullgraph=True): {problem}")
        self._warn(problem)
        self.eager_calls += 1
        return self.fn(*args, **kwargs)

    def _warn(self, problem: Break, permanent: bool = True) -> None:
        if permanent:
            self.breaks.append(problem)
        text = f"compile: {getattr(self.fn, '__qualname__', 'the step')} runs eagerly: {problem}"
        self.log.append(text)
        if text not in self.warned:
            self.warned.add(text)
            warnings.warn(text, GraphBreakWarning, stacklevel=_user_level())

    def explain(self) -> str:
        """What happened to this step: traces, replays, eager calls, each graph break and guard failure."""
        lines = [f"{getattr(self.fn, '__qualname__', 'step')}: traced {self.traces} time(s), {self.replays} "
                 f"replay(s), {self.eager_calls} eager call(s)" +
                 (f", {self.verify_seconds * 1e3:.1f} ms verifying" if self.verify_seconds else "")]
        lines += [f"  graph break: {b}" for b in self.breaks]
        lines += [f"  kept from the trace (checked against eager on other arguments): {f}"
                  for f in dict.fromkeys(f for e in self.programs for f in e.program.fresh)]
        lines += [f"  {entry}" for entry in dict.fromkeys(self.log) if not entry.startswith("compile:")]
        return "\n".join(lines)

    def source(self) -> str:
        """The generated program of the last call (Python text)."""
        if self.last is None:
            raise RuntimeError("source(): no program yet: the first call traces the step"
                               + (f" (it runs eagerly: {self.breaks[0]})" if self.breaks else ""))
        return self.last.source


def _tokens(leaves: list) -> list[tuple]:
    """The arguments' values, bit for bit (a tensor by its array)."""
    return [token(v._data if isinstance(v, Tensor) else v) for v in leaves]


def _user_level() -> int:
    """The stacklevel of warnings.warn called here that names the line calling the compiled step."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _values(result: Any) -> Any:
    """What a step returned, tensors as their arrays (the program's tensors carry no graph)."""
    return tuple(_values(r) for r in result) if isinstance(result, tuple) else \
        result._data if isinstance(result, Tensor) else result


def _touched(entry: Entry) -> list:
    """What a program reads and changes: its modules, optimizers and tensors, and its random ops' generators."""
    kinds = (nn.Module, optim.Optimizer, Tensor)
    return [v for v in entry.program.namespace.values() if isinstance(v, kinds)] + entry.program.rngs


def compile(fn: Callable, cache_size: int = 8, fullgraph: bool = False,  # noqa: A001  (named as torch.compile)
            verify: bool = True) -> CompiledStep:
    """A training step `fn` (zero_grad, forward, backward, opt.step(), return the loss) as a `CompiledStep`.
    fullgraph: raise CompileError (state unchanged) instead of running eagerly where the step cannot be replayed.
    verify: check the first replay of each program against the eager step, bit for bit (one extra eager call)."""
    return CompiledStep(fn, cache_size, fullgraph, verify)

