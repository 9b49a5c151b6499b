"""The privacy filter, in one place: what each room may see.

Displays (and the city room) get ticket numbers, desks, counts and countdowns only.
Station rooms get masked people (张*明, last 4 ID digits). Supervisor rooms get full
records. A phone's ticket room gets less than a display: its own visit's step, desk, place
in the queue and times (app/domain/phone_ticket.py), no other ticket and no count of the site.
Nothing else in the live layer builds a payload.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.analytics import DayAnalytics
from app.domain.phone_ticket import TicketView
from app.domain.privacy import visit_view
from app.domain.stock import lot_of
from app.domain.visit import Event, EventType, Visit

# Which event types are announced as calls on the waiting-area screens.
CALL_EVENTS = (EventType.CALLED, EventType.RECALLED)


def display_snapshot(figures: DayAnalytics, *, now: datetime) -> dict[str, Any]:
    """The waiting-area view: counts, current calls, expected waits, the observation board
    with countdowns (from the running figures: no personal field exists in it), and the site's
    time zone (screens show the site's time, whatever their own zone)."""
    return dict(figures.snapshot(now), timezone=figures.site.timezone)


def staff_snapshot(figures: DayAnalytics, *, now: datetime, level: str) -> dict[str, Any]:
    """Stations (masked) and supervisors (full): the display view plus the people on site."""
    view = display_snapshot(figures, now=now)
    view["visits"] = [visit_view(visit, level, now=now) for visit in figures.on_site]
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


def delta_message(event: Event, visit: Visit | None, *, level: str, now: datetime) -> dict[str, Any]:
    """One event for staff rooms, with the visit as it is after the event; a stock event (no
    visit) names the lot it changed, and the pages that show stock read it again."""
    if visit is None:
        return {"site": event.site, "seq": event.seq, "type": event.type, "at": event.at.isoformat(),
                "station": None, "desk": event.desk, "visit": None, "stock": {"lot": lot_of(event.type, event.data)}}
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


def ticket_message(view: TicketView) -> dict[str, Any]:
    """A phone's own ticket: the whitelist of app/domain/phone_ticket.py, as it is."""
    return dict(view)


def ticket_signature(view: TicketView) -> tuple[Any, ...]:
    """What a phone would see change: not the moment the view was made (the page counts down),
    and, far back in a queue, its place and wait only in steps (exact up to 10 ahead, then by 10,
    then by 50), so that every call does not send every phone a message."""
    coarse = {"ahead": _step(view["ahead"]), "minutes": _step(view["minutes"])}
    return tuple(coarse.get(key, value) for key, value in view.items() if key not in ("at", "remaining_seconds"))


def _step(value: int | None) -> int | None:
    if value is None or value <= 10:
        return value
    return value // 10 * 10 if value <= 100 else value // 50 * 50
