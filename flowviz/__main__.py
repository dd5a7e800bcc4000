"""`python -m flowviz`: the same as the `flowviz` command."""

import sys

from flowviz.cli import main

if __name__ == "__main__":  # worker processes (spawn) import this module again: do not rerun
    sys.exit(main())
