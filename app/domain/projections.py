"""Read models computed from visits: the site snapshot shown on screens.

The snapshot holds ticket numbers, desks and counts only, never personal data, so every
audience may receive it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from .site import Site
from .visit import Visit
from .vocabulary import STATIONS
from .waits import ServiceEvent, expected_waits


def snapshot(
    site: Site, active: Iterable[Visit], *, seq: int, now: datetime, recent: list[ServiceEvent] | None = None
) -> dict:
    """Counts per station and desk, current calls, observation load; with `recent` service
    events, the expected wait at each queue station too."""
    stations = {
        name: {
            "waiting": 0,
            "called": 0,
            "serving": 0,
            "desks": {desk: {"state": "idle", "ticket": None} for desk in site.stations[name].desks},
        }
        for name in STATIONS
    }
    calling = []
    observing = 0
    ready = []
    heading = 0
    emergency = 0
    for visit in active:
        if visit.state in ("waiting", "called", "serving") and visit.station in stations:
            entry = stations[visit.station]
            entry[visit.state] += 1
            if visit.desk in entry["desks"] and visit.state != "waiting":
                entry["desks"][visit.desk] = {"state": visit.state, "ticket": visit.ticket}
            if visit.state == "called":
                calling.append(
                    {"ticket": visit.ticket, "station": visit.station, "desk": visit.desk, "at": visit.called_at}
                )
            if visit.station == "injection" and visit.state != "waiting":
                heading += 1
        elif visit.state == "observing":
            observing += 1
            if visit.may_leave(now):
                ready.append((visit.leave_at, visit.ticket))
        elif visit.state == "emergency":
            emergency += 1
    calling.sort(key=lambda call: call["at"], reverse=True)
    if recent is not None:
        waiting = {name: entry["waiting"] for name, entry in stations.items()}
        desks = {name: len(site.stations[name].desks) for name in stations}
        for name, estimate in expected_waits(waiting, desks, recent).items():
            stations[name]["expected_wait_minutes"] = estimate["minutes"]
            stations[name]["desks_open"] = estimate["desks_open"]
    return {
        "site": site.id,
        "seq": seq,
        "at": now.isoformat(),
        "stations": stations,
        "calling": [dict(call, at=call["at"].isoformat()) for call in calling],
        "observation": {
            "count": observing,
            "capacity": site.observation.seats,
            "heading": heading,
            "ready": [ticket for _, ticket in sorted(ready)],
        },
        "emergency": {"count": emergency},
    }
