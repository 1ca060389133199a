"""The graph of a two-layer network with a softmax cross-entropy loss (the book's TwoLayerNet), drawn with and
without values.

    python examples/mlp_graph.py --out out/mlp

Each layer runs inside a scope named like the book's layers (Affine1, Relu1, Affine2, SoftmaxWithLoss), so the
drawing groups its ops. Writes mlp_values.svg (shapes, values, and gradients after backward), mlp_shapes.svg
(shapes only: the structure at a glance), mlp_layers.svg (each layer collapsed to one box) and
mlp_backprop.html (the backward pass step by step), and prints the backward trace.
"""

from __future__ import annotations

from pathlib import Path

import _cli as cli  # examples/_cli.py: --help shows this docstring and the defaults
import numpy as np

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor, viz


def main() -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/mlp"), help="folder to write the files into")
    parser.add_argument("--seed", type=cli.seed, default=0, help="seed of the weights and the batch")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    n, d_in, hidden, classes = 5, 4, 6, 3
    x = Tensor(rng.normal(size=(n, d_in)), name="x")
    t = rng.integers(0, classes, size=n)  # integer labels
    W1 = Tensor(rng.normal(size=(d_in, hidden)) * np.sqrt(2 / d_in), requires_grad=True, name="W1")
    b1 = Tensor(np.zeros(hidden), requires_grad=True, name="b1")
    W2 = Tensor(rng.normal(size=(hidden, classes)) * np.sqrt(1 / hidden), requires_grad=True, name="W2")
    b2 = Tensor(np.zeros(classes), requires_grad=True, name="b2")

    with tinygrad6.record_source():
        with tinygrad6.scope("Affine1"):
            a1 = F.linear(x, W1, b1)
        with tinygrad6.scope("Relu1"):
            h = F.relu(a1)
        with tinygrad6.scope("Affine2"):
            scores = F.linear(h, W2, b2)
        with tinygrad6.scope("SoftmaxWithLoss"):
            loss = F.cross_entropy(scores, t)
    loss.name = "loss"

    args.out.mkdir(parents=True, exist_ok=True)
    written = [
        viz.render(loss, path=args.out / "mlp_shapes.svg", show=("shape",)),
        viz.render(loss, path=args.out / "mlp_layers.svg", show=("shape",), collapse=True),
        viz.backprop_html(loss, args.out / "mlp_backprop.html"),
    ]
    viz.trace(loss)
    loss.backward()
    written.append(viz.render(loss, path=args.out / "mlp_values.svg"))  # values and the gradients of W1 b1 W2 b2
    print(f"\nloss = {loss.item():.4f}")
    print("wrote", ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
