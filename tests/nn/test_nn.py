"""tinygrad6.nn: Module mechanics, Linear, BatchNorm1d and Dropout from the graph, MLP, l2_penalty,
state_dict/save/load."""

import contextlib
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad6
from tinygrad6 import F, Tensor, gradcheck, nn, no_grad

# -- helpers -------------------------------------------------------------------------------------------------------


def graph_size(y: Tensor) -> int:
    """Number of distinct op nodes behind y."""
    seen, stack = set(), [y.creator]
    while stack:
        op = stack.pop()
        if op is None or id(op) in seen:
            continue
        seen.add(id(op))
        stack.extend(x.creator for x in op.inputs)
    return len(seen)


@contextlib.contextmanager
def swapped_parameters(model: nn.Module, tensors: list[Tensor]):
    """Run the model with `tensors` in place of its parameters (in named_parameters order), then put them back."""
    modules = dict(model.named_modules())
    slots = []
    for (name, p), t in zip(list(model.named_parameters()), tensors):
        prefix, _, attr = name.rpartition(".")
        slots.append((modules[prefix], attr, p))
        setattr(modules[prefix], attr, t)
    try:
        yield
    finally:
        for module, attr, p in slots:
            setattr(module, attr, p)


def batchnorm_backward_reference(x, gamma, dout, eps):
    """The closed-form Batch Normalization backward pass (Ioffe & Szegedy), written out on arrays."""
    n = x.shape[0]
    mu = x.mean(axis=0)
    std = np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)
    x_hat = (x - mu) / std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0)) / (n * std)
    return dx, dgamma, dbeta


# -- Module mechanics ----------------------------------------------------------------------------------------------


class TwoLayerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 5, rng=0)
        self.blocks = [nn.ReLU(), nn.Linear(5, 3, rng=1)]
        self.shared = self.fc1  # the same layer twice: its parameters are listed once

    def forward(self, x):
        x = self.fc1(x)
        for block in self.blocks:
            x = block(x)
        return x


def test_named_parameters_use_dotted_names_and_each_parameter_once():
    net = TwoLayerNet()
    assert [name for name, _ in net.named_parameters()] == ["fc1.W", "fc1.b", "blocks.1.W", "blocks.1.b"]
    assert len(net.parameters()) == 4
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert [name for name, _ in seq.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    assert isinstance(seq[1], nn.Tanh) and len(seq) == 3


def test_linear_is_the_books_affine_layer():
    layer = nn.Linear(4, 3, rng=0)
    assert layer.W.shape == (4, 3) and layer.b.shape == (3,)
    np.testing.assert_array_equal(layer.b.data, 0)
    layer.b.data = np.array([0.5, -1.0, 2.0])
    x = np.random.default_rng(1).standard_normal((6, 4))
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.W.data + layer.b.data, rtol=1e-14)
    assert nn.Linear(4, 3, bias=False).b is None


def test_calling_a_module_opens_a_scope_named_after_it():
    y = nn.Linear(2, 3)(Tensor(np.ones((1, 2))))
    assert y.creator.scope == ("Linear",)
    model = nn.MLP(2, [4], 3, rng=0)
    y = model(Tensor(np.ones((2, 2))))
    assert y.creator.scope == ("MLP", "Linear")


def test_train_and_eval_propagate_to_children():
    model = nn.MLP(2, [4, 4], 3, batchnorm=True, dropout=0.5, rng=0)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_and_repr():
    net = TwoLayerNet()
    net(Tensor(np.ones((2, 4)))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert "Linear(in_features=4, out_features=5" in repr(net) and "(blocks.0): ReLU()" in repr(net)


# -- BatchNorm1d ---------------------------------------------------------------------------------------------------


def test_batchnorm_forward_equals_the_formula():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 4)) * 3 + 5
    bn = nn.BatchNorm1d(4)
    bn.gamma.data, bn.beta.data = rng.standard_normal(4), rng.standard_normal(4)
    y = bn(Tensor(x))
    mu, var = x.mean(axis=0), x.var(axis=0)
    np.testing.assert_allclose(y.data, bn.gamma.data * (x - mu) / np.sqrt(var + 1e-6) + bn.beta.data, rtol=1e-12)
    assert (bn.momentum, bn.eps) == (0.9, 1e-6)


