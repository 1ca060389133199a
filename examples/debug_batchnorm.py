"""The BatchNorm example to step through in a debugger (docs/debugging-backprop.md).

    python -m pdb examples/debug_batchnorm.py      # from the repository's root

A BatchNorm1d layer on a batch of 4 samples with 3 features, projected on a random upstream gradient dy (the sum
of a normalized batch does not depend on x, so `bn(x).sum()` would have a zero gradient). The same numbers as
section 8 of docs/how-autograd-works.md. tools/pdb_session.py runs this file under pdb with a fixed list of
commands and writes the transcript shown in the docs.
"""

import _cli as cli  # examples/_cli.py: --help shows this docstring
import numpy as np

from tinygrad6 import Tensor, nn

cli.parser(__doc__).parse_args()  # no options: only --help, which prints the docstring and stops
rng = np.random.default_rng(0)
x = Tensor(rng.normal(2.0, 3.0, size=(4, 3)).round(2), requires_grad=True, name="x")
dy = Tensor(rng.normal(size=(4, 3)).round(2), name="dy")
bn = nn.BatchNorm1d(3)

y = bn(x)
y.name = "y"
loss = (y * dy).sum()
loss.name = "loss"
loss.backward()

print("dL/dx =")
print(x.grad.data.round(4))
print("dL/dgamma =", bn.gamma.grad.data.round(4), " dL/dbeta =", bn.beta.grad.data.round(4))
