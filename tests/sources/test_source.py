"""The Source protocol's module stays light: the ingest pipeline (a report's process) loads no live source's client."""

from __future__ import annotations

import subprocess
import sys


def test_the_pipeline_loads_no_prometheus_kafka_or_otlp_client() -> None:
    code = (
        "import sys, flowviz.sources.pipeline\n"
        "heavy = ('flowviz.sources.prometheus', 'flowviz.sources.metric_details', 'flowviz.sources.kafka_reader',"
        " 'flowviz.sources.otlp_receiver', 'urllib.request', 'http.client', 'confluent_kafka')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
