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
# Every event a desk may undo is read too, so that an undo (`reverted`, which always takes back
# the visit's last event) takes back exactly what that event did here.
SERVICE_EVENTS = (
    "called", "recalled", "started", "requeued", "no_show", "consented", "deferred", "refused", "injected",
    "released", "cancelled", "reverted",
)
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
    began and ended in `recent` (in sequence order). Undone events count for nothing."""
    began: dict[str, datetime] = {}
    samples: dict[str, tuple[str, float] | None] = {}  # visit -> its last sample, if any
    before: dict[str, datetime | None] = {}  # visit -> when its service began before its last event
    times: dict[str, list[float]] = {station: [] for station in OUTCOMES}
    for event in recent:
        visit = event.visit_id
        if event.type == "reverted":
            sample = samples.pop(visit, None)
            if sample is not None:
                station, seconds = sample
                times[station].remove(seconds)
            restored = before.pop(visit, None)
            if restored is None:
                began.pop(visit, None)
            else:
                began[visit] = restored
            continue
        before[visit] = began.get(visit)
        samples[visit] = None
        if event.type in ("called", "started"):
            began[visit] = event.at
        elif event.station in OUTCOMES and event.type in OUTCOMES[event.station]:
            start = began.pop(visit, None)
            if start is not None:
                seconds = (event.at - start).total_seconds()
                times[event.station].append(seconds)
                samples[visit] = (event.station, seconds)
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
