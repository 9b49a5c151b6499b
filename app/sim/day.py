"""A simulated day at a site, driven through the real commands by bots.

The bots play arriving people and the staff of every desk. They act through an `Actions`
object: `FlowActions` calls the flow commands in-process (tests, simulated days); an
`Actions` over HTTP would let the same bots drive a running server. Time advances in steps
of a clock the caller owns.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from app.domain.errors import DomainError
from app.domain.permissions import Principal
from app.domain.privacy import visit_view
from app.domain.vocabulary import CHECKLIST, SCREENING_QUESTIONS
from app.flow import queries
from app.flow import visits as flow
from app.flow.services import Services

from .people import person


class Actions(Protocol):
    """What the bots can do. Each returns the visit (a dict) or None; refusals raise Conflict."""

    def site(self) -> dict[str, Any]: ...
    def check_in(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def call_next(self, station: str, desk: str) -> dict[str, Any] | None: ...
    def act(self, visit_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def now(self) -> datetime: ...


class FlowActions:
    """In-process: the flow commands, as an admin."""

    def __init__(self, services: Services, site_id: str, principal: Principal | None = None):
        self.services = services
        self.site_id = site_id
        self.principal = principal or Principal(name="bot", role="admin")
        self._commands: dict[str, Callable[..., Any]] = {
            "consent": flow.record_consent,
            "injection": flow.record_injection,
            "release": flow.release,
            "aefi": flow.report_aefi,
            "aefi-outcome": flow.record_aefi_outcome,
            "no-show": flow.no_show,
            "recall": flow.recall,
            "start": flow.start,
            "cancel": flow.cancel,
            "undo": flow.undo,
        }

    def _view(self, outcome) -> dict[str, Any] | None:
        if outcome.visit is None:
            return None
        return visit_view(outcome.visit, "full", now=self.services.clock.now())

    def now(self) -> datetime:
        return self.services.clock.now()

    def site(self) -> dict[str, Any]:
        return queries.site_info(self.services, self.principal, site_id=self.site_id)

    def check_in(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._view(flow.check_in(self.services, self.principal, site_id=self.site_id, **body))

    def call_next(self, station: str, desk: str) -> dict[str, Any] | None:
        return self._view(
            flow.call_next(self.services, self.principal, site_id=self.site_id, station=station, desk=desk)
        )

    def act(self, visit_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        values = dict(body)
        if action == "injection":
            values["injection_site"] = values.pop("site")
        if action == "aefi":
            values["onset_at"] = datetime.fromisoformat(values["onset_at"])
        return self._view(
            self._commands[action](self.services, self.principal, site_id=self.site_id, visit_id=visit_id, **values)
        )


@dataclass
class DayPlan:
    people: int = 300
    hours: float = 8.0
    step_minutes: float = 1.0
    seed: int = 1
    consent_minutes: float = 2.0
    injection_minutes: float = 1.5
    p_defer: float = 0.03
    p_refuse: float = 0.01
    p_no_show: float = 0.03
    p_allergy: float = 0.05
    p_aefi: float = 0.01
    p_aefi_serious: float = 0.1
    # Desks the bots leave to people (the demo keeps one desk per queue station free).
    keep_free: tuple[tuple[str, str], ...] = ()
    # Relative arrivals in each hour of `hours` from the start (a real day's morning peak:
    # e.g. 6, 12, 14, 11, ...); hours past the last weight get none. Empty: arrivals even.
    arrival_weights: tuple[float, ...] = ()


@dataclass
class DayResult:
    actions: int = 0
    refused: int = 0
    checked_in: int = 0
    released: int = 0


@dataclass
class _Desk:
    station: str
    desk: str
    visit: dict[str, Any] | None = None
    busy_until: float = 0.0


def run_day(actions: Actions, plan: DayPlan, *, advance: Callable[[timedelta], None]) -> DayResult:
    """Play a day: arrivals spread over `hours`, every desk calling and deciding, releases
    when observation ends; then up to two more hours for the site to clear.

    `advance(delta)` moves the caller's clock (a FixedClock in tests; real time in a demo).
    """
    rng = random.Random(plan.seed)
    site = actions.site()
    today = date.fromisoformat(site["today"])
    lots = [(p["code"], lot["lot"]) for p in site["products"] for lot in p["lots"] if not lot["expired"]]
    desks = [_Desk(station, d) for station in ("consent", "injection") for d in site["stations"][station]["desks"]
             if (station, d) not in plan.keep_free]
    result = DayResult()
    observing: dict[str, datetime] = {}  # visit id -> leave_at
    emergency: set[str] = set()
    steps = int(plan.hours * 60 / plan.step_minutes)
    clearing = int(120 / plan.step_minutes)
    arrivals = _arrivals_per_step(plan, steps)
    owed = 0.0

    def attempt(fn: Callable[[], Any]) -> Any:
        result.actions += 1
        try:
            return fn()
        except DomainError:
            result.refused += 1
            return None

    for step in range(steps + clearing):
        minute = step * plan.step_minutes
        if step < steps:
            owed += arrivals[step]
            while owed >= 1:
                owed -= 1
                visit = attempt(lambda: actions.check_in(person(rng, today=today)))
                if visit is not None and visit["state"] == "waiting":
                    result.checked_in += 1
        for desk in desks:
            if desk.visit is None:
                called = attempt(lambda: actions.call_next(desk.station, desk.desk))
                if called is not None:
                    desk.visit = called
                    mean = plan.consent_minutes if desk.station == "consent" else plan.injection_minutes
                    desk.busy_until = minute + rng.expovariate(1 / mean)
                continue
            if minute < desk.busy_until:
                continue
            visit, desk.visit = desk.visit, None
            if rng.random() < plan.p_no_show:
                attempt(lambda: actions.act(visit["id"], "no-show", {}))
            elif desk.station == "consent":
                attempt(lambda: actions.act(visit["id"], "consent", consent_body(rng, plan, desk.desk)))
            else:
                product, lot = rng.choice(lots)
                body = injection_body(desk.desk, product, lot, visit["dose_number"])
                injected = attempt(lambda: actions.act(visit["id"], "injection", body))
                if injected is not None:
                    observing[visit["id"]] = datetime.fromisoformat(injected["observation"]["leave_at"])
                    if rng.random() < plan.p_aefi:
                        report = _aefi(rng, plan, onset=actions.now().isoformat())
                        if attempt(lambda: actions.act(visit["id"], "aefi", report)) is not None:
                            observing.pop(visit["id"])
                            emergency.add(visit["id"])
        for visit_id in sorted(emergency):
            if rng.random() < 0.2:
                outcome = rng.choices(("recovered", "transferred"), weights=(9, 1))[0]
                resolved = attempt(lambda: actions.act(visit_id, "aefi-outcome", {"outcome": outcome, "notes": ""}))
                if resolved is not None:
                    emergency.discard(visit_id)
                    if outcome == "recovered":
                        observing[visit_id] = datetime.fromisoformat(resolved["observation"]["leave_at"])
        now = actions.now()
        for visit_id, leave_at in sorted(observing.items()):
            if leave_at <= now and attempt(lambda: actions.act(visit_id, "release", {})) is not None:
                observing.pop(visit_id)
                result.released += 1
        advance(timedelta(minutes=plan.step_minutes))
        idle = all(desk.visit is None for desk in desks)
        if step >= steps and idle and not observing and not emergency:
            break
    return result


def _arrivals_per_step(plan: DayPlan, steps: int) -> list[float]:
    """People arriving in each step of the day: even, or in proportion to the hour's weight."""
    if not plan.arrival_weights:
        return [plan.people / max(steps, 1)] * steps
    weights = plan.arrival_weights
    per_step = [weights[hour] if (hour := int(step * plan.step_minutes // 60)) < len(weights) else 0.0
                for step in range(steps)]
    total = sum(per_step)
    return [plan.people * weight / total if total else 0.0 for weight in per_step]


def consent_body(rng: random.Random, plan: DayPlan, desk: str) -> dict[str, Any]:
    answers = dict.fromkeys(SCREENING_QUESTIONS, False)
    roll = rng.random()
    if roll < plan.p_defer:
        answers["fever"] = True
        return {"desk": desk, "outcome": "deferred", "answers": answers, "allergy_history": False,
                "deferral_reason": "fever", "signature": None}
    if roll < plan.p_defer + plan.p_refuse:
        return {"desk": desk, "outcome": "refused", "answers": answers, "allergy_history": False,
                "deferral_reason": None, "signature": None}
    return {"desk": desk, "outcome": "eligible", "answers": answers, "allergy_history": rng.random() < plan.p_allergy,
            "deferral_reason": None, "signature": "confirmed"}


def injection_body(desk: str, product: str, lot: str, dose_number: int) -> dict[str, Any]:
    return {"desk": desk, "product": product, "lot": lot, "dose_number": dose_number, "site": "left_deltoid",
            "route": "IM", "checklist": list(CHECKLIST)}


def _aefi(rng: random.Random, plan: DayPlan, *, onset: str) -> dict[str, Any]:
    serious = rng.random() < plan.p_aefi_serious
    return {
        "symptoms": rng.sample(["dizziness", "rash", "nausea", "palpitations", "pain at the injection site"], 2),
        "onset_at": onset,
        "severity": "serious" if serious else "minor",
        "serious_criteria": ["medically_important"] if serious else [],
        "actions": "observed; vital signs taken",
        "outcome": None,
    }
