"""Scripted incidents as data: what goes wrong, where, when (repeating cycle) and how strongly at any instant."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

NS_PER_S = 1_000_000_000


class Effect(StrEnum):
    """What an incident does to its target."""

    LATENCY = "latency"  # durations × magnitude (a service's own time, or every call to a datastore/API)
    ERRORS = "errors"  # error rate becomes magnitude (0..1)
    CONSUMER_LAG = "consumer_lag"  # the target consumer starts on `topic` messages up to magnitude seconds late


@dataclass(frozen=True, slots=True)
class Incident:
    """One scripted fault: at full strength from `start_s + ramp_in_s` to `start_s + duration_s - ramp_out_s`.

    Times are offsets in seconds within the script's cycle (or from the simulation start when the
    script does not repeat). Strength rises linearly over `ramp_in_s` and falls over `ramp_out_s`.
    """

    name: str  # short id, e.g. "payments-db-slow"
    title: str  # what a timeline marker says
    target: str  # node name: a service, datastore or third-party API (the consumer service for lag)
    effect: Effect
    magnitude: float
    start_s: float
    duration_s: float
    ramp_in_s: float = 0.0
    ramp_out_s: float = 0.0
    topic: str = ""  # CONSUMER_LAG only: the topic whose messages the target consumes late

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.start_s < 0 or self.ramp_in_s < 0 or self.ramp_out_s < 0:
            raise ValueError(f"incident {self.name}: negative or empty time")
        if self.ramp_in_s + self.ramp_out_s > self.duration_s:
            raise ValueError(f"incident {self.name}: ramps longer than the incident")
        if self.effect is Effect.ERRORS and not 0.0 <= self.magnitude <= 1.0:
            raise ValueError(f"incident {self.name}: an error rate is between 0 and 1")
        if self.effect is Effect.LATENCY and self.magnitude <= 0:
            raise ValueError(f"incident {self.name}: a latency multiplier is positive")
        if (self.effect is Effect.CONSUMER_LAG) != bool(self.topic):
            raise ValueError(f"incident {self.name}: a topic is given exactly for consumer lag")

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def strength(self, offset_s: np.ndarray | float) -> np.ndarray:
        """0..1 at offsets (seconds within the cycle): the trapezoid of ramps, 0 outside the incident."""
        x = np.asarray(offset_s, np.float64) - self.start_s
        rise = x / self.ramp_in_s if self.ramp_in_s else np.ones_like(x)
        fall = (self.duration_s - x) / self.ramp_out_s if self.ramp_out_s else np.ones_like(x)
        inside = (x >= 0) & (x < self.duration_s)
        return np.where(inside, np.clip(np.minimum(rise, fall), 0.0, 1.0), 0.0)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One incident happening once, in absolute time (for timeline marks)."""

    incident: Incident
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class ActiveIncident:
    occurrence: Occurrence
    strength: float


@dataclass(frozen=True)
class IncidentScript:
    """Incidents repeating every `cycle_s` seconds of simulated time (`cycle_s=None`: once)."""

    incidents: tuple[Incident, ...] = ()
    cycle_s: float | None = None

    def __post_init__(self) -> None:
        if self.cycle_s is not None:
            if self.cycle_s <= 0:
                raise ValueError("cycle_s must be positive")
            for incident in self.incidents:
                if incident.end_s > self.cycle_s:
                    raise ValueError(f"incident {incident.name} ends after the cycle")
        names = [incident.name for incident in self.incidents]
        if len(set(names)) != len(names):
            raise ValueError("incident names must be unique")

    def offsets_s(self, time_ns: np.ndarray | int, *, start_ns: int) -> np.ndarray:
        """Seconds into the cycle at absolute times (seconds since `start_ns` without a cycle)."""
        elapsed_s = (np.asarray(time_ns, np.int64) - start_ns) / NS_PER_S
        return np.mod(elapsed_s, self.cycle_s) if self.cycle_s else elapsed_s

    def strength(self, incident: Incident, time_ns: np.ndarray | int, *, start_ns: int) -> np.ndarray:
        """How strongly `incident` acts at absolute times (0 before `start_ns`)."""
        time_ns = np.asarray(time_ns, np.int64)
        strength = incident.strength(self.offsets_s(time_ns, start_ns=start_ns))
        return np.where(time_ns >= start_ns, strength, 0.0)

    def occurrences(self, from_ns: int, to_ns: int, *, start_ns: int) -> list[Occurrence]:
        """Every incident occurrence overlapping [from_ns, to_ns), in start order."""
        out = []
        first_cycle, last_cycle = 0, 0
        if self.cycle_s:
            cycle_ns = round(self.cycle_s * NS_PER_S)
            first_cycle = max(0, (from_ns - start_ns) // cycle_ns - 1)
            last_cycle = max(0, (to_ns - start_ns) // cycle_ns + 1)
        else:
            cycle_ns = 0
        for cycle in range(first_cycle, last_cycle + 1):
            base_ns = start_ns + cycle * cycle_ns
            for incident in self.incidents:
                begin = base_ns + round(incident.start_s * NS_PER_S)
                end = base_ns + round(incident.end_s * NS_PER_S)
                if begin < to_ns and end > from_ns:
                    out.append(Occurrence(incident, begin, end))
        out.sort(key=lambda o: (o.start_ns, o.incident.name))
        return out

    def active_at(self, time_ns: int, *, start_ns: int) -> list[ActiveIncident]:
        """The incidents acting at one instant, with their strength."""
        return [
            ActiveIncident(o, float(self.strength(o.incident, time_ns, start_ns=start_ns)))
            for o in self.occurrences(time_ns, time_ns + 1, start_ns=start_ns)
        ]


NO_INCIDENTS = IncidentScript()