@settings(max_examples=max(40, settings().max_examples))  # cheap (~20 ms an example): more than the ci profile
@given(n=st.integers(2, 64), d=st.integers(1, 32), log_scale=st.floats(-3, 3), seed=st.integers(0, 2**32 - 1))
def test_batchnorm_gradients_equal_the_closed_form_for_a_random_upstream_gradient(n, d, log_scale, seed):
    rng = np.random.default_rng(seed)
    scale = 10.0**log_scale
    x = (rng.standard_normal((n, d)) + rng.standard_normal(d)) * scale
    bn = nn.BatchNorm1d(d)
    bn.gamma.data, bn.beta.data = rng.standard_normal(d), rng.standard_normal(d)
    dout = rng.standard_normal((n, d))  # random: the gradient of plain sum(y) is zero for x and gamma
    X = Tensor(x, requires_grad=True)
    bn(X).backward(dout)
    dx, dgamma, dbeta = batchnorm_backward_reference(x, bn.gamma.data, dout, bn.eps)
    # Each gradient is a sum of terms that can cancel (for n = 2 the output is +-gamma whatever x is, so dx is
    # ~1e-11 made of terms ~1e-2): rounding error is relative to the size of those terms, so that is what the
    # error is measured against (1e-8 of it), besides 1e-8 of each entry.
    std = np.sqrt(x.var(axis=0) + bn.eps)
    x_hat = (x - x.mean(axis=0)) / std
    checks = [("x", X.grad.data, dx, np.abs(dout * bn.gamma.data / std).max()),
              ("gamma", bn.gamma.grad.data, dgamma, np.abs(dout * x_hat).sum(axis=0).max()),
              ("beta", bn.beta.grad.data, dbeta, np.abs(dout).sum(axis=0).max())]
    for name, got, expected, term_size in checks:
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8 * term_size, err_msg=name)


def test_batchnorm_running_statistics_are_updated_outside_the_graph():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(3)
    sizes = []
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for _ in range(5):
        x = rng.standard_normal((8, 3)) * 2 + 1
        y = bn(Tensor(x, requires_grad=True))
        loss = (y * Tensor(rng.standard_normal((8, 3)))).sum()
        sizes.append(graph_size(loss))
        loss.backward()
        expected_mean = 0.9 * expected_mean + 0.1 * x.mean(axis=0)
        expected_var = 0.9 * expected_var + 0.1 * x.var(axis=0)  # the biased variance, as the book
        assert isinstance(bn.running_mean, np.ndarray) and isinstance(bn.running_var, np.ndarray)
        np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var, expected_var, rtol=1e-12)
    assert len(set(sizes)) == 1, f"the graph grew from step to step: {sizes}"


def test_batchnorm_eval_uses_the_running_statistics():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(3)
    bn.running_mean, bn.running_var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    bn.gamma.data, bn.beta.data = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, -1.0])
    x = rng.standard_normal((5, 3))
    bn.eval()
    y = bn(Tensor(x))
    expected = bn.gamma.data * (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-6) + bn.beta.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -2.0, 0.5])  # eval does not update them
    y1 = bn(Tensor(x[:1]))  # one sample is fine in eval, and its output does not depend on the rest of the batch
    np.testing.assert_allclose(y1.data, y.data[:1], rtol=1e-12)


def test_batchnorm_rejects_what_it_cannot_normalize():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than one sample"):
        bn(Tensor(np.ones((1, 3))))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        bn(Tensor(np.ones((4, 2))))


