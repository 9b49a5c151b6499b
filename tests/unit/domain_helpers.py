"""Driving the pure domain without a database: a tiny in-memory event log.

`Log` does what the event store does, minus SQL: it numbers the drafts returned by the
`decide_*` rules, folds them into visits with `apply`, and answers the queries the flow
commands ask (who is next, who is at a desk, how full observation is).
"""
from __future__ import annotations

import copy
import tomllib
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any

from app.clock import FixedClock
from app.domain import rules
from app.domain.identity import document_key
from app.domain.site import Site, parse_site
from app.domain.visit import Draft, Event, Visit, apply, queue_order, replay
from tests.conftest import DEMO_SITE, START
from tests.support.factories import gen_checkin, gen_consent, gen_injection


@cache
def _demo_data() -> dict[str, Any]:
    with open(DEMO_SITE, "rb") as handle:
        return tomllib.load(handle)


def demo_site_data() -> dict[str, Any]:
    """The demo site file as a dict (a fresh copy: bend it freely)."""
    return copy.deepcopy(_demo_data())


def make_site(
    *,
    seats: int | None = None,
    minutes: int | None = None,
    extended_minutes: int | None = None,
    max_recalls: int | None = None,
    max_requeues: int | None = None,
    consent_desks: list[str] | None = None,
    injection_desks: list[str] | None = None,
    extra_lots: list[dict[str, Any]] | None = None,
) -> Site:
    """The demo site with a few settings changed."""
    data = demo_site_data()
    if seats is not None:
        data["observation"]["seats"] = seats
    if minutes is not None:
        data["observation"]["minutes"] = minutes
    if extended_minutes is not None:
        data["observation"]["extended_minutes"] = extended_minutes
    if max_recalls is not None:
        data["queue"]["max_recalls"] = max_recalls
    if max_requeues is not None:
        data["queue"]["max_requeues"] = max_requeues
    if consent_desks is not None:
        data["stations"]["consent"]["desks"] = consent_desks
    if injection_desks is not None:
        data["stations"]["injection"]["desks"] = injection_desks
    if extra_lots:
        data["products"][0]["lots"].extend(extra_lots)
    return parse_site(data, source="test")


