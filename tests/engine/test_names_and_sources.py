"""Names and source lines that explain a graph: the library names its intermediates in the book's words, a simple
assignment on the user's line names its tensor (under record_source), and each op knows both the user's line
and the library line that created it; standard-library frames are never the user's line."""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import runpy

import numpy as np
import pytest

import tinygrad6
import tinygrad6.functional as F
from tinygrad6 import AnomalyError, Tensor, detect_anomaly, nn, record_source

HERE = os.path.abspath(__file__)
LAYERS = os.path.abspath(inspect.getsourcefile(nn.BatchNorm1d))
FUNCTIONAL = os.path.abspath(inspect.getsourcefile(F))


def _line_of(text: str, path: str) -> int:
    """The 1-based line of the only line in `path` containing `text`."""
    lines = [i for i, line in enumerate(open(path, encoding="utf-8"), 1) if text in line]
    assert len(lines) == 1, (text, lines)
    return lines[0]


def _file_line(where: str) -> tuple[str, int]:
    path, line = where.rsplit(":", 1)
    return os.path.abspath(path), int(line)


def _graph_ops(y: Tensor) -> list:
    ops, stack, seen = [], [y.creator], set()
    while stack:
        op = stack.pop()
        if op is None or id(op) in seen:
            continue
        seen.add(id(op))
        ops.append(op)
        stack.extend(x.creator for x in op.inputs)
    return ops


# -- the library names what it creates --------------------------------------------------------------------------
def test_batchnorm_names_its_intermediates_as_the_book_does():
    bn = nn.BatchNorm1d(3)
    x = Tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True, name="x")
    out = bn(x)
    named = {}
    for op in _graph_ops(out):
        if op.output.name:
            named.setdefault(op.output.name, []).append(op.name)
    # each name sits on the tensor made by the op of the book's formula
    assert named == {"mu": ["mean"], "xc": ["sub"], "var": ["mean"], "std": ["sqrt"], "xn": ["div"], "out": ["add"]}
    bn.eval()
    assert bn(x).name == "out"


def test_functional_names_their_results():
    logits = Tensor(np.zeros((2, 3)), requires_grad=True)
    assert F.softmax(logits).name == "y"
    assert F.log_softmax(logits).name == "log_y"
    assert F.cross_entropy(logits, np.array([0, 2])).name == "loss"
    assert F.mse_loss(logits, np.ones((2, 3))).name == "loss"
    assert F.linear(logits, Tensor(np.ones((3, 4)), requires_grad=True)).name == "out"
    assert F.dropout(logits, 0.5, training=False) is logits and logits.name is None  # the input is not renamed


# -- a simple assignment on the user's line names its tensor -----------------------------------------------------
def test_simple_assignments_name_their_tensors_under_record_source():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="x")
    with record_source():
        mu = x.mean(axis=0)
        xc = x - mu
        y = (xc * xc).sum()  # only the outermost op takes the name
        a, b = x * 2.0, x * 3.0  # tuple target: no name
        c = x * 1.0
        c += 1.0  # augmented assignment: no name
        v = x.var()  # several ops inside one method: none of them is named v
        kept = (x * 4.0).named("mine")  # an explicit name wins
        spread = (x
                  + 1.0)  # an expression over two lines
    assert (mu.name, xc.name, y.name, spread.name) == ("mu", "xc", "y", "spread")
    assert y.creator.inputs[0].name is None  # the inner xc * xc
    assert a.name is None and b.name is None and c.name is None and v.name is None
    assert kept.name == "mine"
    assert x.name == "x"


def test_record_source_parses_only_the_statement_of_each_line_once(tmp_path, monkeypatch):
    # The first op under record_source parsed the whole user file to find `name = value`: 20.6 s for a 13 MB script.
    # Now only the statement of the op's line is parsed, once per line however often it runs.
    script = tmp_path / "big_script.py"
    pad = "".join(f"    {i},\n" for i in range(200_000))  # a 1.4 MB literal above the code
    script.write_text("import tinygrad6\nfrom tinygrad6 import Tensor\n\nPAD = [\n" + pad + "]\n"
                      "x = Tensor([1.0, 2.0], requires_grad=True)\n"
                      "with tinygrad6.record_source():\n"
                      "    for _ in range(5):\n"
                      "        h = x * 2.0\n"
                      "        y = (h\n"
                      "             + 1.0\n"
                      "             )\n"
                      "        a, b = x * 3.0, y.sum()\n")
    parsed = []
    real_parse = ast.parse

    def counting_parse(source, *args, **kwargs):
        parsed.append(len(source))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    names = runpy.run_path(str(script))
    assert (names["h"].name, names["y"].name, names["a"].name, names["b"].name) == ("h", "y", None, None)
    assert parsed and max(parsed) < 200, parsed  # was one parse of 1.4 MB
    assert len(parsed) <= 4, parsed  # each statement once (a window that ends too early is tried again), not per loop


def test_no_names_without_record_source():
    x = Tensor([1.0, 2.0], requires_grad=True)
    xc = x - 1.0
    assert xc.name is None


def test_names_in_a_loop_name_each_iteration():
    h = Tensor([1.0, 2.0], requires_grad=True)
    outs = []
    with record_source():
        for _ in range(3):
            h = h * 2.0
            outs.append(h)
    assert [t.name for t in outs] == ["h", "h", "h"]


