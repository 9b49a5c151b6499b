"""Driving the real visit commands without a database: `Log` runs app/flow/visits.py over the
in-memory event log of tests/support/memory_log.py, as the tablet of each station would.
"""
from __future__ import annotations

import copy
import tomllib
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any

from app.clock import FixedClock
from app.domain.permissions import RULES, Action, Principal, allowed
from app.domain.site import Site, parse_site
from app.domain.stock import STOCK_STREAM
from app.domain.visit import Event, Visit
from app.domain.vocabulary import QUEUE_STATIONS, Station
from app.flow import stock
from app.flow.commands import COMMANDS
from app.flow.services import Services
from tests.conftest import DEMO_SITE, START
from tests.support.factories import gen_checkin, gen_consent, gen_injection
from tests.support.memory_log import MemoryEventLog


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
    """One site's visits driven through the real visit commands (app/flow/visits.py) over an
    in-memory event log, with the station (or supervisor) each action is taken at."""

    def __init__(self, site: Site | None = None, clock: FixedClock | None = None, actor: str = "station:test"):
        self.site = site or make_site()
        self.clock = clock or FixedClock(START)
        self.memory = MemoryEventLog(self.site)
        self.services = Services(store=self.memory, clock=self.clock)  # type: ignore[arg-type]
        self.actor = actor
        stock.receive_from_site_file(self.services, self.site)  # as loading the site file does

    # --- who acts -----------------------------------------------------------------------------
    def _at(self, station: str | None, actor: str | None = None) -> Principal:
        """The tablet at `station` (signed in as this log's actor, or `actor`)."""
        name = (actor or self.actor).split(":", 1)[1]
        if station == Station.EMERGENCY:
            station = Station.OBSERVATION  # the observation desk looks after an emergency
        return Principal(name=name, role="station", sites=frozenset({self.site.id}), station=station)

    def _supervisor(self) -> Principal:
        return Principal(name=self.actor.split(":", 1)[1], role="site_supervisor", sites=frozenset({self.site.id}))

    def _where(self, action: Action, visit_id: str) -> Principal:
        """The station whose staff may take `action` on the person where they are now, or a
        supervisor when no station may (the domain rule then says why not)."""
        here = self.visit(visit_id).station or "closed"
        for station in RULES[action].stations:
            principal = self._at(station)
            if allowed(principal, action, site=self.site.id, visit_station=here):
                return principal
        return self._supervisor()

    def _run(self, action: Action, principal: Principal, **arguments: Any) -> Visit:
        outcome = COMMANDS[action].run(self.services, principal, site_id=self.site.id, **arguments)
        assert outcome.visit is not None
        return outcome.visit

    # --- the log, as the store keeps it -------------------------------------------------------
    @property
    def _site_log(self):
        return self.memory.sites[self.site.id]

    @property
    def seq(self) -> int:
        return self._site_log.seq

    @property
    def visits(self) -> dict[str, Visit]:
        return self._site_log.visits

    @property
    def all_events(self) -> list[Event]:
        return self._site_log.events

    @property
    def events(self) -> dict[str, list[Event]]:
        """Each visit's events (the site's stock events are not a visit's)."""
        by_visit: dict[str, list[Event]] = {}
        for event in self.all_events:
            if event.visit_id == STOCK_STREAM:
                continue
            by_visit.setdefault(event.visit_id, []).append(event)
        return by_visit

    def visit(self, visit_id: str) -> Visit:
        return self.visits[visit_id]

    def last_event(self, visit_id: str) -> Event:
        return self.events[visit_id][-1]

    def active(self) -> list[Visit]:
        return [v for v in self.visits.values() if v.active]

    def next_waiting(self, station: str) -> Visit | None:
        with self.memory.site_transaction(self.site.id) as tx:
            return tx.next_waiting(station)

    def visit_at_desk(self, station: str, desk: str) -> Visit | None:
        with self.memory.site_transaction(self.site.id) as tx:
            return tx.visit_at_desk(station, desk)

    def observation_load(self) -> tuple[int, int]:
        with self.memory.site_transaction(self.site.id) as tx:
            return tx.observation_load()

    # --- the commands -------------------------------------------------------------------------
    def check_in(self, *, birth_date: date | None = None, **overrides: Any) -> Visit:
        return self._run(Action.CHECK_IN, self._at(Station.CHECKIN), birth_date=birth_date, **gen_checkin(**overrides))

    def call_next(self, station: str, desk: str) -> Visit | None:
        principal = self._at(station) if station in QUEUE_STATIONS else self._supervisor()
        outcome = COMMANDS[Action.CALL_NEXT].run(self.services, principal, site_id=self.site.id, station=station,
                                                 desk=desk)
        return outcome.visit

    def start(self, visit_id: str, desk: str) -> Visit:
        return self._run(Action.START, self._where(Action.START, visit_id), visit_id=visit_id, desk=desk)

    def recall(self, visit_id: str) -> Visit:
        return self._run(Action.RECALL, self._where(Action.RECALL, visit_id), visit_id=visit_id)

    def no_show(self, visit_id: str) -> Visit:
        return self._run(Action.NO_SHOW, self._where(Action.NO_SHOW, visit_id), visit_id=visit_id)

    def cancel(self, visit_id: str, reason: str = "changed their mind") -> Visit:
        return self._run(Action.CANCEL, self._where(Action.CANCEL, visit_id), visit_id=visit_id, reason=reason)

    def consent(self, visit_id: str, **overrides: Any) -> Visit:
        desk = overrides.pop("desk", None) or self.visit(visit_id).desk or "A"
        return self._run(Action.CONSENT, self._where(Action.CONSENT, visit_id), visit_id=visit_id, **gen_consent(desk=desk, **overrides))

    def inject(self, visit_id: str, **overrides: Any) -> Visit:
        visit = self.visit(visit_id)
        desk = overrides.pop("desk", None) or visit.desk or "1"
        overrides.setdefault("dose_number", visit.dose_number)
        body = gen_injection(desk=desk, **overrides)
        body["injection_site"] = body.pop("site")
        return self._run(Action.INJECTION, self._where(Action.INJECTION, visit_id), visit_id=visit_id, **body)

    def release(
        self, visit_id: str, *, override_reason: str | None = None, may_override: bool = False, station: str = "observation"
    ) -> Visit:
        """Released at `station`; `may_override`: by a supervisor, who may release early."""
        principal = self._supervisor() if may_override else self._at(station)
        return self._run(Action.RELEASE, principal, visit_id=visit_id, override_reason=override_reason)

    def aefi(self, visit_id: str, **overrides: Any) -> Visit:
        body: dict[str, Any] = {
            "symptoms": ["rash"],
            "onset_at": self.clock.now(),
            "severity": "minor",
            "serious_criteria": [],
            "actions": "antihistamine",
            "outcome": None,
        }
        body.update(overrides)
        return self._run(Action.AEFI, self._where(Action.AEFI, visit_id), visit_id=visit_id, **body)

    def aefi_outcome(self, visit_id: str, outcome: str, notes: str = "") -> Visit:
        return self._run(Action.AEFI_OUTCOME, self._where(Action.AEFI_OUTCOME, visit_id), visit_id=visit_id, outcome=outcome, notes=notes)

    def correct(
        self, visit_id: str, *, state: str, station: str | None, reason: str = "recorded by mistake",
        corrects_seq: int | None = None,
    ) -> Visit:
        seq = corrects_seq if corrects_seq is not None else self.last_event(visit_id).seq
        return self._run(Action.CORRECT, self._supervisor(), visit_id=visit_id, reason=reason, state=state,
                         station=station, corrects_seq=seq)

    def undo(self, visit_id: str, *, seq: int | None = None, actor: str | None = None) -> Visit:
        """Undo the visit's last event (or event #seq), as `actor` (default: whoever recorded it)."""
        events = self.events[visit_id]
        undone = next(event for event in events if event.seq == seq) if seq is not None else events[-1]
        recorded_by = actor or undone.actor
        if recorded_by.startswith("site_supervisor:"):
            principal = self._supervisor()
        else:
            principal = self._at(undone.station, recorded_by)
        return self._run(Action.UNDO, principal, visit_id=visit_id, seq=undone.seq)

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
