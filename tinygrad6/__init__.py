"""tinygrad6: a small reverse-mode autograd engine on numpy, for chapter 6 of "Deep Learning from Scratch".

    from tinygrad6 import Tensor
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x + x).sum()
    y.backward()
    x.grad          # 2x + 1
"""

from . import functional, init, nn, optim  # init, nn, optim: the floor above the core
from . import functional as F
from .compile import CompileError, GraphBreakWarning, compile  # the compiled step, on the floor of nn and optim
from .engine.autograd import BackwardStep, backward_steps, grad
from .engine.modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad, record_source, retain_grads, scope
from .engine.op import Op
from .engine.tensor import (
    Tensor,
    as_tensor,
    concatenate,
    maximum,
    minimum,
    ones,
    ones_like,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from .random import manual_seed
from .support.errors import AnomalyError, ShapeError

__version__ = "0.1.0"


def __getattr__(name: str):
    """`tinygrad6.viz` is imported on first use, so `import tinygrad6` needs neither graphviz nor matplotlib."""
    if name == "viz":
        import importlib

        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'tinygrad6' has no attribute {name!r}")

__all__ = [
    "AnomalyError", "BackwardStep", "CompileError", "F", "GraphBreakWarning", "GradcheckError", "Op", "ShapeError",
    "Tensor", "as_tensor",
    "backward_steps", "compile", "concatenate", "detect_anomaly", "enable_grad", "functional", "grad", "gradcheck",
    "gradgradcheck", "is_grad_enabled", "manual_seed", "maximum", "minimum", "no_grad", "numerical_grad", "ones",
    "ones_like", "record_source", "retain_grads", "scope", "stack", "tensor", "where", "zeros", "zeros_like",
    "init", "nn", "optim", "viz",
]
