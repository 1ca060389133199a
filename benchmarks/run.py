"""Run every scenario and print one table: median times, ratios, and which speed targets pass.

    python -m benchmarks [--quick | --smoke] [--json results.json] [--strict]

Exit status 1 when a correctness guard fails (a contender's losses over the first steps differ from the floor's),
or with --strict when a speed target is missed; speed alone never fails a run by default, since absolute times on
a shared machine are noisy.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # `python benchmarks/run.py`: pin BLAS before numpy loads, and find the package
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import chain, minimal, search, torch_baseline, viz_size  # noqa: E402
from benchmarks.book import BookNet  # noqa: E402
from benchmarks.common import (  # noqa: E402
    DROPOUT_P,
    SIZES,
    Settings,
    fmt_time,
    initial_params,
    interleaved,
    make_batches,
    pin_allocator,
)
from benchmarks.compiled import MADE as compiled_made  # noqa: E402
from benchmarks.compiled import CompiledMLP  # noqa: E402
from benchmarks.engine import EngineMLP  # noqa: E402
from benchmarks.floor import FloorMLP  # noqa: E402
from benchmarks.memory import memory_run  # noqa: E402
from tinygrad6 import viz  # noqa: E402

GUARD_STEPS = 4  # compare the losses of the first 4 steps: the 4th is the loss after three updates
GUARD_TOL = {np.dtype(np.float64): 1e-10,
             # float32 keeps about 7 significant digits and the contenders sum in different orders, so their
             # float32 losses can only agree to a few units in the 6th digit
             np.dtype(np.float32): 1e-5}

COLUMNS = ("tinygrad6", "numpy floor", "book layers", "PyTorch f64", "compiled")
COMPILED_TARGET = 1.10  # the compiled step, as a multiple of the floor (issue 15); the eager rows are report-only


@dataclass
class Plan:
    """How long and how large each scenario runs."""

    steps: Settings  # the MLP step scenarios
    chains: Settings  # the per-op chain
    chain_sizes: tuple[int, ...]  # the deep chains
    chain_rounds: int
    viz_ops: int  # the chain drawn as DOT text and a trace
    layout_sizes: tuple[int, ...]  # chains laid out by Graphviz's dot
    memory_steps: int
    memory_settle: int  # memory growth is measured after this many steps
    search: tuple[int, int, int]  # the hyper-parameter search: trials, epochs, rounds


PLANS = {
    "full": Plan(Settings(rounds=60, block=5, warmup=5), Settings(rounds=40, block=3, warmup=2),
                 (1_000, 10_000, 100_000), 9, 100_000, (viz.MAX_OPS // 2, viz.MAX_OPS), 2000, 100, (24, 25, 3)),
    "quick": Plan(Settings(rounds=8, block=2, warmup=2), Settings(rounds=8, block=2, warmup=1),
                  (1_000, 10_000, 100_000), 3, 20_000, (viz.MAX_OPS // 2,), 300, 100, (12, 10, 1)),
    # every scenario and guard once, at sizes that take seconds: it checks that the suite runs, for the tests
    "smoke": Plan(Settings(rounds=1, block=1, warmup=0), Settings(rounds=1, block=1, warmup=0),
                  (1_000, 2_000), 1, 500, (200,), 20, 10, (2, 1, 1)),
}


@dataclass
class Row:
    scenario: str
    cells: dict[str, str] = field(default_factory=dict)
    target: str = ""
    measured: str = ""
    ok: bool | None = None


@dataclass
class Guard:
    scenario: str
    contender: str
    max_diff: float
    tol: float

    @property
    def ok(self) -> bool:
        return bool(self.max_diff <= self.tol)


# -- the contenders of the step scenarios ------------------------------------------------------------------------
def contenders(batchnorm: bool, dropout: float = 0.0, dtype=np.float64, with_book: bool = True,
               with_torch: bool = True) -> dict:
    """Name -> a function building a fresh model from the shared initial weights."""
    made = {
        "numpy floor": lambda p: FloorMLP(p, dtype, batchnorm=batchnorm, dropout=dropout),
        "tinygrad6": lambda p: EngineMLP(p, dtype, batchnorm=batchnorm, dropout=dropout),
        "compiled": lambda p: CompiledMLP(p, dtype, batchnorm=batchnorm, dropout=dropout),
    }
    if with_book and not dropout:
        made["book layers"] = lambda p: BookNet(p, batchnorm=batchnorm)
    if with_torch and not dropout and dtype == np.float64 and torch_baseline.available():
        made["PyTorch f64"] = lambda p: torch_baseline.TorchMLP(p, batchnorm=batchnorm)
    return made


def stepper(model, batches):
    """A no-argument function running one training step of `model` on the next batch."""
    state = {"i": 0}

    def step():
        x, t = batches[state["i"] % len(batches)]
        state["i"] += 1
        return model.step(x, t)

    return step


def guard(scenario: str, makers: dict, dtype) -> list[Guard]:
    """Every contender's losses over the first GUARD_STEPS steps, from the same weights on the same batches,
    against the floor's."""
    batches = [(x.astype(dtype), t) for x, t in make_batches()]
    losses = {}
    for name, make in makers.items():
        step = stepper(make(initial_params()), batches)
        losses[name] = np.array([step() for _ in range(GUARD_STEPS)])
    floor = losses["numpy floor"]
    return [Guard(scenario, name, float(np.max(np.abs(v - floor))), GUARD_TOL[np.dtype(dtype)])
            for name, v in losses.items() if name != "numpy floor"]


