"""``python -m lrs.tools.bench``: run the benchmark suite (same options as ``lrs bench``)."""

from __future__ import annotations

import sys

from lrs.tools.bench.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
