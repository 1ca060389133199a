"""`Parameter` and `Module`: the containers that layers, models and optimizers share.

A Module finds its parameters, buffers and sub-modules by looking at its attributes (no registration needed,
except `register_buffer` for non-learned state such as BatchNorm's running statistics):

    class TwoLayerNet(Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = Linear(784, 50), Linear(50, 10)
        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

    net = TwoLayerNet()
    [name for name, _ in net.named_parameters()]    # ['fc1.W', 'fc1.b', 'fc2.W', 'fc2.b']

Parameters and Modules inside list, tuple and dict attributes are found too, named by index or key as PyTorch's
ParameterList and ModuleDict name theirs, but without special container classes: `self.scales = [Parameter(...),
...]` gives `scales.0`, `scales.1`; `self.heads = {"a": Linear(4, 2)}` gives `heads.a.W`, `heads.a.b`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..engine import modes
from ..engine.modes import scope
from ..engine.tensor import Tensor
from ..support import locations, tracing
from . import serialization


class Parameter(Tensor):
    """A Tensor that a Module learns: always requires grad; `Module.parameters()` finds it among the attributes."""

    def __init__(self, data, name: str | None = None, dtype=None) -> None:
        super().__init__(data, requires_grad=True, name=name, dtype=dtype)

    @Tensor.data.setter
    def data(self, value: np.ndarray) -> None:
        """A parameter keeps its shape and dtype (an optimizer's state and the model's layers rely on them):
        assigning values of another shape or dtype raises ValueError naming both."""
        if value is self._data:  # an in-place update (`p.data -= lr * g`, every optimizer) returns the same array
            self._stamp_write()
            return
        value = value._data if isinstance(value, Tensor) else np.asarray(value)
        if value.shape != self.shape or value.dtype != self.dtype:
            label = f" '{self.name}'" if self.name else ""
            raise ValueError(f"Parameter{label}: cannot assign .data of shape {value.shape} dtype {value.dtype} to a "
                             f"parameter of shape {self.shape} dtype {self.dtype}; make a new Parameter to change its "
                             f"shape or dtype, or cast first (value.astype({self.dtype}))")
        Tensor.data.fset(self, value)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of layers and models. Subclasses call `super().__init__()` and write `forward`.

    `module(x)` runs `forward(x)` inside `scope(<class name>)`, so the graph renderer groups a layer's ops.
    `training` (True after construction) is the per-module flag Dropout and BatchNorm read; `train()` and
    `eval()` set it on the module and all its children.
    """

    def __init__(self) -> None:
        self.training = True
        self._buffers: list[str] = []

    def forward(self, *args, **kwargs) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs) -> Any:
        tracing.observe("module", self)
        with scope(type(self).__name__):
            out = self.forward(*args, **kwargs)
        if modes._record_source.get():  # `h = layer(x)` in the user's code names the output h
            locations.name_from_caller(out, sys._getframe(1), args)
        return out

    # -- what the module contains -----------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules: attributes that are Modules, and Modules inside list, tuple and dict attributes
        (named `attr.i`, `attr.key`)."""
        for name, value in _members(self):
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`) and every module below it, depth first, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for every Parameter of this module and its children, each once: a module's own
        (its attributes, also inside list/tuple/dict attributes) before those of its sub-modules, depth first."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, value in _members(module):
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield _join(prefix, name), value

    def parameters(self) -> list[Parameter]:
        """All parameters, in a list (pass it to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep `value` (a numpy array, not learned) as attribute `name` and in the state_dict."""
        if name not in self._buffers:
            self._buffers.append(name)
        setattr(self, name, np.asarray(value))

    def buffer(self, name: str) -> Tensor:
        """Buffer `name` as a leaf Tensor sharing its array, for use in forward (a compiled step reads the buffer's
        current value here on every call)."""
        t = Tensor(getattr(self, name))
        tracing.observe("read", self, name, t)
        return t

    def set_buffer(self, name: str, value: Tensor) -> None:
        """Store the values of `value` as buffer `name` (a compiled step stores its new value here on every call)."""
        setattr(self, name, value._data)
        tracing.observe("write", self, name, value)

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for prefix, module in self.named_modules():
            for name in getattr(module, "_buffers", ()):
                yield _join(prefix, name), getattr(module, name)

    # -- modes and gradients ------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) on this module and its children."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Set evaluation mode (Dropout is the identity, BatchNorm uses its running statistics)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (sets `.grad` to None)."""
        for p in self.parameters():
            p.grad = None

    # -- saving and loading -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter's values and every buffer, as plain numpy arrays under dotted names."""
        return {key: np.array(getattr(owner, attr), copy=True) for key, (owner, attr) in self._state_slots().items()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values from `state` (name -> array or Tensor) into the parameters and buffers, cast to their dtypes.

        Every key, shape and dtype is checked before anything is written, so on an error the module is unchanged.
        strict=True: a missing or unexpected key raises KeyError. Shapes must always match (ValueError). A value
        is cast to the model's dtype within the same kind or to a wider one (float64 -> float32, int -> float, as
        numpy's "same_kind" casting); anything else (complex, text, objects) is a ValueError.
        Returns (missing keys, unexpected keys)."""
        slots = self._state_slots()
        where = f"load_state_dict into {type(self).__name__}"
        missing, unexpected = serialization.compare_keys(where, slots, state, strict)
        values = {}
        for key, (owner, attr) in slots.items():
            if key not in state:
                continue
            current = getattr(owner, attr)
            value = state[key].data if isinstance(state[key], Tensor) else np.asarray(state[key])
            serialization.check_fits(where, key, "the state", value.shape, value.dtype, current)
            values[key] = np.array(value, dtype=current.dtype, copy=True)
        for key, value in values.items():
            owner, attr = slots[key]
            setattr(owner, attr, value)  # a Parameter's `.data`, or a buffer attribute
        return missing, unexpected

    def save(self, path: str | os.PathLike) -> None:
        """Write the state_dict to `path` (exactly that name) as an .npz archive: numpy arrays only, no pickle, so
        an object-dtype buffer is refused (TypeError naming it), as `load` would refuse it; so is a key that would
        not come back from the archive as it is (ValueError naming it: not printable text, or two keys that give
        one member name). Both are checked before the destination is touched.

        The file is written by `files.replace_file`: to a temporary file in the same folder, renamed over `path`,
        so an interrupted or refused save never leaves a half-written file where a good one was (a symlink at
        `path` is replaced, not followed), and the file gets the permissions `open(path, "w")` would give."""
        path = os.fspath(path)
        serialization.write_npz(path, self.state_dict(), f"{type(self).__name__}.save: {path}")

    def load(self, path: str | os.PathLike, strict: bool = True) -> Module:
        """Load a file written by `save` into this module's parameters and buffers, and return self.

        Nothing is unpickled and nothing is read blindly: the archive's directory gives the names and sizes, each
        array's .npy header its shape and dtype, and all of them are checked (keys as `load_state_dict` with
        `strict`, shapes, dtypes, sizes) before any data is decompressed; a member that is not needed
        (strict=False) is never read. Every refusal is one line naming the file and the problem (ValueError;
        KeyError for keys, FileNotFoundError for a missing file), and leaves the module unchanged."""
        path = os.fspath(path)
        current = {key: getattr(owner, attr) for key, (owner, attr) in self._state_slots().items()}
        state = serialization.read_npz(path, f"{type(self).__name__}.load: {path}", current, strict)
        self.load_state_dict(state, strict=False)  # keys were checked against the archive
        return self

    def _state_slots(self) -> dict[str, tuple[Parameter | Module, str]]:
        """state_dict key -> (object, attribute) that holds its array: (parameter, "data") for the parameters,
        then (owning module, buffer name) for the buffers."""
        slots: dict[str, tuple[Parameter | Module, str]] = {name: (p, "data") for name, p in self.named_parameters()}
        for prefix, module in self.named_modules():
            for attr in getattr(module, "_buffers", ()):
                slots[_join(prefix, attr)] = (module, attr)
        return slots

    # -- display ------------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr (subclasses describe their settings)."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {text}")
        return "\n".join(lines) + "\n)"


# -- helpers: finding members, checking and reading files -----------------------------------------------------------
def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _members(module: Module) -> Iterator[tuple[str, Parameter | Module]]:
    """The Parameters and Modules among `module`'s attributes, in attribute order, also those inside list, tuple
    and dict attributes at any depth (named `attr.0`, `attr.key`, `attr.key.0`); each container is opened once.

    A dict key on the way to a Parameter or Module must be a non-empty string without '.', since it becomes part
    of a dotted state-dict name (TypeError otherwise); dicts that hold neither may have any keys."""
    opened: set[int] = set()
    stack: list[tuple[str, Any, str | None]] = [(name, value, None) for name, value in reversed(vars(module).items())]
    while stack:
        name, value, bad_key = stack.pop()  # bad_key: the first unusable dict key on the way here, described
        if isinstance(value, (Parameter, Module)):
            if bad_key is not None:
                raise TypeError(f"{type(module).__name__}.{bad_key} holds a {type(value).__name__}; a key of a "
                                f"dict of Parameters or Modules must be a string without '.', since it becomes part "
                                f"of names like '{name}'")
            yield name, value
        elif isinstance(value, (list, tuple, dict)) and id(value) not in opened:
            opened.add(id(value))
            if isinstance(value, dict):
                inside = [(f"{name}.{key}", item, bad_key if bad_key or _plain_key(key) else f"{name}: key {key!r}")
                          for key, item in value.items()]
            else:
                inside = [(f"{name}.{i}", item, bad_key) for i, item in enumerate(value)]
            stack.extend(reversed(inside))


def _plain_key(key: Any) -> bool:
    return isinstance(key, str) and key != "" and "." not in key
