"""The benchmark suite runs and its correctness guard passes, and the properties that keep the speed honest hold
(tested without any timing): a dropped graph is freed by reference counting alone, and a float32 model computes in
float32 from end to end. (That a 100,000-op chain backpropagates and is freed is tests/engine/test_autograd.py's.)"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

import tinygrad6.functional as F
from benchmarks import run, torch_baseline
from benchmarks.common import initial_params, make_batches
from benchmarks.engine import EngineMLP
from benchmarks.floor import FloorMLP
from tinygrad6 import Tensor, nn, optim, retain_grads

ROOT = Path(__file__).resolve().parents[2]


# -- the suite ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    """The command line end to end, on --smoke: every scenario and guard once, at sizes that take seconds."""
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, PYTHONHASHSEED="0"))
    return proc, (json.loads(out.read_text()) if out.exists() else {})


def test_smoke_run_succeeds_and_prints_the_table(smoke_run):
    proc, results = smoke_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| scenario | tinygrad6 | numpy floor |" in proc.stdout
    assert "--smoke run" in results["header"][0] and "the numbers mean nothing" in proc.stdout
    scenarios = " ".join(row["scenario"] for row in results["rows"])
    for name in ("plain MLP step", "BatchNorm MLP step", "Dropout MLP step", "float32 plain MLP step", "per op",
                 "deep chain, 1,000 nodes", "deep chain, backward time per node", "graph to DOT + trace",
                 "dot layout", "memory"):
        assert name in scenarios
    assert "1 thread" in results["header"][2] or "OPENBLAS_NUM_THREADS=1" in results["header"][2]  # BLAS pinned


@pytest.mark.parametrize("name", ["full", "quick"])
def test_the_real_runs_keep_their_sizes(name):
    plan = run.PLANS[name]
    assert plan.chain_sizes == (1_000, 10_000, 100_000) and plan.memory_steps >= 300 and plan.memory_settle == 100
    assert plan.viz_ops == (100_000 if name == "full" else 20_000)


def test_smoke_run_correctness_guard_passes_for_every_contender(smoke_run):
    _, results = smoke_run
    guards = results["guards"]
    assert all(g["ok"] for g in guards), [g for g in guards if not g["ok"]]
    checked = {(g["scenario"], g["contender"]) for g in guards}
    for scenario in ("plain", "batchnorm", "dropout", "float32"):
        assert (scenario, "tinygrad6") in checked
    assert {("plain", "book layers"), ("batchnorm", "book layers")} <= checked
    if torch_baseline.available():
        assert {("plain", "PyTorch f64"), ("batchnorm", "PyTorch f64")} <= checked
    float64 = [g for g in guards if g["scenario"] in ("plain", "batchnorm", "dropout")]
    assert all(g["tol"] == 1e-10 for g in float64)


def test_the_speed_notes_live_in_docs_speed_md():
    readme = (ROOT / "README.md").read_text()
    speed = readme[readme.index("## Speed"):]
    speed = speed[:speed.find("\n## ", 1)] if "\n## " in speed[1:] else speed
    assert len(speed.strip().splitlines()) <= 4 and "docs/speed.md" in speed  # a pointer: heading + 2-3 lines
    page = (ROOT / "docs/speed.md").read_text()
    assert "| scenario | tinygrad6 | numpy floor |" in page and "MALLOC_TRIM_THRESHOLD_" in page
    assert "issue" not in run.__doc__  # the suite says what it checks, not which ticket asked for it


def test_guard_catches_a_contender_that_computes_something_else():
    class Wrong(FloorMLP):
        def step(self, x, t):
            return super().step(x, t) * (1 + 1e-9)

    makers = {"numpy floor": lambda p: FloorMLP(p), "wrong": lambda p: Wrong(p)}
    (result,) = run.guard("plain", makers, np.float64)
    assert not result.ok and result.max_diff > 1e-10


def test_without_torch_the_suite_skips_it_with_a_note(monkeypatch):
    monkeypatch.setattr(torch_baseline, "available", lambda: False)
    assert "PyTorch f64" not in run.contenders(batchnorm=True)
    assert any("PyTorch not installed, skipped" in line for line in run.describe_machine("quick", allocator=""))


def test_all_contenders_start_from_the_same_loss():
    x, t = make_batches()[0]
    params = initial_params()
    first = {name: make(params).step(x, t) for name, make in run.contenders(batchnorm=True).items()}
    floor = first.pop("numpy floor")
    assert floor == pytest.approx(np.log(10), rel=0.5)  # He-initialized scores: near the uniform guess
    for name, loss in first.items():
        assert abs(loss - floor) <= 1e-12, name


# -- properties behind the numbers -----------------------------------------------------------------------------
def _graph_refs(loss: Tensor) -> list[weakref.ref]:
    """Weak references to every op of loss's graph, every tensor an op made, its array, and every array an op
    saved for backward (walked iteratively)."""
    refs, seen, stack = [], set(), [loss.creator]
    while stack:
        op = stack.pop()
        if op is None or id(op) in seen:
            continue
        seen.add(id(op))
        refs.append(weakref.ref(op))
        out = op.output
        if out is not None:
            refs += [weakref.ref(out), weakref.ref(out.data)]
        refs += [weakref.ref(a) for a in (op.saved or {}).values() if isinstance(a, np.ndarray)]
        stack += [x.creator for x in op.inputs]
    return refs


@pytest.mark.parametrize("backward", ["none", "backward", "retain_graph"])
def test_dropped_graph_is_freed_by_reference_counting(backward):
    model = nn.MLP(20, [16, 16], 4, batchnorm=True, dropout=0.3, rng=0)
    x = Tensor(np.random.default_rng(1).standard_normal((8, 20)))
    t = np.arange(8) % 4
    gc.collect()
    gc.disable()
    try:
        loss = F.cross_entropy(model(x), t)
        refs = _graph_refs(loss)
        assert len(refs) > 50
        assert sum(r() is not None for r in refs) == len(refs)
        if backward != "none":
            loss.backward(retain_graph=backward == "retain_graph")
        del loss
        alive = [r() for r in refs if r() is not None]
        assert alive == []
    finally:
        gc.enable()


def test_float32_model_stays_float32_end_to_end():
    model = nn.MLP(12, [10, 10], 3, batchnorm=True, dropout=0.2, rng=0, dtype=np.float32)
    x = Tensor(np.random.default_rng(2).standard_normal((6, 12)).astype(np.float32))
    t = np.arange(6) % 3
    opts = [cls(model.parameters(), lr=0.01) for cls in (optim.SGD, optim.Momentum, optim.AdaGrad, optim.Adam)]
    for opt in opts:
        with retain_grads():
            loss = F.cross_entropy(model(x), t) + 0.5 * nn.l2_penalty(model, 1e-3)
        tensors, stack, seen = [], [loss.creator], set()
        while stack:  # every tensor of the graph, op outputs and their inputs
            op = stack.pop()
            if op is None or id(op) in seen:
                continue
            seen.add(id(op))
            tensors += [op.output, *op.inputs]
            stack += [x.creator for x in op.inputs]
        opt.zero_grad()
        loss.backward()
        opt.step()
        float_tensors = [u for u in tensors if u.dtype.kind == "f"]
        assert {u.dtype for u in float_tensors} == {np.dtype(np.float32)}
        assert {u.grad.dtype for u in float_tensors if u.grad is not None} == {np.dtype(np.float32)}
        assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}
        assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}
        states = [a for s in opt.state for a in s.values() if isinstance(a, np.ndarray)]
        assert opt is opts[0] or states
        assert {a.dtype for a in states} <= {np.dtype(np.float32)}
    assert {b.dtype for _, b in model.named_buffers()} == {np.dtype(np.float32)}


def test_benchmark_float32_contender_computes_in_float32():
    model = EngineMLP(initial_params(), np.float32)
    batches = [(x.astype(np.float32), t) for x, t in make_batches()[:2]]
    for x, t in batches:
        model.step(x, t)
    assert {p.dtype for p in model.model.parameters()} == {np.dtype(np.float32)}
    assert {p.grad.dtype for p in model.model.parameters()} == {np.dtype(np.float32)}
