"""Counting what was skipped or could not be paired: by reason, with the first locations of each."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

MAX_LOCATIONS_PER_REASON = 5


@dataclass(slots=True)
class ProblemEntry:
    """One reason: how often it happened and where it happened first."""

    count: int = 0
    locations: list[str] = field(default_factory=list)


class Problems:
    """Collects problems by reason; keeps counts exactly and the first few locations of each.

    `echo` (a text stream, usually stderr) receives one line the first time each reason occurs,
    so a user sees trouble as it happens without being flooded.
    """

    def __init__(self, *, echo: TextIO | None = None) -> None:
        self._entries: dict[str, ProblemEntry] = {}
        self._echo = echo

    def add(self, reason: str, location: str = "", *, count: int = 1) -> None:
        """Count `count` occurrences of `reason`, remembering `location` among the first few."""
        if count <= 0:
            return
        entry = self._entries.get(reason)
        if entry is None:
            entry = self._entries[reason] = ProblemEntry()
            if self._echo is not None:
                where = f" at {location}" if location else ""
                print(f"flowviz: skipped: {reason}{where}", file=self._echo)
        entry.count += count
        if location and len(entry.locations) < MAX_LOCATIONS_PER_REASON:
            entry.locations.append(location)

    def add_many(self, reason: str, locations: list[str]) -> None:
        """Count one occurrence per location."""
        if locations:
            self.add(reason, locations[0], count=1)
            for location in locations[1:]:
                self.add(reason, location)

    def merge(self, other: Problems) -> None:
        """Count everything `other` counted, after what is here (its reasons in the order it met them)."""
        for reason, entry in other._entries.items():
            for location in entry.locations:
                self.add(reason, location)
            self.add(reason, count=entry.count - len(entry.locations))

    def mark(self) -> dict[str, tuple[int, int]]:
        """What has been counted so far, to `restore()` when the same input is going to be read again."""
        return {reason: (entry.count, len(entry.locations)) for reason, entry in self._entries.items()}

    def restore(self, mark: dict[str, tuple[int, int]]) -> None:
        """Forget what was counted since `mark()`."""
        for reason in [r for r in self._entries if r not in mark]:
            del self._entries[reason]
        for reason, (count, locations) in mark.items():
            entry = self._entries[reason]
            entry.count = count
            del entry.locations[locations:]

    def count(self, reason: str) -> int:
        entry = self._entries.get(reason)
        return entry.count if entry else 0

    @property
    def total(self) -> int:
        return sum(e.count for e in self._entries.values())

    def __bool__(self) -> bool:
        return bool(self._entries)

    def as_dict(self) -> dict[str, dict[str, object]]:
        """`{reason: {"count": n, "first": [locations...]}}`, reasons sorted."""
        return {r: {"count": e.count, "first": list(e.locations)} for r, e in sorted(self._entries.items())}

    def summary_lines(self) -> list[str]:
        lines = []
        for reason, entry in sorted(self._entries.items()):
            where = f" (first at {', '.join(entry.locations)})" if entry.locations else ""
            lines.append(f"{entry.count} × {reason}{where}")
        return lines


def stderr_problems() -> Problems:
    """A `Problems` that announces each new reason on stderr."""
    return Problems(echo=sys.stderr)
