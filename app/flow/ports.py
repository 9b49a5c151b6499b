"""What the visit commands need of the event log, and nothing more.

`app.store.event_store` implements these over SQL (SiteTransaction, Store); the unit tests
run the same commands over an in-memory log (tests/support/memory_log.py).
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Protocol

from app.domain.site import Site
from app.domain.stock import LotStock
from app.domain.visit import Draft, Event, Visit


class SiteReads(Protocol):
    """Reads of one site's log, under its write lock."""

    site: Site

    def visit(self, visit_id: str) -> Visit: ...
    def event(self, seq: int) -> Event | None: ...
    def event_by_key(self, key: str) -> tuple[Event, str | None] | None: ...
    def visit_events(self, visit_id: str) -> list[Event]: ...
    def visits_with_document(self, key: str, day: date) -> list[Visit]: ...
    def next_waiting(self, station: str) -> Visit | None: ...
    def visit_at_desk(self, station: str, desk: str) -> Visit | None: ...
    def observation_load(self) -> tuple[int, int]: ...


class SiteWrites(SiteReads, Protocol):
    """One write transaction of one site: what it appends is committed together, or not at all."""

    appended: list[tuple[Event, Visit | None]]

    def next_ticket_number(self, day: date) -> int: ...
    def append(
        self, *, visit_id: str, current: Visit | None, draft: Draft, actor: str, at: datetime,
        idempotency_key: str | None = None, request_hash: str | None = None,
    ) -> tuple[Event, Visit]: ...
    def audit(self, values: dict[str, Any]) -> None: ...
    def lot(self, name: str, at: datetime) -> LotStock | None: ...


class SiteNamed(Protocol):
    @property
    def site(self) -> Site: ...


class TicketCodes(Protocol):
    """The phone tickets' codes (by hash): check-in makes a visit's first."""

    def issue(self, *, code_hash: str, site_id: str, visit_id: str, day: date, at: datetime, expires_at: datetime,
              by: str) -> tuple[int, list[int]]: ...


class EventLog(Protocol):
    """The log the visit commands run against: a write transaction per command, a visit's
    history for replaying an idempotent repeat, and the phone tickets' codes."""

    @property
    def tickets(self) -> TicketCodes: ...

    def site_transaction(self, site_id: str) -> AbstractContextManager[SiteWrites]: ...
    def visit_events(self, site_id: str, visit_id: str, *, up_to_seq: int | None = None) -> list[Event]: ...
    def site(self, site_id: str) -> SiteNamed: ...
