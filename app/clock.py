"""Time enters the application through a clock object (never read inside app.domain), so tests can control it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved: for tests and the simulator."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class ScaledClock:
    """Real time, sped up from the moment it is made: the demo runs a day in an hour or so.
    At speed 10, the 30 minutes of observation pass in 3 real minutes."""

    def __init__(self, speed: float, *, real: Clock | None = None):
        if speed <= 0:
            raise ValueError("the clock speed must be positive")
        self.speed = speed
        self._real = real or SystemClock()
        self._origin = self._real.now()

    def now(self) -> datetime:
        return self._origin + (self._real.now() - self._origin) * self.speed