def test_gradcheck_through_an_mlp_with_batchnorm_and_dropout():
    model = nn.MLP(3, [5, 4], 2, batchnorm=True, dropout=0.3, rng=0)
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    x = np.random.default_rng(1).standard_normal((6, 3))

    def fn(x, *params):
        for d in drops:
            d.rng = np.random.default_rng(7)  # the same masks on every call: the function is deterministic
        with swapped_parameters(model, params):
            return model(x)

    params = [Tensor(p.data, requires_grad=True) for p in model.parameters()]
    assert gradcheck(fn, Tensor(x, requires_grad=True), *params)
    assert all((d.mask == 0).any() and (d.mask != 0).any() for d in drops)  # the masks really drop units


# -- Dropout -------------------------------------------------------------------------------------------------------


def test_dropout_keeps_a_fraction_1_minus_p_and_scales_the_kept_units():
    p, n = 0.3, 1_000_000
    drop = nn.Dropout(p, rng=0)
    y = drop(Tensor(np.ones(n)))
    kept = (y.data != 0).mean()
    assert abs(kept - (1 - p)) < 3 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y.data[y.data != 0], 1 / (1 - p))


def test_dropout_gradient_flows_only_through_kept_units():
    rng = np.random.default_rng(0)
    drop = nn.Dropout(0.5, rng=1)
    x = Tensor(rng.standard_normal((20, 10)), requires_grad=True)
    g = rng.standard_normal((20, 10))
    drop(x).backward(g)
    kept = drop.mask != 0
    assert kept.any() and (~kept).any()
    np.testing.assert_array_equal(x.grad.data[~kept], 0)
    np.testing.assert_allclose(x.grad.data[kept], 2 * g[kept])


def test_dropout_eval_is_the_identity_and_seeds_reproduce_masks():
    x = Tensor(np.ones((50, 50)))
    drop = nn.Dropout(0.5, rng=3)
    first = drop(x).data
    assert not np.array_equal(first, drop(x).data)  # a new mask on every call
    np.testing.assert_array_equal(first, nn.Dropout(0.5, rng=3)(x).data)  # same seed, same mask
    tinygrad6.manual_seed(11)
    a = nn.Dropout(0.5)(x).data
    tinygrad6.manual_seed(11)
    np.testing.assert_array_equal(a, nn.Dropout(0.5)(x).data)
    drop.eval()
    assert drop(x) is x


@pytest.mark.parametrize("p", [1.0, 1.5, -0.1])
def test_dropout_p_is_checked_once_with_one_message(p):
    # PyTorch refuses a bad p when the layer is made, and in F.dropout even when not training; one check
    # (F.check_dropout_p), one message
    with pytest.raises(ValueError) as layer:
        nn.Dropout(p)
    with pytest.raises(ValueError) as functional:
        F.dropout_mask((2, 3), p, np.random.default_rng(0))
    with pytest.raises(ValueError) as not_training:
        F.dropout(Tensor(np.ones(3)), p, training=False)
    message = f"dropout: p must be in [0, 1), got {p}"
    assert str(layer.value) == str(functional.value) == str(not_training.value) == message


# -- MLP, initial weights, l2_penalty --------------------------------------------------------------------------------


def test_mlp_layer_order_matches_multilayernet_extend():
    model = nn.MLP(2, [4, 4], 3, batchnorm=True, dropout=0.5, activation="tanh", rng=0)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 2 + ["Linear"]
    assert [type(layer).__name__ for layer in nn.MLP(2, [4], 3)] == ["Linear", "ReLU", "Linear"]
    assert [(m.in_features, m.out_features) for m in model.linears] == [(2, 4), (4, 4), (4, 3)]
    with pytest.raises(ValueError, match="activation"):
        nn.MLP(2, [4], 3, activation="softplus")


