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

from . import locations, modes

if TYPE_CHECKING:
    from .tensor import Tensor


class ShapeError(ValueError):
    """An op was given shapes it cannot combine. The message names the op and the shapes."""


class AnomalyError(FloatingPointError):
    """Raised inside `detect_anomaly()` by the first op whose forward or backward produces NaN or inf."""


class Op:
    """A recorded operation: its inputs (strong references), its output (a weak reference, so the graph has no
    reference cycle and dies with its last tensor), values saved for backward, and where it was created.

    Subclasses set `name` and write `forward` and `backward`; parameters given to `__init__` (axis, shape...) are
    kept for display. Values needed only by backward go through `self.save(...)` and are released after backward.
    """

    name = "op"
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

    # -- helpers -----------------------------------------------------------------------------------------------
    def save(self, **values: Any) -> None:
        """Keep arrays that only backward needs (masks, intermediate results); released after backward."""
        self.saved = values

    @property
    def source(self) -> str | None:
        """file:line where the op was created: the user's line, or the library's when no user code called it."""
        return None if self.location is None else self.location.user or self.location.library

    @property
    def output(self) -> Tensor | None:
        """The tensor this op produced (None once it has been garbage collected, or if it was not recorded)."""
        return None if self._output is None else self._output()

    @property
    def params(self) -> dict[str, Any]:
        """The op's parameters (axis, shape, index...), for display."""
        return {k: v for k, v in vars(self).items() if k not in Op.RECORDED}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={shorten(v)}" for k, v in self.params.items())
        shapes = ", ".join(str(t.shape) for t in self.inputs)
        where = f" in {'/'.join(self.scope)}" if self.scope else ""
        return f"<{self.name}({params}) on {shapes}{where}>"

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the op forward and, when grad mode is on and an input requires grad, record it in the graph."""
        op = cls(**params)
        try:
            y = op.forward(*[t._data for t in inputs])
        except ShapeError:
            raise  # the op's own message already names it and the shapes
        except ValueError as e:
            raise ShapeError(op.shape_error(inputs, e)) from e
        except TypeError as e:  # e.g. a string or object array: numpy's message does not say which op
            dtypes = ", ".join(str(t.dtype) for t in inputs)
            raise TypeError(f"{op.name}: cannot compute on dtype {dtypes}: {e}") from e
        out = Tensor._wrap(y)
        if y.base is not None:  # a view of an input's memory (reshape, transpose, slice): one write stamp for both
            for t in inputs:
                if _same_memory(y, t._data):
                    out._stamp = t.shared_stamp()
                    break
        if modes._anomaly.get():
            op.check_finite("forward", y, inputs)
        # record only when grad mode is on and an input requires grad; an integer or boolean result (a cast, a
        # comparison) has no gradient, like integer leaves. While tracing, every op is recorded, without grad.
        if modes._grad_enabled.get() and out._data.dtype.kind == "f":
            for t in inputs:
                if t.requires_grad:
                    op.record(inputs, out)
                    break
        elif out._data.dtype.kind == "c" and any(t.requires_grad for t in inputs):
            dtypes = " and ".join(str(t.dtype) for t in inputs)
            raise TypeError(f"{op.name}: complex numbers are not supported by autograd (input dtypes {dtypes}); "
                            f"keep the real and imaginary parts as two float tensors")
        if out.creator is None and modes._tracing.get() is not None:
            op.record(inputs, out, requires_grad=False)
        return out

    def record(self, inputs: tuple[Tensor, ...], out: Tensor, requires_grad: bool = True) -> None:
        """Link this op into the graph as the creator of `out` (and, while tracing, append it to the trace)."""
        out.requires_grad = requires_grad
        out.creator = self
        self.inputs = inputs
        self.stamp = Tensor._write_count  # an input or output written in place after this is stale (see `changed`)
        self.scope = modes._scope.get()
        self.location = locations.locate() if modes._record_source.get() or modes._anomaly.get() else None
        if self.location is not None and self.location.name and out.name is None and modes._record_source.get():
            out.name = self.location.name
        self.released = False
        self._output = weakref.ref(out)
        if modes._retain_grads.get() and requires_grad:
            out._retains_grad = True
        trace = modes._tracing.get()
        if trace is not None:
            trace.op(self, out)

    def release(self) -> None:
        """Free the values saved for backward (after a backward pass without retain_graph)."""
        self.saved = None
        self.released = True

    def changed(self) -> bool:
        """True when an input, or the output if backward reads it, was written in place after the op was recorded."""
        if Tensor._write_count == self.stamp:  # no write at all since then: the common case, one comparison
            return False
        output = self.output if self.saves_output else None
        return any(x._version > self.stamp for x in self.inputs) or (output is not None and
                                                                      output._version > self.stamp)

    def shape_error(self, inputs: tuple[Tensor, ...], error: Exception) -> str:
        shapes = " and ".join(str(t.shape) for t in inputs)
        if "broadcast" in str(error):
            return f"{self.name}: shapes {shapes} cannot broadcast"
        return f"{self.name}: shapes {shapes}: {error}"

    def check_finite(self, phase: str, value: np.ndarray, inputs: tuple[Tensor, ...]) -> None:
        if np.issubdtype(np.asarray(value).dtype, np.inexact) and not np.all(np.isfinite(value)):
            shapes = ", ".join(str(t.shape) for t in inputs)
            where = str(self.location or locations.locate())
            bad = "NaN" if np.isnan(value).any() else "inf"
            if phase == "forward":  # a NaN that was in an input already is not this op's doing: say so
                for i, t in enumerate(inputs):
                    if t.dtype.kind in "fc" and not np.all(np.isfinite(t._data)):
                        label = f" '{t.name}'" if t.name else ""
                        raise AnomalyError(
                            f"{'NaN' if np.isnan(t._data).any() else 'inf'} in the input of {self.name}: input {i}"
                            f"{label} (shape {t.shape}) already held it before the op ran; the op was created at "
                            f"{where}. Look where that input was computed.")
            raise AnomalyError(
                f"{self.name} produced {bad} in its {phase} pass (input shapes {shapes}); "
                f"the op was created at {where}"
            )


def shorten(value: Any, limit: int = 40) -> str:
    """value (repr of a non-string) cut to `limit` characters, ending in "..." when cut (for messages, labels)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


from .tensor import Tensor, _same_memory  # noqa: E402  (tensor.py imports the op classes, which import this module)
