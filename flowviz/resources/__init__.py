"""Files shipped inside the package: the sample capture (`flowviz demo --sample`, `open --sample`) and the icon."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_CAPTURE_NAME = "sample-shop.otlp.jsonl.gz"
ICON_NAME = "flowviz.svg"


def resource_path(name: str) -> Path:
    """A file of this package on disk (wheels, editable installs and app bundles keep them as files)."""
    return Path(str(resources.files(__name__).joinpath(name)))


def sample_capture_path() -> Path:
    """A synthetic e-commerce capture (OTLP JSON lines, gzip; 37 nodes, 6 000 spans over two minutes, with
    failing payments): made by `flowviz.bench.synthetic`, seed 42."""
    return resource_path(SAMPLE_CAPTURE_NAME)


def icon_path() -> Path:
    return resource_path(ICON_NAME)
