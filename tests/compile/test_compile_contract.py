"""The compiled step's contract (issue 20): every call returns what the eager step returns, with the same effects,
bit for bit; or runs eagerly with a GraphBreakWarning; or, under fullgraph=True, raises CompileError with nothing
changed. Each case builds two identical worlds from one seed, runs one eagerly and one compiled on the same batches,
and compares everything after every call: the result, parameters and their .grad, optimizer state, buffers, Dropout
masks, random generators, the user's own lists and counters. The comparison is written here, independently of
tinygrad6.compile.state."""

from __future__ import annotations

import ast
import io
import random
import tokenize
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor, nn, optim
from tinygrad6.compile import CompileError, GraphBreakWarning, compile


@dataclass
class World:
    model: nn.Module
    opt: optim.Optimizer
    step: object
    extra: dict = field(default_factory=dict)  # the user's own state (lists, counters) the step may touch


def arrays_of(world: World, result) -> list[tuple[str, object]]:
    """Every value a user could see, as (name, array or plain value)."""
    out = [("result", None if result is None else np.asarray(result.data if isinstance(result, Tensor) else result))]
    for name, p in world.model.named_parameters():
        out += [(f"{name}.data", p.data.copy()), (f"{name}.grad", None if p.grad is None else p.grad.data.copy()),
                (f"{name}.requires_grad", p.requires_grad)]
    for name, b in world.model.named_buffers():
        out.append((f"buffer {name}", None if b is None else np.array(b)))
    for m in world.model.modules():
        if isinstance(m, nn.Dropout):
            out.append(("dropout mask", None if m.mask is None else np.array(m.mask)))
            out.append(("dropout rng", None if m.rng is None else repr(m.rng.bit_generator.state)))
    for i, state in enumerate(world.opt.state):
        out += [(f"opt.state[{i}][{k}]", np.array(v)) for k, v in state.items()]
    out += [(f"extra {k}", repr(v) if not isinstance(v, Holder) else len(v.optimizers)) for k, v in world.extra.items()]
    return out


def assert_same(a: list, b: list) -> None:
    assert [n for n, _ in a] == [n for n, _ in b]
    for (name, x), (_, y) in zip(a, b):
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x is not None and y is not None, name
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
        else:
            assert x == y, name


def batches(n=5, batch=8, size=6, classes=3, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, size)).astype(dtype), rng.integers(0, classes, batch)) for _ in range(n)]


def run_twins(make, data=None, between=None, fullgraph=False):
    """Run make()'s world eagerly and compiled on the same batches; assert equality after every call. Returns the
    compiled step and the GraphBreakWarnings raised. between(world, i): a change made before call i in both."""
    eager, compiled_world = make(), make()
    step = compile(compiled_world.step, fullgraph=fullgraph)
    caught = []
    for i, (x, t) in enumerate(data or batches()):
        for w in (eager, compiled_world):
            if between:
                between(w, i)
        state = random.getstate(), np.random.get_state()
        expected = eager.step(x.copy(), t.copy())
        seen = arrays_of(eager, expected)
        random.setstate(state[0])
        np.random.set_state(state[1])
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            got = step(x.copy(), t.copy())
        caught += [m for m in w if issubclass(m.category, GraphBreakWarning)]
        assert_same(arrays_of(compiled_world, got), seen)
    return step, caught


def mlp_world(body, dropout=0.0, batchnorm=False, optimizer=optim.SGD, **opt_args):
    """A world whose step is body(world, x, t) on a small MLP."""
    def make():
        tinygrad6.manual_seed(3)
        model = nn.MLP(6, [5], 3, dropout=dropout, batchnorm=batchnorm, rng=0)
        opt = optimizer(model.parameters(), **({"lr": 0.1} | opt_args))
        world = World(model, opt, None, {"history": [], "count": 0})
        world.step = lambda x, t: body(world, x, t)
        return world
    return make


def plain(world, x, t, loss_fn=None):
    world.opt.zero_grad()
    loss = (loss_fn or F.cross_entropy)(world.model(Tensor(x)), t)
    loss.backward()
    world.opt.step()
    return loss


