"""Optimizers: trajectories against independent numpy implementations of the book's formulas, weight decay,
dtype, state_dict, and learning on a synthetic classification set."""

import numpy as np
import pytest

from tinygrad6 import F, Tensor, nn, optim

# -- the chapter's f(x, y) = x**2 / 20 + y**2 from (-7, 2) --------------------------------------------------------


def f(x, y, c=(0.0, 0.0)):
    return (x - c[0]) ** 2 / 20 + (y - c[1]) ** 2


def grad_f(W, c=(0.0, 0.0)):
    """The gradient of f at W = [x, y], by hand."""
    return np.array([(W[0] - c[0]) / 10, 2 * (W[1] - c[1])])


def reference_trajectory(name, lr, steps=30, weight_decay=0.0, c=(0.0, 0.0), **hyper):
    """The book's formulas on a plain numpy vector W = [x, y] (written independently of tinygrad6.optim)."""
    W = np.array([-7.0, 2.0])
    v = np.zeros(2)
    h = np.zeros(2)
    m = np.zeros(2)
    path = []
    for t in range(1, steps + 1):
        g = grad_f(W, c)
        if name != "AdamW":
            g = g + weight_decay * W
        if name == "SGD":
            W = W - lr * g
        elif name == "Momentum":
            mom = hyper.get("momentum", 0.9)
            v = mom * v - lr * g
            W = W + v
        elif name == "Nesterov":
            mom = hyper.get("momentum", 0.9)
            v = mom * v - lr * g
            W = W + mom * mom * v - (1 + mom) * lr * g
        elif name == "AdaGrad":
            h = h + g * g
            W = W - lr * g / (np.sqrt(h) + 1e-7)
        elif name == "RMSprop":
            rho = hyper.get("decay_rate", 0.99)
            h = rho * h + (1 - rho) * g * g
            W = W - lr * g / (np.sqrt(h) + 1e-7)
        elif name in ("Adam", "AdamW"):
            b1, b2 = 0.9, 0.999
            if name == "AdamW":
                W = W * (1 - lr * weight_decay)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            W = W - lr_t * m / (np.sqrt(v) + 1e-7)
        path.append(W.copy())
    return np.array(path)


def tinygrad_trajectory(opt_class, steps=30, c=(0.0, 0.0), **kwargs):
    x = Tensor(-7.0, requires_grad=True)
    y = Tensor(2.0, requires_grad=True)
    opt = opt_class([x, y], **kwargs)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        f(x, y, c).backward()
        opt.step()
        path.append([x.item(), y.item()])
    return np.array(path)


# the chapter's learning rates for SGD, Momentum, AdaGrad, Adam; our choices for the others
CASES = [
    ("SGD", optim.SGD, dict(lr=0.95)),
    ("Momentum", optim.Momentum, dict(lr=0.1)),
    ("AdaGrad", optim.AdaGrad, dict(lr=1.5)),
    ("Adam", optim.Adam, dict(lr=0.3)),
    ("Nesterov", optim.Nesterov, dict(lr=0.1)),
    ("RMSprop", optim.RMSprop, dict(lr=0.1)),
    ("AdamW", optim.AdamW, dict(lr=0.3, weight_decay=0.1)),
]


@pytest.mark.parametrize("name, opt_class, kwargs", CASES, ids=[c[0] for c in CASES])
def test_trajectory_follows_the_books_formula(name, opt_class, kwargs):
    ours = tinygrad_trajectory(opt_class, **kwargs)
    expected = reference_trajectory(name, **kwargs)
    # the engine computes d(x**2/20)/dx as 2*x/20, the reference as x/10: a last-bit difference, hence 1e-12
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)
    assert np.abs(expected[-1] - expected[0]).max() > 0.1  # the trajectory actually moves


@pytest.mark.parametrize("name, opt_class, kwargs", CASES[:-1], ids=[c[0] for c in CASES[:-1]])
def test_coupled_weight_decay_adds_lam_W_to_the_gradient(name, opt_class, kwargs):
    # centre the bowl at (1, -1): with the minimum at 0 the decayed gradient is proportional to the plain one
    # and the adaptive optimizers (AdaGrad, RMSprop, Adam), being scale-invariant, would take the same path
    c = (1.0, -1.0)
    ours = tinygrad_trajectory(opt_class, weight_decay=0.3, c=c, **kwargs)
    np.testing.assert_allclose(ours, reference_trajectory(name, weight_decay=0.3, c=c, **kwargs), rtol=0, atol=1e-12)
    assert np.abs(ours - tinygrad_trajectory(opt_class, c=c, **kwargs)).max() > 1e-3  # and it changes the path


