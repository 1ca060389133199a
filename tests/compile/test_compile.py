"""The compiled training step (tinygrad6/compile.py) and what it needs from the core: trace mode and pure backward
rules. Eager tinygrad6 is the reference: a compiled step must give the same numbers after many steps."""

from __future__ import annotations

import numpy as np
import pytest
from compiled_steps import chapter_step

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import Tensor, nn, optim
from tinygrad6.compile import compile, trace

OPTIMIZERS = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW"]


def batches(n=4, batch=16, size=12, classes=5, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, size)), rng.integers(0, classes, batch)) for _ in range(n)]


def constants(recorded, inputs=()) -> list[np.ndarray]:
    """Every array a program of this trace would keep from the traced call, in trace order: leaves that are not
    `inputs` (arrays), parameters or buffers, array parameters of ops and values ops saved. Two traces of a pure step
    on different batches give equal lists."""
    skip = {id(a) for a in inputs} | {id(e[3]) for e in recorded.events if e[0] == "read"}
    skip |= {id(e[2]) for e in recorded.events if e[0] == "op"}
    found: list[np.ndarray] = []
    for op in (e[1] for e in recorded.events if e[0] == "op"):
        found += [x._data for x in op.inputs if not ({id(x), id(x._data)} & skip or x.requires_grad)]
        found += [v for v in [*op.params.values(), *(op.saved or {}).values()] if isinstance(v, np.ndarray)]
    return found