# -- one step per family: (body, expected outcome) ---------------------------------------------------------------------
def numpy_on_args(w, x, t):
    return plain(w, x / 2, t)


def numpy_one_hot(w, x, t):
    w.opt.zero_grad()
    logp = F.log_softmax(w.model(Tensor(x)))
    loss = -(logp * np.eye(3)[t]).sum() / len(t)
    loss.backward()
    w.opt.step()
    return loss


def fancy_index_labels(w, x, t):
    w.opt.zero_grad()
    logp = F.log_softmax(w.model(Tensor(x)))
    loss = -logp[np.arange(len(t)), t.copy()].mean()
    loss.backward()
    w.opt.step()
    return loss


def reshape_with_len(w, x, t):
    return plain(w, x.reshape(len(x), -1), t)


def numpy_noise(w, x, t):
    return plain(w, x + np.random.standard_normal(x.shape) * 0.1, t)


def branch_on_item(w, x, t):
    w.opt.zero_grad()
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    if loss.item() > 1.0:
        loss = loss * 2
    loss.backward()
    w.opt.step()
    return loss


def history_append(w, x, t):
    loss = plain(w, x, t)
    w.extra["history"].append(loss.item())
    return loss


def step_counter(w, x, t):
    w.extra["count"] += 1
    return plain(w, x * 1.0, t)


def mse_onehot(y, t):
    one_hot = (Tensor(t).reshape(-1, 1) == Tensor(np.arange(3))).astype(y.dtype)
    return ((F.softmax(y) - one_hot) ** 2).mean()


def random_branch(w, x, t):
    return plain(w, x, t) if random.random() < 0.5 else plain(w, x, t, mse_onehot)


def clip_through_data(w, x, t):
    w.opt.zero_grad()
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    loss.backward()
    for p in w.model.parameters():
        np.clip(p.grad.data, -0.01, 0.01, out=p.grad.data)
    w.opt.step()
    return loss


def clip_by_assignment(w, x, t):
    w.opt.zero_grad()
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    loss.backward()
    for p in w.model.parameters():
        p.grad = p.grad.clip(-0.01, 0.01)
    w.opt.step()
    return loss


def hand_update(w, x, t):
    w.opt.zero_grad()
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    loss.backward()
    for p in w.model.parameters():
        p.data -= 0.1 * p.grad.data
    return loss


def grad_function(w, x, t):
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    params = w.model.parameters()
    for p, g in zip(params, tinygrad6.grad(loss, params)):
        p.grad = g
    w.opt.step()
    return loss


def manual_zero(w, x, t):
    for p in w.model.parameters():
        p.grad = None
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    loss.backward()
    w.opt.step()
    return loss


def two_updates(w, x, t):
    plain(w, x, t)
    return plain(w, x, t)


def loss_after_update(w, x, t):
    plain(w, x, t)
    return F.cross_entropy(w.model(Tensor(x)), t)


def accumulate(w, x, t):  # no zero_grad: gradients add up from call to call, as eager's do
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    loss.backward()
    w.opt.step()
    return loss


def hand_mse(w, x, t):
    w.opt.zero_grad()
    y = F.softmax(w.model(Tensor(x)))
    one_hot = Tensor(t).reshape(-1, 1) == Tensor(np.arange(3))
    loss = ((y - one_hot.astype(np.float64)) ** 2).sum() / len(t)
    loss.backward()
    w.opt.step()
    return loss


def float64_square(w, x, t):
    return plain(w, x, t, lambda y, t: F.cross_entropy(y, t) ** 2)


def nan_guard(w, x, t):
    loss = plain(w, x, t)
    if not np.isfinite(loss.item()):
        raise FloatingPointError("loss is not finite")
    return loss



