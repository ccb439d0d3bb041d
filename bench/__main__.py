"""`python -m bench` (`make bench`): run every benchmark and write the table, JSON and plot."""

from __future__ import annotations

import sys

from bench import options, run


def main(argv: list[str] | None = None) -> int:
    run.main(options.parse(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
