"""The state a training step can read or change, for the compiled step's checks (see compile.py):

    state = StepState.scan({"model": model, "opt": opt, "x": x})   # everything reachable, each object once
    before = state.snapshot()        # copies: restore(before) puts every value back, in the same objects
    print(state.fingerprint())       # {path: token}: two fingerprints are equal when the states are, bit for bit

Reached: tensors (values, .grad, requires_grad), arrays, modules, optimizers, dicts, lists and tuples, random
generators, Python numbers and strings, other objects' attributes, and a module's globals named in `names`.
Functions, classes and modules themselves are compared by identity."""

from __future__ import annotations

import dis
import random
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import random as tg_random
from ..engine.tensor import Tensor
from ..support import locations

IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), np.generic, np.dtype, range, slice)
OPAQUE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type, types.CodeType, types.CellType)
LIMIT = 50_000  # objects reached; past it the state is too large to check (the step then runs eagerly)


class Names:
    """The entries `keys` of a namespace dict (a function's globals, a module's attributes): what the step's code
    can name there, without the rest of the module."""

    def __init__(self, namespace: dict, keys: Iterable[str]) -> None:
        self.namespace, self.keys = namespace, [k for k in dict.fromkeys(keys) if k in namespace]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self.namespace[k]) for k in self.keys if k in self.namespace]


class TooLarge(Exception):
    """The state reachable from the step is larger than LIMIT objects."""


class Bits:
    """An array's bytes, equal to another's exactly when the bytes are (a copy and a memcmp: faster than a hash, and
    exact)."""

    def __init__(self, a: np.ndarray) -> None:
        self.bytes = np.ascontiguousarray(a).tobytes() if a.dtype.kind != "O" else repr(a.tolist())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bits) and self.bytes == other.bytes

    __hash__ = None  # type: ignore[assignment]


def token(value: Any) -> tuple:
    """What identifies a value bit for bit: equal tokens, equal values (0.0 and -0.0 told apart, 1 and True too)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, Bits(value))
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.tobytes())
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, IMMUTABLE):
        return (type(value).__name__, repr(value))
    if isinstance(value, np.random.Generator):
        return ("rng", repr(value.bit_generator.state))
    return ("id", id(value))


class StepState:
    """Objects reachable from named roots, each with the path it was first reached by (`model.layers[0].W`)."""

    def __init__(self) -> None:
        self.paths: dict[int, str] = {}
        self.objects: list[Any] = []  # in the order reached (so two scans of one structure line up)
        self.names: set[str] = set()

    @classmethod
    def scan(cls, roots: dict[str, Any], names: Iterable[str] = ()) -> StepState:
        state = cls()
        state.names = set(names)
        for path, value, first in walk(roots, state.names):
            if first is None and not _plain(value):
                state.paths[id(value)] = path
                state.objects.append(value)
        return state

    def path(self, obj: Any) -> str | None:
        return self.paths.get(id(obj))

    def snapshot(self) -> list[tuple]:
        """Copies of every value, and the global random generators' states."""
        saved: list[tuple] = [("numpy.random", np.random.get_state()), ("random", random.getstate())]
        for obj in self.objects:
            if isinstance(obj, Tensor):
                saved.append((obj, obj._data, obj.grad, obj.requires_grad))
            elif isinstance(obj, np.ndarray):
                saved.append((obj, obj.copy()))
            elif isinstance(obj, np.random.Generator):
                saved.append((obj, obj.bit_generator.state))
            elif isinstance(obj, Names):
                saved.append((obj, dict(obj.items())))
            elif isinstance(obj, types.ModuleType):
                saved.append((obj, {k: v for k, v in vars(obj).items() if k in self.names}))
            elif isinstance(obj, list):
                saved.append((obj, list(obj)))
            elif isinstance(obj, dict):
                saved.append((obj, dict(obj)))
            elif _attributes(obj) is not None:
                saved.append((obj, dict(_attributes(obj))))
        return saved

    @staticmethod
    def restore(saved: list[tuple]) -> None:
        """Put back every value `snapshot` copied, into the same objects."""
        np.random.set_state(saved[0][1])
        random.setstate(saved[1][1])
        for obj, *values in saved[2:]:
            if isinstance(obj, Tensor):
                obj._data, obj.grad, obj.requires_grad = values
            elif isinstance(obj, np.ndarray):
                if obj.flags.writeable:
                    np.copyto(obj, values[0])
            elif isinstance(obj, np.random.Generator):
                obj.bit_generator.state = values[0]
            elif isinstance(obj, list):
                obj[:] = values[0]
            elif isinstance(obj, (Names, types.ModuleType)):
                (obj.namespace if isinstance(obj, Names) else vars(obj)).update(values[0])
            else:
                d = obj if isinstance(obj, dict) else _attributes(obj)
                d.clear()
                d.update(values[0])

    @staticmethod
    def fingerprint(roots: dict[str, Any], names: Iterable[str] = ()) -> dict[str, tuple]:
        """{path: token} of every value reachable from roots, and of the global random generators."""
        found = {"numpy.random": token(np.random.get_state()[1]), "random": ("random", repr(random.getstate()))}
        for path, value, first in walk(roots, set(names)):
            if first is not None:
                found[path] = ("same as", first)
            elif _plain(value) or isinstance(value, (np.ndarray, np.random.Generator)):
                found[path] = token(value)
            else:
                found[path] = (type(value).__name__,)
        return found


