"""Solution: the creator loop, adding up gradients that meet at the same Variable."""

from tiny import Variable


def backward(y: Variable) -> None:
    y.grad = 1.0
    functions = [y.creator] if y.creator is not None else []
    while functions:
        f = functions.pop()
        for x, gx in zip(f.inputs, f.backward(f.output.grad)):
            x.grad = gx if x.grad is None else x.grad + gx  # add, do not overwrite
            if x.creator is not None:
                functions.append(x.creator)