def test_adamw_decay_is_decoupled_from_adams_step():
    c = (1.0, -1.0)
    decoupled = tinygrad_trajectory(optim.AdamW, lr=0.3, weight_decay=0.1, c=c)
    np.testing.assert_allclose(decoupled, reference_trajectory("AdamW", lr=0.3, weight_decay=0.1, c=c), atol=1e-12)
    coupled = tinygrad_trajectory(optim.Adam, lr=0.3, weight_decay=0.1, c=c)
    assert np.abs(coupled - decoupled).max() > 1e-3


def test_book_defaults():
    x = Tensor([1.0], requires_grad=True)
    assert optim.SGD([x]).lr == 0.01
    m = optim.Momentum([x])
    assert (m.lr, m.momentum) == (0.01, 0.9)
    a = optim.Adam([x])
    assert (a.lr, a.beta1, a.beta2, a.eps) == (0.001, 0.9, 0.999, 1e-7)
    r = optim.RMSprop([x])
    assert (r.lr, r.decay_rate, r.eps) == (0.01, 0.99, 1e-7)
    assert optim.AdaGrad([x]).eps == 1e-7
    assert optim.AdamW([x]).weight_decay == 0.01
    assert list(optim.OPTIMIZERS) == ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW"]


# -- mechanics ----------------------------------------------------------------------------------------------------

ALL = [c[1] for c in CASES]


@pytest.mark.parametrize("opt_class", ALL, ids=[c.__name__ for c in ALL])
def test_step_keeps_float32_and_builds_no_graph(opt_class):
    W = Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    opt = opt_class([W], lr=0.1, weight_decay=0.01)
    for _ in range(3):
        opt.zero_grad()
        (W * W).sum().backward()
        version = W._version
        opt.step()
        assert W._version > version  # the update went through .data, so the engine sees the change
    assert W.dtype == np.float32
    assert W.is_leaf and W.requires_grad and W.grad.creator is None
    for array in opt.state[0].values():
        if isinstance(array, np.ndarray):
            assert array.dtype == np.float32


def test_parameters_without_grad_are_skipped():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    np.testing.assert_array_equal(b.data, [3.0, 4.0])
    assert opt.state[1] == {}
    assert not np.allclose(a.data, [1.0, 2.0])


def test_zero_grad_and_module_parameters():
    model = nn.MLP(3, [4], 2, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(Tensor(np.ones((2, 3)))), [0, 1]).backward()
    assert all(p.grad is not None for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_bad_parameters_fail_loudly():
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([])
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([x, x])
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([x * 2])


@pytest.mark.parametrize("opt_class", ALL, ids=[c.__name__ for c in ALL])
def test_state_dict_round_trip_continues_the_same_trajectory(opt_class):
    def run(opt, x, steps):
        for _ in range(steps):
            opt.zero_grad()
            (x * x * Tensor([1.0, 3.0])).sum().backward()
            opt.step()

    x1 = Tensor([1.0, -2.0], requires_grad=True)
    opt1 = opt_class([x1], lr=0.05)
    run(opt1, x1, 4)
    saved = opt1.state_dict()
    x2 = Tensor(x1.data.copy(), requires_grad=True)
    opt2 = opt_class([x2], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.lr == 0.05
    run(opt1, x1, 5)
    run(opt2, x2, 5)
    np.testing.assert_array_equal(x1.data, x2.data)
    with pytest.raises(ValueError, match="parameters"):
        optim.SGD([x1, x2]).load_state_dict(optim.SGD([x1]).state_dict())


def test_weight_decay_option_equals_l2_penalty_in_the_loss():
    """SGD(weight_decay=lam) on the weights and 0.5*lam*sum(W**2) added to the loss give the same parameters."""
    lam, rng = 0.05, np.random.default_rng(1)
    x, t = Tensor(rng.standard_normal((16, 4))), rng.integers(0, 3, 16)
    model_a = nn.MLP(4, [8, 8], 3, batchnorm=True, rng=2)
    model_b = nn.MLP(4, [8, 8], 3, batchnorm=True, rng=2)
    opt_a = optim.SGD(model_a.parameters(), lr=0.1)
    weights_b = [layer.W for layer in model_b.linears]
    others_b = [p for p in model_b.parameters() if all(p is not W for W in weights_b)]
    opts_b = [optim.SGD(weights_b, lr=0.1, weight_decay=lam), optim.SGD(others_b, lr=0.1)]
    for _ in range(8):
        opt_a.zero_grad()
        (F.cross_entropy(model_a(x), t) + nn.l2_penalty(model_a, lam)).backward()
        opt_a.step()
        for opt in opts_b:
            opt.zero_grad()
        F.cross_entropy(model_b(x), t).backward()
        for opt in opts_b:
            opt.step()
    start = nn.MLP(4, [8, 8], 3, batchnorm=True, rng=2).state_dict()
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)
        if name.endswith(".W"):
            assert np.abs(a - start[name]).max() > 1e-3  # the weights did move


# -- learning -----------------------------------------------------------------------------------------------------


def spiral(n_per_class=100, classes=3, seed=0):
    """Three interleaved spirals in 2-D (the classic toy set that a linear model cannot separate)."""
    rng = np.random.default_rng(seed)
    xs, ts = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        theta = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.standard_normal(n_per_class) * 0.2
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ts.append(np.full(n_per_class, c))
    return np.concatenate(xs), np.concatenate(ts)


# learning rates tuned by hand for full-batch training; the chance-level loss is ln 3 = 1.10
LEARNING = [
    (optim.SGD, dict(lr=1.0)),
    (optim.Momentum, dict(lr=0.1)),
    (optim.Nesterov, dict(lr=0.1)),
    (optim.AdaGrad, dict(lr=0.1)),
    (optim.RMSprop, dict(lr=0.01)),
    (optim.Adam, dict(lr=0.01)),
    (optim.AdamW, dict(lr=0.01, weight_decay=1e-4)),
]
LOSS_THRESHOLD = 0.15  # measured: 0.017 (Adam) .. 0.059 (SGD)


@pytest.mark.parametrize("opt_class, kwargs", LEARNING, ids=[c[0].__name__ for c in LEARNING])
def test_mlp_learns_the_spirals(opt_class, kwargs):
    x, t = spiral()
    model = nn.MLP(2, [32, 32], 3, rng=0)
    opt = opt_class(model.parameters(), **kwargs)
    X = Tensor(x)
    first = F.cross_entropy(model(X), t).item()
    for _ in range(300):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), t)
        loss.backward()
        opt.step()
    final = F.cross_entropy(model(X), t).item()
    print(f"{opt_class.__name__}: loss {first:.3f} -> {final:.4f}")
    assert first > 1.0
    assert final < LOSS_THRESHOLD