EAGER, VERIFIED, COMPILED = "eager with a warning", "eager with a warning after verification", "compiled, equal"
FAMILIES = {
    "numpy on an argument (x / 2)": (numpy_on_args, EAGER),
    "numpy one-hot np.eye(C)[t]": (numpy_one_hot, VERIFIED),
    "indexing with the labels": (fancy_index_labels, EAGER),
    "x.reshape(len(x), -1)": (reshape_with_len, EAGER),
    "noise from np.random": (numpy_noise, EAGER),
    "if loss.item() > 1": (branch_on_item, EAGER),
    "history.append(loss.item())": (history_append, EAGER),
    "a step counter": (step_counter, EAGER),
    "random.random() choosing a branch": (random_branch, EAGER),
    "clipping through p.grad.data": (clip_through_data, EAGER),
    "p.grad = p.grad.clip(...)": (clip_by_assignment, EAGER),
    "a hand-written update": (hand_update, EAGER),
    "tinygrad6.grad() then p.grad = g": (grad_function, EAGER),
    "a NaN guard that raises": (nan_guard, EAGER),
    "p.grad = None instead of zero_grad()": (manual_zero, VERIFIED),  # at trace when .grad was set before: below
    "two updates in one call": (two_updates, COMPILED),
    "the loss measured after the update": (loss_after_update, COMPILED),
    "gradients accumulated across calls": (accumulate, COMPILED),
    "a hand-written MSE": (hand_mse, COMPILED),
    "float64 loss ** 2": (float64_square, COMPILED),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_equal_to_eager_compiled_or_with_a_warning(family):
    body, outcome = FAMILIES[family]
    step, caught = run_twins(mlp_world(body))
    if outcome in (EAGER, VERIFIED):
        assert step.breaks and caught, f"{family}: expected a graph break"
        at_verification = "first replay differs" in str(step.breaks[0])
        assert at_verification == (outcome == VERIFIED), step.explain()  # seen by the trace itself, or by verification
        assert step.traces == 1 and step.replays == 0
        messages = [str(m.message) for m in caught]
        assert len(set(messages)) == len(messages) == len(step.breaks), messages  # each reason warned once
        assert "test_compile_contract.py" in str(caught[0].message) or caught[0].filename.endswith(
            "test_compile_contract.py")  # names the user's file
    else:
        assert not step.breaks and not caught, step.explain()
        assert step.replays >= 3


@pytest.mark.parametrize("family", [f for f, (_, outcome) in FAMILIES.items() if outcome != COMPILED])
def test_fullgraph_refuses_before_any_visible_change(family):
    body, _ = FAMILIES[family]
    world = mlp_world(body)()
    step = compile(world.step, fullgraph=True)
    for x, t in batches(3):  # refused on the first call, or on the second, where the first replay is verified
        before = arrays_of(world, None)
        rng_state, np_state = random.getstate(), np.random.get_state()
        try:
            step(x, t)
        except CompileError as e:
            assert "fullgraph" in str(e)
            break
    else:
        pytest.fail("never refused")
    assert_same(arrays_of(world, None), before)
    assert random.getstate() == rng_state
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state))


# -- settings and structure changed between calls ---------------------------------------------------------------------
def set_dropout_p(w, i):
    for m in w.model.modules():
        if isinstance(m, nn.Dropout) and i == 2:
            m.p = 0.5


def set_inverted(w, i):
    for m in w.model.modules():
        if isinstance(m, nn.Dropout) and i == 2:
            m.inverted = False


def set_bn_momentum(w, i):
    for m in w.model.modules():
        if isinstance(m, nn.BatchNorm1d) and i == 2:
            m.momentum, m.eps = 0.5, 1e-3


def manual_seed(w, i):
    if i in (2, 3):
        tinygrad6.manual_seed(i)


def freeze(w, i):
    if i == 2:
        w.model.parameters()[0].requires_grad = False


def hook_later(w, i):
    if i == 2:
        w.model.parameters()[0].register_hook(lambda g: g * 0)


def replace_layer(w, i):
    if i == 2:
        layers = w.model.layers
        layers[0] = nn.Linear(6, 5, rng=1)
        w.opt.params[0], w.opt.params[1] = layers[0].W, layers[0].b


def new_lr(w, i):
    w.opt.lr = 0.1 / (i + 1)


def eval_mode(w, i):
    w.model.train(i % 2 == 0)