def time_steps(makers: dict, settings: Settings, dtype=np.float64) -> dict[str, float]:
    batches = [(x.astype(dtype), t) for x, t in make_batches()]
    return interleaved({name: stepper(make(initial_params()), batches) for name, make in makers.items()}, settings)


def cells(times: dict[str, float], reference: str = "numpy floor") -> dict[str, str]:
    return {name: f"{fmt_time(t)} ({t / times[reference]:.2f})" for name, t in times.items()}


def compiled_row(times: dict[str, float]) -> Row:
    """The compiled step against the floor (the target: met only while the step stays compiled, with no graph
    break), beside it against PyTorch f64 eager when measured, and the one-time cost of verifying its first replay
    against eager (in milliseconds and in compiled steps)."""
    ratio = times["compiled"] / times["numpy floor"]
    torch = f"; {times['compiled'] / times['PyTorch f64']:.2f} × PyTorch f64" if "PyTorch f64" in times else ""
    step = compiled_made[-1].compiled
    verify = step.verify_seconds
    note = (f"; verified once: {verify * 1e3:.1f} ms = {verify / times['compiled']:.0f} compiled steps"
            if verify else "")
    broke = f"; GRAPH BREAK: {step.breaks[0]}" if step.breaks else ""
    return Row("", {}, f"compiled ≤ {COMPILED_TARGET:.2f} × floor, no graph break",
               f"{ratio:.2f} ×{torch}{note}{broke}", ratio <= COMPILED_TARGET and not step.breaks)


