"""A simulated day at a site, driven through the real commands by bots.

The bots play arriving people and the staff of every desk. They run the commands of
app/flow/commands.py with their request models (app/flow/requests.py) through an `Actions`
object: `FlowActions` in-process (tests, simulated days), `HttpActions` (app/sim/bots.py)
over the HTTP API of a running server. Time advances in steps of a clock the caller owns.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from app.domain.errors import DomainError
from app.domain.permissions import Action, Principal
from app.domain.privacy import visit_view
from app.domain.stock import CountMoment
from app.domain.visit import State
from app.domain.vocabulary import CHECKLIST, SCREENING_QUESTIONS, ConsentOutcome
from app.flow import queries, stock
from app.flow.commands import COMMANDS
from app.flow.requests import (
    AefiBody,
    AefiOutcomeBody,
    Body,
    CheckInBody,
    ConsentBody,
    DeskBody,
    EmptyBody,
    InjectionBody,
    ReleaseBody,
    StockCloseBody,
    StockCountBody,
)
from app.flow.services import Services

from .capacity import DEFAULT_RATES
from .people import person


class Actions(Protocol):
    """What the bots can do: read the site, and run a command at it (app/flow/commands.py),
    which returns the visit (a dict) or None (nobody to call); refusals raise DomainError."""

    def site(self) -> dict[str, Any]: ...
    def snapshot(self) -> dict[str, Any]: ...
    def run(self, action: Action, request: Body, *, visit_id: str | None = None,
            station: str | None = None) -> dict[str, Any] | None: ...
    def stock_sheet(self) -> dict[str, Any]: ...
    def stock(self, path: str, request: Body) -> dict[str, Any]: ...
    def now(self) -> datetime: ...


class FlowActions:
    """In-process: the flow commands, as an admin."""

    def __init__(self, services: Services, site_id: str, principal: Principal | None = None):
        self.services = services
        self.site_id = site_id
        self.principal = principal or Principal(name="bot", role="admin")

    def now(self) -> datetime:
        return self.services.clock.now()

    def site(self) -> dict[str, Any]:
        return queries.site_info(self.services, self.principal, site_id=self.site_id)

    def snapshot(self) -> dict[str, Any]:
        return queries.site_snapshot(self.services, self.principal, site_id=self.site_id)

    def run(self, action: Action, request: Body, *, visit_id: str | None = None,
            station: str | None = None) -> dict[str, Any] | None:
        path = {name: value for name, value in (("visit_id", visit_id), ("station", station)) if value is not None}
        outcome = COMMANDS[action].execute(self.services, self.principal, request, site=self.site_id, **path)
        if outcome.visit is None:
            return None
        return visit_view(outcome.visit, "full", now=self.services.clock.now())

    def stock_sheet(self) -> dict[str, Any]:
        return stock.sheet(self.services, self.principal, site_id=self.site_id)

    def stock(self, path: str, request: Body) -> dict[str, Any]:
        recorded = stock.STOCK_COMMANDS[path].execute(self.services, self.principal, self.site_id, request)
        return {"seq": recorded.event.seq, "type": recorded.event.type, "lot": recorded.lot}


@dataclass
class DayPlan:
    people: int = 300
    hours: float = 8.0
    step_minutes: float = 1.0
    seed: int = 1
    consent_minutes: float = DEFAULT_RATES.consent_minutes
    injection_minutes: float = DEFAULT_RATES.injection_minutes
    p_defer: float = 0.03
    p_refuse: float = 0.01  # (with p_defer: DEFAULT_RATES.deferral)
    p_no_show: float = 0.03
    p_allergy: float = DEFAULT_RATES.extended
    p_aefi: float = 0.01
    p_aefi_serious: float = 0.1
    # Desks the bots leave to people (the demo keeps one desk per queue station free).
    keep_free: tuple[tuple[str, str], ...] = ()
    # A desk left to people that nobody has worked at for this many minutes is covered by a bot
    # until someone works there again (the bots watch the site's snapshot). None: never covered.
    cover_after_minutes: float | None = None
    # After the day: the site counts every lot it holds (what it finds: the books) and closes the
    # day's stock (app/flow/stock.py), as a supervisor does at closing time.
    close_stock: bool = False
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
    busy_until: float = 0.0  # the minute the service of `visit` ends
    free_since: float = 0.0  # the minute the desk's last service ended (or the day began)
    for_people: bool = False  # a desk left to people (DayPlan.keep_free)
    people_seen: float = 0.0  # the last minute someone other than the bots was seen working at it
    tray: int = 0  # an injection booth's lot: the site's lots, in turn from this one


def run_day(actions: Actions, plan: DayPlan, *, advance: Callable[[timedelta], None]) -> DayResult:
    """Play a day: arrivals spread over `hours`, every desk calling and deciding, releases
    when observation ends; then up to two more hours for the site to clear.

    `advance(delta)` moves the caller's clock (a FixedClock in tests; real time in a demo).
    """
    day = _Day(actions, plan)
    steps = int(plan.hours * 60 / plan.step_minutes)
    clearing = int(120 / plan.step_minutes)
    arrivals = _arrivals_per_step(plan, steps)
    for step in range(steps + clearing):
        minute = step * plan.step_minutes
        if step < steps:
            day.check_in_arrivals(arrivals[step])
        day.work_desks(minute)
        day.resolve_emergencies()
        day.release_observed()
        advance(timedelta(minutes=plan.step_minutes))
        if step >= steps and day.cleared():
            break
    if plan.close_stock:
        day.close_stock()
    return day.result


class _Day:
    """The bots' side of a simulated day: the desks they staff, who is in observation or in an
    emergency, and the count of what they did. `run_day` calls its steps once per time step."""

    def __init__(self, actions: Actions, plan: DayPlan):
        self.actions = actions
        self.plan = plan
        self.rng = random.Random(plan.seed)
        site = actions.site()
        self.today = date.fromisoformat(site["today"])
        self.lots = [(p["code"], lot["lot"]) for p in site["products"] for lot in p["lots"] if not lot["expired"]]
        kept = set(plan.keep_free) if plan.cover_after_minutes is not None else set()
        self.desks = [_Desk(station, d, for_people=(station, d) in kept) for station in ("consent", "injection")
                      for d in site["stations"][station]["desks"] if (station, d) not in plan.keep_free
                      or (station, d) in kept]
        for number, desk in enumerate(desk for desk in self.desks if desk.station == "injection"):
            desk.tray = number  # the lots handed round the booths
        self.result = DayResult()
        self.observing: dict[str, datetime] = {}  # visit id -> leave_at
        self.emergency: set[str] = set()
        self.owed = 0.0  # arrivals due but not yet checked in (a fraction of a person per step)

    def attempt(self, fn: Callable[[], Any]) -> Any:
        """One action; a refusal (DomainError) is counted and gives None."""
        self.result.actions += 1
        try:
            return fn()
        except DomainError:
            self.result.refused += 1
            return None

    def check_in_arrivals(self, due: float) -> None:
        """Check in the people this step brings (the fractions carry over to the next step)."""
        self.owed += due
        while self.owed >= 1:
            self.owed -= 1
            arrival = CheckInBody(**person(self.rng, today=self.today))
            visit = self.attempt(lambda: self.actions.run(Action.CHECK_IN, arrival))
            if visit is not None and visit["state"] == State.WAITING:
                self.result.checked_in += 1

    def work_desks(self, minute: float) -> None:
        """Desks whose service time is up decide about their person; then the free desks call the
        next person, the one free the longest first, so that the work goes round every desk."""
        if any(desk.for_people for desk in self.desks):
            self.watch_people(minute)
        for desk in self.desks:
            if desk.visit is not None and minute >= desk.busy_until:
                visit, desk.visit = desk.visit, None
                desk.free_since = desk.busy_until
                self.decide(desk, visit)
        free = [desk for desk in self.desks if desk.visit is None and self.staffed(desk, minute)]
        for desk in sorted(free, key=lambda desk: desk.free_since):
            self.call_next(desk, minute)

    def staffed(self, desk: _Desk, minute: float) -> bool:
        """A bot works at the desk: one of the bots' own, or one left to people that nobody has used for a while."""
        cover = self.plan.cover_after_minutes
        return not desk.for_people or (cover is not None and minute - desk.people_seen >= cover)

    def watch_people(self, minute: float) -> None:
        """Someone works at a desk left to people when it shows a ticket the bots did not call there
        (or none while a bot is serving there): a bot covering it leaves its person and the desk to them."""
        desks = {name: station["desks"] for name, station in self.actions.snapshot()["stations"].items()}
        for desk in self.desks:
            if not desk.for_people:
                continue
            shown = desks.get(desk.station, {}).get(desk.desk, {})
            ours = desk.visit["ticket"] if desk.visit is not None else None
            if shown.get("ticket") != ours:
                desk.people_seen = minute
                desk.visit = None

    def call_next(self, desk: _Desk, minute: float) -> None:
        """Call the next person. A desk that finished someone during the step began the next service
        then: the step's rounding does not slow the desk down."""
        called = self.attempt(lambda: self.actions.run(Action.CALL_NEXT, DeskBody(desk=desk.desk), station=desk.station))
        if called is not None:
            desk.visit = called
            mean = self.plan.consent_minutes if desk.station == "consent" else self.plan.injection_minutes
            started = desk.free_since if minute - desk.free_since < self.plan.step_minutes else minute
            desk.busy_until = started + self.rng.expovariate(1 / mean)

    def decide(self, desk: _Desk, visit: dict[str, Any]) -> None:
        """The end of a service: the person did not come, or the desk records consent or the injection."""
        if self.rng.random() < self.plan.p_no_show:
            self.attempt(lambda: self.actions.run(Action.NO_SHOW, EmptyBody(), visit_id=visit["id"]))
        elif desk.station == "consent":
            consent = consent_body(self.rng, self.plan, desk.desk)
            self.attempt(lambda: self.actions.run(Action.CONSENT, consent, visit_id=visit["id"]))
        else:
            self.inject(desk, visit)

    def inject(self, desk: _Desk, visit: dict[str, Any]) -> None:
        """Record the injection from the booth's lot: the lots are handed round the booths in turn,
        and a booth keeps its lot (so that its open vial is used up) until the lot is refused (used
        up, say), then takes the next. The person goes to observation, and now and then has an
        adverse event."""
        injected = None
        for _ in range(len(self.lots)):
            product, lot = self.lots[desk.tray % len(self.lots)]
            body = injection_body(desk.desk, product, lot, visit["dose_number"])
            injected = self.attempt(lambda body=body: self.actions.run(Action.INJECTION, body, visit_id=visit["id"]))
            if injected is not None:
                break
            desk.tray += 1
        if injected is None:
            return
        self.observing[visit["id"]] = datetime.fromisoformat(injected["observation"]["leave_at"])
        if self.rng.random() < self.plan.p_aefi:
            self.report_aefi(visit["id"])

    def report_aefi(self, visit_id: str) -> None:
        """An adverse event in observation: once reported, the person is an emergency."""
        report = aefi_report(self.rng, self.plan, onset=self.actions.now())
        if self.attempt(lambda: self.actions.run(Action.AEFI, report, visit_id=visit_id)) is not None:
            self.observing.pop(visit_id)
            self.emergency.add(visit_id)

    def resolve_emergencies(self) -> None:
        """Each step, an emergency is resolved with a chance of 1 in 5: recovered (back to observation)
        9 times in 10, else transferred."""
        for visit_id in sorted(self.emergency):
            if self.rng.random() < 0.2:
                outcome = self.rng.choices(("recovered", "transferred"), weights=(9, 1))[0]
                resolution = AefiOutcomeBody(outcome=outcome, notes="")
                resolved = self.attempt(lambda: self.actions.run(Action.AEFI_OUTCOME, resolution, visit_id=visit_id))
                if resolved is not None:
                    self.emergency.discard(visit_id)
                    if outcome == "recovered":
                        self.observing[visit_id] = datetime.fromisoformat(resolved["observation"]["leave_at"])

    def release_observed(self) -> None:
        """Release everyone whose observation has ended."""
        now = self.actions.now()
        for visit_id, leave_at in sorted(self.observing.items()):
            if leave_at <= now and self.attempt(
                    lambda: self.actions.run(Action.RELEASE, ReleaseBody(), visit_id=visit_id)) is not None:
                self.observing.pop(visit_id)
                self.result.released += 1

    def close_stock(self) -> None:
        """The closing count of every lot held (the doses found are what the books say), then the
        day's stock is closed."""
        sheet = self.actions.stock_sheet()
        for line in sheet["lots"]:
            count = StockCountBody(lot=line["lot"], doses=line["left"], moment=CountMoment.CLOSING)
            self.attempt(lambda count=count: self.actions.stock("counts", count))
        self.attempt(lambda: self.actions.stock("close", StockCloseBody(date=date.fromisoformat(sheet["date"]))))

    def cleared(self) -> bool:
        """No desk busy, nobody in observation or in an emergency."""
        return all(desk.visit is None for desk in self.desks) and not self.observing and not self.emergency