@pytest.mark.parametrize("activation, weight_init, expected_std", [
    ("relu", "auto", lambda n: np.sqrt(2 / n)),
    ("sigmoid", "auto", lambda n: np.sqrt(1 / n)),
    ("tanh", "auto", lambda n: np.sqrt(1 / n)),
    ("sigmoid", "relu", lambda n: np.sqrt(2 / n)),
    ("relu", "sigmoid", lambda n: np.sqrt(1 / n)),
    ("relu", 0.01, lambda n: 0.01),
])
def test_mlp_weight_init_choices(activation, weight_init, expected_std):
    model = nn.MLP(300, [200], 100, activation=activation, weight_init=weight_init, rng=0)
    for layer in model.linears:
        assert abs(layer.W.data.std() / expected_std(layer.in_features) - 1) < 0.05
        np.testing.assert_array_equal(layer.b.data, 0)


def test_all_zero_weights_keep_the_hidden_units_identical():
    """Why the initial weights must not all be equal (chapter 6.2.1): the units of a layer get the same gradient
    and stay copies of one another."""
    rng = np.random.default_rng(0)
    x, t = Tensor(rng.standard_normal((20, 3))), rng.integers(0, 2, 20)
    model = nn.MLP(3, [6], 2, activation="sigmoid", weight_init=0.0)
    opt = tinygrad6.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(model(x), t).backward()
        opt.step()
    W1, W2 = model.linears[0].W.data, model.linears[1].W.data
    assert np.abs(W2).max() > 1e-3  # it did learn something
    np.testing.assert_allclose(W1, W1[:, :1] * np.ones((1, 6)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(W2, W2[:1] * np.ones((6, 1)), rtol=0, atol=1e-15)


def test_l2_penalty_covers_linear_weights_only():
    model = nn.MLP(3, [4], 2, batchnorm=True, rng=0)
    for p in model.parameters():
        p.data = p.data + 0.5  # biases, gamma, beta nonzero too, so including them would show
    lam = 0.1
    penalty = nn.l2_penalty(model, lam)
    expected = 0.5 * lam * sum((m.W.data**2).sum() for m in model.linears)
    np.testing.assert_allclose(penalty.item(), expected, rtol=1e-14)
    penalty.backward()
    for name, p in model.named_parameters():
        if name.endswith(".W"):
            np.testing.assert_allclose(p.grad.data, lam * p.data, rtol=1e-14)
        else:
            assert p.grad is None, name


# -- state_dict, save, load ------------------------------------------------------------------------------------------


def trained_model(seed=0, dtype=np.float64):
    """An MLP with BatchNorm after a few training steps, so its running statistics are not the initial ones."""
    rng = np.random.default_rng(seed)
    model = nn.MLP(3, [8, 8], 2, batchnorm=True, dropout=0.2, rng=seed, dtype=dtype)
    opt = tinygrad6.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(Tensor(rng.standard_normal((16, 3)).astype(dtype))), rng.integers(0, 2, 16)).backward()
        opt.step()
    return model.eval()


def test_state_dict_is_a_copy_with_parameters_and_buffers():
    model = trained_model()
    state = model.state_dict()
    assert list(state) == ["0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b", "5.gamma", "5.beta", "8.W", "8.b",
                           "1.running_mean", "1.running_var", "5.running_mean", "5.running_var"]
    assert all(type(v) is np.ndarray for v in state.values())
    before = state["0.W"].copy()
    model[0].W.data -= 1.0
    np.testing.assert_array_equal(state["0.W"], before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip_restores_identical_outputs(tmp_path, dtype):
    model = trained_model(0, dtype)
    x = Tensor(np.random.default_rng(5).standard_normal((7, 3)).astype(dtype))
    with no_grad():
        expected = model(x).data
    path = tmp_path / "model.npz"
    model.save(path)
    other = nn.MLP(3, [8, 8], 2, batchnorm=True, dropout=0.2, rng=1, dtype=dtype).eval()
    with no_grad():
        assert not np.array_equal(other(x).data, expected)
        assert other.load(path) is other
        np.testing.assert_array_equal(other(x).data, expected)
    assert all(p.dtype == dtype for p in other.parameters())
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_loading_a_wrong_shape_or_key_fails_loudly_and_changes_nothing(tmp_path):
    model = trained_model()
    before = model.state_dict()

    def unchanged():
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[name], err_msg=name)

    wider = nn.MLP(3, [9, 8], 2, batchnorm=True, dropout=0.2, rng=0)
    with pytest.raises(ValueError, match=r"'0\.W' has shape \(3, 9\) in the state but \(3, 8\) in the model"):
        model.load_state_dict(wider.state_dict())
    unchanged()
    late = dict(trained_model(seed=3).state_dict(), **{"8.W": np.zeros((8, 3))})  # every key before it is fine
    with pytest.raises(ValueError, match=r"'8\.W' has shape \(8, 3\) in the state but \(8, 2\)"):
        model.load_state_dict(late)
    unchanged()
    path = tmp_path / "wider.npz"
    wider.save(path)
    with pytest.raises(ValueError, match="0.W"):
        model.load(path)
    unchanged()
    partial = dict(trained_model(seed=3).state_dict())
    del partial["5.running_var"]
    with pytest.raises(KeyError, match=r"missing keys \['5\.running_var'\]"):
        model.load_state_dict(partial)
    unchanged()
    extra = dict(trained_model(seed=3).state_dict(), **{"9.W": np.zeros(2)})
    with pytest.raises(KeyError, match=r"unexpected keys \['9\.W'\]"):
        model.load_state_dict(extra)
    unchanged()
    missing, unexpected = model.load_state_dict(extra, strict=False)
    assert (missing, unexpected) == ([], ["9.W"])
    np.testing.assert_array_equal(model[0].W.data, extra["0.W"])


def test_load_never_unpickles(tmp_path):
    model = nn.MLP(3, [4], 2, rng=0)
    state = model.state_dict()
    state["0.W"] = np.array([{"not": "an array"}] * 12, dtype=object).reshape(3, 4)
    path = tmp_path / "evil.npz"
    np.savez(path, **state)
    before = model[0].W.data.copy()
    with pytest.raises(ValueError, match=r"evil\.npz: '0\.W' is an object array in the file \(a pickle\)"):
        model.load(path)
    np.testing.assert_array_equal(model[0].W.data, before)


def test_an_interrupted_save_leaves_the_old_file_in_place(tmp_path, monkeypatch):
    model = nn.MLP(3, [4], 2, rng=0)
    path = tmp_path / "model.npz"
    model.save(path)
    good = path.read_bytes()

    def crash(f, array, **options):
        f.write(b"half an array")
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    model[0].W.data = model[0].W.data + 1
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["model.npz"]


# -- Parameters and Modules kept in lists, tuples and dicts --------------------------------------------------------


class Heads(nn.Module):
    """What a learner writes without container classes: Parameters in a list, Modules in a dict and a tuple."""

    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.trunk = nn.Linear(3, 4, rng=seed)
        self.scales = [nn.Parameter(rng.standard_normal(4)), nn.Parameter(rng.standard_normal(4))]
        self.heads = {"a": nn.Linear(4, 2, rng=seed + 1), "b": nn.Sequential(nn.ReLU(), nn.Linear(4, 2, rng=seed + 2))}
        self.norms = (nn.BatchNorm1d(4),)
        self.nested = {"pair": [nn.Parameter(np.full(2, seed + 1.0)), (nn.Linear(2, 2, rng=seed + 3),)]}

    def forward(self, x):
        h = self.norms[0](self.trunk(x) * self.scales[0] + self.scales[1])
        shift = self.nested["pair"][1][0](self.nested["pair"][0].reshape(1, 2))  # (1, 2): one per class
        return self.heads["a"](h) + self.heads["b"](h) + shift


# a module's own parameters (also those inside its list/tuple/dict attributes) first, then its sub-modules', depth first
HEADS_NAMES = ["scales.0", "scales.1", "nested.pair.0", "trunk.W", "trunk.b", "heads.a.W", "heads.a.b", "heads.b.1.W",
               "heads.b.1.b", "norms.0.gamma", "norms.0.beta", "nested.pair.1.0.W", "nested.pair.1.0.b"]


def test_parameters_in_lists_tuples_and_dicts_are_found_with_dotted_names():
    model = Heads()
    assert [name for name, _ in model.named_parameters()] == HEADS_NAMES
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]
    found = {id(p) for p in model.parameters()}
    assert id(model.scales[1]) in found and id(model.heads["b"][1].W) in found and id(model.nested["pair"][0]) in found
    assert [name for name, _ in model.named_children()] == ["trunk", "heads.a", "heads.b", "norms.0",
                                                            "nested.pair.1.0"]
    assert list(model.state_dict()) == HEADS_NAMES + ["norms.0.running_mean", "norms.0.running_var"]
    model.eval()
    assert not model.heads["b"].training and not model.norms[0].training


