"""The errors the engine raises, and the checks that raise them with a message naming the op, the shapes and what
to do. The core calls these at three points: an op's forward fails (`Op.apply`), a value is NaN or inf under
`detect_anomaly()`, and a backward rule cannot run (`autograd.backward_steps`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import locations

if TYPE_CHECKING:
    from ..engine.op import Op
    from ..engine.tensor import Tensor


class ShapeError(ValueError):
    """An op was given shapes it cannot combine. The message names the op and the shapes."""


class AnomalyError(FloatingPointError):
    """Raised inside `detect_anomaly()` by the first op whose forward or backward produces NaN or inf."""


def forward_error(op: Op, inputs: tuple[Tensor, ...], error: Exception) -> Exception:
    """The error to raise, chained to `error`, when op's forward raised `error` on `inputs`."""
    if isinstance(error, ShapeError):
        return error  # the op's own message already names it and the shapes
    if isinstance(error, TypeError):  # e.g. a string or object array: numpy's message does not say which op
        return TypeError(f"{op.name}: cannot compute on dtype {', '.join(str(t.dtype) for t in inputs)}: {error}")
    shapes = " and ".join(str(t.shape) for t in inputs)
    if "broadcast" in str(error):
        return ShapeError(f"{op.name}: shapes {shapes} cannot broadcast")
    return ShapeError(f"{op.name}: shapes {shapes}: {error}")


def dtype_error(op: Op, inputs: tuple[Tensor, ...], dtype: np.dtype) -> TypeError:
    """The error for an op on inputs that require grad whose result is complex or object (which autograd cannot
    follow: recording nothing would silently leave the op out of the gradient)."""
    dtypes = " and ".join(str(t.dtype) for t in inputs)
    if dtype.kind == "c":
        return TypeError(f"{op.name}: complex numbers are not supported by autograd (input dtypes {dtypes}); keep the "
                         f"real and imaginary parts as two float tensors")
    return TypeError(f"{op.name}: the result has dtype object (input dtypes {dtypes}), which autograd cannot "
                     f"differentiate: numpy keeps Python objects where an integer does not fit in int64 (2**64) "
                     f"or data mixes types. Convert the data to float first, e.g. Tensor([2.0**64, 1.0])")


def masked_error(data: np.ma.MaskedArray) -> TypeError:
    return TypeError(f"Tensor: a masked array (shape {data.shape}) would lose its mask: Tensor holds plain arrays. "
                     f"Fill the masked values first (data.filled(0.0)), or keep the mask as a tensor of its own and "
                     f"multiply by it")


def array_error(t: Tensor) -> RuntimeError:
    """Raised by np.asarray(t) (`__array__`) for a tensor that requires grad, as PyTorch does: numpy functions that
    are not ufuncs (np.concatenate, np.r_, np.stack...) would make an array of it and silently cut the graph."""
    return RuntimeError(f"cannot turn a tensor that requires grad (shape {t.shape}) into a numpy array: numpy would "
                        f"drop its graph, so no gradient would flow back. Use t.detach() (or t.data) for the values "
                        f"alone, or tinygrad6's own functions (tinygrad6.concatenate, tinygrad6.stack) to stay in "
                        f"the graph")


def check_finite(op: Op, phase: str, value: np.ndarray, inputs: tuple[Tensor, ...]) -> None:
    """Under detect_anomaly: raise AnomalyError when `value`, made by op's `phase` ("forward" or "backward"), holds
    NaN or inf, saying so when an input already held it (then it is not this op's doing)."""
    if value.dtype.kind not in "fc" or np.all(np.isfinite(value)):
        return
    where = str(op.location or locations.locate())
    if phase == "forward":
        for i, t in enumerate(inputs):
            if t.dtype.kind in "fc" and not np.all(np.isfinite(t._data)):
                label = f" '{t.name}'" if t.name else ""
                raise AnomalyError(
                    f"{'NaN' if np.isnan(t._data).any() else 'inf'} in the input of {op.name}: input {i}{label} "
                    f"(shape {t.shape}) already held it before the op ran; the op was created at {where}. Look "
                    f"where that input was computed.")
    shapes = ", ".join(str(t.shape) for t in inputs)
    raise AnomalyError(f"{op.name} produced {'NaN' if np.isnan(value).any() else 'inf'} in its {phase} pass (input "
                       f"shapes {shapes}); the op was created at {where}")


def raise_unusable(op: Op) -> None:
    """Raise, saying what happened, when op's backward cannot run: its saved values were released, or an input
    (or the output its rule reads) was written in place after the forward pass."""
    if op.released:
        raise RuntimeError(
            f"backward through {op.name} a second time, but its saved values were released after the first "
            f"backward. Pass retain_graph=True to the first backward() to run backward twice, or recompute the "
            f"forward pass.")
    where = f" (created at {op.location})" if op.location else ""
    for i, x in enumerate(op.inputs):
        if x._version > op.stamp:
            label = f"'{x.name}' " if x.name else ""
            raise RuntimeError(
                f"{op.name}{where}: its input {i} {label}of shape {x.shape} was modified in place after the forward "
                f"pass, so the gradient would be wrong. Recompute the forward pass after changing .data, or change "
                f"a copy.")
    raise RuntimeError(
        f"{op.name}{where}: its output of shape {op.output.shape}, which its backward uses, was modified in place "
        f"after the forward pass, so the gradient would be wrong. Change a copy of it instead (y = y * 1 first), "
        f"or recompute the forward pass.")


def check_seed(i: int, t: Tensor, g) -> None:
    """Raise when output i of a backward pass cannot be seeded with g (None: the implicit 1 of a scalar)."""
    if not t.requires_grad:
        raise RuntimeError(f"backward: output {i} (shape {t.shape}) does not require grad: no input of its graph had "
                           f"requires_grad=True, or it was computed under no_grad()")
    if g is None and t.size != 1:
        raise RuntimeError(f"backward: the output has shape {t.shape}; a gradient can be created implicitly only for a "
                           f"scalar output. Reduce it first (e.g. y.sum()) or pass grad= an array of shape {t.shape}")
    if g is not None and g.shape != t.shape:
        raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {t.shape}")
