"""The visit: one person's passage through the site, as a state folded from its events.

`apply(visit, event)` is the only place a visit's state changes. The store writes the
result next to the event in one transaction; replaying a visit's events through
`replay` gives the same state back (tests check it).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

from .vocabulary import AefiOutcome, Station


class State(StrEnum):
    """Where a person can be. Active states carry a station; terminal states close the loop."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    OBSERVING = "observing"
    EMERGENCY = "emergency"
    TURNED_AWAY = "turned_away"
    DEFERRED = "deferred"
    REFUSED = "refused"
    NO_SHOW = "no_show"
    LEFT = "left"
    TRANSFERRED = "transferred"
    RELEASED = "released"


ACTIVE_STATES = (State.WAITING, State.CALLED, State.SERVING, State.OBSERVING, State.EMERGENCY)
TERMINAL_STATES = tuple(state for state in State if state not in ACTIVE_STATES)
STATES = tuple(State)
# At a desk: called to it, or being served there.
AT_DESK = (State.CALLED, State.SERVING)


class EventType(StrEnum):
    """What can happen to a visit: the `type` of its events."""

    CHECKED_IN = "checked_in"
    TURNED_AWAY = "turned_away"
    CALLED = "called"
    RECALLED = "recalled"
    STARTED = "started"
    REQUEUED = "requeued"
    NO_SHOW = "no_show"
    CONSENTED = "consented"
    DEFERRED = "deferred"
    REFUSED = "refused"
    INJECTED = "injected"
    RELEASED = "released"
    AEFI_REPORTED = "aefi_reported"
    AEFI_RESOLVED = "aefi_resolved"
    CANCELLED = "cancelled"
    CORRECTED = "corrected"
    REVERTED = "reverted"


EVENT_TYPES = tuple(EventType)

# The visit fields a `reverted` event puts back (as they were before the event it undoes),
# and which of them are datetimes (ISO text in the event, or null).
RESTORED_FIELDS = (
    "state", "station", "desk", "called_at", "recalls", "requeues", "queue_pos", "consent",
    "extended_observation", "released_at", "release_override", "closed_reason", "closed_at",
)
RESTORED_DATETIMES = ("called_at", "released_at", "closed_at")


# The records a visit keeps, as they are in its events and its stored JSON. Codes are plain
# text there (ConsentOutcome, AefiOutcome values), and times ISO text.

class Consent(TypedDict):
    """The consent form as recorded at the consent desk (rules.decide_consent)."""

    outcome: str  # a ConsentOutcome value
    answers: dict[str, bool]  # screening question -> yes
    allergy_history: bool
    deferral_reason: str | None
    signature: str | None  # a data URL, "confirmed", or None (not eligible)
    desk: str


class Injection(TypedDict):
    """The injection as recorded at the injection desk (rules.decide_injection)."""

    product: str
    product_name: str
    manufacturer: str
    specification: str
    lot: str
    expires_on: str  # ISO date
    dose_number: int
    site: str  # the injection site (INJECTION_SITES), not the vaccination site
    route: str
    vaccinator: str
    desk: str
    checklist: list[str]
    observation_minutes: int


class AefiReport(TypedDict):
    """An adverse event following immunisation (rules.decide_aefi); the visit adds `seq`,
    and the resolution its `outcome` and `outcome_at`."""

    symptoms: list[str]
    onset_at: str
    severity: str
    serious_criteria: list[str]
    actions: str
    outcome: str | None  # an AefiOutcome value; None while open
    reported_at: str
    report_due_at: str
    seq: NotRequired[int]  # the event that reported it (always there once in a visit)
    outcome_at: NotRequired[str]  # when an open report was resolved


@dataclass(frozen=True)
class Draft:
    """An event decided by a rule, before the store gives it a sequence number."""

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)  # the event's JSON payload
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
    data: dict[str, Any] = field(default_factory=dict)  # the event's JSON payload


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
    consent: Consent | None = None
    extended_observation: bool = False
    injection: Injection | None = None
    injected_at: datetime | None = None
    leave_at: datetime | None = None
    aefi: tuple[AefiReport, ...] = ()
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
        return self.state == State.OBSERVING and self.leave_at is not None and now >= self.leave_at


class ReplayError(RuntimeError):
    """An event does not fit the state it is applied to: the log is inconsistent."""


def _expect(visit: Visit | None, event: Event, states: tuple[State, ...]) -> Visit:
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


def _arrive(visit: Visit | None, event: Event) -> Visit:
    if visit is not None:
        raise ReplayError(f"{event.type} #{event.seq} for a visit that already exists")
    data = event.data
    person = data["person"]
    born = person.get("birth_date")
    checked_in = event.type == EventType.CHECKED_IN
    return Visit(
        id=event.visit_id,
        site=event.site,
        day=date.fromisoformat(data["day"]),
        ticket=data.get("ticket"),
        state=State.WAITING if checked_in else State.TURNED_AWAY,
        station=Station.CONSENT if checked_in else None,
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
        closed_at=None if checked_in else event.at,
        version=1,
        last_seq=event.seq,
    )


def _called(visit: Visit, event: Event) -> Visit:
    return _bump(visit, event, state=State.CALLED, desk=event.desk, called_at=event.at, recalls=0)


def _recalled(visit: Visit, event: Event) -> Visit:
    return _bump(visit, event, called_at=event.at, recalls=visit.recalls + 1)


