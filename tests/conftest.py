"""Shared fixtures: where the public capture files are, and offscreen Qt for widget tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt tests run without a display; set here so nobody has to set it in their shell.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
CAPTURES_DIR = REPO_ROOT.parent / "shared" / "captures"
RESOURCES_DIR = REPO_ROOT / "resources"


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """`../shared/captures` beside the checkout (real trace files from public projects)."""
    if not CAPTURES_DIR.is_dir():
        pytest.fail(f"public captures not found at {CAPTURES_DIR}: clone flowviz beside shared/")
    return CAPTURES_DIR
