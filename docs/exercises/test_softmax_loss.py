"""Chapter 5's Softmax-with-Loss gradient: the book's formula, and the same numbers read from backward_steps."""

import numpy as np

from tinygrad6 import F, Tensor

RNG = np.random.default_rng(3)
X, W = RNG.standard_normal((4, 5)), RNG.standard_normal((5, 3))
LABELS = np.array([0, 2, 1, 2])


def softmax_minus_one_hot_over_n(scores, labels):
    """Reference, written differently from the book's code: softmax by logsumexp, one-hot by indexing."""
    log_y = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    g = np.exp(log_y)
    g[np.arange(len(labels)), labels] -= 1
    return g / len(labels)


def test_book_gradient(load):
    scores = X @ W
    np.testing.assert_allclose(load("softmax_loss").book_gradient(scores, LABELS),
                               softmax_minus_one_hot_over_n(scores, LABELS), rtol=1e-10, atol=1e-15)


def test_the_gradient_arriving_at_the_scores_is_the_books(load):
    x, w = Tensor(X), Tensor(W, requires_grad=True)
    scores = x @ w
    loss = F.cross_entropy(scores, LABELS)
    got = load("softmax_loss").gradient_arriving_at(loss, scores)
    np.testing.assert_allclose(got, softmax_minus_one_hot_over_n(X @ W, LABELS), rtol=1e-10, atol=1e-15)


def test_a_tensor_with_two_consumers_gets_the_sum(load):
    w = Tensor(W, requires_grad=True)
    h = Tensor(X) @ w
    loss = (h * h).sum() + (h * 3.0).sum()  # dloss/dh = 2h + 3: two contributions, 2h and 3
    got = load("softmax_loss").gradient_arriving_at(loss, h)
    np.testing.assert_allclose(got, 2 * (X @ W) + 3, rtol=1e-12)


def test_a_leaf(load):
    w = Tensor(W, requires_grad=True)
    loss = F.cross_entropy(Tensor(X) @ w, LABELS)
    got = load("softmax_loss").gradient_arriving_at(loss, w)
    np.testing.assert_allclose(got, X.T @ softmax_minus_one_hot_over_n(X @ W, LABELS), rtol=1e-10, atol=1e-15)