# -- two locations per op ----------------------------------------------------------------------------------------
def test_each_op_knows_the_user_line_and_the_library_line():
    bn = nn.BatchNorm1d(3)
    x = Tensor(np.random.default_rng(1).normal(size=(4, 3)), requires_grad=True)
    with record_source():
        out = bn(x); call_line = inspect.currentframe().f_lineno  # noqa: E702
    ops = {op.output.name: op for op in _graph_ops(out) if op.output.name}
    user = _file_line(ops["xc"].location.user)
    library = _file_line(ops["xc"].location.library)
    assert user == (HERE, call_line)
    assert library == (LAYERS, _line_of('xc = (x - mu).named("xc")', LAYERS))
    assert _file_line(ops["std"].location.library)[1] == _line_of('std = (var + self.eps).sqrt()', LAYERS)
    assert ops["xc"].source == ops["xc"].location.user


@pytest.mark.parametrize("fn, target", [(F.cross_entropy, np.array([0, 2])), (F.softmax, -1), (F.log_softmax, -1),
                                        (F.mse_loss, np.eye(3)[[0, 2]])],
                         ids=["cross_entropy", "softmax", "log_softmax", "mse_loss"])
def test_ops_inside_library_functions_point_at_the_user_line_not_contextlib(fn, target):
    z = Tensor(np.random.default_rng(2).normal(size=(2, 3)), requires_grad=True)
    with record_source():
        loss = fn(z, target); call_line = inspect.currentframe().f_lineno  # noqa: E702
    for op in _graph_ops(loss):
        assert "contextlib" not in op.location.user
        assert _file_line(op.location.user) == (HERE, call_line)
        assert _file_line(op.location.library)[0] == FUNCTIONAL


def test_standard_library_frames_are_never_the_user_line():
    class Noop(contextlib.ContextDecorator):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    exp = Noop()(Tensor.exp)  # a stdlib frame (contextlib's wrapper) between this line and the op
    x = Tensor([1.0], requires_grad=True)
    with record_source():
        y = exp(x); line = inspect.currentframe().f_lineno  # noqa: E702
    assert _file_line(y.creator.location.user) == (HERE, line)


def test_package_location_decides_what_is_library():
    # the experiments live inside the package: their lines are library lines, not user lines
    from tinygrad6.support import locations

    experiment = os.path.join(os.path.dirname(tinygrad6.__file__), "chapter6", "experiments", "dropout.py")
    assert locations._kind(experiment) == "library"
    assert locations._kind(LAYERS) == "library"
    assert locations._kind(inspect.getsourcefile(tinygrad6.Tensor)) == "core"
    assert locations._kind(contextlib.__file__) == "stdlib"
    assert locations._kind(HERE) == "user"


def test_anomaly_names_both_locations():
    y = Tensor(np.full((2, 3), 1e200), requires_grad=True)
    with np.errstate(over="ignore"), detect_anomaly(), pytest.raises(AnomalyError) as info:
        F.mse_loss(y, np.zeros((2, 3)))  # the anomalous line
    line = _line_of("# the anomalous" + " line", HERE)
    message = str(info.value)
    assert "mul produced inf" in message
    assert f"{os.path.basename(HERE)}:{line}" in message
    assert f"functional.py:{_line_of('return (diff * diff).mean()', FUNCTIONAL)}" in message


def test_an_assignment_of_a_library_call_names_its_result():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Dropout(0.5, rng=0), nn.Linear(4, 2, rng=0))
    x = Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    W = Tensor(np.ones((3, 4)), requires_grad=True, name="W")
    with record_source():
        a1 = F.linear(x, W)
        h = F.relu(a1)
        scores = model(x)
        loss = F.cross_entropy(scores, np.array([0, 1]))
        inner = model.layers[0](x)
        model.eval()
        same = model.layers[2](h)  # Dropout in eval returns its input unchanged: h keeps its name
    assert (a1.name, h.name, scores.name, loss.name, inner.name) == ("a1", "h", "scores", "loss", "inner")
    assert same is h and h.name == "h"
    # inside the model, the library's own names stay: the first Linear's output is "out"
    first_linear_out = scores.creator.inputs[0]
    while first_linear_out.creator is not None and first_linear_out.creator.name != "add":
        first_linear_out = first_linear_out.creator.inputs[0]
    assert first_linear_out.name == "out"
    plain = F.linear(x, W)  # without record_source: the library's name
    assert plain.name == "out"


NOTEBOOK_SESSION = '''
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
cells = ["import tinygrad6\\nfrom tinygrad6 import Tensor, viz",
         "x = Tensor(2.0, requires_grad=True)\\nwith tinygrad6.record_source():\\n    y = x * x",
         "where = y.creator.location.user\\nprint(where)\\nprint(y.creator.location)\\n"
         "print(viz.model.short_source(where))\\nprint(viz.html._locations(y.creator)[0])"]
for cell in cells:
    shell.run_cell(cell, store_history=True).raise_error()
'''


def test_a_notebook_cell_line_shows_as_the_cell_jupyter_numbers():
    """IPython compiles cell [2] under a made-up file name (ipykernel: /tmp/ipykernel_81/1824229751.py); the line
    is shown as `<cell 2>:3`, and the stepper still finds the line's code."""
    pytest.importorskip("IPython", reason="IPython comes with ipykernel, in the dev extra")
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", NOTEBOOK_SESSION], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(HERE)))})
    assert run.returncode == 0, run.stderr
    raw, location, short, page = run.stdout.splitlines()
    assert raw.endswith(":3") and "<cell" not in raw  # the op keeps the real file name (linecache reads it)
    assert location == short == "<cell 2>:3", run.stdout
    assert page == "{'where': '<cell 2>:3', 'code': 'y = x * x'}", page
