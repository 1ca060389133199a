"""A small mutation check (not part of the test suite: it takes about 15 minutes on 2 cores).

Each mutant of mutants.py is one line of the library changed to a plausible bug; it is applied to a copy of the
repository in a temporary folder, one at a time, and the tests of its area run against it: a mutant that no test
notices shows a gap in the tests. The repository itself is only read.

    python tools/mutants/run.py full [ids...]     # every test file of each area (TESTS)

It prints one line per mutant and the kill rate, and writes results_<mode>.json into the temporary folder."""

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mutants import TESTS, M

REPO = Path(__file__).resolve().parents[2]
HERE = Path(tempfile.mkdtemp(prefix="tinygrad6-mutants-"))
TREE = HERE / "tree"
TIMEOUT = 240


def fresh_tree() -> None:
    if TREE.exists():
        shutil.rmtree(TREE)
    shutil.copytree(REPO, TREE, ignore=shutil.ignore_patterns(".git", "__pycache__", ".hypothesis",
                                                                      "*.egg-info", ".pytest_cache"))


def run_tests(files: list[str]) -> str:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           *[f"tests/{f}.py" for f in files]]
    try:
        r = subprocess.run(cmd, cwd=TREE, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    if r.returncode == 0:
        return "survived"
    if r.returncode in (1, 2):
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("FAILED") or ln.startswith("ERROR")]
        return "killed: " + (lines[0][:150] if lines else r.stdout.strip().splitlines()[-1][:150])
    return f"error rc={r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}"


def main() -> None:
    mode = sys.argv[1]
    only = set(sys.argv[2:])
    fresh_tree()
    # sanity: the tree imports its own copy
    out = subprocess.run([sys.executable, "-c", "import tinygrad6; print(tinygrad6.__file__)"], cwd=TREE,
                         capture_output=True, text=True).stdout.strip()
    assert out.startswith(str(TREE)), out
    results, baseline = {}, {}
    for mid, area, file, old, new in M:
        if only and mid not in only:
            continue
        path = TREE / file
        text = path.read_text()
        files = TESTS[area]
        if area not in baseline:  # the unmutated copy must pass, or a "kill" means nothing
            baseline[area] = run_tests(files)
            print(f"baseline {area}: {baseline[area]}", flush=True)
        if baseline[area] != "survived":
            results[mid] = "n/a (baseline fails)"
            continue
        if text.count(old) != 1:  # the core is being refactored: the line may have moved on
            results[mid] = "n/a (text not found)"
            print(f"{mid:28s} n/a (text not found)", flush=True)
            continue
        path.write_text(text.replace(old, new))
        start = time.time()
        try:
            outcome = run_tests(files)
        finally:
            path.write_text(text)
        results[mid] = outcome
        print(f"{mid:28s} {area:8s} {time.time() - start:6.1f}s {outcome}", flush=True)
    (HERE / f"results_{mode}.json").write_text(json.dumps(results, indent=1))
    print(f"results in {HERE / f'results_{mode}.json'}")
    counted = [v for v in results.values() if not v.startswith("n/a")]
    killed = sum(v.startswith("killed") for v in counted)
    print(f"{mode}: killed {killed}/{len(counted)} = {100 * killed / max(len(counted), 1):.0f}%")


if __name__ == "__main__":
    main()