def walk(roots: dict[str, Any], names: set[str]) -> Iterable[tuple[str, Any, str | None]]:
    """(path, value, first path) for everything reachable from roots, depth first in a fixed order (so two walks of
    one structure line up); `first` is the path an object was reached by before (None the first time, and for plain
    values: numbers, strings, functions, which are never entered)."""
    stack, seen = list(reversed(roots.items())), {}
    while stack:
        path, value = stack.pop()
        if _plain(value):
            yield path, value, None
        elif id(value) in seen:
            yield path, value, seen[id(value)]
        else:
            if len(seen) >= LIMIT:
                raise TooLarge(f"more than {LIMIT:,} objects reachable from the step")
            seen[id(value)] = path
            yield path, value, None
            stack.extend(reversed(list(children(value, path, names))))


def _plain(value: Any) -> bool:
    """A value compared as it is and never entered: a number, a string, a function, a class, a compiled step."""
    return isinstance(value, (*IMMUTABLE, *OPAQUE)) or _opaque(value)


def children(value: Any, path: str, names: set[str]) -> Iterable[tuple[str, Any]]:
    """(path, value) of what `value` holds."""
    if isinstance(value, Tensor):
        yield f"{path}.data", value._data
        yield f"{path}.grad", value.grad
        yield f"{path}.requires_grad", value.requires_grad
        yield f"{path}.hooks", len(value._hooks or ())
    elif isinstance(value, (list, tuple)):
        yield from ((f"{path}[{i}]", v) for i, v in enumerate(value))
    elif isinstance(value, dict):
        yield from ((f"{path}[{k!r}]", v) for k, v in list(value.items()))
    elif isinstance(value, Names):
        yield from ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, types.ModuleType):  # a module: only the globals the step's code names
        yield from ((f"{path}.{k}", v) for k, v in vars(value).items() if k in names)
    elif isinstance(value, np.ndarray):
        if value.dtype.kind == "O":  # an array of Python objects: its elements
            yield from ((f"{path}[{i}]", v) for i, v in enumerate(value.ravel().tolist()))
    elif isinstance(value, np.random.Generator):
        return
    elif _attributes(value) is not None:
        yield from ((f"{path}.{k}", v) for k, v in list(_attributes(value).items()))


def _opaque(value: Any) -> bool:
    """Objects compared by identity only, never entered (a compiled step itself: its counters are not state)."""
    return getattr(type(value), "opaque_state", False)


def _compiled(value: Any) -> bool:
    """A CompiledStep (its `fn` is the step a trace goes through)."""
    return _opaque(value) and hasattr(value, "fn")


