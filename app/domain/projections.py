"""Read models computed from who is on site: the site snapshot shown on screens.

The snapshot holds ticket numbers, desks and counts only, never personal data, so every
audience may receive it. It reads the buckets of `OnSite`, so it costs the desks and the
people observing, never the length of a queue or of the day.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict

from .onsite import OnSite
from .site import Site
from .visit import State, Visit
from .vocabulary import STATIONS, Station
from .waits import ExpectedWait

BUSY = (State.CALLED, State.SERVING)


class _Call(TypedDict):
    ticket: str | None
    station: Station
    desk: str | None
    at: datetime


class BoardEntry(TypedDict):
    ticket: str | None
    leave_at: str  # ISO
    ready: bool


def snapshot(
    site: Site, on_site: OnSite, *, seq: int, now: datetime, waits: Mapping[str, ExpectedWait] | None = None
) -> dict[str, Any]:
    """Counts per station and desk, current calls, the observation board; with `waits`
    ({station: {"minutes", "desks_open"}}), the expected wait at each queue station too."""
    stations: dict[str, dict[str, object]] = {}
    calling: list[_Call] = []
    for name in STATIONS:
        desks = {desk: {"state": "idle", "ticket": None} for desk in site.stations[name].desks}
        for state in BUSY:
            for visit in on_site.at(name, state):
                if visit.desk in desks:
                    desks[visit.desk] = {"state": state, "ticket": visit.ticket}
                if state == State.CALLED:
                    assert visit.called_at is not None  # a called visit has its call time
                    calling.append({"ticket": visit.ticket, "station": name, "desk": visit.desk, "at": visit.called_at})
        stations[name] = {
            "waiting": on_site.count(name, State.WAITING),
            "called": on_site.count(name, State.CALLED),
            "serving": on_site.count(name, State.SERVING),
            "desks": desks,
        }
        if waits is not None and name in waits:
            stations[name]["expected_wait_minutes"] = waits[name]["minutes"]
            stations[name]["desks_open"] = waits[name]["desks_open"]
    calling.sort(key=lambda call: call["at"], reverse=True)
    observing = list(on_site.at(Station.OBSERVATION, State.OBSERVING))
    ready = sorted((visit.leave_at, visit.ticket) for visit in observing if visit.may_leave(now))
    return {
        "site": site.id,
        "seq": seq,
        "at": now.isoformat(),
        "stations": stations,
        "calling": [dict(call, at=call["at"].isoformat()) for call in calling],
        "observation": {
            "count": len(observing),
            "capacity": site.observation.seats,
            "heading": on_site.count(Station.INJECTION, State.CALLED) + on_site.count(Station.INJECTION, State.SERVING),
            "ready": [ticket for _, ticket in ready],
            "board": observation_board(observing, now),
        },
        "emergency": {"count": on_site.count(Station.EMERGENCY, State.EMERGENCY)},
    }


def observation_board(observing: list[Visit], now: datetime) -> list[BoardEntry]:
    """The waiting-area board: everyone observing by the time they may leave, with whether it
    is time (ticket numbers only)."""
    board = sorted((visit.leave_at, visit.ticket) for visit in observing if visit.leave_at)
    return [{"ticket": ticket, "leave_at": leave_at.isoformat(), "ready": leave_at <= now} for leave_at, ticket in board]
