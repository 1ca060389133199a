"""`Op`: one node of the computation graph. Every operation is a small subclass with `forward` and `backward`.

    forward(*arrays)  -> ndarray       computes the output from numpy arrays
    backward(gy)      -> grad per input written with Tensor operations, so that the backward pass can itself be
                         recorded (`backward(create_graph=True)`) and differentiated again

Broadcasting is undone in one place, the backward loop (`autograd.py`): a backward rule may return a gradient of
the broadcast shape and the loop sums it back to the input's shape.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from ..support import errors, locations, tracing
from ..support.display import shorten
from . import modes

if TYPE_CHECKING:
    from .tensor import Tensor


class Op:
    """A recorded operation: its inputs (strong references), its output (a weak reference, so the graph has no
    reference cycle and dies with its last tensor), values saved for backward, and where it was created.

    Subclasses write `forward` and `backward`; parameters given to `__init__` (axis, shape...) are kept for
    display. A rule reads only the op's inputs and output (so a compiled step can replay it on new data); an op of
    your own may keep other values with `self.save(...)`, released after backward. An op's
    `name` is its class name in lower case (`MatMul` -> "matmul") unless the class sets another.
    """

    name = "op"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__dict__.get("name", cls.__name__.lower())
    saves_output = False  # True when backward reads self.output: writing into the output is then checked too

    # set by `record` for an op in the graph; these class values are what an op run without recording shows
    inputs: tuple[Tensor, ...] = ()
    saved: dict[str, Any] | None = None
    scope: tuple[str, ...] = ()
    location: locations.Location | None = None
    stamp = 0
    released = False
    _output = None
    RECORDED = ("inputs", "saved", "scope", "location", "stamp", "released", "_output")

    # -- the two methods each op writes ---------------------------------------------------------------------
    def forward(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, gy: Tensor) -> Tensor | tuple[Tensor | None, ...] | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the op forward and, when grad mode is on and an input requires grad, record it in the graph."""
        op = cls(**params)
        try:
            y = op.forward(*[t._data for t in inputs])
        except (ValueError, TypeError) as e:
            raise errors.forward_error(op, inputs, e) from e
        out = Tensor._wrap(y)
        y = out._data  # an ndarray (a reduction to a scalar gives a numpy scalar)
        if y.base is not None:  # a view of an input's memory (reshape, transpose, slice): one write stamp for both
            out._stamp = next((t.shared_stamp() for t in inputs if same_memory(y, t._data)), None)
        if modes._anomaly.get():
            errors.check_finite(op, "forward", y, inputs)
        # record only when grad mode is on and an input requires grad; an integer or boolean result (a cast, a
        # comparison) has no gradient, like integer leaves. While tracing, every op is recorded, without grad.
        if modes._grad_enabled.get() and y.dtype.kind == "f":
            for t in inputs:
                if t.requires_grad:
                    op.record(inputs, out)
                    break
        elif y.dtype.kind in "cO" and any(t.requires_grad for t in inputs):  # not silently left out of the graph
            raise errors.dtype_error(op, inputs, y.dtype)
        if out.creator is None and tracing.active.get() is not None:
            op.record(inputs, out, requires_grad=False)
        return out

    def record(self, inputs: tuple[Tensor, ...], out: Tensor, requires_grad: bool = True) -> None:
        """Link this op into the graph as the creator of `out` (and, while tracing, append it to the trace)."""
        out.requires_grad = requires_grad
        out.creator = self
        self.inputs = inputs
        self.stamp = Tensor._write_count  # an input or output written in place after this is stale (see `changed`)
        self.scope = modes._scope.get()
        self._output = weakref.ref(out)
        self.released = False
        if modes._record_source.get() or modes._anomaly.get():
            self.location = locations.locate()
            if self.location.name and out.name is None and modes._record_source.get():
                out.name = self.location.name
        if modes._retain_grads.get() and requires_grad:
            out._retains_grad = True
        tracing.observe("op", self, out)

    # -- what backward reads --------------------------------------------------------------------------------
    def save(self, **values: Any) -> None:
        """Keep arrays that only backward needs (masks, intermediate results); released after backward."""
        self.saved = values

    @property
    def output(self) -> Tensor | None:
        """The tensor this op produced (None once it has been garbage collected, or if it was not recorded)."""
        return None if self._output is None else self._output()

    def release(self) -> None:
        """Free the values saved for backward (after a backward pass without retain_graph)."""
        self.saved = None
        self.released = True

    def changed(self) -> bool:
        """True when an input, or the output if backward reads it, was written in place after the op was recorded."""
        if Tensor._write_count == self.stamp:  # no write at all since then: the common case, one comparison
            return False
        output = self.output if self.saves_output else None
        return any(x._version > self.stamp for x in (*self.inputs, *([output] if output is not None else [])))

    # -- for display --------------------------------------------------------------------------------------------
    @property
    def source(self) -> str | None:
        """file:line where the op was created: the user's line, or the library's when no user code called it."""
        return None if self.location is None else self.location.user or self.location.library

    @property
    def params(self) -> dict[str, Any]:
        """The op's parameters (axis, shape, index...), for display."""
        return {k: v for k, v in vars(self).items() if k not in Op.RECORDED}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={shorten(v)}" for k, v in self.params.items())
        where = f" in {'/'.join(self.scope)}" if self.scope else ""
        return f"<{self.name}({params}) on {', '.join(str(t.shape) for t in self.inputs)}{where}>"


from .tensor import Tensor, same_memory  # noqa: E402  (the one import cycle, see the end of tensor.py)