SETTINGS = {"Dropout.p": (set_dropout_p, dict(dropout=0.3)), "Dropout.inverted": (set_inverted, dict(dropout=0.3)),
            "BatchNorm momentum, eps": (set_bn_momentum, dict(batchnorm=True)),
            "tinygrad6.manual_seed": (manual_seed, dict(dropout=0.3)), "requires_grad switched off": (freeze, {}),
            "a hook registered after the first call": (hook_later, {}), "a layer replaced": (replace_layer, {}),
            "the learning rate": (new_lr, {}), "train/eval": (eval_mode, dict(dropout=0.3, batchnorm=True))}


@pytest.mark.parametrize("setting", SETTINGS)
def test_settings_changed_between_calls_are_seen(setting):
    between, options = SETTINGS[setting]
    run_twins(mlp_world(plain, **options), between=between)


def test_the_chapter_steps_stay_compiled_and_verified():
    for options in ({}, dict(batchnorm=True), dict(dropout=0.3)):
        step, caught = run_twins(mlp_world(plain, **options), data=batches(6))
        assert not caught and not step.breaks and step.traces == 1 and step.replays == 5
        assert "verified" in step.explain()


def test_arguments_keyed_by_value_and_structure_not_by_id():
    def make():
        world = mlp_world(plain)()
        world.step = lambda batch, scale: plain(world, Tensor(batch[0]) * float(scale), batch[1])
        return world

    eager, other = make(), make()
    step = compile(other.step)
    for i, (x, t) in enumerate(batches(4)):
        for scale in (np.float32(1.0), np.float32(0.5), np.int64(i)):
            expected = eager.step((x, t), scale)
            assert_same(arrays_of(other, step((x, t), scale)), arrays_of(eager, expected))


def test_an_argument_that_requires_grad_gets_its_own_gradient():
    W = Tensor(np.ones((6, 3)), requires_grad=True)

    def f(x):
        loss = (x @ W).tanh().sum()
        loss.backward()
        return loss

    step = compile(f)
    for k in range(3):
        x1, x2 = Tensor(np.full((2, 6), k + 1.0), requires_grad=True), Tensor(np.full((2, 6), k + 1.0),
                                                                              requires_grad=True)
        W.grad = None
        f(x1)
        W.grad = None
        step(x2)
        np.testing.assert_array_equal(x2.grad.data, x1.grad.data)
    x3 = Tensor(np.ones((2, 6)))  # the same shape, without requires_grad: a new trace
    W.grad = None
    step(x3)
    assert x3.grad is None and step.traces == 2


def test_aliased_arguments_trace_again():
    def f(a, b):
        return (Tensor(a) * Tensor(b)).sum()

    step = compile(f)
    x, y = np.arange(3.0), np.arange(3.0) + 10
    assert step(x, x).item() == f(x, x).item()
    assert step(x, y).item() == f(x, y).item()
    assert step.traces == 2


def test_a_compiled_step_inside_another_is_traced_as_part_of_it():
    inner_world = mlp_world(plain)()
    inner = compile(inner_world.step)
    outer = compile(lambda x, t: inner(x, t) * 1.0)
    eager_world = mlp_world(plain)()
    for x, t in batches(4):
        got, expected = outer(x, t), eager_world.step(x, t) * 1.0
        assert got.data.tobytes() == expected.data.tobytes()
        assert_same(arrays_of(inner_world, None), arrays_of(eager_world, None))


# -- names that reach the generated source --------------------------------------------------------------------------
HOSTILE = ["training; print('x') #", "a\nb", "µ", "μ", "class", "1x", "'\"", "ß", "x" * 300, "sgd", "np", "Tensor"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_data_in_the_program(name, capsys):
    def make():
        model = nn.MLP(6, [5], 3, batchnorm=True, rng=0)
        for p in model.parameters():
            p.name = name
        bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm1d))
        bn.register_buffer(name, np.zeros(5))
        opt = optim.SGD(model.parameters(), lr=0.1)
        world = World(model, opt, None)

        def step(x, t):
            with tinygrad6.scope(name):
                return plain(world, x, t)
        step.__name__ = name if name.isidentifier() else "step"
        world.step = step
        return world

    step, caught = run_twins(make)
    assert not caught and step.replays >= 3
    source = step.source()
    assert source.isascii()
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    code = [tok.string for tok in tokens if tok.type not in (tokenize.STRING, tokenize.COMMENT)]
    assert "print" not in code and all(s.isascii() for s in code)
    for comment in (tok.string for tok in tokens if tok.type == tokenize.COMMENT):  # only reprs of user text
        assert isinstance(ast.literal_eval(comment[2:]), str)
    assert capsys.readouterr().out == ""