# -- hyper-parameters out of range are refused when the optimizer is made -----------------------------------------
# (optimizer, keyword, bad value, the start of PyTorch's message for it)
BAD_HYPERPARAMETERS = [
    (cls, "lr", bad, "Invalid learning rate") for cls in ALL for bad in (-1.0, np.nan, np.inf)
] + [
    (cls, "weight_decay", bad, "Invalid weight_decay value") for cls in ALL for bad in (-0.1, np.nan, np.inf)
] + [
    (cls, "momentum", bad, "Invalid momentum value") for cls in (optim.Momentum, optim.Nesterov)
    for bad in (-0.1, 1.0, np.nan)
] + [
    (cls, beta, bad, f"Invalid {beta} value") for cls in (optim.Adam, optim.AdamW) for beta in ("beta1", "beta2")
    for bad in (-0.1, 1.0, 1.5, np.nan)
] + [
    (cls, "eps", bad, "Invalid epsilon value") for cls in (optim.AdaGrad, optim.RMSprop, optim.Adam, optim.AdamW)
    for bad in (0.0, -1e-8, np.nan, np.inf)
] + [
    (optim.RMSprop, "decay_rate", bad, "Invalid decay_rate value") for bad in (-0.1, 1.0, np.nan)
]


@pytest.mark.parametrize("opt_class, keyword, bad, message", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{k}={b}" for c, k, b, _ in BAD_HYPERPARAMETERS])
def test_out_of_range_hyperparameters_are_refused(opt_class, keyword, bad, message):
    x = Tensor([1.0], requires_grad=True)
    kwargs = {"lr": 0.1, keyword: bad}
    with pytest.raises(ValueError, match=rf"^{opt_class.__name__}: {message}: {bad}"):
        opt_class([x], **kwargs)


@pytest.mark.parametrize("opt_class", ALL, ids=[c.__name__ for c in ALL])
def test_the_edges_of_each_range_are_accepted(opt_class):
    x = Tensor([1.0], requires_grad=True)
    edges = {"momentum": 0.0, "beta1": 0.0, "beta2": 0.0, "decay_rate": 0.0, "eps": 1e-300}
    opt = opt_class([x], lr=0.0, weight_decay=0.0,
                    **{k: v for k, v in edges.items() if k in opt_class.hyperparams})
    assert opt.lr == 0.0


def test_a_loaded_state_with_a_bad_hyperparameter_is_refused_before_anything_changes():
    x = Tensor([1.0], requires_grad=True)
    opt = optim.Adam([x], lr=0.1)
    saved = opt.state_dict()
    saved["hyperparams"]["beta2"] = 1.0
    with pytest.raises(ValueError, match=r"^Adam: Invalid beta2 value: 1.0"):
        opt.load_state_dict(saved)
    assert opt.beta2 == 0.999