def _arrivals_per_step(plan: DayPlan, steps: int) -> list[float]:
    """People arriving in each step of the day: even, or in proportion to the hour's weight."""
    if not plan.arrival_weights:
        return [plan.people / max(steps, 1)] * steps
    weights = plan.arrival_weights
    per_step = [weights[hour] if (hour := int(step * plan.step_minutes // 60)) < len(weights) else 0.0
                for step in range(steps)]
    total = sum(per_step)
    return [plan.people * weight / total if total else 0.0 for weight in per_step]


def consent_body(rng: random.Random, plan: DayPlan, desk: str) -> ConsentBody:
    answers = dict.fromkeys(SCREENING_QUESTIONS, False)
    roll = rng.random()
    if roll < plan.p_defer:
        answers["fever"] = True
        return ConsentBody(desk=desk, outcome=ConsentOutcome.DEFERRED, answers=answers, allergy_history=False,
                           deferral_reason="fever", signature=None)
    if roll < plan.p_defer + plan.p_refuse:
        return ConsentBody(desk=desk, outcome=ConsentOutcome.REFUSED, answers=answers, allergy_history=False,
                           deferral_reason=None, signature=None)
    return ConsentBody(desk=desk, outcome=ConsentOutcome.ELIGIBLE, answers=answers, allergy_history=rng.random() < plan.p_allergy,
                       deferral_reason=None, signature="confirmed")


def injection_body(desk: str, product: str, lot: str, dose_number: int) -> InjectionBody:
    return InjectionBody(desk=desk, product=product, lot=lot, dose_number=dose_number, injection_site="left_deltoid",
                         route="IM", checklist=list(CHECKLIST))


def aefi_report(rng: random.Random, plan: DayPlan, *, onset: datetime) -> AefiBody:
    serious = rng.random() < plan.p_aefi_serious
    return AefiBody(
        symptoms=rng.sample(["dizziness", "rash", "nausea", "palpitations", "pain at the injection site"], 2),
        onset_at=onset,
        severity="serious" if serious else "minor",
        serious_criteria=["medically_important"] if serious else [],
        actions="observed; vital signs taken",
        outcome=None,
    )
