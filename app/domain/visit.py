"""The visit: one person's passage through the site, as a state folded from its events.

`apply(visit, event)` is the only place a visit's state changes. The store writes the
result next to the event in one transaction; replaying a visit's events through
`replay` gives the same state back (tests check it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

# Where a person can be. Active states carry a station; terminal states close the loop.
ACTIVE_STATES = ("waiting", "called", "serving", "observing", "emergency")
TERMINAL_STATES = ("turned_away", "deferred", "refused", "no_show", "left", "transferred", "released")
STATES = ACTIVE_STATES + TERMINAL_STATES

EVENT_TYPES = (
    "checked_in", "turned_away", "called", "recalled", "started", "requeued", "no_show",
    "consented", "deferred", "refused", "injected", "released", "aefi_reported",
    "aefi_resolved", "cancelled", "corrected", "reverted",
)

# The visit fields a `reverted` event puts back (as they were before the event it undoes),
# and which of them are datetimes (ISO text in the event, or null).
RESTORED_FIELDS = (
    "state", "station", "desk", "called_at", "recalls", "requeues", "queue_pos", "consent",
    "extended_observation", "released_at", "release_override", "closed_reason", "closed_at",
)
RESTORED_DATETIMES = ("called_at", "released_at", "closed_at")


@dataclass(frozen=True)
class Draft:
    """An event decided by a rule, before the store gives it a sequence number."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    station: str | None = None
    desk: str | None = None


@dataclass(frozen=True)
class Event:
    seq: int
    site: str
    visit_id: str
    type: str
    at: datetime
    actor: str
    station: str | None = None
    desk: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    name: str
    document_type: str
    document_number: str
    phone: str | None
    birth_date: date | None


@dataclass(frozen=True)
class Visit:
    id: str
    site: str
    day: date
    ticket: str | None
    state: str
    station: str | None
    desk: str | None
    priority: bool
    queue_pos: int
    person: Person
    dose_number: int
    health_code: str
    checked_in_at: datetime
    called_at: datetime | None = None
    recalls: int = 0
    requeues: int = 0
    consent: dict[str, Any] | None = None
    extended_observation: bool = False
    injection: dict[str, Any] | None = None
    injected_at: datetime | None = None
    leave_at: datetime | None = None
    aefi: tuple[dict[str, Any], ...] = ()
    released_at: datetime | None = None
    release_override: str | None = None
    closed_reason: str | None = None
    closed_at: datetime | None = None
    version: int = 0
    last_seq: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def vaccinated(self) -> bool:
        return self.injected_at is not None

    def may_leave(self, now: datetime) -> bool:
        return self.state == "observing" and self.leave_at is not None and now >= self.leave_at


class ReplayError(RuntimeError):
    """An event does not fit the state it is applied to: the log is inconsistent."""


def _expect(visit: Visit | None, event: Event, states: tuple[str, ...]) -> Visit:
    if visit is None or visit.state not in states:
        current = visit.state if visit else "nothing"
        raise ReplayError(f"event {event.type} #{event.seq} cannot follow state {current}")
    return visit


def replace(visit: Visit, **changes: Any) -> Visit:
    """`dataclasses.replace` for a Visit, without its per-call field introspection: folding a
    day of events spends most of its time here (bench/analytics.py). Visit has no
    __post_init__, so copying the fields is all that replace does."""
    unknown = changes.keys() - visit.__dict__.keys()
    if unknown:
        raise TypeError(f"Visit has no field {', '.join(sorted(unknown))}")
    new = object.__new__(Visit)
    new.__dict__.update(visit.__dict__, **changes)  # frozen: only __setattr__ is guarded
    return new


def _bump(visit: Visit, event: Event, **changes: Any) -> Visit:
    return replace(visit, version=visit.version + 1, last_seq=event.seq, **changes)


def _close(visit: Visit, event: Event, state: str, reason: str | None) -> Visit:
    return _bump(visit, event, state=state, station=None, desk=None, closed_reason=reason, closed_at=event.at)