# -- scenarios ----------------------------------------------------------------------------------------------------
def step_scenarios(settings: Settings, rows: list[Row], guards: list[Guard]) -> None:
    have_torch = torch_baseline.available()

    # plain MLP
    makers = contenders(batchnorm=False)
    guards += guard("plain", makers, np.float64)
    times = time_steps(makers, settings)
    tg = times["tinygrad6"]
    rows.append(Row("plain MLP step", cells(times), "eager (report only)", f"{tg / times['numpy floor']:.2f} ×"))
    if have_torch:
        rows.append(Row("", {}, "eager vs PyTorch f64 (report only)", f"{tg / times['PyTorch f64']:.2f} ×"))
    rows.append(compiled_row(times))

    # BatchNorm MLP
    makers = contenders(batchnorm=True)
    guards += guard("batchnorm", makers, np.float64)
    times = time_steps(makers, settings)
    tg = times["tinygrad6"]
    rows.append(Row("BatchNorm MLP step", cells(times), "eager vs book layers (report only)",
                    f"{tg / times['book layers']:.2f} ×"))
    if have_torch:
        rows.append(Row("", {}, "eager vs PyTorch f64 (report only)", f"{tg / times['PyTorch f64']:.2f} ×"))
    rows.append(compiled_row(times))

    # Dropout MLP: against the plain step plus the cost of drawing the masks (as F.dropout draws them)
    makers = contenders(batchnorm=False, dropout=DROPOUT_P)
    guards += guard("dropout", makers, np.float64)
    plain = EngineMLP(initial_params())
    masks = FloorMLP(initial_params(), dropout=DROPOUT_P)
    batches = make_batches()
    funcs = {name: stepper(make(initial_params()), batches) for name, make in makers.items()}
    funcs["tinygrad6 plain"] = stepper(plain, batches)
    funcs["masks"] = lambda: [masks.draw_mask((len(batches[0][0]), n)) for n in SIZES[1:-1]]
    times = interleaved(funcs, settings)
    tg, budget = times["tinygrad6"], times["tinygrad6 plain"] + times["masks"]
    rows.append(Row(f"Dropout MLP step (p={DROPOUT_P})", cells({k: times[k] for k in makers}),
                    "≤ 1.10 × (plain + masks)",
                    f"{tg / budget:.2f} × ({fmt_time(times['tinygrad6 plain'])} + {fmt_time(times['masks'])})",
                    tg <= 1.1 * budget))
    rows.append(compiled_row(times))

    # float32 against float64
    makers32 = contenders(batchnorm=False, dtype=np.float32, with_book=False)
    guards += guard("float32", makers32, np.float32)
    b64, b32 = make_batches(), [(x.astype(np.float32), t) for x, t in make_batches()]
    funcs = {
        "tinygrad6 f32": stepper(EngineMLP(initial_params(), np.float32), b32),
        "tinygrad6 f64": stepper(EngineMLP(initial_params(), np.float64), b64),
        "floor f32": stepper(FloorMLP(initial_params(), np.float32), b32),
        "floor f64": stepper(FloorMLP(initial_params(), np.float64), b64),
    }
    times = interleaved(funcs, settings)
    tg = times["tinygrad6 f32"]
    rows.append(Row("float32 plain MLP step",
                    {"tinygrad6": f"{fmt_time(tg)} ({tg / times['floor f32']:.2f})",
                     "numpy floor": f"{fmt_time(times['floor f32'])} (1.00)"},
                    "≤ 0.70 × tinygrad6 f64",
                    f"{tg / times['tinygrad6 f64']:.2f} × (floor: {times['floor f32'] / times['floor f64']:.2f} ×)",
                    tg <= 0.7 * times["tinygrad6 f64"]))


def chain_scenarios(plan: Plan, rows: list[Row], guards: list[Guard]) -> None:
    n = 1000
    guards.append(Guard("chain", "tinygrad6", abs(chain.engine_chain_grad(n) / 0.5**n - 1), 1e-12))
    guards.append(Guard("chain", "minimal engine", abs(float(minimal.chain(n)()[0]) / 0.5**n - 1), 1e-12))
    funcs = {"numpy floor": chain.numpy_chain(n), "tinygrad6": chain.engine_chain(n), "minimal": minimal.chain(n)}
    if torch_baseline.available():
        funcs["PyTorch f64"] = torch_baseline.chain(n)
    times = {k: v / n for k, v in interleaved(funcs, plan.chains).items()}
    ratio = times["tinygrad6"] / times["numpy floor"]
    rows.append(Row("per op, x*0.5 + 1.0, fwd+bwd", cells({k: v for k, v in times.items() if k != "minimal"}),
                    "≤ 8 × bare numpy",
                    f"{ratio:.1f} × (minimal engine: {times['minimal'] / times['numpy floor']:.1f} ×)", ratio <= 8))

    sizes = plan.chain_sizes
    times = chain.chain_times(sizes, rounds=plan.chain_rounds)
    forward = [times[n][0] for n in sizes]
    backward = [times[n][1] for n in sizes]
    for n in sizes:
        r = chain.chain_memory(n)
        guards.append(Guard(f"deep chain {n}", "tinygrad6", 0.0 if r["grad_ok"] else 1.0, 0.0))
        rows.append(Row(f"deep chain, {n:,} nodes", {"tinygrad6": f"{fmt_time(times[n][0])} + {fmt_time(times[n][1])}"},
                        "≤ 1.5 KB/node alive; all returned after del, gc off",
                        f"{r['bytes_per_node']:.0f} B/node; {100 * r['returned']:.1f}% returned"
                        + ("" if r["freed_by_refcount"] else "; graph NOT freed by refcount"),
                        r["bytes_per_node"] <= 1536 and r["returned"] >= 0.99 and r["freed_by_refcount"]))
    spread = max(backward) / min(backward)
    rows.append(Row("deep chain, backward time per node", {}, f"flat within 1.5 × ({sizes[0]:,}..{sizes[-1]:,} nodes)",
                    f"{spread:.2f} ×",
                    spread <= 1.5))
    rows.append(Row("deep chain, forward time per node", {}, "(not a target: see note)",
                    f"{max(forward) / min(forward):.2f} ×"))


