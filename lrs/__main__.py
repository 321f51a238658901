"""``python -m lrs``: the operator's CLI, as the installed ``lrs`` script runs it."""

import sys

from lrs.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