def test_two_parameters_named_alike_after_nfkc_stay_two():
    def make():
        model = nn.MLP(6, [5], 3, rng=0)
        params = model.parameters()
        params[0].name, params[2].name = "µ", "μ"  # MICRO SIGN and GREEK MU: one name to Python after NFKC
        world = World(model, optim.SGD(params, lr=0.1), None)
        world.step = lambda x, t: plain(world, x, t)
        return world

    step, caught = run_twins(make)
    assert not caught and step.replays >= 3


def test_constants_zero_and_negative_zero_are_two_constants():
    def f(x):
        return (Tensor(x) * 0.0 + Tensor(x) * -0.0).sum() * Tensor(np.float32(1))

    step = compile(f)
    for _ in range(3):
        x = -np.ones(3, dtype=np.float32)
        assert step(x).data.tobytes() == f(x).data.tobytes()


def test_op_parameters_given_as_numpy_values_compile():
    def f(x):
        return (Tensor(x).reshape(np.int64(2), np.array(3)).astype(">f8") * 2).sum()

    step = compile(f)
    for k in range(3):
        x = np.arange(6.0) + k
        assert step(x).item() == f(x).item()
    assert not step.breaks


def test_explain_names_the_break_and_the_line():
    step = compile(mlp_world(branch_on_item)().step)
    with pytest.warns(GraphBreakWarning, match=r"item\(\)"):
        step(*batches(1)[0])
    text = step.explain()
    assert "graph break" in text and "test_compile_contract.py" in text and "loss.item() > 1.0" in text


# -- a grammar of steps (hypothesis) --------------------------------------------------------------------------------
LOSSES = {"cross_entropy": F.cross_entropy, "mse one-hot": mse_onehot,
          "square": lambda y, t: F.cross_entropy(y, t) ** 2}
EXTRAS = [None, "item branch", "counter", "history", "grad.data clip", "grad clip assign", "two updates",
          "numpy on x", "numpy noise", "python random", "loss after update", "no zero_grad"]
CHANGES = [None, "lr", "dropout p", "train/eval", "manual_seed", "freeze"]


def grammar_step(loss_name, extra):
    loss_fn = LOSSES[loss_name]

    def body(w, x, t):
        if extra == "numpy on x":
            x = x - x.mean()
        if extra == "numpy noise":
            x = x + np.random.standard_normal(x.shape)
        if extra == "python random" and random.random() < 0.3:
            x = x * 2
        if extra != "no zero_grad":
            w.opt.zero_grad()
        loss = loss_fn(w.model(Tensor(x)), t)
        if extra == "item branch" and loss.item() > 1.1:
            loss = loss * 0.5
        loss.backward()
        if extra == "grad.data clip":
            for p in [p for p in w.model.parameters() if p.grad is not None]:
                p.grad.data[...] = np.clip(p.grad.data, -0.05, 0.05)
        if extra == "grad clip assign":
            for p in [p for p in w.model.parameters() if p.grad is not None]:
                p.grad = p.grad.clip(-0.05, 0.05)
        w.opt.step()
        if extra == "two updates":
            w.opt.zero_grad()
            loss_fn(w.model(Tensor(x)), t).backward()
            w.opt.step()
        if extra == "loss after update":
            loss = loss_fn(w.model(Tensor(x)), t)
        if extra == "counter":
            w.extra["count"] += 1
        if extra == "history":
            w.extra["history"].append(float(loss))
        return loss
    return body


CHANGE = {None: None, "lr": new_lr, "dropout p": set_dropout_p, "train/eval": eval_mode, "manual_seed": manual_seed,
          "freeze": freeze}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loss=st.sampled_from(sorted(LOSSES)), extra=st.sampled_from(EXTRAS), change=st.sampled_from(CHANGES),
       optimizer=st.sampled_from(["SGD", "Momentum", "Adam"]), batchnorm=st.booleans(),
       dtype=st.sampled_from([np.float64, np.float32]), fullgraph=st.booleans())
