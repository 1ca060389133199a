"""Solution: the book's (y - t) / N, and the gradient of one tensor read from the backward pass's records."""

import numpy as np

import tinygrad6
from tinygrad6 import Tensor


def book_gradient(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    t = np.eye(scores.shape[1])[labels]  # one-hot rows
    return (y - t) / len(scores)


def gradient_arriving_at(loss: Tensor, tensor: Tensor) -> np.ndarray:
    # the function form with inputs= writes no .grad; a tensor's gradient is complete at the step that finalizes it
    for step in tinygrad6.backward_steps([loss], inputs=[tensor]):
        for t, g in step.finalized:
            if t is tensor:
                return g.data
    raise ValueError("the tensor is not in the loss's graph")