def assert_same_state(m1, o1, m2, o2):
    for (name, p), q in zip(m1.named_parameters(), m2.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(q.grad.data, p.grad.data, rtol=0, atol=1e-12, err_msg=name)
    for (name, a), (_, b) in zip(m1.named_buffers(), m2.named_buffers()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12, err_msg=name)
    for s1, s2 in zip(o1.state, o2.state):
        assert s1.keys() == s2.keys()
        for k in s1:
            np.testing.assert_allclose(s2[k], s1[k], rtol=0, atol=1e-12, err_msg=k)


# -- trace mode ---------------------------------------------------------------------------------------------------
def test_trace_records_ops_on_tensors_without_grad_and_leaves_them_without_grad():
    x = Tensor(np.ones((3, 2)))
    W = Tensor(np.ones((2, 4)), requires_grad=True)

    def f():
        xt = x.mT  # no input requires grad: eager folds it into a constant
        return (xt.mT @ W).sum(), xt

    recorded, (loss, xt) = trace(f)
    assert xt.creator is not None and xt.creator.inputs == (x,) and not xt.requires_grad
    assert [e[1].name for e in recorded.events if e[0] == "op"][:3] == ["transpose", "transpose", "matmul"]
    loss.backward()  # the backward loop follows requires_grad only
    np.testing.assert_array_equal(W.grad.data, np.full((2, 4), 3.0))
    assert x.grad is None


def test_eager_ops_on_tensors_without_grad_stay_unrecorded():
    x = Tensor(np.ones((3, 2)))
    assert x.mT.creator is None and (x > 0).creator is None


def test_comparisons_are_recorded_ops_without_gradient():
    x = Tensor([-1.0, 2.0], requires_grad=True)
    recorded, mask = trace(lambda: x > 0)
    assert mask.creator.name == "compare" and mask.creator.inputs[0] is x and not mask.requires_grad
    np.testing.assert_array_equal(mask.data, [False, True])


# -- pure backward rules -------------------------------------------------------------------------------------------
RULES = {  # each rule the issue lists as reading a value saved from one forward pass, on h = x @ W
    "relu": lambda h, t: h.relu().sum(),
    "abs": lambda h, t: h.abs().sum(),
    "maximum": lambda h, t: h.maximum(h * 0.5).sum(),
    "minimum": lambda h, t: h.minimum(0.1).sum(),
    "clip": lambda h, t: h.clip(-0.5, 0.5).sum(),
    "where": lambda h, t: tinygrad6.where(h > 0.2, h, h * 2).sum(),
    "max": lambda h, t: h.max(axis=1).sum(),
    "min": lambda h, t: h.min(axis=0).sum(),
    "softmax": lambda h, t: (F.softmax(h) * F.softmax(h * 2)).sum(),
    "cross_entropy labels": lambda h, t: F.cross_entropy(h, t),
    "cross_entropy one-hot": lambda h, t: F.cross_entropy(h, Tensor(t).reshape(-1, 1) == Tensor(np.arange(5))),
}


def rule_step(rule):
    W = Tensor(np.random.default_rng(0).standard_normal((12, 5)), requires_grad=True)

    def step(x, t):
        loss = RULES[rule](Tensor(x) @ W, t)
        loss.backward()
        return loss

    return step


@pytest.mark.parametrize("make", [
    pytest.param(lambda: chapter_step()[2], id="plain"),
    pytest.param(lambda: chapter_step(batchnorm=True)[2], id="batchnorm"),
    pytest.param(lambda: chapter_step(dropout=0.3)[2], id="dropout"),
] + [pytest.param(lambda rule=rule: rule_step(rule), id=rule) for rule in RULES])
def test_a_traced_step_keeps_no_value_of_the_traced_batch(make):
    """Traced on two different batches (from the same weights), a pure step keeps equal constants: every value of
    the batch reaches the program through an input, none is baked into a rule."""
    (x1, t1), (x2, t2) = batches(2)
    first, _ = trace(make(), x1, t1)
    second, _ = trace(make(), x2, t2)
    a, b = constants(first, (x1, t1)), constants(second, (x2, t2))
    assert len(a) == len(b)
    for i, (u, v) in enumerate(zip(a, b)):
        np.testing.assert_array_equal(u, v, err_msg=f"constant {i} differs between the two traces")


# -- the compiled step ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("kind", ["plain", "batchnorm", "dropout"])
def test_compiled_equals_eager_after_ten_steps(optimizer, kind):
    options = {"plain": {}, "batchnorm": {"batchnorm": True}, "dropout": {"dropout": 0.3}}[kind]
    m1, o1, eager = chapter_step(optimizer=optimizer, weight_decay=1e-3, **options)
    m2, o2, step = chapter_step(optimizer=optimizer, weight_decay=1e-3, **options)
    compiled = compile(step)
    for x, t in batches(10):
        np.testing.assert_allclose(compiled(x, t).item(), eager(x, t).item(), rtol=0, atol=1e-12)
    assert compiled.traces == 1
    assert_same_state(m1, o1, m2, o2)


def test_dropout_mask_after_each_replay_is_the_one_eager_drew():
    m1, _, eager = chapter_step(dropout=0.3)
    m2, _, step = chapter_step(dropout=0.3)
    compiled = compile(step)
    pairs = [(a, b) for a, b in zip(m1.modules(), m2.modules()) if isinstance(a, nn.Dropout)]
    assert len(pairs) == 2
    for x, t in batches(3):
        eager(x, t), compiled(x, t)
        for a, b in pairs:
            np.testing.assert_array_equal(b.mask, a.mask)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # sqrt's gradient at 0, on purpose
def test_an_inf_gradient_at_a_zeroed_relu_unit_gives_what_eager_gives():
    """ReLU's backward is where(y > 0, gy, 0): a product when gy is finite, np.where otherwise (inf * 0 is NaN)."""
    W = Tensor(np.random.default_rng(0).standard_normal((12, 5)), requires_grad=True)

    def step(x, t):
        loss = (Tensor(x) @ W).relu().sqrt().sum()  # d sqrt at 0 is inf, where ReLU zeroed the unit
        loss.backward()
        return loss

    compiled = compile(step)
    for x, t in batches(3):
        W.grad = None
        compiled(x, t)
        replayed = W.grad.data
        W.grad = None
        step(x, t)
        np.testing.assert_array_equal(replayed, W.grad.data)
    assert compiled.traces == 1


def test_a_broadcast_operand_is_left_to_numpy_only_where_numpy_broadcasts_it_the_same_way():
    v = Tensor(np.random.default_rng(0).standard_normal(12), requires_grad=True)

    def step(x, t):  # x @ B and h * C have the shape of x and h; only in h * C may numpy broadcast v itself
        loss = ((Tensor(x) @ v.broadcast_to((12, 12))) * v.broadcast_to((16, 12))).sum()
        loss.backward()
        return loss

    compiled = compile(step)
    for x, t in batches(2, size=12):
        v.grad = None
        loss = compiled(x, t).item()
        replayed = v.grad.data
        v.grad = None
        assert loss == step(x, t).item()
        np.testing.assert_array_equal(replayed, v.grad.data)


def test_source_is_numpy_lines_named_from_the_graph_and_frees_values():
    _, _, step = chapter_step(batchnorm=True)
    compiled = compile(step)
    compiled(*batches(1)[0])
    text = compiled.source()
    for line in ("def train_step(x, t):", "sgd.zero_grad()", "sgd.step()", "np.maximum(", "xn", "del ",
                 ".running_mean = ", "return Tensor._wrap(loss)"):
        assert line in text
    assert "Tensor(" not in text.replace("Tensor._wrap(", "")  # no tensors made while replaying


def test_a_new_input_shape_traces_again_and_the_last_partial_batch_is_right():
    m1, o1, eager = chapter_step(batchnorm=True)
    m2, o2, step = chapter_step(batchnorm=True)
    compiled = compile(step)
    for x, t in batches(3) + [(x[:7], t[:7]) for x, t in batches(1, seed=5)] + batches(2, seed=6):
        assert compiled(x, t).item() == pytest.approx(eager(x, t).item(), rel=0, abs=1e-12)
    assert compiled.traces == 2  # batch 16 and batch 7; batch 16 again replays the first program
    assert_same_state(m1, o1, m2, o2)


def test_train_eval_change_traces_again():
    m1, o1, eager = chapter_step(batchnorm=True, dropout=0.3)
    m2, o2, step = chapter_step(batchnorm=True, dropout=0.3)
    compiled = compile(step)
    for i, (x, t) in enumerate(batches(6)):
        for m in (m1, m2):
            m.train(i % 3 != 2)
        assert compiled(x, t).item() == pytest.approx(eager(x, t).item(), rel=0, abs=1e-12)
    assert compiled.traces == 2
    assert_same_state(m1, o1, m2, o2)


def test_replaced_parameter_values_and_learning_rate_are_seen():
    m1, o1, eager = chapter_step(optimizer="Adam")
    m2, o2, step = chapter_step(optimizer="Adam")
    compiled = compile(step)
    data = batches(6)
    for i, (x, t) in enumerate(data):
        if i == 2:
            new = np.random.default_rng(3).standard_normal(m1.linears[0].W.shape)
            m1.linears[0].W.data, m2.linears[0].W.data = new.copy(), new.copy()
        if i == 3:
            m1.load_state_dict(m1.state_dict())
            m2.load_state_dict(m1.state_dict())
        if i == 4:
            o1.lr = o2.lr = 0.2
        assert compiled(x, t).item() == pytest.approx(eager(x, t).item(), rel=0, abs=1e-12)
    assert compiled.traces == 1  # values are read on every call: nothing to trace again
    assert_same_state(m1, o1, m2, o2)


def test_a_replaced_parameter_object_or_optimizer_traces_again():
    model = nn.MLP(12, [10], 5, rng=0)
    box = {"opt": optim.SGD(model.parameters(), lr=0.1)}

    def train_step(x, t):
        box["opt"].zero_grad()
        loss = F.cross_entropy(model(Tensor(x)), t)
        loss.backward()
        box["opt"].step()
        return loss

    compiled = compile(train_step)
    (x, t), = batches(1)
    compiled(x, t)
    compiled(x, t)
    model.linears[0].W = nn.Parameter(np.zeros((12, 10)), name="W")
    box["opt"] = optim.SGD(model.parameters(), lr=0.1)
    compiled(x, t)
    assert compiled.traces == 2
    assert model.linears[0].W.grad is not None  # the new parameter is the one the program updates


def test_the_cache_is_bounded():
    _, _, step = chapter_step()
    compiled = compile(step, cache_size=2)
    for n in (4, 5, 6, 7):
        x, t = batches(1, batch=n)[0]
        compiled(x, t)
    assert len(compiled.programs) == 2 and compiled.traces == 4


# -- where compiled steps are used -------------------------------------------------------------------------------------
def test_trainer_compile_gives_the_eager_history_and_weights():
    from tinygrad6.chapter6.train import Trainer

    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((60, 12)), rng.integers(0, 5, 60)
    runs = {}
    for compiled in (False, True):
        model = nn.MLP(12, [10, 10], 5, batchnorm=True, dropout=0.2, rng=0)
        trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.01), (x, t), (x[:20], t[:20]), epochs=3,
                          batch_size=16, l2=1e-3, seed=0, verbose=False, compile=compiled)  # 60 = 3 x 16 + 12
        runs[compiled] = (trainer.fit(), model)
    (eager, m1), (fast, m2) = runs[False], runs[True]
    np.testing.assert_allclose(fast["loss"], eager["loss"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast["test_loss"], eager["test_loss"], rtol=0, atol=1e-12)
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["optimizer_compare", "batchnorm_compare"])
def test_an_experiment_gives_the_same_numbers_with_and_without_eager(name, tmp_path):
    import json

    from tinygrad6.chapter6 import experiments
    from tinygrad6.chapter6.experiments import training

    results = {}
    with training.one_blas_thread():
        for flag in ([], ["--eager"]):
            out = tmp_path / (flag[0][2:] if flag else "compiled")
            experiments.get(name).main(["--quick", "--dataset", "digits", "--out", str(out), "--quiet", *flag])
            results[bool(flag)] = json.loads((out / f"{name}.json").read_text())
    assert results[True]["numbers"] == results[False]["numbers"]
