"""Optimizers, layers, initialisation, losses and data helpers, where the other tests do not look: the first Adam
steps exactly (bias correction included), weight decay that must leave `p.grad` alone, state dicts that must be
copies, Linear's default initialisation, BatchNorm's eps at eval time, the book's Dropout at eval time, losses on
one-hot rows and large logits, and data splits that keep each label with its sample.

References are closed forms in numpy, or PyTorch in float64 (skipped when torch is missing)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import tinygrad6.functional as F
from tinygrad6 import Tensor, datasets, init, nn, optim

RNG = np.random.default_rng(7)
W0 = RNG.normal(size=(3, 4))
GRADS = [RNG.normal(size=(3, 4)) for _ in range(4)]  # the gradient at each step: independent of W


def run_steps(opt_class, n_steps: int = 4, **options) -> tuple[Tensor, optim.Optimizer]:
    p = Tensor(W0.copy(), requires_grad=True)
    opt = opt_class([p], **options)
    for g in GRADS[:n_steps]:
        p.grad = Tensor(g.copy())
        opt.step()
    return p, opt


# -- Adam: exact steps, bias correction included --------------------------------------------------------------------
def adam_reference(lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False, n_steps=4) -> np.ndarray:
    """Kingma & Ba's Adam written out, with the bias corrections: m_hat = m / (1 - beta1**t), v_hat likewise."""
    w, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t, g in enumerate(GRADS[:n_steps], start=1):
        if decoupled:
            w = w - lr * weight_decay * w
        else:
            g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        # eps as tinygrad6 documents it: added to the uncorrected sqrt(v), i.e. sqrt(1 - beta2**t) * eps here
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps / math.sqrt(1 - beta2**t))
    return w


@pytest.mark.parametrize("n_steps", [1, 2, 4])
def test_adam_first_steps_match_the_bias_corrected_formula(n_steps):
    p, _ = run_steps(optim.Adam, n_steps, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-7)
    np.testing.assert_allclose(p.data, adam_reference(0.01, 0.9, 0.999, 1e-7, n_steps=n_steps), rtol=1e-12)


def test_adam_first_step_moves_every_weight_by_lr():
    # with bias correction, step 1 is lr * g / |g| (up to eps): the signature an uncorrected Adam lacks
    p, _ = run_steps(optim.Adam, 1, lr=0.01, eps=1e-12)
    # rtol: eps / sqrt(v) = 1e-12 / (0.03 |g|) is up to ~1e-9 for the smallest |g| here; without the correction the
    # step would be lr * sqrt(1 - beta2) / (1 - beta1) = 0.32 lr
    np.testing.assert_allclose(W0 - p.data, 0.01 * np.sign(GRADS[0]), rtol=1e-6)


def test_adamw_steps_match_the_decoupled_formula():
    p, _ = run_steps(optim.AdamW, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-7, weight_decay=0.1)
    np.testing.assert_allclose(p.data, adam_reference(0.01, 0.8, 0.99, 1e-7, 0.1, decoupled=True), rtol=1e-12)


def test_adam_with_weight_decay_matches_the_coupled_formula():
    p, _ = run_steps(optim.Adam, lr=0.01, eps=1e-7, weight_decay=0.1)
    np.testing.assert_allclose(p.data, adam_reference(0.01, 0.9, 0.999, 1e-7, 0.1), rtol=1e-12)


def test_adam_and_adamw_match_pytorch_when_eps_is_negligible():
    torch = pytest.importorskip("torch")
    for ours, theirs, wd in [(optim.Adam, torch.optim.Adam, 0.0), (optim.AdamW, torch.optim.AdamW, 0.05)]:
        p, _ = run_steps(ours, lr=0.02, beta1=0.85, beta2=0.995, eps=1e-30, weight_decay=wd)
        q = torch.tensor(W0.copy(), requires_grad=True)
        opt = theirs([q], lr=0.02, betas=(0.85, 0.995), eps=1e-30, weight_decay=wd)
        for g in GRADS:
            q.grad = torch.tensor(g.copy())
            opt.step()
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12)


# -- the other optimizers, a few steps of their formulas -----------------------------------------------------------
def reference_steps(name: str, lr: float, momentum: float = 0.9, decay_rate: float = 0.99,
                    eps: float = 1e-7) -> np.ndarray:
    w, state = W0.copy(), np.zeros_like(W0)
    for g in GRADS:
        if name == "Momentum":
            state = momentum * state - lr * g
            w = w + state
        elif name == "Nesterov":
            state = momentum * state - lr * g
            w = w + momentum**2 * state - (1 + momentum) * lr * g
        elif name == "AdaGrad":
            state = state + g * g
            w = w - lr * g / (np.sqrt(state) + eps)
        elif name == "RMSprop":
            state = decay_rate * state + (1 - decay_rate) * g * g
            w = w - lr * g / (np.sqrt(state) + eps)
    return w