def root(a: np.ndarray) -> np.ndarray:
    """The array that owns a's memory."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _attributes(obj: Any) -> dict | None:
    d = getattr(obj, "__dict__", None)
    return d if isinstance(d, dict) and not isinstance(obj, (type, types.ModuleType)) else None


def differences(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:
    """The paths whose tokens differ between two fingerprints (present in one only included), in order."""
    return [p for p in dict.fromkeys([*a, *b]) if a.get(p) != b.get(p)]


# -- what a step reaches: its roots, and the names its code can read ------------------------------------------
def code_names(fn: Callable) -> tuple[set[str], set[str]]:
    """(globals, attributes): every global name and every attribute name that the code of fn, of the functions it
    reaches and of their objects' classes can load or store: what a trace may have read."""
    found: tuple[set[str], set[str]] = (set(), set())
    seen: set[int] = set()
    stack = [fn]
    while stack:
        value = stack.pop()
        if id(value) in seen or isinstance(value, IMMUTABLE):
            continue
        seen.add(id(value))
        if _compiled(value):
            stack.append(value.fn)
        elif isinstance(value, types.MethodType):
            stack += [value.__func__, value.__self__]
        elif hasattr(value, "__code__"):
            codes, used = [value.__code__], set()
            while codes:
                code = codes.pop()
                for instruction in dis.get_instructions(code):
                    if instruction.opname in GLOBAL_OPS:
                        used.add(instruction.argval)
                    elif instruction.opname in ATTRIBUTE_OPS:
                        found[1].add(instruction.argval)
                codes += [c for c in code.co_consts if hasattr(c, "co_names")]
            found[0].update(used)
            stack += [c.cell_contents for c in getattr(value, "__closure__", None) or () if _filled(c)]
            namespace = getattr(value, "__globals__", {})  # the user's functions it names: their code too
            stack += [namespace[n] for n in used if n in namespace and _callee(namespace[n])]
        elif not isinstance(value, OPAQUE) and hasattr(type(value), "__mro__"):
            for cls in type(value).__mro__[:-1]:  # the methods of an object's class: self.l2 read by self.loss
                if cls.__module__ not in ("builtins", "numpy"):
                    stack += [f for f in vars(cls).values() if hasattr(f, "__code__")]
    return found


GLOBAL_OPS = {"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME", "STORE_NAME"}
ATTRIBUTE_OPS = {"LOAD_ATTR", "STORE_ATTR", "DELETE_ATTR", "LOAD_METHOD"}


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
        return True
    except ValueError:
        return False


def step_roots(fn: Callable, leaves: list, given: list[str], names: set[str]) -> dict[str, Any]:
    """What a step can reach: its arguments, its object (a bound method), closure cells, the globals its code names
    (also those of the functions and compiled steps it calls) and tinygrad6's default generator."""
    roots: dict[str, Any] = dict(zip(given, leaves))
    functions, seen = [("", fn)], set()
    while functions:
        prefix, f = functions.pop()
        f = f.fn if _compiled(f) else f
        if id(f) in seen or len(seen) > 100:
            continue
        seen.add(id(f))
        if hasattr(f, "__self__"):
            roots[prefix + "self"] = f.__self__
        function = getattr(f, "__func__", f)
        code = getattr(function, "__code__", None)
        for var, cell in zip(code.co_freevars if code else (), getattr(function, "__closure__", None) or ()):
            if _filled(cell):
                roots[prefix + var] = cell.cell_contents
        namespace = getattr(function, "__globals__", None)
        if isinstance(namespace, dict):
            roots.setdefault(f"globals of {function.__module__}", Names(namespace, sorted(names)))
            functions += [(f"{k}.", v) for k, v in namespace.items() if k in names and _callee(v)]
        functions += [(f"{k}.", v) for k, v in list(roots.items()) if _callee(v)]
    roots["tinygrad6.random"] = Names(vars(tg_random), ["_generator"])
    return roots


def _callee(value: Any) -> bool:
    """A compiled step, or a function or bound method of the user's code, that a step may call."""
    code = getattr(getattr(value, "__func__", value), "__code__", None)
    return _compiled(value) or (code is not None and locations._kind(code.co_filename) == "user")

