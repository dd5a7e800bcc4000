"""The simulator's span rate over time: a daily curve times smooth noise."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from flowviz.sim.incidents import NS_PER_S


def day_curve(hour_of_day: np.ndarray | float) -> np.ndarray:
    """Relative traffic over a day (mean 1): a night trough, a morning rise, lunch, the evening peak."""
    hour = np.asarray(hour_of_day, np.float64) % 24.0
    return _raw_day_curve(hour) / _DAY_MEAN


def _raw_day_curve(hour: np.ndarray) -> np.ndarray:
    def bump(center: float, width: float) -> np.ndarray:
        distance = np.abs((hour - center + 12.0) % 24.0 - 12.0)
        return np.exp(-0.5 * (distance / width) ** 2)

    return 0.18 + 0.55 * bump(10.5, 2.6) + 0.35 * bump(13.0, 1.1) + 1.0 * bump(20.3, 2.4) + 0.25 * bump(16.0, 3.0)


_DAY_MEAN = float(np.mean(_raw_day_curve(np.arange(0.0, 24.0, 1.0 / 600.0))))


class TrafficRate:
    """Expected spans per second at absolute times: `rate_per_s` × `day_curve` (a day lasts `day_length_s`,
    `daily_amplitude` 0 makes it flat) × smooth noise of relative size `noise` fixed by `seed`."""

    def __init__(
        self,
        *,
        seed: int,
        rate_per_s: float,
        start_ns: int,
        day_length_s: float,
        daily_amplitude: float,
        noise: float,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.start_ns = start_ns
        self.day_length_s = day_length_s
        self.daily_amplitude = daily_amplitude
        start_of_day = datetime.fromtimestamp(start_ns // NS_PER_S, UTC)
        self._start_hour = start_of_day.hour + start_of_day.minute / 60 + start_of_day.second / 3600
        noise_rng = np.random.default_rng([seed, 0x6E6F697365])
        self._noise_periods_s = np.exp(noise_rng.uniform(math.log(30.0), math.log(1800.0), 6))
        self._noise_phases = noise_rng.uniform(0, 2 * math.pi, 6)
        self._noise_amplitude = noise * math.sqrt(2.0 / 6.0)

    def at(self, time_ns: np.ndarray | int) -> np.ndarray:
        """Expected spans per second at absolute times (daily curve × smooth noise)."""
        elapsed_s = (np.asarray(time_ns, np.int64) - self.start_ns) / NS_PER_S
        hour = self._start_hour + 24.0 * elapsed_s / self.day_length_s
        day = 1.0 + self.daily_amplitude * (day_curve(hour) - 1.0)
        phase = 2 * math.pi * np.multiply.outer(elapsed_s, 1.0 / self._noise_periods_s) + self._noise_phases
        wobble = 1.0 + self._noise_amplitude * np.sin(phase).sum(axis=-1)
        return self.rate_per_s * np.maximum(day * wobble, 0.02)
