"""Derivatives of tanh up to order 4 through `create_graph=True`, and the graph each one needs.

    python examples/higher_order.py --out out/higher_order

With create_graph=True the backward pass is itself recorded as ops, so its result can be differentiated again:
    d1 = grad(tanh(x), x, create_graph=True);  d2 = grad(d1, x, create_graph=True);  ...
Each order's graph contains the backward ops of the previous one, so it grows with the order. The script prints
the values against the closed forms (t = tanh x):
    tanh' = 1 - t^2                      tanh'' = -2 t (1 - t^2)
    tanh''' = -2 (1 - t^2)(1 - 3 t^2)    tanh'''' = 8 t (1 - t^2)(2 - 3 t^2)
the number of ops in each graph, and renders the graph of the 4th derivative (and, for comparison, the 1st).
"""

from __future__ import annotations

from pathlib import Path

import _cli as cli  # examples/_cli.py: --help shows this docstring and the defaults
import numpy as np

import tinygrad6
from tinygrad6 import Tensor, viz


def closed_forms(x: np.ndarray) -> list[np.ndarray]:
    t = np.tanh(x)
    s = 1 - t ** 2
    return [t, s, -2 * t * s, -2 * s * (1 - 3 * t ** 2), 8 * t * s * (2 - 3 * t ** 2)]


def main() -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/higher_order"), help="folder to write the files into")
    parser.add_argument("--order", type=cli.positive_int, default=4, help="highest derivative to compute and draw")
    args = parser.parse_args()

    x = Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True, name="x")
    derivatives = [x.tanh()]
    derivatives[0].name = "tanh(x)"
    for k in range(1, args.order + 1):
        # the function is elementwise, so the gradient of the sum is the derivative at each point
        (d,) = tinygrad6.grad(derivatives[-1].sum(), x, create_graph=True)
        d.name = f"d{k} tanh/dx{k}"
        derivatives.append(d)

    expected = closed_forms(x.data)
    print("order  ops in graph  value at x = [-1, 0.5, 2]                      max |error|")
    for k, d in enumerate(derivatives):
        ops = len(viz.walk([d])[1])
        err = np.abs(d.data - expected[k]).max() if k < len(expected) else float("nan")
        print(f"{k:5d}  {ops:12d}  {np.array2string(d.data, precision=6):45s}  {err:.1e}")

    args.out.mkdir(parents=True, exist_ok=True)
    first = viz.render(derivatives[1], path=args.out / "tanh_d1.svg")
    last = viz.render(derivatives[-1], path=args.out / f"tanh_d{args.order}.svg", show=("shape", "value"))
    png = viz.render(derivatives[-1], path=args.out / f"tanh_d{args.order}.png", show=("shape",))
    print("wrote", first, last, png)


if __name__ == "__main__":
    main()
