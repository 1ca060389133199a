"""The package's floors, read from the source with `ast` (issue 22), so the picture in the README cannot drift.

Each folder of tinygrad6 is a room on a floor; a module imports from its own room and from rooms on lower floors,
never from a higher floor or from another room of its own floor:

    0  support/    errors, locations, display, contextdecorator, tracing, files: numpy and the standard library
    1  engine/     tensor, op, autograd, modes, ops/: the core
    2  library     functional, init, optim, gradcheck, random, nn/
    3  compile/    the compiled step          viz/    drawings, the trace, the step-through page
    4  chapter6/   datasets, train, progress, experiments/, tour
    5  names       tinygrad6/__init__.py and the old names that forward to chapter6/ (datasets, train, tour,
                   experiments/)

Every import statement counts, also one inside a function (a lazy import is still a dependency), except those
under `if TYPE_CHECKING:`, which only a type checker runs (support/errors.py names the engine's Op and Tensor in
its annotations that way). The one import cycle is documented at the end of engine/tensor.py: Tensor's methods run
ops and the backward loop, and ops and the loop make Tensors.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tinygrad6"

ROOMS = {  # room -> (floor, the paths inside tinygrad6/ that make it up)
    "support": (0, ["support"]),
    "engine": (1, ["engine"]),
    "library": (2, ["functional.py", "init.py", "optim.py", "gradcheck.py", "random.py", "nn"]),
    "compile": (3, ["compile"]),
    "viz": (3, ["viz"]),
    "chapter6": (4, ["chapter6"]),
    "names": (5, ["__init__.py", "datasets.py", "train.py", "tour.py", "experiments"]),
}
NUMPY_ONLY = ("support", "engine", "library", "compile")  # third-party imports: numpy alone
THE_CYCLE = {"engine.tensor", "engine.op", "engine.autograd", "engine.ops", "engine.ops.arithmetic",
             "engine.ops.reduce", "engine.ops.select", "engine.ops.shape", "engine.ops.unary"}


def module_name(path: Path) -> str:
    """tinygrad6/engine/ops/shape.py -> "engine.ops.shape"; a package's __init__.py is the package ("" for the root)."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(name: str) -> str:
    path = name.replace(".", "/")
    for room, (_, members) in ROOMS.items():
        for member in members:
            member = member.removesuffix(".py").removesuffix("__init__").rstrip("/")
            if path == member or (member and path.startswith(member + "/")):
                return room
    raise AssertionError(f"tinygrad6.{name} is in no room of tests/meta/test_layers.py: add it to ROOMS")


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:`."""
    return {id(n) for node in ast.walk(tree)
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            for stmt in node.body for n in ast.walk(stmt)}


def imports(name: str) -> tuple[set[str], set[str]]:
    """(the tinygrad6 modules `name` imports, the top-level names of the other packages it imports)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ours, others = set(), set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                targets = ["tinygrad6" + ("." + module if module else "")]
            else:
                targets = [node.module]
            # `from . import nn` imports the module tinygrad6.nn; `from .tensor import Tensor` imports tensor
            targets = [f"{targets[0]}.{a.name}" if f"{targets[0]}.{a.name}".removeprefix("tinygrad6.") in MODULES
                       else targets[0] for a in node.names]
        else:
            continue
        for target in targets:
            if target == "tinygrad6" or target.startswith("tinygrad6."):
                ours.add(target.removeprefix("tinygrad6").removeprefix("."))
            else:
                others.add(target.split(".")[0])
    return ours, others


GRAPH = {name: imports(name)[0] - {name} for name in MODULES}


def test_every_module_imports_only_its_own_room_and_lower_floors():
    wrong = []
    for name, targets in GRAPH.items():
        room = room_of(name)
        for target in sorted(targets):
            other = room_of(target)
            if other != room and ROOMS[other][0] >= ROOMS[room][0]:
                wrong.append(f"tinygrad6.{name} ({room}, floor {ROOMS[room][0]}) imports tinygrad6.{target} "
                             f"({other}, floor {ROOMS[other][0]})")
    assert not wrong, "\n".join(wrong)


def test_the_lower_floors_import_numpy_and_the_standard_library_only():
    wrong = {name: sorted(others - {"numpy", "__future__"} - set(sys.stdlib_module_names))
             for name in MODULES if room_of(name) in NUMPY_ONLY for others in [imports(name)[1]]}
    assert not {k: v for k, v in wrong.items() if v}, wrong


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the strongly connected components of more than one module."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_there_is_one_import_cycle_tensor_and_the_ops():
    assert strongly_connected(GRAPH) == [THE_CYCLE]


def test_the_cycle_is_closed_only_at_the_end_of_tensor_and_op():
    """Inside the cycle, the imports that close it sit at the end of tensor.py and op.py, after the classes the
    other side needs, each with a comment saying so."""
    for name in ("engine.tensor", "engine.op"):
        lines = MODULES[name].read_text(encoding="utf-8").rstrip().splitlines()
        assert lines[-1].startswith("from .") and "noqa: E402" in lines[-1], (name, lines[-1])


def test_the_checker_resolves_relative_lazy_and_type_only_imports():
    """The checker itself: each relative import resolves to the module it names."""
    assert "support.errors" in GRAPH["engine.op"] and "engine.tensor" in GRAPH["engine.op"]
    assert "engine.op" not in GRAPH["support.errors"]  # only under TYPE_CHECKING
    assert "viz" in GRAPH["chapter6.tour"]  # a lazy import inside a function counts
    assert room_of("nn.layers") == "library" and room_of("") == "names" and room_of("experiments.dropout") == "names"


def test_only_the_engine_runs_backward_rules():
    """`run_rule` (a backward rule run under the loop's modes) is the loop's: the trace and the step-through page read
    what `backward_steps` did (each `BackwardStep`'s contributions) instead of running a rule again, so there is one
    source of truth for what happened (issue 22)."""
    callers = sorted({name for name, path in MODULES.items() if room_of(name) != "engine"
                      for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                      if (isinstance(node, ast.Name) and node.id == "run_rule")
                      or (isinstance(node, ast.Attribute) and node.attr == "run_rule")
                      or (isinstance(node, ast.alias) and node.name == "run_rule")})
    assert not callers, f"run_rule used outside tinygrad6/engine: {callers}"
    assert "run_rule" in MODULES["engine.autograd"].read_text(encoding="utf-8")  # the check looks for a real name
