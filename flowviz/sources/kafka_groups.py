"""Consumer groups' committed offsets and partition ends, read by the AdminClient in a thread (no group joined)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable

from flowviz.derive.consumption import GroupMembers, GroupOffsets
from flowviz.sources.kafka_settings import KafkaSettings, client_config

DEFAULT_INTERVAL_S = 1.5
OWN_GROUP = "flowviz-viewer"  # the viewer's own group id: never joined, never committed, never shown
_REQUEST_TIMEOUT_S = 5.0


def read_group_offsets(admin, topics: Iterable[str], *, groups: Iterable[str] = ()) -> GroupOffsets:
    """One look: the committed offsets of `groups` (none: every group the broker lists) on `topics`, and
    the end offsets of the topics' partitions. Errors are reported in `error`, never raised."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    polled_ns = time.time_ns()  # a commit read now happened (and its messages were consumed) before this
    wanted = set(topics)
    committed: dict[tuple[str, str, int], int] = {}
    ends: dict[tuple[str, int], int] = {}
    errors: list[str] = []
    try:
        names = list(groups)
        if not names:
            listed = admin.list_consumer_groups(request_timeout=_REQUEST_TIMEOUT_S).result(_REQUEST_TIMEOUT_S)
            names = sorted(g.group_id for g in listed.valid if g.group_id != OWN_GROUP)
            errors += [_text(error) for error in listed.errors[:1]]
        # one group per request (librdkafka's limit); sent together, answered together
        futures = [
            (name, admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(name)])[name]) for name in names
        ]
        for name, future in futures:
            try:
                answer = future.result(_REQUEST_TIMEOUT_S)
            except (KafkaException, TimeoutError) as error:
                errors.append(f"group {name}: {_text(error)}")
                continue
            for tp in answer.topic_partitions or ():
                if tp.topic in wanted and tp.error is None:
                    committed[(name, tp.topic, tp.partition)] = tp.offset
        partitions = []
        metadata = admin.list_topics(timeout=_REQUEST_TIMEOUT_S)
        for topic in sorted(wanted):
            entry = metadata.topics.get(topic)
            if entry is not None and entry.error is None:
                partitions += [TopicPartition(topic, p) for p in sorted(entry.partitions)]
        if partitions:
            answers = admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions})
            for tp, future in answers.items():
                with contextlib.suppress(KafkaException, TimeoutError):
                    found = future.result(_REQUEST_TIMEOUT_S)
                    if found.offset >= 0:
                        ends[(tp.topic, tp.partition)] = found.offset
    except KafkaException as error:
        errors.append(_text(error))
    except TimeoutError:  # no broker answered in time: the next look tries again
        errors.append(f"no answer from the broker within {_REQUEST_TIMEOUT_S:g} s")
    members = read_group_members(admin, sorted({group for group, _, _ in committed}), wanted)
    return GroupOffsets(polled_ns, committed, ends, "; ".join(errors), members)


def read_group_members(admin, groups: Iterable[str], topics: Iterable[str]) -> dict[str, GroupMembers]:
    """The groups' state, member count and partition owners on `topics` (one DescribeGroups request);
    a group the broker does not describe is left out (its membership stays unknown), never raised."""
    from confluent_kafka import KafkaException

    names = list(groups)
    if not names:
        return {}
    wanted = set(topics)
    found: dict[str, GroupMembers] = {}
    try:
        futures = admin.describe_consumer_groups(names, request_timeout=_REQUEST_TIMEOUT_S)
    except (KafkaException, TimeoutError, ValueError):
        return found
    for name, future in futures.items():
        try:
            described = future.result(_REQUEST_TIMEOUT_S)
        except (KafkaException, TimeoutError):
            continue
        owners: dict[tuple[str, int], str] = {}
        for member in described.members or ():
            owner = f"{member.client_id}@{member.host.lstrip('/')}" if member.host else member.client_id
            for tp in (member.assignment.topic_partitions if member.assignment else None) or ():
                if tp.topic in wanted:
                    owners[(tp.topic, tp.partition)] = owner
        state = getattr(described.state, "name", str(described.state)).lower()
        found[name] = GroupMembers(state, len(described.members or ()), owners)
    return found


def _text(error: object) -> str:
    inner = error.args[0] if isinstance(error, Exception) and error.args else error
    return inner.str() if hasattr(inner, "str") else str(inner)


class GroupOffsetPoller:
    """Looks at the consumer groups every `interval_s` in a thread of its own (off the reading path);
    `watch()` adds topics, `take()` returns the looks made since the last call."""

    def __init__(self, settings: KafkaSettings, *, interval_s: float = DEFAULT_INTERVAL_S, admin_factory=None) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self._admin_factory = admin_factory
        self._topics: frozenset[str] = frozenset()
        self._results: queue.Queue[GroupOffsets] = queue.Queue(maxsize=16)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, topics: Iterable[str]) -> None:
        """Look at these topics too (the first time: start the thread, look at once)."""
        topics = self._topics | frozenset(topics)
        if topics == self._topics:
            return
        self._topics = topics
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="flowviz-groups", daemon=True)
            self._thread.start()
        self._wake.set()

    def take(self) -> list[GroupOffsets]:
        found = []
        with contextlib.suppress(queue.Empty):
            while True:
                found.append(self._results.get_nowait())
        return found

    def stop(self, *, wait_s: float = _REQUEST_TIMEOUT_S * 2) -> None:
        """Stop looking; wait at most `wait_s` for a look in flight (its thread is a daemon: it may be left)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait_s)

    def _run(self) -> None:
        admin = self._admin()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                look = read_group_offsets(admin, self._topics, groups=self.settings.groups)
            except Exception as error:  # the thread must outlive any one look: lag would freeze otherwise
                look = GroupOffsets(time.time_ns(), {}, {}, f"{type(error).__name__}: {error}")
            with contextlib.suppress(queue.Full):  # a stalled worker: the next look says it all anyway
                self._results.put_nowait(look)
            self._wake.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
            self._wake.clear()

    def _admin(self):
        if self._admin_factory is not None:
            return self._admin_factory()
        from confluent_kafka.admin import AdminClient

        return AdminClient(client_config(self.settings))
