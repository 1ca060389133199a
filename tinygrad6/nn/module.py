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
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..modes import scope
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module learns: always requires grad; `Module.parameters()` finds it among the attributes."""

    def __init__(self, data, name: str | None = None, dtype=None) -> None:
        super().__init__(data, requires_grad=True, name=name, dtype=dtype)

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
        with scope(type(self).__name__):
            return self.forward(*args, **kwargs)

    # -- what the module contains -----------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules: attributes that are Modules, and Modules inside list/tuple attributes (named
        `attr.i`)."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

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
        """(dotted name, parameter) for every Parameter of this module and its children, each once."""
        for name, module, attr in self._parameter_slots():
            yield name, getattr(module, attr)

    def parameters(self) -> list[Parameter]:
        """All parameters, in a list (pass it to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep `value` (a numpy array, not learned) as attribute `name` and in the state_dict."""
        if name not in self._buffers:
            self._buffers.append(name)
        setattr(self, name, np.asarray(value))

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for prefix, module in self.named_modules():
            for name in getattr(module, "_buffers", ()):
                yield (f"{prefix}.{name}" if prefix else name), getattr(module, name)

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
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update((name, np.array(b, copy=True)) for name, b in self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values from `state` (name -> array or Tensor) into the parameters and buffers, cast to their dtypes.

        Every key and shape is checked before anything is written, so on an error the module is unchanged.
        strict=True: a missing or unexpected key raises KeyError. Shapes must always match (ValueError).
        Returns (missing keys, unexpected keys)."""
        targets = self._state_targets()
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict into {type(self).__name__}: missing keys {missing}, unexpected keys "
                           f"{unexpected}; expected exactly {list(targets)}")
        values = {}
        for key, (module, attr) in targets.items():
            if key not in state:
                continue
            current = getattr(module, attr)
            value = state[key].data if isinstance(state[key], Tensor) else np.asarray(state[key])
            if value.shape != current.shape:
                raise ValueError(f"load_state_dict into {type(self).__name__}: '{key}' has shape {value.shape} in "
                                 f"the state but {current.shape} in the model; the model is unchanged")
            values[key] = np.array(value, dtype=current.dtype, copy=True)
        for key, value in values.items():
            module, attr = targets[key]
            current = getattr(module, attr)
            if isinstance(current, Tensor):
                current.data = value
            else:
                setattr(module, attr, value)
        return missing, unexpected

    def save(self, path: str | os.PathLike) -> None:
        """Write the state_dict to `path` (exactly that name) as an .npz archive: numpy arrays only, no pickle.

        The archive is written to a temporary file in the same directory and renamed over `path`, so an
        interrupted save never leaves a half-written file where a good one was."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **self.state_dict())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def load(self, path: str | os.PathLike, strict: bool = True) -> Module:
        """Load a file written by `save` (with `allow_pickle=False`: loading never runs code). Returns self."""
        with np.load(os.fspath(path), allow_pickle=False) as archive:
            state = {name: archive[name] for name in archive.files}
        self.load_state_dict(state, strict=strict)
        return self

    def _parameter_slots(self) -> Iterator[tuple[str, Module, str]]:
        """(dotted name, owning module, attribute name) for every parameter, each parameter once."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for attr, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{prefix}.{attr}" if prefix else attr), module, attr

    def _state_targets(self) -> dict[str, tuple[Module, str]]:
        """state_dict key -> (owning module, attribute name): the parameters, then the buffers."""
        targets = {name: (module, attr) for name, module, attr in self._parameter_slots()}
        for prefix, module in self.named_modules():
            for attr in getattr(module, "_buffers", ()):
                targets[f"{prefix}.{attr}" if prefix else attr] = (module, attr)
        return targets

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
