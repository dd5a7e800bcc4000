"""The allocator of an ingesting process keeps freed batch memory: no page faults for the next batch's arrays."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowviz.sources.allocator import MMAP_THRESHOLD_BYTES

_FAULTS_OF_THIRD_BATCH = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from flowviz.sources.allocator import keep_freed_memory
    assert keep_freed_memory()
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    batch = np.ones(48 << 20, np.uint8)  # above glibc's largest automatic mmap threshold (32 MiB)
    del batch
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _third_batch_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _FAULTS_OF_THIRD_BATCH, mode], capture_output=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_tuned_process_reuses_freed_batch_memory_without_faulting_it_in_again() -> None:
    default = _third_batch_faults("default")  # each batch mapped, faulted in (4 KiB or huge pages) and unmapped
    tuned = _third_batch_faults("tuned")  # kept in the heap: its pages are already there
    assert default >= 20
    assert tuned * 10 <= default
    assert MMAP_THRESHOLD_BYTES > 48 << 20


def test_the_ingest_loop_sets_the_allocator_before_the_first_item(monkeypatch: pytest.MonkeyPatch) -> None:
    import flowviz.sources.pipeline as pipeline_module
    from flowviz.model.problems import Problems
    from flowviz.sources.pipeline import IngestPipeline, run_source
    from flowviz.store.rolling_store import RollingStore

    steps: list[str] = []
    monkeypatch.setattr(pipeline_module, "keep_freed_memory", lambda: steps.append("allocator set") or True)

    class OneIdleSource:
        def batches(self):
            steps.append("first item read")
            yield from ()

    problems = Problems()
    run_source(OneIdleSource(), IngestPipeline(RollingStore(problems=problems), problems=problems))
    assert steps == ["allocator set", "first item read"]
