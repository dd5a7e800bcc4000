"""The stand-alone app's entry point (PyInstaller runs this script): the `flowviz` command, with
multiprocessing's frozen-app support for the worker processes the window starts."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a worker process (spawn) of the frozen app runs its task and returns here
    from flowviz.__main__ import entry

    sys.exit(entry())
