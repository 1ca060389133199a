"""python -m tinygrad6.experiments NAME [options]: run one experiment (NAME alone with --help lists its options)."""

import argparse
import sys

from . import NAMES, get


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m tinygrad6.experiments",
                                usage="python -m tinygrad6.experiments NAME [--quick] [--data DIR] [--out DIR] ...",
                                description=f"Run one experiment. NAME is one of: {', '.join(NAMES)}. "
                                            f"NAME --help lists its options.")
    if argv and argv[0] in ("-h", "--help"):
        p.print_help()
        raise SystemExit(0)
    if not argv:
        p.error(f"give the NAME of an experiment: one of {', '.join(NAMES)}")
    if argv[0] not in NAMES:
        p.error(f"unknown experiment {argv[0]!r}; choose one of {', '.join(NAMES)}")
    get(argv[0]).main(argv[1:])


if __name__ == "__main__":
    main()