@pytest.mark.parametrize("name, options", [("Momentum", {"momentum": 0.8}), ("Nesterov", {"momentum": 0.7}),
                                           ("AdaGrad", {"eps": 1e-3}), ("RMSprop", {"decay_rate": 0.9, "eps": 1e-3})])
def test_optimizer_steps_match_their_formulas(name, options):
    p, _ = run_steps(getattr(optim, name), lr=0.05, **options)
    np.testing.assert_allclose(p.data, reference_steps(name, 0.05, **options), rtol=1e-12)


# -- weight decay leaves p.grad alone; state dicts are copies -------------------------------------------------------
@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_weight_decay_does_not_change_p_grad(name):
    p = Tensor(W0.copy(), requires_grad=True)
    opt = optim.OPTIMIZERS[name]([p], lr=0.01, weight_decay=0.5)
    for g in GRADS[:2]:
        p.grad = Tensor(g.copy())
        opt.step()
        np.testing.assert_array_equal(p.grad.data, g)


@pytest.mark.parametrize("name", sorted(set(optim.OPTIMIZERS) - {"SGD"}))
def test_state_dict_is_a_snapshot_not_a_view_of_the_live_state(name):
    p, opt = run_steps(optim.OPTIMIZERS[name], 2, lr=0.01)
    saved = opt.state_dict()
    frozen = copy.deepcopy(saved)
    p.grad = Tensor(GRADS[2].copy())
    opt.step()  # changes the live state in place
    for live, kept, then in zip(opt.state, saved["state"], frozen["state"]):
        assert kept.keys() == then.keys() and kept
        for k in kept:
            np.testing.assert_array_equal(kept[k], then[k])
            assert not np.array_equal(live[k], then[k]), f"state {k!r} did not change: the test proves nothing"


@pytest.mark.parametrize("name", sorted(set(optim.OPTIMIZERS) - {"SGD"}))
def test_load_state_dict_copies_the_arrays(name):
    _, source = run_steps(optim.OPTIMIZERS[name], 2, lr=0.01)
    state = source.state_dict()
    frozen = copy.deepcopy(state)
    p, opt = run_steps(optim.OPTIMIZERS[name], 0, lr=0.01)
    opt.load_state_dict(state)
    p.grad = Tensor(GRADS[2].copy())
    opt.step()
    for kept, then in zip(state["state"], frozen["state"]):
        for k in kept:
            np.testing.assert_array_equal(kept[k], then[k])


# -- Linear's default initialisation ------------------------------------------------------------------------------
# 500 x 400 = 200,000 samples: the sample std of N(0, s**2) is within s * (1 +- 5/sqrt(2 * 200,000)) = s * (1 +- 0.8%)
# at five standard errors, so 2% is safe against chance and still far from sqrt(2) (He) or from fan-out's std.
STD_RTOL = 0.02


@pytest.mark.parametrize("weight_init, factor", [(None, 1.0), ("xavier", 1.0), ("he", 2.0)])
def test_linear_initialisation_std_and_zero_bias(weight_init, factor):
    n_in, n_out = 500, 400
    options = {} if weight_init is None else {"weight_init": weight_init}
    layer = nn.Linear(n_in, n_out, rng=0, **options)
    w = layer.W.data
    assert w.shape == (n_in, n_out)
    expected = math.sqrt(factor / n_in)
    assert abs(w.std() / expected - 1) < STD_RTOL, (w.std(), expected)
    assert abs(w.mean()) < 5 * expected / math.sqrt(w.size)
    np.testing.assert_array_equal(layer.b.data, np.zeros(n_out))


def test_linear_with_a_number_uses_that_std():
    layer = nn.Linear(300, 500, weight_init=0.05, rng=1)
    assert abs(layer.W.data.std() / 0.05 - 1) < STD_RTOL


@pytest.mark.parametrize("fn, factor", [(init.xavier_uniform, 1.0), (init.he_uniform, 2.0)])
def test_uniform_initialisers_have_the_documented_std_and_bound(fn, factor):
    n_in = 400
    w = fn((n_in, 500), rng=2)
    std = math.sqrt(factor / n_in)
    assert abs(w.std() / std - 1) < STD_RTOL
    assert np.abs(w).max() <= std * math.sqrt(3) and np.abs(w).max() > 0.99 * std * math.sqrt(3)


