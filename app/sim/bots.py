"""Bots that play arriving people and the staff of the desks through the real HTTP API: the
live demo (`siteflow demo`) and a load driver. They use the simulated day of app/sim/day.py
with an `Actions` over HTTP and pace it by the server's clock."""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from app.clock import Clock
from app.domain.errors import Conflict

from .day import DayPlan, run_day

log = logging.getLogger(__name__)


class HttpActions:
    """The bots' actions as API calls with a bearer token. A refusal (4xx) or a failure
    becomes a Conflict, which the day's bots count and go on from."""

    def __init__(self, base_url: str, token: str, site_id: str, clock: Clock, timeout: float = 10.0,
                 observe: Callable[[str, int, Any, float, float], None] | None = None):
        """`observe(path, status, answer, started, ended)` sees every call (bench/push.py times them)."""
        self.base = f"{base_url.rstrip('/')}/api/v1/sites/{site_id}"
        self.token = token
        self.clock = clock
        self.timeout = timeout
        self.observe = observe

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        started = time.time()
        status, answer, failure = 0, None, None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                status, answer = response.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as error:
            with error:
                detail = json.loads(error.read() or b"{}").get("error", {})
            status = error.code
            failure = Conflict(detail.get("message", str(error)), code=detail.get("code", "http_error"))
        except (urllib.error.URLError, OSError) as error:
            failure = Conflict(f"no answer: {error}", code="unreachable")
        if self.observe is not None:
            self.observe(path, status, answer, started, time.time())
        if failure is not None:
            raise failure
        return answer

    def now(self) -> datetime:
        return self.clock.now()

    def site(self) -> dict[str, Any]:
        return self._call("GET", "")

    def check_in(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/visits", body)["visit"]

    def call_next(self, station: str, desk: str) -> dict[str, Any] | None:
        answer = self._call("POST", f"/stations/{station}/call-next", {"desk": desk})
        return answer["visit"] if answer else None

    def act(self, visit_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/visits/{visit_id}/{action}", body)["visit"]


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
