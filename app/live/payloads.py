"""The privacy filter, in one place: what each room may see.

Displays (and the city room) get ticket numbers, desks, counts and countdowns only.
Station rooms get masked people (张*明, last 4 ID digits). Supervisor rooms get full
records. Nothing else in the live layer builds a payload.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from app.domain.privacy import visit_view
from app.domain.projections import snapshot
from app.domain.site import Site
from app.domain.visit import Event, Visit
from app.domain.waits import ServiceEvent

# Which event types are announced as calls on the waiting-area screens.
CALL_EVENTS = ("called", "recalled")


def display_snapshot(
    site: Site, active: Iterable[Visit], *, seq: int, now: datetime, recent: list[ServiceEvent] | None = None
) -> dict[str, Any]:
    """The waiting-area view: counts, current calls, expected waits (from `recent` service
    events, when given), the observation board with countdowns."""
    active = list(active)
    view = snapshot(site, active, seq=seq, now=now, recent=recent)
    board = sorted(
        (visit.leave_at, visit.ticket) for visit in active if visit.state == "observing" and visit.leave_at
    )
    view["observation"]["board"] = [
        {"ticket": ticket, "leave_at": leave_at.isoformat(), "ready": leave_at <= now} for leave_at, ticket in board
    ]
    return view


def staff_snapshot(
    site: Site, active: Iterable[Visit], *, seq: int, now: datetime, level: str,
    recent: list[ServiceEvent] | None = None,
) -> dict[str, Any]:
    """Stations (masked) and supervisors (full): the display view plus the open visits."""
    active = list(active)
    view = display_snapshot(site, active, seq=seq, now=now, recent=recent)
    view["visits"] = [visit_view(visit, level, now=now) for visit in active]
    return view


def call_message(event: Event, visit: Visit) -> dict[str, Any]:
    return {
        "site": event.site,
        "seq": event.seq,
        "ticket": visit.ticket,
        "station": event.station,
        "desk": event.desk,
        "at": event.at.isoformat(),
        "recall": visit.recalls,
    }


def delta_message(event: Event, visit: Visit, *, level: str, now: datetime) -> dict[str, Any]:
    """One event for staff rooms, with the visit as it is after the event."""
    return {
        "site": event.site,
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "station": event.station,
        "desk": event.desk,
        "visit": visit_view(visit, level, now=now),
    }


def ready_message(site: str, ticket: str, leave_at: datetime) -> dict[str, Any]:
    return {"site": site, "ticket": ticket, "leave_at": leave_at.isoformat()}


def city_row(view: dict[str, Any]) -> dict[str, Any]:
    """One site's line in the city overview: counts only."""
    return {
        "site": view["site"],
        "seq": view["seq"],
        "stations": {name: {k: v for k, v in entry.items() if k != "desks"} for name, entry in view["stations"].items()},
        "observation": {k: view["observation"][k] for k in ("count", "capacity")},
        "emergency": view["emergency"],
    }