# -- layers at eval time ------------------------------------------------------------------------------------------
def test_batchnorm_eval_uses_eps():
    bn = nn.BatchNorm1d(3, eps=1e-3)
    bn.running_mean = np.array([0.5, -1.0, 2.0])
    bn.running_var = np.array([1e-3, 0.25, 4.0])  # small variances: where eps matters
    bn.eval()
    x = np.random.default_rng(8).normal(size=(5, 3))
    out = bn(Tensor(x)).data
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-3)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_batchnorm_running_statistics_follow_the_documented_momentum():
    bn = nn.BatchNorm1d(2, momentum=0.8)
    x = np.random.default_rng(9).normal(size=(6, 2))
    bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean, 0.2 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * x.var(axis=0), rtol=1e-12)


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_train_and_eval_outputs(inverted):
    x = np.random.default_rng(10).uniform(1.0, 2.0, size=(50, 40))
    layer = nn.Dropout(0.25, rng=0, inverted=inverted)
    y = layer(Tensor(x)).data
    kept = y != 0
    scale = 1 / 0.75 if inverted else 1.0
    np.testing.assert_allclose(y[kept], x[kept] * scale, rtol=1e-15)
    assert 0.65 < kept.mean() < 0.85  # 2,000 units kept with p 0.75: 0.75 +- 0.1 is over 10 standard errors
    layer.eval()
    np.testing.assert_allclose(layer(Tensor(x)).data, x if inverted else x * 0.75, rtol=1e-15)


# -- losses -------------------------------------------------------------------------------------------------------
def log_softmax_np(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def test_cross_entropy_with_one_hot_rows_is_a_batch_mean():
    z = np.random.default_rng(11).normal(size=(4, 3))
    labels = np.array([2, 0, 1, 2])
    one_hot = np.eye(3)[labels]
    expected = -log_softmax_np(z)[np.arange(4), labels].mean()
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), one_hot).item(), expected, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), labels).item(), expected, rtol=1e-12)


def test_log_softmax_and_cross_entropy_stay_finite_for_large_logits():
    z = np.array([[1000.0, 1001.0, 999.0], [-1000.0, 0.0, 1000.0]])
    np.testing.assert_allclose(F.log_softmax(Tensor(z)).data, log_softmax_np(z), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(Tensor(z)).data, np.exp(log_softmax_np(z)), rtol=1e-12)
    logits = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad.data).all()


def test_cross_entropy_refuses_a_label_equal_to_the_class_count():
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 3]))


# -- data helpers -------------------------------------------------------------------------------------------------
def test_train_val_split_keeps_every_label_with_its_sample():
    x = np.arange(40.0).reshape(20, 2)
    t = np.arange(20) * 10  # t encodes the row: x[i, 0] == 2 * i
    x_train, t_train, x_val, t_val = datasets.train_val_split(x, t, val_ratio=0.25, seed=0)
    assert len(x_val) == 5 and len(x_train) == 15
    for xs, ts in [(x_train, t_train), (x_val, t_val)]:
        np.testing.assert_array_equal(xs[:, 0] * 5, ts)
    assert sorted(np.concatenate([t_train, t_val]).tolist()) == t.tolist()
    assert t_val.tolist() != t[:5].tolist() or t_train.tolist() != t[5:].tolist()  # it shuffled


def test_batches_shuffle_each_epoch_and_cover_every_sample():
    x, t = np.arange(32.0), np.arange(32)
    batches = list(datasets.batches(x, t, batch_size=5, shuffle=True, seed=0))
    order = np.concatenate([b[1] for b in batches])
    assert sorted(order.tolist()) == t.tolist()
    assert order.tolist() != t.tolist()
    for xb, tb in batches:
        np.testing.assert_array_equal(xb, tb.astype(float))
    plain = np.concatenate([b[1] for b in datasets.batches(x, t, batch_size=5, shuffle=False)])
    assert plain.tolist() == t.tolist()


def test_digits_one_hot_rows_and_split_sizes():
    pytest.importorskip("sklearn")
    (x_train, t_train), (x_test, t_test) = datasets.digits(one_hot=True, test_size=297)
    assert len(x_test) == len(t_test) == 297 and len(x_train) == len(t_train) == 1797 - 297
    assert t_train.dtype == np.float32 and t_train.shape == (1500, 10)
    np.testing.assert_array_equal(t_train.sum(axis=1), np.ones(1500))