def apply(visit: Visit | None, event: Event) -> Visit:
    """Fold one event into a visit. Pure; raises ReplayError if the event does not fit."""
    data = event.data
    kind = event.type
    if kind in ("checked_in", "turned_away"):
        if visit is not None:
            raise ReplayError(f"{kind} #{event.seq} for a visit that already exists")
        person = data["person"]
        born = person.get("birth_date")
        new = Visit(
            id=event.visit_id,
            site=event.site,
            day=date.fromisoformat(data["day"]),
            ticket=data.get("ticket"),
            state="waiting" if kind == "checked_in" else "turned_away",
            station="consent" if kind == "checked_in" else None,
            desk=None,
            priority=bool(data["priority"]),
            queue_pos=event.seq,
            person=Person(
                name=person["name"],
                document_type=person["document_type"],
                document_number=person["document_number"],
                phone=person.get("phone"),
                birth_date=date.fromisoformat(born) if born else None,
            ),
            dose_number=int(data["dose_number"]),
            health_code=data["health_code"],
            checked_in_at=event.at,
            closed_reason=data.get("reason"),
            closed_at=event.at if kind == "turned_away" else None,
            version=1,
            last_seq=event.seq,
        )
        return new
    if kind == "called":
        visit = _expect(visit, event, ("waiting",))
        return _bump(visit, event, state="called", desk=event.desk, called_at=event.at, recalls=0)
    if kind == "recalled":
        visit = _expect(visit, event, ("called",))
        return _bump(visit, event, called_at=event.at, recalls=visit.recalls + 1)
    if kind == "started":
        visit = _expect(visit, event, ("called",))
        return _bump(visit, event, state="serving")
    if kind == "requeued":
        visit = _expect(visit, event, ("called",))
        return _bump(
            visit, event, state="waiting", desk=None, called_at=None, queue_pos=event.seq,
            requeues=visit.requeues + 1,
        )
    if kind == "no_show":
        visit = _expect(visit, event, ("called",))
        return _close(visit, event, "no_show", "no_show")
    if kind == "consented":
        visit = _expect(visit, event, ("called", "serving"))
        return _bump(
            visit, event, state="waiting", station="injection", desk=None, called_at=None,
            queue_pos=event.seq, consent=dict(data["consent"]),
            extended_observation=bool(data["consent"].get("allergy_history")),
        )
    if kind in ("deferred", "refused"):
        visit = _expect(visit, event, ("called", "serving"))
        closed = _close(visit, event, kind, data["consent"].get("deferral_reason") or kind)
        return replace(closed, consent=dict(data["consent"]))
    if kind == "injected":
        visit = _expect(visit, event, ("called", "serving"))
        return _bump(
            visit, event, state="observing", station="observation", desk=None,
            injection=dict(data["injection"]), injected_at=event.at,
            leave_at=datetime.fromisoformat(data["leave_at"]),
        )
    if kind == "released":
        visit = _expect(visit, event, ("observing",))
        closed = _close(visit, event, "released", None)
        return replace(closed, released_at=event.at, release_override=data.get("override_reason"))
    if kind == "aefi_reported":
        visit = _expect(visit, event, ("observing", "emergency"))
        report = dict(data["aefi"], seq=event.seq)
        reports = visit.aefi + (report,)
        outcome = report.get("outcome")
        if outcome == "transferred":
            return replace(_close(visit, event, "transferred", "aefi_transferred"), aefi=reports)
        if outcome == "recovered":
            return _bump(visit, event, state="observing", station="observation", aefi=reports)
        return _bump(visit, event, state="emergency", station="emergency", desk=None, aefi=reports)
    if kind == "aefi_resolved":
        visit = _expect(visit, event, ("emergency",))
        reports = tuple(
            dict(report, outcome=data["outcome"], outcome_at=event.at.isoformat())
            if report.get("outcome") is None else report
            for report in visit.aefi
        )
        if data["outcome"] == "transferred":
            return replace(_close(visit, event, "transferred", "aefi_transferred"), aefi=reports)
        return _bump(visit, event, state="observing", station="observation", aefi=reports)
    if kind == "cancelled":
        visit = _expect(visit, event, ("waiting", "called", "serving"))
        return _close(visit, event, "left", data.get("reason") or "left")
    if kind == "corrected":
        if visit is None:
            raise ReplayError(f"corrected #{event.seq} for a visit that does not exist")
        target = data["to"]
        if target["state"] == "waiting":
            return _bump(
                visit, event, state="waiting", station=target["station"], desk=None, called_at=None,
                queue_pos=event.seq, closed_reason=None, closed_at=None,
            )
        return _close(visit, event, target["state"], data["reason"])
    if kind == "reverted":
        # A desk's undo: the fields its last action changed go back to what they were.
        if visit is None:
            raise ReplayError(f"reverted #{event.seq} for a visit that does not exist")
        return _bump(visit, event, **restored_fields(data["restore"]))
    raise ReplayError(f"unknown event type {kind!r}")


def restore_data(visit: Visit) -> dict[str, Any]:
    """The restorable fields of a visit as JSON-ready data (the `restore` of a `reverted` event)."""
    data: dict[str, Any] = {}
    for name in RESTORED_FIELDS:
        value = getattr(visit, name)
        if name in RESTORED_DATETIMES:
            value = value.isoformat() if value is not None else None
        elif name == "consent":
            value = dict(value) if value is not None else None
        data[name] = value
    return data


def restored_fields(restore: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `restore_data`: visit field values from a `reverted` event's `restore`."""
    values: dict[str, Any] = {}
    for name in RESTORED_FIELDS:
        value = restore[name]
        if name in RESTORED_DATETIMES:
            value = datetime.fromisoformat(value) if value is not None else None
        elif name == "consent":
            value = dict(value) if value is not None else None
        elif name in ("recalls", "requeues", "queue_pos"):
            value = int(value)
        elif name == "extended_observation":
            value = bool(value)
        values[name] = value
    if values["state"] not in STATES:
        raise ReplayError(f"reverted to unknown state {values['state']!r}")
    return values


def replay(events: list[Event]) -> Visit | None:
    visit: Visit | None = None
    for event in events:
        visit = apply(visit, event)
    return visit


def observation_end(injected_at: datetime, minutes: int) -> datetime:
    return injected_at + timedelta(minutes=minutes)


def queue_order(visit: Visit) -> tuple[bool, int]:
    """FIFO within priority: priority people first, then by the time they joined the queue."""
    return (not visit.priority, visit.queue_pos)
