"""Bots that play arriving people and the staff of the desks through the real HTTP API: the
live demo (`siteflow demo`) and a load driver. They use the simulated day of app/sim/day.py
with an `Actions` over HTTP and pace it by the server's clock."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from app.client import API, Answer, SiteFlowClient, Unreachable
from app.clock import Clock
from app.domain.errors import Conflict
from app.domain.permissions import Action
from app.flow.requests import Body

from .day import DayPlan, run_day

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

    def run(self, action: Action, request: Body, *, visit_id: str | None = None,
            station: str | None = None) -> dict[str, Any] | None:
        answer = self._call(lambda: self.client.run(action, request, site=self.site_id, visit_id=visit_id,
                                                    station=station))
        return answer["visit"] if answer else None


class DemoBots:
    """Days of bots, one after another, in a background thread, until stopped."""

    def __init__(self, actions: HttpActions, plan: DayPlan, *, speed: float):
        self.actions = actions
        self.plan = plan
        self.speed = speed
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="siteflow-demo-bots", daemon=True)

    def start(self) -> DemoBots:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _advance(self, delta: timedelta) -> None:
        if self._stop.wait(delta.total_seconds() / self.speed):
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
                plan = DayPlan(**{**self.plan.__dict__, "seed": seed})
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
