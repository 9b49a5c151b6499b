"""Expected waits for the waiting-area screens, from recent service times and open desks.

A service at a queue station runs from the person's arrival at the desk (`started`, or the
call when the desk does not record arrivals) to the outcome. The wait of someone joining a
queue now is about `waiting × mean service time / desks open`, where a desk counts as open
if it served or called someone in the window. It is an estimate, shown as "about N min".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

WINDOW = timedelta(minutes=30)
# The events that end a service at each queue station.
OUTCOMES = {"consent": ("consented", "deferred", "refused"), "injection": ("injected",)}
SERVICE_EVENTS = ("called", "started", "consented", "deferred", "refused", "injected")
MIN_SAMPLES = 3  # fewer services than this in the window: no estimate yet


@dataclass(frozen=True)
class ServiceEvent:
    """The part of an event that service times need (no personal data)."""

    visit_id: str
    type: str
    station: str | None
    desk: str | None
    at: datetime


def service_times(recent: Iterable[ServiceEvent]) -> dict[str, list[float]]:
    """Seconds from arrival at the desk to the outcome, per station, for services that both
    began and ended in `recent` (in sequence order)."""
    began: dict[str, datetime] = {}
    times: dict[str, list[float]] = {station: [] for station in OUTCOMES}
    for event in recent:
        if event.type in ("called", "started"):
            began[event.visit_id] = event.at
        elif event.station in OUTCOMES and event.type in OUTCOMES[event.station]:
            start = began.pop(event.visit_id, None)
            if start is not None:
                times[event.station].append((event.at - start).total_seconds())
    return times


def expected_waits(waiting: dict[str, int], desks: dict[str, int], recent: list[ServiceEvent]) -> dict[str, dict]:
    """{station: {"minutes": int | None, "desks_open": int}} for each queue station."""
    times = service_times(recent)
    result = {}
    for station, samples in times.items():
        seen = {event.desk for event in recent if event.station == station and event.desk}
        open_desks = max(1, min(len(seen) or desks.get(station, 1), desks.get(station, 1)))
        minutes = None
        if len(samples) >= MIN_SAMPLES:
            mean = sum(samples) / len(samples)
            minutes = math.ceil(waiting.get(station, 0) * mean / open_desks / 60)
        result[station] = {"minutes": minutes, "desks_open": open_desks}
    return result
