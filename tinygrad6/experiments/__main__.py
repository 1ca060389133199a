"""python -m tinygrad6.experiments NAME [options]: run one experiment (NAME alone with --help lists its options)."""

import sys

from . import NAMES, get


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in NAMES:
        raise SystemExit(f"usage: python -m tinygrad6.experiments NAME [--quick] [--data DIR] [--out DIR] ...\n"
                         f"NAME is one of: {', '.join(NAMES)}")
    get(argv[0]).main(argv[1:])


if __name__ == "__main__":
    main()