def test_any_step_of_the_grammar_keeps_the_contract(loss, extra, change, optimizer, batchnorm, dtype, fullgraph):
    make = mlp_world(grammar_step(loss, extra), dropout=0.2, batchnorm=batchnorm,
                     optimizer=optim.OPTIMIZERS[optimizer])
    data = [(x.astype(dtype), t) for x, t in batches(4, seed=7)]
    if not fullgraph:
        run_twins(make, data=data, between=CHANGE[change])
        return
    world = make()
    step = compile(world.step, fullgraph=True)
    for i, (x, t) in enumerate(data):
        if CHANGE[change]:
            CHANGE[change](world, i)
        before = arrays_of(world, None)
        try:
            step(x, t)
        except CompileError:
            assert_same(arrays_of(world, None), before)
            return


# -- behaviours tested eagerly elsewhere, with a compiled twin --------------------------------------------------------
def test_kinks_and_ties_replay_as_eager_computes_them():
    W = Tensor(np.array([[1.0, -1.0], [0.0, 2.0]]), requires_grad=True)
    opt = optim.SGD([W], lr=0.0)

    def f(x):
        opt.zero_grad()
        h = Tensor(x) @ W
        loss = (h.relu() + h.abs() + h.clip(-1.0, 1.0) + h.maximum(h * 1.0) + h.max(axis=1, keepdims=True)).sum()
        loss.backward()
        return loss

    step = compile(f)
    for x in (np.zeros((3, 2)), np.array([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]), np.ones((3, 2))):
        expected = f(x)
        g = W.grad.data.copy()
        got = step(x)
        assert got.data.tobytes() == expected.data.tobytes() and W.grad.data.tobytes() == g.tobytes()
    assert not step.breaks and step.replays == 2


def test_leaf_gradients_are_separate_arrays_after_a_replay():
    world = mlp_world(plain)()
    step = compile(world.step)
    for x, t in batches(3):
        step(x, t)
    grads = [p.grad.data for p in world.model.parameters()]
    assert all(not np.shares_memory(a, b) for i, a in enumerate(grads) for b in grads[i + 1:])
    assert not any(np.shares_memory(g, p.data) for g, p in zip(grads, world.model.parameters()))


def test_a_new_dtype_traces_again_and_equals_eager():
    data = [(x.astype(np.float32 if i % 2 else np.float64), t) for i, (x, t) in enumerate(batches(4))]
    step, caught = run_twins(mlp_world(plain), data=data)
    assert step.traces == 2 and not caught


def test_non_finite_constants_replay():
    def f(x):
        y = Tensor(x)
        return ((y * np.inf).maximum(0.0) + (y + np.nan) * 0.0 + y * -np.inf).sum()

    step = compile(f)
    for k in range(3):
        x = np.array([1.0, -2.0, 0.5]) * (k + 1)
        assert step(x).data.tobytes() == f(x).data.tobytes()
    assert not step.breaks


def test_keyword_arguments_are_keyed_and_passed():
    def make():
        world = mlp_world(plain)()
        world.step = lambda x, t, scale=1.0: plain(world, Tensor(x) * scale, t)
        return world

    eager, other = make(), make()
    step = compile(other.step)
    for x, t in batches(3):
        for kwargs in ({"t": t}, {"t": t, "scale": 0.5}):
            expected = eager.step(x, **kwargs)
            assert_same(arrays_of(other, step(x, **kwargs)), arrays_of(eager, expected))
    assert not step.breaks and step.traces == 2


# -- more families: custom ops, in-place writes, modes, Python state read by the step -------------------------------
class Saving(tinygrad6.Op):
    """y = relu(x), with its mask saved in forward (a rule reading saved arrays, not its inputs)."""

    def forward(self, x):
        self.save(positive=(x > 0).astype(x.dtype))
        return x * (x > 0)

    def backward(self, gy):
        return gy * Tensor(self.saved["positive"])