def viz_scenario(plan: Plan, rows: list[Row]) -> None:
    """Drawing big graphs: DOT text and trace linear in the ops; dot's own layout time at the size limit."""
    n = plan.viz_ops
    budget = 20.0 * n / 100_000  # 20 s for 100,000 ops, scaled (before the fix: 29 s on a 2-core machine)
    text, trace = viz_size.dot_text_and_trace(n)
    rows.append(Row(f"graph to DOT + trace, {n:,}-op chain", {"tinygrad6": f"{text:.2f} s + {trace:.2f} s"},
                    f"≤ {budget:g} s", f"{text + trace:.2f} s", text + trace <= budget))
    limit = viz.MAX_OPS
    for size in plan.layout_sizes:
        seconds = viz_size.dot_layout(size)
        if seconds is None:
            rows.append(Row(f"dot layout, {size:,}-op chain", {}, "(Graphviz not installed, skipped)", ""))
            continue
        rows.append(Row(f"dot layout, {size:,}-op chain", {"tinygrad6": f"{seconds:.2f} s"},
                        f"≤ 10 s at max_ops={limit:,}" if size == limit else "(not a target)", f"{seconds:.2f} s",
                        seconds <= 10 if size == limit else None))
    for size, max_layout in ((61, None), (121, viz.MAX_LAYOUT), (201, viz.MAX_LAYOUT)):
        cost, seconds = viz_size.loop_layout(size, max_layout)
        if seconds is not None:
            how = "every arrow" if max_layout is None else "long arrows cut"
            rows.append(Row(f"dot layout, {size}-op loop with shared weights ({how}, cost {cost:,})",
                            {"tinygrad6": f"{seconds:.2f} s"}, "≤ 10 s", f"{seconds:.2f} s", seconds <= 10))


def memory_scenario(plan: Plan, rows: list[Row]) -> None:
    r = memory_run(lambda p, batchnorm: EngineMLP(p, batchnorm=batchnorm), plan.memory_steps, plan.memory_settle)
    rows.append(Row(f"memory, {plan.memory_steps:,} BatchNorm steps",
                    {"tinygrad6": f"{r['peak_end'] / 2**20:.0f} MB peak RSS"},
                    f"peak RSS growth after step {plan.memory_settle} ≤ 20 MB", f"{r['growth'] / 2**20:+.1f} MB",
                    r["growth"] <= 20 * 2**20))


def search_scenario(plan: Plan, rows: list[Row], guards: list[Guard]) -> None:
    """The hyper-parameter search's trials per second with --jobs 1, --jobs 2 and --scheduler local:2, and the
    cluster's overhead over local processes (`benchmarks.search`); each way's trials must be --jobs 1's."""
    trials, epochs, rounds = plan.search
    ways = search.search_ways(trials, epochs, rounds)
    line, same = search.report(ways)
    guards.append(Guard("hyper-parameter search", ", ".join(ways), 0.0 if same else 1.0, 0.0))
    rate = trials / ways["--jobs 1"].seconds
    rows.append(Row(f"hyper-parameter search, {trials} trials × {epochs} epochs", {"tinygrad6": f"{rate:.2f} trials/s"},
                    "(report only)", line))


