"""Which topics are dead-letter or retry topics, by name (shell patterns, configurable), and which topic each
one's messages came from."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

DEFAULT_PATTERNS = (
    "*.DLT",
    "*-dlt",
    "*_dlt",
    "*.dlq",
    "*-dlq",
    "*_dlq",
    "*.dead-letter",
    "*-dead-letter",
    "*.retry",
    "*-retry",
    "*_retry",
    "*-retry-*",
    "*.retry.*",
)
"""Spring Kafka (`orders.DLT`, `orders-retry-0`), Kafka Connect and common `-dlq` names; matched ignoring case."""


@dataclass(frozen=True, slots=True)
class DeadLetterRules:
    """Which topics are dead-letter or retry topics (shell patterns, ignoring case), and where they come from:
    the name without the matched suffix (`orders.DLT` -> `orders`, `orders-retry-2` -> `orders`)."""

    patterns: tuple[str, ...] = DEFAULT_PATTERNS

    @staticmethod
    def parse(texts: Iterable[str] | None) -> DeadLetterRules:
        """From `--dead-letter` options (each a pattern or a comma-separated list); none: the defaults."""
        patterns = tuple(p.strip() for text in texts or () for p in text.split(",") if p.strip())
        return DeadLetterRules(patterns or DEFAULT_PATTERNS)

    def _match(self, topic: str) -> str | None:
        lowered = topic.lower()
        for pattern in self.patterns:
            if fnmatch.fnmatchcase(lowered, pattern.lower()):
                return pattern
        return None

    def kind(self, topic: str) -> str | None:
        """`dead letter`, `retry` or None."""
        pattern = self._match(topic)
        if pattern is None:
            return None
        return "retry" if "retry" in pattern.lower() else "dead letter"

    def origin(self, topic: str) -> str | None:
        """The topic a dead-letter/retry topic's messages came from, by its name (None when no rule says)."""
        pattern = self._match(topic)
        if pattern is None or not pattern.startswith("*"):
            return None
        rest = pattern[1:]
        if "*" not in rest and "?" not in rest:
            return topic[: len(topic) - len(rest)] or None
        fixed = rest.split("*", 1)[0]
        cut = topic.lower().rfind(fixed.lower()) if fixed else -1
        return topic[:cut] or None if cut > 0 else None

    def mask(self, names: Iterable[str]) -> np.ndarray:
        """True for the names that are dead-letter or retry topics."""
        return np.fromiter((self._match(name) is not None for name in names), bool)
