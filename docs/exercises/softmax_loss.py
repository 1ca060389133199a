"""Exercise (about 15 minutes): find chapter 5's Softmax-with-Loss gradient in tinygrad6's backward pass.

Chapter 5 of the book ends its Softmax-with-Loss layer with a short formula for the gradient that reaches the
scores (the logits) of a batch of N samples when dout = 1. tinygrad6 has no such layer: `F.cross_entropy` is
made of log-softmax's small ops, and the formula is nowhere in its code. Check that it comes out anyway:

1. `book_gradient`: the book's formula, in numpy (look it up in chapter 5's Softmax-with-Loss section, or derive
   it: the loss of one sample is -log y_t with y = softmax(scores); the batch loss is their mean).
2. `gradient_arriving_at`: the complete gradient dL/dtensor of a tensor made by an op (the scores `x @ W`: no
   `.grad` is kept for it), read from the records of `backward_steps` (docs/debugging-backprop.md, "Stepping with
   backward_steps() in a REPL", lists what a record holds). A tensor used twice receives two contributions: return
   their sum, the gradient it has once both have arrived.
Check: `pytest docs/exercises/test_softmax_loss.py`.
"""

import numpy as np

from tinygrad6 import Tensor


def book_gradient(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """dL/dscores of the book's Softmax-with-Loss, for (N, C) scores and N integer labels, as an (N, C) array."""
    raise NotImplementedError("softmax_loss.py: write book_gradient")


def gradient_arriving_at(loss: Tensor, tensor: Tensor) -> np.ndarray:
    """dloss/dtensor for a tensor of loss's graph, from the records of the backward pass, as an array."""
    raise NotImplementedError("softmax_loss.py: write gradient_arriving_at")