# -- the report ---------------------------------------------------------------------------------------------------
def describe_machine(run_name: str, allocator: str) -> list[str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        memory = "? GiB"
        with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
            memory = f"{int(f.readline().split()[1]) / 2**20:.0f} GiB"  # MemTotal, in kB
    pinned = {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    blas = "BLAS threads: " + ", ".join(f"{k}={v}" for k, v in pinned.items())  # without threadpoolctl
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_info

        blas = "; ".join(f"{i['internal_api']} {i.get('version') or ''} {i['num_threads']} thread(s)"
                         for i in threadpool_info() if i["user_api"] == "blas") or blas
    torch = f"PyTorch {torch_baseline.version()}, 1 thread" if torch_baseline.available() else \
        "PyTorch not installed, skipped"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"tinygrad6 benchmarks, {run_name if run_name == 'full' else '--' + run_name} run, {now}",
        f"machine: {cpu}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}, numpy {np.__version__}, {blas}; {torch}",
        f"network {'-'.join(map(str, SIZES))}, ReLU, softmax cross-entropy, batch 100, SGD; float64 unless noted",
        allocator,
    ]


def table(rows: list[Row]) -> list[str]:
    head = ("scenario",) + COLUMNS + ("target (tinygrad6)", "measured", "pass")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * len(COLUMNS) + ["---"] * 3) + "|"]
    for r in rows:
        verdict = "" if r.ok is None else ("yes" if r.ok else "**no**")
        values = (r.scenario,) + tuple(r.cells.get(c, "") for c in COLUMNS) + (r.target, r.measured, verdict)
        lines.append("| " + " | ".join(values) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="fewer repetitions (under a minute)")
    sizes.add_argument("--smoke", action="store_true",
                       help="every scenario once at tiny sizes (seconds): checks that the suite runs; the numbers "
                            "mean nothing")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a speed target is missed")
    args = parser.parse_args(argv)
    run_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = PLANS[run_name]

    limiter = contextlib.nullcontext()
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=1)
    with limiter:
        header = describe_machine(run_name, pin_allocator())
        print("\n".join(header), flush=True)
        rows: list[Row] = []
        guards: list[Guard] = []
        step_scenarios(plan.steps, rows, guards)
        chain_scenarios(plan, rows, guards)
        viz_scenario(plan, rows)
        memory_scenario(plan, rows)
        search_scenario(plan, rows, guards)

    print("\ntimes are medians per step (per op; per node forward + backward); brackets: ratio to the numpy floor "
          "in the same run\n")
    print("\n".join(table(rows)))
    bad = [g for g in guards if not g.ok]
    worst = max((g.max_diff for g in guards if g.tol == GUARD_TOL[np.dtype(np.float64)]), default=0.0)
    print(f"\ncorrectness guard: {len(guards) - len(bad)}/{len(guards)} contenders agree with the floor "
          f"(losses of the first {GUARD_STEPS} steps within 1e-10, float32 within 1e-5; "
          f"largest float64 difference {worst:.1e})")
    for g in bad:
        print(f"GUARD FAILED: {g.scenario} / {g.contender}: differs by {g.max_diff:.3e} (tolerance {g.tol:g})")
    print("note: building a graph of 1e5 nodes allocates about 5e5 Python objects, and CPython's cycle collector "
          "makes full passes over the whole heap while it grows, so forward time per node rises with the graph; "
          "with gc disabled it stays flat. The backward walk allocates little and is the target.")
    missed = [r for r in rows if r.ok is False]
    print(f"targets: {sum(r.ok is True for r in rows)} of {sum(r.ok is not None for r in rows)} met")
    if args.smoke:
        print("--smoke: every scenario ran once at tiny sizes to check the suite; the numbers mean nothing")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "rows": [asdict(r) for r in rows],
                       "guards": [dict(asdict(g), ok=g.ok) for g in guards]}, f, indent=1)
    return 1 if bad or (args.strict and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