class ReadsData(tinygrad6.Op):
    """y = 2x, whose backward reads its input's .data."""

    def forward(self, x):
        return x * 2.0

    def backward(self, gy):
        return gy * Tensor(np.ones_like(self.inputs[0].data) * 2.0)


def custom_saving(w, x, t):
    return plain(w, x, t, lambda y, t: F.cross_entropy(Saving.apply(y), t))


def custom_reads_data(w, x, t):
    return plain(w, x, t, lambda y, t: F.cross_entropy(ReadsData.apply(y), t))


def in_place_write(w, x, t):
    w.opt.zero_grad()
    h = w.model(Tensor(x))
    h[0] = 0.0
    loss = F.cross_entropy(h, t)
    loss.backward()
    w.opt.step()
    return loss


def anomaly_inside(w, x, t):
    with tinygrad6.detect_anomaly():
        return plain(w, x, t)


SCALE = 1.0


def global_scale(w, x, t):
    return plain(w, Tensor(x) * SCALE, t)


CONFIG = {"scale": 1.0}


def config_dict(w, x, t):
    return plain(w, Tensor(x) * CONFIG["scale"], t)


def set_config(w, i):
    CONFIG["scale"] = 1.0 + (i >= 2)


def closure_tensor(w, x, t):
    return plain(w, Tensor(x) + w.extra["shift"], t)


def deep_optimizer(w, x, t):
    w.opt.zero_grad()
    loss = F.cross_entropy(w.model(Tensor(x)), t)
    loss.backward()
    w.extra["holder"].optimizers[0].step()
    return loss


FAMILIES.update({
    "a custom op whose backward reads self.saved": (custom_saving, VERIFIED),
    "a custom op whose backward reads .data": (custom_reads_data, EAGER),
    "an in-place write inside the step": (in_place_write, EAGER),
    "detect_anomaly() entered inside the step": (anomaly_inside, EAGER),
})


@pytest.mark.parametrize("family", ["a custom op whose backward reads self.saved",
                                    "a custom op whose backward reads .data", "an in-place write inside the step",
                                    "detect_anomaly() entered inside the step"])
def test_more_families_run_eagerly_with_one_warning(family):
    test_each_family_is_equal_to_eager_compiled_or_with_a_warning(family)


def set_scale(w, i):
    global SCALE
    SCALE = 1.0 + (i >= 2)


def shift_data(w, i):
    if "shift" not in w.extra:
        w.extra["shift"] = Tensor(np.zeros(6))
    w.extra["shift"].data = np.full(6, float(i))


class Holder:
    def __init__(self, optimizers):
        self.optimizers = optimizers


def swap_optimizer(w, i):
    if "holder" not in w.extra:
        w.extra["holder"] = Holder([w.opt])
    if i == 2:
        w.extra["holder"].optimizers[0] = optim.Momentum(w.model.parameters(), lr=0.05)


def test_grad_set_by_the_step_itself_is_seen_at_trace_when_it_was_set_before():
    world = mlp_world(manual_zero)()
    x, t = batches(1)[0]
    plain(world, x, t)  # gradients exist before the compiled step's first call
    step = compile(world.step)
    with pytest.warns(GraphBreakWarning, match="set by the step's own code"):
        step(x, t)
    assert step.replays == 0 and "differs" not in str(step.breaks[0])


@pytest.mark.parametrize("body, between", [(global_scale, set_scale), (config_dict, set_config),
                                           (closure_tensor, shift_data),
                                           (deep_optimizer, swap_optimizer)],
                         ids=["a global float rebound", "an entry of a global dict", "a closure tensor given new .data",
                              "an optimizer replaced in a list two attributes deep"])
def test_python_state_the_step_reads_is_guarded(body, between):
    global SCALE
    try:
        step, caught = run_twins(mlp_world(body), between=between)
        assert not caught and step.replays >= 1, step.explain()
    finally:
        SCALE = 1.0
        CONFIG["scale"] = 1.0


step = None  # a global named like an attribute the step's code reads (opt.step()): rebinding it must not retrace