def test_a_training_step_changes_parameters_in_containers():
    model = Heads()
    before = model.state_dict()
    opt = tinygrad6.optim.SGD(model.parameters(), lr=0.1)
    x = Tensor(np.random.default_rng(1).standard_normal((8, 3)))
    F.cross_entropy(model(x), np.arange(8) % 2).backward()
    opt.step()
    after = model.state_dict()
    for name in HEADS_NAMES:
        assert not np.array_equal(after[name], before[name]), name


def test_save_load_round_trip_of_parameters_in_containers(tmp_path):
    model = Heads(seed=0)
    x = Tensor(np.random.default_rng(2).standard_normal((5, 3)))
    model(x)  # training mode: the BatchNorm's running statistics move
    model.eval()
    with no_grad():
        expected = model(x).data
    model.save(tmp_path / "heads.npz")
    other = Heads(seed=5).eval()
    with no_grad():
        assert not np.array_equal(other(x).data, expected)
        other.load(tmp_path / "heads.npz")
        np.testing.assert_array_equal(other(x).data, expected)
    np.testing.assert_array_equal(other.scales[1].data, model.scales[1].data)
    np.testing.assert_array_equal(other.nested["pair"][0].data, model.nested["pair"][0].data)
    other.load_state_dict(Heads(seed=9).state_dict())
    np.testing.assert_array_equal(other.heads["a"].W.data, Heads(seed=9).heads["a"].W.data)


