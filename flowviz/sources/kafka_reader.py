"""Reading Kafka topics by assign() from a start time (no group, no commits), batched, reconnecting, with status."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import orjson

from flowviz.model.problems import Problems
from flowviz.sources.kafka_settings import KafkaSettings, check_settings, consumer_config, start_time_ms
from flowviz.sources.kafka_status import KafkaStatus

_METADATA_TIMEOUT_S = 2.0
_RETRY_FIRST_S, _RETRY_MAX_S = 0.5, 10.0
_PARTITION_CHECK_S = 10.0  # how often topics are looked up again for partitions added later
_RATE_WINDOW_S = 2.0


class KafkaReader:
    """Reads `settings.topics` by assign() from the start offsets; `poll()` returns batches of messages.

    No consumer group is joined and nothing is committed, so production consumers are never disturbed.
    A broker that cannot be reached is retried with back-off (librdkafka reconnects an established
    client by itself; a client that never got metadata is rebuilt here); `status` tells how it goes.
    Each call returns within about `timeout_s`, so a caller can check for a stop request in between.
    """

    def __init__(self, settings: KafkaSettings, *, problems: Problems | None = None) -> None:
        check_settings(settings)
        self.settings = settings
        self.problems = problems if problems is not None else Problems()
        self.status = KafkaStatus(bootstrap=settings.bootstrap, topics=tuple(settings.topics))
        self._consumer: Any = None
        self._assigned: set[tuple[str, int]] = set()
        self._missing_topics: tuple[str, ...] = ()
        self._next_try_s = 0.0
        self._attempts_failed = 0
        self._retry_s = _RETRY_FIRST_S
        self._next_partition_check_s = 0.0
        self._start_ms = start_time_ms(settings.start)
        self._began_ms = time.time_ns() // 1_000_000
        self._catching_up: set[tuple[str, int]] = set()  # partitions still skipping messages before the start
        self._ends: dict[tuple[str, int], int] = {}  # partition -> end offset (from statistics)
        self._positions: dict[tuple[str, int], int] = {}  # partition -> next offset to read
        self._fetching: dict[tuple[str, int], int] = {}  # partition -> next offset to fetch (from statistics)
        self._down_reports = 0  # statistics reports in a row without a usable broker
        self._check_positions = False  # after an outage: is each partition still the one we were reading?
        self._last_read: dict[tuple[str, int], tuple[int, int]] = {}  # partition -> (offset, timestamp ms) last read
        # partition -> (offset, timestamp ms) of the message it must start with after an outage, end offset then
        self._verifying: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._next_end_check_s = 0.0
        self._rate_samples: deque[tuple[float, int, int]] = deque()
        self._newest_ms = 0

    # -- public --------------------------------------------------------------------------

    def poll(self, *, max_messages: int = 20_000, max_bytes: int = 64 << 20, timeout_s: float = 0.1) -> list:
        """Messages that arrived (confluent_kafka Message objects), waiting at most about `timeout_s` for the first."""
        now = time.monotonic()
        if self._consumer is None or self._missing_topics:
            if now >= self._next_try_s:
                self._connect()
            elif not self._assigned:
                self.status.retry_in_s = self._next_try_s - now
                time.sleep(min(timeout_s, self._next_try_s - now))
                return []
            if self._consumer is None or not self._assigned:
                return []  # topics that exist are read meanwhile
        elif now >= self._next_partition_check_s:
            self._add_new_partitions()
        messages = self._consume(max_messages, max_bytes, timeout_s)
        self._update_rates(time.monotonic())
        if self._check_positions:
            self._verify_after_outage()
        elif self._verifying and self.status.state == "connected" and time.monotonic() >= self._next_end_check_s:
            self._ends_below_verified()
        return messages

    def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            consumer.close()
        self.status.set_state("stopped")

    def positions(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the offset after the last message read from it (partitions read from so far)."""
        return dict(self._positions)

    # -- connecting ----------------------------------------------------------------------

    def _connect(self) -> None:
        from confluent_kafka import Consumer, KafkaException

        try:
            if self._consumer is None:
                self._consumer = Consumer(
                    consumer_config(self.settings, on_error=self._on_error, on_stats=self._on_stats)
                )
            partitions, missing = self._partitions()
        except KafkaException as error:
            self._retry_later("reconnecting", _error_text(error.args[0] if error.args else error))
            if not self._assigned and self._consumer is not None:
                consumer, self._consumer = self._consumer, None  # start afresh: bootstrap again
                consumer.close()
            return
        self._missing_topics = missing
        new = [key for key in partitions if key not in self._assigned]
        if new:
            self._assign(new, fresh=not self._assigned)
        if missing:
            self._retry_later("waiting for topic", f"no topic {', '.join(missing)} on the broker yet")
            return
        self._retry_s = _RETRY_FIRST_S
        self.status.retry_in_s = None
        self.status.set_state("connected")
        self._next_partition_check_s = time.monotonic() + _PARTITION_CHECK_S

    def _retry_later(self, state: str, error: str) -> None:
        self._attempts_failed += 1
        self.status.set_state(state if not self._assigned or state != "waiting for topic" else "connected", error=error)
        self._next_try_s = time.monotonic() + self._retry_s
        self.status.retry_in_s = self._retry_s
        self._retry_s = min(self._retry_s * 2, _RETRY_MAX_S)

    def _partitions(self) -> tuple[list[tuple[str, int]], tuple[str, ...]]:
        """(topic, partition) of every wanted topic that exists, and the topics that do not (yet)."""
        found, missing = [], []
        for topic in self.settings.topics:
            metadata = self._consumer.list_topics(topic, timeout=_METADATA_TIMEOUT_S)
            entry = metadata.topics.get(topic)
            if entry is None or entry.error is not None or not entry.partitions:
                missing.append(topic)
                continue
            found += [(topic, partition) for partition in sorted(entry.partitions)]
        return found, tuple(missing)

    def _assign(self, keys: list[tuple[str, int]], *, fresh: bool) -> None:
        """Start reading `keys`: from the start offsets on the first assignment, from the beginning of later ones."""
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

        start = self.settings.start.strip().lower()
        if not fresh:
            wanted = [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in keys]  # partitions added while reading
        elif start == "earliest":
            wanted = [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in keys]
        elif start == "latest" and not self._attempts_failed:
            wanted = [TopicPartition(t, p, OFFSET_END) for t, p in keys]
        else:
            # a time, or 'latest' once a first attempt failed (no broker, no topic yet): what came since we started
            since_ms = self._start_ms if self._start_ms is not None else self._began_ms
            asked = [TopicPartition(t, p, since_ms) for t, p in keys]
            found = self._consumer.offsets_for_times(asked, timeout=_METADATA_TIMEOUT_S)
            wanted = [
                TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found
            ]
            self._catching_up.update(keys)  # offsets_for_times may land early (batch granularity): skip older ones
        self._consumer.incremental_assign(wanted)
        self._assigned.update(keys)
        self.status.partitions = len(self._assigned)

    def _add_new_partitions(self) -> None:
        from confluent_kafka import KafkaException

        self._next_partition_check_s = time.monotonic() + _PARTITION_CHECK_S
        try:
            partitions, _ = self._partitions()
        except KafkaException:
            return  # the error callback tells the status
        new = [key for key in partitions if key not in self._assigned]
        if new:
            self._assign(new, fresh=False)

    # -- consuming -----------------------------------------------------------------------

    def _consume(self, max_messages: int, max_bytes: int, timeout_s: float) -> list:
        consumer = self._consumer
        batch: list = []
        size = 0
        wait = timeout_s
        while len(batch) < max_messages and size < max_bytes:
            # consume() waits for all it is asked for: wait for one message, then take what is already fetched
            got = consumer.consume(1 if wait else min(max_messages - len(batch), 10_000), wait)
            if not got:
                break
            wait = 0
            for message in got:
                if message.error() is not None:
                    self._on_message_error(message.error())
                    continue
                value = message.value()
                size += len(value) if value is not None else 0
                batch.append(message)
        if batch:
            batch = self._note_messages(batch, size)
        return batch

    def _note_messages(self, batch: list, size: int) -> list:
        status = self.status
        positions = self._positions
        if self._verifying:
            batch = self._check_reset(batch)
        if self._catching_up:
            batch = self._skip_before_start(batch)
        last_read = self._last_read
        for message in batch:
            key, offset = (message.topic(), message.partition()), message.offset()
            positions[key] = offset + 1
            last_read[key] = (offset, message.timestamp()[1])
        if not batch:
            return batch
        status.messages += len(batch)
        status.bytes += size
        newest = max(m.timestamp()[1] for m in batch)
        self._newest_ms = max(self._newest_ms, newest)
        if status.state != "connected":
            status.set_state("connected")
            status.retry_in_s = None
        return batch

    def _skip_before_start(self, batch: list) -> list:
        kept = []
        catching_up, start_ms = self._catching_up, self._start_ms if self._start_ms is not None else self._began_ms
        for message in batch:
            key = (message.topic(), message.partition())
            if key in catching_up:
                kind, stamp_ms = message.timestamp()
                if kind != 0 and stamp_ms < start_ms:  # 0: no timestamp; then it is read
                    self._positions[key] = message.offset() + 1
                    continue
                catching_up.discard(key)
            kept.append(message)
        return kept

    def _update_rates(self, now: float) -> None:
        status, samples = self.status, self._rate_samples
        samples.append((now, status.messages, status.bytes))
        while len(samples) > 2 and now - samples[0][0] > _RATE_WINDOW_S:
            samples.popleft()
        first_t, first_messages, first_bytes = samples[0]
        if now - first_t >= 0.2:
            status.messages_per_s = (status.messages - first_messages) / (now - first_t)
            status.bytes_per_s = (status.bytes - first_bytes) / (now - first_t)
        if self._newest_ms:
            status.newest_message_age_s = max(0.0, time.time() - self._newest_ms / 1000)
        if self._ends:
            positions, fetching = self._positions, self._fetching
            status.lag_messages = sum(
                max(0, end - positions.get(key, fetching.get(key, end)))
                for key, end in self._ends.items()
                if key in self._assigned
            )

    def _verify_after_outage(self) -> None:
        """After an outage (or an unknown topic): read each partition again from the last message read. If
        that message is still there, reading goes on; if not, the partition was reset (a broker that lost its
        data, a topic deleted and created again) and is read again from its new beginning — see
        `_check_reset`. Kafka answers a position past a new end with OFFSET_OUT_OF_RANGE (read again from the
        beginning, `auto.offset.reset`); a new partition that grew past the old position is found only so."""
        from confluent_kafka import KafkaException, TopicPartition

        for key, (offset, stamp_ms) in self._last_read.items():
            if key in self._verifying:
                continue
            try:
                self._consumer.seek(TopicPartition(key[0], key[1], offset))
            except KafkaException:
                return  # not fetching yet (still down): tried again at the next poll
            self._verifying[key] = (offset, stamp_ms, self._ends.get(key, offset + 1))
        self._check_positions = False

    def _check_reset(self, batch: list) -> list:
        """Messages of partitions being verified: the last message read before the outage is dropped when it
        comes again (the partition is the same); anything else means a reset: the partition is read again
        from its beginning and the reset counted, with the messages it may have lost."""

        kept, reset = [], set()
        for message in batch:
            key = (message.topic(), message.partition())
            if key in reset:
                continue
            expected = self._verifying.get(key)
            if expected is None:
                kept.append(message)
                continue
            del self._verifying[key]
            if (message.offset(), message.timestamp()[1]) == expected[:2]:
                continue  # the same message: read before the outage
            reset.add(key)
            self._reset_partition(key, expected)
        return kept

    def _ends_below_verified(self) -> None:
        """Partitions being verified whose end is now at or before the message they must start with: reset
        (brokers that answer such a position with nothing instead of OFFSET_OUT_OF_RANGE)."""
        from confluent_kafka import KafkaException, TopicPartition

        self._next_end_check_s = time.monotonic() + 1.0
        for key, expected in list(self._verifying.items()):
            try:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(*key), timeout=1.0, cached=False)
            except KafkaException:
                return
            if 0 <= high <= expected[0]:
                del self._verifying[key]
                self._reset_partition(key, expected)

    def _reset_partition(self, key: tuple[str, int], expected: tuple[int, int, int]) -> None:
        from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

        old_position = self._positions.get(key, expected[0] + 1)
        missed = max(0, expected[2] - old_position)
        self.problems.add(
            "kafka: partition was reset (broker lost its data, or topic created again): read again from its "
            "new beginning",
            f"{key[0]}[{key[1]}]@{old_position}",
        )
        self.problems.add(
            "kafka: messages possibly lost in a partition reset (published before it, not read)",
            f"{key[0]}[{key[1]}]@{old_position}",
            count=missed,
        )
        self._positions[key] = 0
        self._last_read.pop(key, None)
        try:
            self._consumer.seek(TopicPartition(key[0], key[1], OFFSET_BEGINNING))
        except KafkaException:
            self._check_positions = True

    # -- callbacks (run inside consume()) ------------------------------------------------

    def _on_error(self, error) -> None:
        from confluent_kafka import KafkaError

        code = error.code()
        if code == KafkaError._ALL_BROKERS_DOWN:
            self._check_positions = True
            self.status.set_state("reconnecting", error=_error_text(error))
        elif code in (KafkaError._AUTHENTICATION, KafkaError._SSL, KafkaError.SASL_AUTHENTICATION_FAILED):
            self.status.set_state("reconnecting", error=_error_text(error))
        elif self.status.state != "connected":
            self.status.last_error = _error_text(error)

    def _on_stats(self, text: str) -> None:
        stats = orjson.loads(text)
        up = any(b.get("state") == "UP" for b in stats.get("brokers", {}).values() if b.get("nodeid", -1) >= 0)
        self._down_reports = 0 if up else self._down_reports + 1
        if up and self._assigned and not self._missing_topics and self.status.state != "connected":
            self.status.set_state("connected")
            self.status.retry_in_s = None
        elif self._down_reports >= 2 and self._assigned and self.status.state == "connected":
            self._check_positions = True  # no broker for two reports in a row (a reconnect is no outage)
            self.status.set_state("reconnecting")
        for topic, entry in stats.get("topics", {}).items():
            for name, partition in entry.get("partitions", {}).items():
                end, fetching = partition.get("hi_offset", -1), partition.get("next_offset", -1)
                if name != "-1" and end >= 0:
                    self._ends[(topic, int(name))] = end
                if name != "-1" and fetching >= 0:
                    self._fetching[(topic, int(name))] = fetching  # for partitions nothing was read from yet

    def _on_message_error(self, error) -> None:
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.code() in (KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET):
            self.problems.add(
                "kafka: position out of range (partition reset or data expired): read again from its beginning",
                _error_text(error)[:120],
            )
        self.status.last_error = _error_text(error)
        if error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION):
            self._check_positions = True


def _error_text(error: object) -> str:
    text = error.str() if hasattr(error, "str") else str(error)
    return text.split(": ", 1)[-1] if "Connect to" in text else text


def message_where(message) -> str:
    """Where a message is, for problem reports: `topic[partition]@offset`."""
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"
