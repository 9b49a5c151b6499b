"""Bots that play arriving people and the staff of the desks through the real HTTP API: the
live demo (`siteflow demo`) and a load driver. They use the simulated day of app/sim/day.py
with an `Actions` over HTTP and pace it by the server's clock."""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from app.client import API, Answer, SiteFlowClient, Unreachable
from app.clock import Clock
from app.domain.errors import Conflict
from app.domain.permissions import Action
from app.flow.requests import Body

from .capacity import Rates, site_scenario
from .day import DayPlan, run_day
from .planner import Limits, capacity_per_hour
from .scenario import Scenario

log = logging.getLogger(__name__)


class HttpActions:
    """The bots' actions as API calls (app/client.py) at one site. A refusal (4xx) or no
    answer becomes a Conflict, which the day's bots count and go on from."""

    def __init__(self, client: SiteFlowClient, site_id: str, clock: Clock,
                 observe: Callable[[str, int, Any, float, float], None] | None = None):
        """`observe(path, status, answer, started, ended)` sees every call (bench/push.py times them):
        `path` under the site's ("/visits/ID/consent", "" for the site itself), `answer` the JSON of
        a success (else None)."""
        self.client = client
        self.site_id = site_id
        self.clock = clock
        self.observe = observe

    def close(self) -> None:
        self.client.close()

    def _call(self, send: Callable[[], Answer]) -> Any:
        started = time.time()
        try:
            answer = send()
        except Unreachable as error:
            self._observed(error.path, 0, None, started)
            raise Conflict(str(error), code="unreachable") from None
        self._observed(answer.path, answer.status, answer.json if answer.ok else None, started)
        if not answer.ok:
            refusal = answer.error
            raise Conflict(refusal.get("message", f"HTTP {answer.status}"), code=refusal.get("code", "http_error"))
        return answer.json

    def _observed(self, path: str, status: int, answer: Any, started: float) -> None:
        if self.observe is not None:
            self.observe(path.removeprefix(f"{API}/sites/{self.site_id}"), status, answer, started, time.time())

    def now(self) -> datetime:
        return self.clock.now()

    def site(self) -> dict[str, Any]:
        return self._call(lambda: self.client.get(f"/sites/{self.site_id}"))

    def snapshot(self) -> dict[str, Any]:
        return self._call(lambda: self.client.get(f"/sites/{self.site_id}/snapshot"))

    def run(self, action: Action, request: Body, *, visit_id: str | None = None,
            station: str | None = None) -> dict[str, Any] | None:
        answer = self._call(lambda: self.client.run(action, request, site=self.site_id, visit_id=visit_id,
                                                    station=station))
        return answer["visit"] if answer else None

    def stock_sheet(self) -> dict[str, Any]:
        return self._call(lambda: self.client.get(f"/sites/{self.site_id}/stock"))

    def stock(self, path: str, request: Body) -> dict[str, Any]:
        body = request.model_dump(mode="json", exclude_none=True)
        return self._call(lambda: self.client.post(f"/sites/{self.site_id}/stock/{path}", body))


class DemoBots:
    """Days of bots, one after another, in a background thread, until stopped."""

    def __init__(self, actions: HttpActions, plan: DayPlan, *, speed: float):
        self.actions = actions
        self.plan = plan
        self.speed = speed
        self._stop = threading.Event()
        self._step_ends = actions.now()
        self.thread = threading.Thread(target=self._run, name="siteflow-demo-bots", daemon=True)

    def start(self) -> DemoBots:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _advance(self, delta: timedelta) -> None:
        """A step ends when the server's clock reaches its end: the time the bots' calls take does
        not slow their day down against the clock (late, they go on without waiting)."""
        self._step_ends += delta
        if self._stop.wait(max(0.0, (self._step_ends - self.actions.now()).total_seconds() / self.speed)):
            raise _Stopped

    def _run(self) -> None:
        try:
            self._play_days()
        finally:
            self.actions.close()

    def _play_days(self) -> None:
        seed = self.plan.seed
        while not self._stop.is_set():
            try:
                plan = replace(self.plan, seed=seed)
                self._step_ends = self.actions.now()
                result = run_day(self.actions, plan, advance=self._advance)
                log.info("demo bots: a day done (%s checked in, %s released)", result.checked_in, result.released)
            except _Stopped:
                return
            except Exception:  # a bot must never take the demo down; try again shortly
                log.exception("demo bots failed; starting again")
                time.sleep(2)
            seed += 1


class _Stopped(Exception):
    pass


# The demo leaves consent desk B and injection booth 6 to people; a bot covers either one
# while nobody has worked at it for 20 minutes of the demo's clock.
DEMO_LEFT_TO_PEOPLE = (("consent", "B"), ("injection", "6"))
DEMO_COVER_AFTER_MINUTES = 20.0


def demo_plan(site: dict[str, Any], *, hours: float = 8.0, seed: int = 1) -> tuple[DayPlan, float]:
    """The demo's day at a site (`site` as GET /sites/{id} gives it) and its arrivals an hour.

    People arrive evenly at the rate the capacity planner (app/sim/planner.py) gives for the
    desks the bots always staff (not the ones left to people) and the site's observation seats,
    at its utilisation limit (Limits: 80 %): the queues stay short with nobody at the desks left
    to people, and a bot or a person there only shortens them."""
    plan = DayPlan(hours=hours, step_minutes=0.5, seed=seed, consent_minutes=1.2,
                   keep_free=DEMO_LEFT_TO_PEOPLE, cover_after_minutes=DEMO_COVER_AFTER_MINUTES, close_stock=True)
    rate = capacity_per_hour(bots_scenario(site, plan), Limits())
    return replace(plan, people=math.floor(rate * hours + 1e-6)), rate  # (the bisection ends just under)


def bots_scenario(site: dict[str, Any], plan: DayPlan) -> Scenario:
    """The site as the bots of `plan` work it, for the planner: their own desks at consent and
    injection (exponential service times, as the bots draw them), the site's observation seats
    and times. No arrivals (the planner's capacity gives them)."""
    def own(station: str) -> int:
        return sum(1 for desk in site["stations"][station]["desks"] if (station, desk) not in plan.keep_free)

    rates = Rates(consent_minutes=plan.consent_minutes, injection_minutes=plan.injection_minutes,
                  deferral=plan.p_defer + plan.p_refuse, extended=plan.p_allergy)
    return site_scenario(site["name"], consent=own("consent"), injection=own("injection"),
                         observation=site["observation"], rates=rates)