class BadKeys(nn.Module):
    def __init__(self, heads):
        super().__init__()
        self.heads = heads


@pytest.mark.parametrize("heads, wrong", [({1: nn.Linear(2, 2)}, "1"), ({"a.b": nn.Linear(2, 2)}, "'a.b'"),
                                          ({"": nn.Parameter(np.zeros(2))}, "''")])
def test_a_dict_of_parameters_needs_plain_string_keys(heads, wrong):
    with pytest.raises(TypeError, match=rf"BadKeys\.heads.*key {wrong}.*string without '\.'"):
        BadKeys(heads).parameters()


def test_dicts_and_lists_without_parameters_are_left_alone():
    model = BadKeys({1: "one", 2.5: [3, 4]})  # no Parameter or Module inside: any keys are fine
    model.history = list(range(1000))
    assert model.parameters() == [] and model.state_dict() == {}
    loop = []
    loop.append(loop)  # a list that contains itself is visited once
    model.loop = loop
    assert model.parameters() == []


# -- Parameter ----------------------------------------------------------------------------------------------------
def test_a_parameter_keeps_its_shape_and_dtype():
    from tinygrad6.nn import Parameter

    W = Parameter(np.zeros((2, 3)), name="W")
    W.data = np.ones((2, 3))  # same shape and dtype: fine, and counted as a write
    W.data -= 0.5
    np.testing.assert_array_equal(W.data, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"Parameter 'W'.*shape \(3, 2\).*shape \(2, 3\)"):
        W.data = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"dtype float32.*dtype float64"):
        W.data = np.zeros((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(W.data, np.full((2, 3), 0.5))  # unchanged by the refused writes