def test_a_global_named_like_an_attribute_is_not_guarded():
    global step
    try:
        def rebind(w, i):
            global step
            step = i

        compiled, caught = run_twins(mlp_world(plain), between=rebind)
        assert compiled.traces == 1 and not caught, compiled.explain()
    finally:
        step = None


def test_two_leaves_given_one_gradient_array_get_separate_copies():
    p, q = Tensor(np.ones(4), requires_grad=True), Tensor(np.ones(4), requires_grad=True)
    opt = optim.SGD([p, q], lr=0.0)

    def f(x):
        opt.zero_grad()
        loss = ((p + q) * Tensor(x)).sum()  # dp and dq are the same array in the graph
        loss.backward()
        return loss

    step = compile(f)
    for k in range(3):
        step(np.arange(4.0) + k)
        assert not np.shares_memory(p.grad.data, q.grad.data)
        p.grad.data[0] = 99.0  # a user editing one gradient leaves the other alone, as in eager
        assert q.grad.data[0] == k


class Rebinding(optim.SGD):
    """SGD whose update rebinds p.data to a new array (not in place), as a user's optimizer may."""

    def update(self, p, g, state):
        p.data = p.data - self.lr * g


def test_parameters_are_read_again_after_an_update_that_rebinds_them():
    step, caught = run_twins(mlp_world(two_updates, optimizer=Rebinding))
    assert not caught and step.replays >= 3


def test_python_float_arguments_are_keyed_bit_for_bit():
    def f(x, scale):
        return Tensor(x) * scale  # (a sum of -0.0s would be +0.0: the elements tell the signs apart)

    step = compile(f)
    x = np.ones(3)
    for scale in (0.0, -0.0, 0.0, float("nan"), float("nan")):
        assert step(x, scale).data.tobytes() == f(x, scale).data.tobytes()
    assert step.traces == 3  # 0.0, -0.0 and NaN: three programs, NaN found again


ZERO = 0.0


def test_a_global_changed_from_zero_to_negative_zero_is_seen():
    global ZERO

    def f(x):
        return Tensor(x) * ZERO

    step, x = compile(f), np.ones(3)
    try:
        for value in (0.0, 0.0, -0.0, -0.0, 1, True):  # 1 and True are equal in Python, not the same setting
            ZERO = value
            assert step(x).data.tobytes() == f(x).data.tobytes()
        assert step.traces == 4
    finally:
        ZERO = 0.0


def test_manual_seed_between_calls_is_seen_by_dropout_on_the_default_generator():
    def f(x):
        return F.dropout(Tensor(x), 0.5)

    step, x = compile(f), np.ones((4, 5))
    tinygrad6.manual_seed(1)
    step(x)  # traced with the generator manual_seed(1) made
    for seed in (1, 2, 2, 3):
        tinygrad6.manual_seed(seed)
        expected = f(x).data.copy()
        tinygrad6.manual_seed(seed)
        assert step(x).data.tobytes() == expected.tobytes()
    assert not step.breaks  # seen by the guard (a new trace), not left to verification


SIGN = 0.0


def test_a_step_that_flips_a_global_zeros_sign_is_a_graph_break():
    global SIGN

    def f(x):
        global SIGN
        SIGN = -SIGN  # 0.0 -> -0.0: equal as floats, not as values
        return Tensor(x) * 2.0

    step = compile(f)
    try:
        with pytest.warns(GraphBreakWarning, match="SIGN"):
            step(np.ones(2))
        assert step.breaks
    finally:
        SIGN = 0.0


def test_verify_false_still_checks_a_program_that_keeps_arrays_the_step_made():
    eager, other = mlp_world(numpy_one_hot)(), mlp_world(numpy_one_hot)()
    step = compile(other.step, verify=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, t in batches(3):
            expected = eager.step(x, t)
            assert_same(arrays_of(other, step(x, t)), arrays_of(eager, expected))
    assert step.breaks and "first replay differs" in str(step.breaks[0]) and caught


def test_verify_false_skips_the_check_of_a_step_that_keeps_nothing():
    world = mlp_world(plain)()
    step = compile(world.step, verify=False)
    for x, t in batches(3):
        step(x, t)
    assert step.verify_seconds == 0 and step.replays == 2 and not step.breaks
