import numpy as np

from tinygrad6 import Tensor


def test_readme_example_gradients_match_hand_derivation():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    W = Tensor(np.full((3, 2), 0.5), requires_grad=True)
    y = ((x @ W).tanh() ** 2).sum() + (x * x).mean()
    y.backward()
    h = x.data @ W.data
    dh = 2 * np.tanh(h) * (1 - np.tanh(h) ** 2)
    np.testing.assert_allclose(W.grad.data, np.outer(x.data, dh), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, W.data @ dh + 2 * x.data / 3, rtol=1e-12)
