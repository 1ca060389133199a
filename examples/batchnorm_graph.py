"""Batch Normalization from primitive ops, drawn as a graph, stepped through backward, and checked against the
closed-form backward formulas.

    python examples/batchnorm_graph.py --out out/batchnorm

Writes batchnorm.svg/.png (the BatchNorm scope as a cluster of its ops), batchnorm_collapsed.svg/.png (the scope
as one box), batchnorm_backprop.html (the backward pass step by step; open it in a browser) and prints the
largest difference between the graph's gradients and the closed-form ones (rounding level, ~1e-15).

The forward pass, for a batch x of N rows (chapter 6.3 of the book):
    mu = mean(x, axis=0)            xc = x - mu             var = mean(xc**2, axis=0)
    std = sqrt(var + eps)           xn = xc / std           out = gamma * xn + beta
Closed-form backward, for an upstream gradient dy (random here: summing y would make dx and dgamma exactly zero
whatever the implementation, since a normalized batch always sums to the same value):
    dbeta = sum(dy, axis=0)         dgamma = sum(dy * xn, axis=0)
    dx = (1 / (N * std)) * (N * dxn - sum(dxn, axis=0) - xn * sum(dxn * xn, axis=0)),   with dxn = dy * gamma
"""

from __future__ import annotations

from pathlib import Path

import _cli as cli  # examples/_cli.py: --help shows this docstring and the defaults
import numpy as np

import tinygrad6
from tinygrad6 import Tensor, viz


def batchnorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Batch Normalization over the batch axis, one primitive op per line, inside scope("BatchNorm"). Under
    record_source() each tensor takes its variable's name (mu, xc, var, std, xn, out), as in the book."""
    with tinygrad6.scope("BatchNorm"):
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc ** 2).mean(axis=0)
        std = (var + eps).sqrt()
        xn = xc / std
        out = gamma * xn + beta
        return out


def closed_form(x: np.ndarray, gamma: np.ndarray, dy: np.ndarray, eps: float = 1e-5):
    """dx, dgamma, dbeta of y = gamma * (x - mu) / sqrt(var + eps) + beta, by the textbook formulas."""
    n = x.shape[0]
    mu = x.mean(axis=0)
    std = np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)
    xn = (x - mu) / std
    dxn = dy * gamma
    dx = (n * dxn - dxn.sum(axis=0) - xn * (dxn * xn).sum(axis=0)) / (n * std)
    return dx, (dy * xn).sum(axis=0), dy.sum(axis=0)


def main() -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/batchnorm"), help="folder to write the files into")
    parser.add_argument("--seed", type=cli.seed, default=0, help="seed of the random batch and upstream gradient")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    # a small batch: 4 samples, 3 features, off-centre and unevenly scaled so the normalization does something
    with tinygrad6.record_source():  # each op remembers its line: tooltips and the step-through page show it
        x = Tensor(rng.normal(2.0, 3.0, size=(4, 3)), requires_grad=True, name="x")
        gamma = Tensor(rng.uniform(0.5, 1.5, size=3), requires_grad=True, name="gamma")
        beta = Tensor(rng.normal(size=3), requires_grad=True, name="beta")
        dy = Tensor(rng.normal(size=(4, 3)), name="dy")  # the random upstream gradient
        y = batchnorm(x, gamma, beta)
        loss = (y * dy).sum()  # d loss / d y = dy
        loss.name = "loss"

    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".svg", ".png"):
        written.append(viz.render(loss, path=args.out / f"batchnorm{suffix}"))
        written.append(viz.render(loss, path=args.out / f"batchnorm_collapsed{suffix}", collapse=("BatchNorm",)))
    written.append(viz.backprop_html(loss, args.out / "batchnorm_backprop.html"))

    viz.trace(loss)
    loss.backward()
    written.append(viz.render(loss, path=args.out / "batchnorm_after_backward.svg"))  # now with the grads

    dx, dgamma, dbeta = closed_form(x.data, gamma.data, dy.data)
    errors = {"dx": np.abs(x.grad.data - dx).max(), "dgamma": np.abs(gamma.grad.data - dgamma).max(),
              "dbeta": np.abs(beta.grad.data - dbeta).max()}
    print()
    for name, err in errors.items():
        print(f"max |graph - closed form| for {name:6s}: {err:.2e}")
    print(f"largest difference: {max(errors.values()):.2e}")
    print("wrote", ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