class Log:
    """An in-memory, single-site event log that applies drafts like the store does."""

    def __init__(self, site: Site | None = None, clock: FixedClock | None = None, actor: str = "station:test"):
        self.site = site or make_site()
        self.clock = clock or FixedClock(START)
        self.actor = actor
        self.seq = 0
        self.visits: dict[str, Visit] = {}
        self.events: dict[str, list[Event]] = {}
        self.all_events: list[Event] = []
        self._tickets: dict[date, int] = {}
        self._ids = 0

    # --- the write ----------------------------------------------------------------------------
    def append(self, visit_id: str, draft: Draft) -> Visit:
        """Number the draft, fold it into the visit, and keep both (all or nothing)."""
        event = Event(
            seq=self.seq + 1,
            site=self.site.id,
            visit_id=visit_id,
            type=draft.type,
            at=self.clock.now(),
            actor=self.actor,
            station=draft.station,
            desk=draft.desk,
            data=draft.data,
        )
        visit = apply(self.visits.get(visit_id), event)
        self.seq = event.seq
        self.visits[visit_id] = visit
        self.events.setdefault(visit_id, []).append(event)
        self.all_events.append(event)
        return visit

    # --- reads, as the store answers them -----------------------------------------------------
    def visit(self, visit_id: str) -> Visit:
        return self.visits[visit_id]

    def last_event(self, visit_id: str) -> Event:
        return self.events[visit_id][-1]

    def next_ticket(self, day: date) -> int:
        self._tickets[day] = self._tickets.get(day, 0) + 1
        return self._tickets[day]

    def same_document(self, document_type: str, number: str, day: date) -> list[Visit]:
        key = document_key(document_type, number)
        return [
            visit for visit in self.visits.values()
            if visit.day == day and document_key(visit.person.document_type, visit.person.document_number) == key
        ]

    def next_waiting(self, station: str) -> Visit | None:
        waiting = [v for v in self.visits.values() if v.state == "waiting" and v.station == station]
        return min(waiting, key=queue_order) if waiting else None

    def visit_at_desk(self, station: str, desk: str) -> Visit | None:
        return next(
            (v for v in self.visits.values() if v.station == station and v.desk == desk and v.state in ("called", "serving")),
            None,
        )

    def observation_load(self) -> tuple[int, int]:
        observing = sum(1 for v in self.visits.values() if v.state == "observing")
        heading = sum(
            1 for v in self.visits.values() if v.station == "injection" and v.state in ("called", "serving")
        )
        return observing, heading

    def active(self) -> list[Visit]:
        return [v for v in self.visits.values() if v.active]

    # --- the commands, as app.flow.visits runs them --------------------------------------------
    def check_in(self, *, birth_date: date | None = None, **overrides: Any) -> Visit:
        body = gen_checkin(**overrides)
        valid = rules.validate_check_in(self.site, birth_date=birth_date, now=self.clock.now(), **body)
        same = self.same_document(valid.document.type, valid.document.number, valid.day)
        draft = rules.decide_check_in(self.site, valid, same_document_today=same, next_ticket=lambda: self.next_ticket(valid.day))
        self._ids += 1
        return self.append(f"v{self._ids:04d}", draft)

    def call_next(self, station: str, desk: str) -> Visit | None:
        self.site.require_station(station)
        self.site.require_desk(station, desk)
        if station == "injection":
            observing, heading = self.observation_load()
            rules.observation_gate(observing=observing, heading_to_observation=heading, seats=self.site.observation.seats)
        candidate = self.next_waiting(station)
        draft = rules.decide_call(
            self.site, station=station, desk=desk, desk_visit=self.visit_at_desk(station, desk), candidate=candidate
        )
        if draft is None or candidate is None:
            return None
        return self.append(candidate.id, draft)

    def start(self, visit_id: str, desk: str) -> Visit:
        return self.append(visit_id, rules.decide_start(self.visit(visit_id), desk=desk))

    def recall(self, visit_id: str) -> Visit:
        return self.append(visit_id, rules.decide_recall(self.site, self.visit(visit_id)))

    def no_show(self, visit_id: str) -> Visit:
        return self.append(visit_id, rules.decide_no_show(self.site, self.visit(visit_id)))

    def cancel(self, visit_id: str, reason: str = "changed their mind") -> Visit:
        return self.append(visit_id, rules.decide_cancel(self.visit(visit_id), reason=reason))

    def consent(self, visit_id: str, **overrides: Any) -> Visit:
        desk = overrides.pop("desk", None) or self.visit(visit_id).desk or "A"
        body = gen_consent(desk=desk, **overrides)
        return self.append(visit_id, rules.decide_consent(self.visit(visit_id), **body))

    def inject(self, visit_id: str, **overrides: Any) -> Visit:
        visit = self.visit(visit_id)
        desk = overrides.pop("desk", None) or visit.desk or "1"
        overrides.setdefault("dose_number", visit.dose_number)
        body = gen_injection(desk=desk, **overrides)
        body["injection_site"] = body.pop("site")
        draft = rules.decide_injection(self.site, visit, vaccinator="nurse", now=self.clock.now(), **body)
        return self.append(visit_id, draft)

    def release(
        self, visit_id: str, *, override_reason: str | None = None, may_override: bool = False, station: str = "observation"
    ) -> Visit:
        draft = rules.decide_release(
            self.visit(visit_id), now=self.clock.now(), override_reason=override_reason, may_override=may_override,
            station=station,
        )
        return self.append(visit_id, draft)

    def aefi(self, visit_id: str, **overrides: Any) -> Visit:
        now = self.clock.now()
        body: dict[str, Any] = {
            "symptoms": ["rash"],
            "onset_at": now,
            "severity": "minor",
            "serious_criteria": [],
            "actions": "antihistamine",
            "outcome": None,
        }
        body.update(overrides)
        return self.append(visit_id, rules.decide_aefi(self.visit(visit_id), now=now, **body))

    def aefi_outcome(self, visit_id: str, outcome: str, notes: str = "") -> Visit:
        return self.append(visit_id, rules.decide_aefi_outcome(self.visit(visit_id), outcome=outcome, notes=notes))

    def correct(
        self, visit_id: str, *, state: str, station: str | None, reason: str = "recorded by mistake",
        corrects_seq: int | None = None,
    ) -> Visit:
        corrected = self.last_event(visit_id)
        draft = rules.decide_correction(
            self.visit(visit_id), reason=reason, state=state, station=station,
            corrects_seq=corrects_seq if corrects_seq is not None else corrected.seq, corrected_type=corrected.type,
        )
        return self.append(visit_id, draft)

    def undo(self, visit_id: str, *, seq: int | None = None, actor: str | None = None) -> Visit:
        """Undo the visit's last event (or event #seq), as `actor` (default: this log's actor)."""
        events = self.events[visit_id]
        undone = next(event for event in events if event.seq == seq) if seq is not None else events[-1]
        visit = self.visit(visit_id)
        previous = replay(events[:-1]) if events[-1].seq == undone.seq and len(events) > 1 else visit
        desk_visit = None
        if previous.state in ("called", "serving") and previous.station and previous.desk:
            desk_visit = self.visit_at_desk(previous.station, previous.desk)
        same = self.same_document(visit.person.document_type, visit.person.document_number, visit.day)
        draft = rules.decide_undo(
            visit, last_event=undone, previous=previous, actor=actor or self.actor, now=self.clock.now(),
            desk_visit=desk_visit, same_document_today=same,
        )
        return self.append(visit_id, draft)

    # --- whole journeys -----------------------------------------------------------------------
    def to_consent_desk(self, desk: str = "A", **check_in: Any) -> Visit:
        """Check someone in and call them to a consent desk (state called)."""
        visit = self.check_in(**check_in)
        called = self.call_next("consent", desk)
        assert called is not None and called.id == visit.id, "the queue was expected to be empty"
        return called

    def to_injection_queue(self, desk: str = "A", **consent: Any) -> Visit:
        visit = self.to_consent_desk(desk)
        return self.consent(visit.id, **consent)

    def to_injection_desk(self, desk: str = "1", **consent: Any) -> Visit:
        visit = self.to_injection_queue(**consent)
        called = self.call_next("injection", desk)
        assert called is not None and called.id == visit.id, "the injection queue was expected to be empty"
        return called

    def to_observation(self, desk: str = "1", **consent: Any) -> Visit:
        visit = self.to_injection_desk(desk, **consent)
        return self.inject(visit.id)


def at(text: str) -> datetime:
    """An aware datetime from ISO text (with its offset)."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None
    return value
