"""The engine: `Tensor` (tensor.py), `Op` (op.py), the backward loop (autograd.py), grad modes and scopes
(modes.py) and one small class per op (ops/). Read in that order; it imports only numpy and `tinygrad6.support`."""
