"""`python -m flowviz` and the `flowviz` command (a Ctrl+C while it is still importing ends it quietly)."""

import sys


def entry() -> int:
    try:
        from flowviz.cli import main

        return main()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # worker processes (spawn) import this module again: do not rerun
    sys.exit(entry())