def _started(visit: Visit, event: Event) -> Visit:
    return _bump(visit, event, state=State.SERVING)


def _requeued(visit: Visit, event: Event) -> Visit:
    return _bump(visit, event, state=State.WAITING, desk=None, called_at=None, queue_pos=event.seq,
                 requeues=visit.requeues + 1)


def _no_show(visit: Visit, event: Event) -> Visit:
    return _close(visit, event, State.NO_SHOW, State.NO_SHOW)


def _consented(visit: Visit, event: Event) -> Visit:
    consent = event.data["consent"]
    return _bump(visit, event, state=State.WAITING, station=Station.INJECTION, desk=None, called_at=None,
                 queue_pos=event.seq, consent=dict(consent), extended_observation=bool(consent.get("allergy_history")))


def _not_consented(visit: Visit, event: Event) -> Visit:
    consent = event.data["consent"]
    state = State.DEFERRED if event.type == EventType.DEFERRED else State.REFUSED
    closed = _close(visit, event, state, consent.get("deferral_reason") or state)
    return replace(closed, consent=dict(consent))


def _injected(visit: Visit, event: Event) -> Visit:
    return _bump(visit, event, state=State.OBSERVING, station=Station.OBSERVATION, desk=None,
                 injection=dict(event.data["injection"]), injected_at=event.at,
                 leave_at=datetime.fromisoformat(event.data["leave_at"]))


def _released(visit: Visit, event: Event) -> Visit:
    closed = _close(visit, event, State.RELEASED, None)
    return replace(closed, released_at=event.at, release_override=event.data.get("override_reason"))


def _after_aefi(visit: Visit, event: Event, outcome: str | None, reports: tuple[AefiReport, ...]) -> Visit:
    """Where an adverse event leaves the person: hospital, back to observation, or emergency care."""
    if outcome == AefiOutcome.TRANSFERRED:
        return replace(_close(visit, event, State.TRANSFERRED, "aefi_transferred"), aefi=reports)
    if outcome == AefiOutcome.RECOVERED:
        return _bump(visit, event, state=State.OBSERVING, station=Station.OBSERVATION, aefi=reports)
    return _bump(visit, event, state=State.EMERGENCY, station=Station.EMERGENCY, desk=None, aefi=reports)


def _aefi_reported(visit: Visit, event: Event) -> Visit:
    reported: AefiReport = event.data["aefi"]
    report: AefiReport = {**reported, "seq": event.seq}
    return _after_aefi(visit, event, report.get("outcome"), visit.aefi + (report,))


def _aefi_resolved(visit: Visit, event: Event) -> Visit:
    outcome = event.data["outcome"]
    reports: tuple[AefiReport, ...] = tuple(
        {**report, "outcome": outcome, "outcome_at": event.at.isoformat()} if report.get("outcome") is None else report
        for report in visit.aefi
    )
    return _after_aefi(visit, event, outcome, reports)


def _cancelled(visit: Visit, event: Event) -> Visit:
    return _close(visit, event, State.LEFT, event.data.get("reason") or State.LEFT)


def _corrected(visit: Visit, event: Event) -> Visit:
    target = event.data["to"]
    if target["state"] == State.WAITING:
        return _bump(visit, event, state=State.WAITING, station=target["station"], desk=None, called_at=None,
                     queue_pos=event.seq, closed_reason=None, closed_at=None)
    return _close(visit, event, target["state"], event.data["reason"])


def _reverted(visit: Visit, event: Event) -> Visit:
    """A desk's undo: the fields its last action changed go back to what they were."""
    return _bump(visit, event, **restored_fields(event.data["restore"]))


ANY_STATE = tuple(State)
# For each event on an existing visit: the states it may follow, and how it changes the visit.
_STEPS: dict[str, tuple[tuple[State, ...], Callable[[Visit, Event], Visit]]] = {
    EventType.CALLED: ((State.WAITING,), _called),
    EventType.RECALLED: ((State.CALLED,), _recalled),
    EventType.STARTED: ((State.CALLED,), _started),
    EventType.REQUEUED: ((State.CALLED,), _requeued),
    EventType.NO_SHOW: ((State.CALLED,), _no_show),
    EventType.CONSENTED: (AT_DESK, _consented),
    EventType.DEFERRED: (AT_DESK, _not_consented),
    EventType.REFUSED: (AT_DESK, _not_consented),
    EventType.INJECTED: (AT_DESK, _injected),
    EventType.RELEASED: ((State.OBSERVING,), _released),
    EventType.AEFI_REPORTED: ((State.OBSERVING, State.EMERGENCY), _aefi_reported),
    EventType.AEFI_RESOLVED: ((State.EMERGENCY,), _aefi_resolved),
    EventType.CANCELLED: ((State.WAITING, State.CALLED, State.SERVING), _cancelled),
    EventType.CORRECTED: (ANY_STATE, _corrected),
    EventType.REVERTED: (ANY_STATE, _reverted),
}


def apply(visit: Visit | None, event: Event) -> Visit:
    """Fold one event into a visit. Pure; raises ReplayError if the event does not fit."""
    if event.type in (EventType.CHECKED_IN, EventType.TURNED_AWAY):
        return _arrive(visit, event)
    step = _STEPS.get(event.type)
    if step is None:
        raise ReplayError(f"unknown event type {event.type!r}")
    states, change = step
    return change(_expect(visit, event, states), event)


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


def restored_fields(restore: Mapping[str, Any]) -> dict[str, Any]:
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
