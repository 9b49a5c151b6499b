"""The person's live ticket on their own phone (the public page /t/<code>): their ticket number,
where they are in the flow, how many are ahead of them, and what to do now.

It is public: whoever holds the slip's code reads it, without signing in. So it is built from
a whitelist, here only: the site's names, the ticket number, the step, the station and desk,
counts and times. Never a name, document, phone, health answer or anyone else's ticket
(the privacy tests hold every push and page of a simulated day to that).
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TypedDict

from .site import Said, Site
from .visit import State, Visit, queue_order
from .vocabulary import Station

# 22 URL-safe characters: 16 random bytes, 128 bits.
CODE_BYTES = 16


def new_code() -> str:
    """A fresh ticket code: 128 bits from the operating system's random source."""
    return secrets.token_urlsafe(CODE_BYTES)


def looks_like_code(text: str) -> bool:
    """The shape of a code (what new_code makes); anything else is not looked up at all."""
    return len(text) == 22 and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text)


def code_expires(site: Site, day: date) -> datetime:
    """A code of `day` is valid to the end of the site's day (local midnight) and its grace period."""
    end_of_day = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=site.tz)
    return end_of_day + timedelta(minutes=site.ticket_page.grace_minutes)


class Step(StrEnum):
    """What the phone says the person should do now."""

    WAITING = "waiting"  # in a queue: N ahead, about M minutes
    CALLED = "called"  # go to <station> desk X now
    AT_DESK = "at_desk"  # being seen at a desk
    OBSERVING = "observing"  # in observation: the countdown to the time they may leave
    MAY_LEAVE = "may_leave"  # observation over: go to the exit
    DONE = "done"  # released: they may leave
    SEE_STAFF = "see_staff"  # anything else (deferred, turned away, closed, in the emergency area)


class TicketView(TypedDict):
    ticket: str | None
    site: dict[str, str]  # {"name", "name_zh", "timezone"}
    step: Step
    station: str | None  # consent | injection | observation | exit, where the step is
    desk: str | None
    called_at: str | None  # ISO: the call (a recall moves it: the phone vibrates again)
    ahead: int | None  # people before them in their queue (waiting only)
    minutes: int | None  # about how long until their turn (waiting, once there is an estimate)
    leave_at: str | None  # ISO: when they may leave observation
    remaining_seconds: int | None
    instructions: dict[str, str]  # {"zh", "en"}: the site's words for this step
    emergency: dict[str, str] | None  # during observation: what to do if they feel unwell
    at: str  # ISO: when this view was made (the page counts down from it)


def step_of(visit: Visit, now: datetime) -> Step:
    if visit.state == State.WAITING:
        return Step.WAITING
    if visit.state == State.CALLED:
        return Step.CALLED
    if visit.state == State.SERVING:
        return Step.AT_DESK
    if visit.state == State.OBSERVING:
        return Step.MAY_LEAVE if visit.may_leave(now) else Step.OBSERVING
    if visit.state == State.RELEASED:
        return Step.DONE
    return Step.SEE_STAFF


def places_in_queue(waiting: Iterable[Visit]) -> dict[str, int]:
    """Visit id -> how many are ahead of them, for everyone waiting in one queue."""
    return {visit.id: place for place, visit in enumerate(sorted(waiting, key=queue_order))}


def _said(text: Said) -> dict[str, str]:
    return {"zh": text.zh, "en": text.en}


def ticket_view(site: Site, visit: Visit, *, now: datetime, ahead: int | None = None,
                minutes: int | None = None) -> TicketView:
    """The phone's view of one visit. `ahead` and `minutes`: its place in its queue (waiting only)."""
    step = step_of(visit, now)
    instructions = site.ticket_page.instructions
    observing = step in (Step.OBSERVING, Step.MAY_LEAVE)
    station: str | None
    if step in (Step.WAITING, Step.CALLED, Step.AT_DESK):
        station = visit.station
    elif observing:
        station = Station.OBSERVATION if step == Step.OBSERVING else Station.EXIT
    else:
        station = None
    return {
        "ticket": visit.ticket,
        "site": {"name": site.name, "name_zh": site.name_zh, "timezone": site.timezone},
        "step": step,
        "station": station,
        "desk": visit.desk if step in (Step.CALLED, Step.AT_DESK) else None,
        "called_at": visit.called_at.isoformat() if step == Step.CALLED and visit.called_at else None,
        "ahead": ahead if step == Step.WAITING else None,
        "minutes": minutes if step == Step.WAITING else None,
        "leave_at": visit.leave_at.isoformat() if observing and visit.leave_at else None,
        "remaining_seconds": (max(0, int((visit.leave_at - now).total_seconds()))
                              if observing and visit.leave_at else None),
        "instructions": _said(getattr(instructions, step.value)),
        "emergency": _said(instructions.emergency) if observing else None,
        "at": now.isoformat(),
    }
