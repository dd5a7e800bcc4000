"""The desktop app's log file: warnings of flowviz's modules and unexpected errors, with their tracebacks,
go to `log_dir()/flowviz.log` (rotated at 1 MiB, three kept); the terminal gets one line instead."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import traceback
from pathlib import Path
from types import TracebackType

from flowviz.ui.settings import log_dir

LOG_NAME = "flowviz.log"
_installed: list[Path] = []


def install_log() -> Path | None:
    """Start logging to the file (once per process); None when the folder cannot be written."""
    if _installed:
        return _installed[0]
    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / LOG_NAME, maxBytes=1 << 20, backupCount=3)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("flowviz")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    path = folder / LOG_NAME
    _installed.append(path)
    sys.excepthook = _log_unexpected
    logger.info("flowviz started: %s", " ".join(sys.argv))
    return path


def _log_unexpected(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """An exception nobody caught (in a Qt slot, say): into the log with its traceback, one line on stderr."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("flowviz").error("unexpected error\n%s", "".join(traceback.format_exception(kind, error, trace)))
    where = _installed[0] if _installed else "the log"
    print(f"flowviz: unexpected error: {kind.__name__}: {error} (details in {where})", file=sys.stderr)
