"""The person's live ticket on their own phone: its code, made at check-in and shown once (on the
slip's QR), the public page's view, and the staff's ways to a visit from a scanned slip.

A code is 128 random bits, stored only as its SHA-256 (app/store/ticket_store.py), valid to the
end of the site's day plus its grace period (app/domain/phone_ticket.py: code_expires). A new
code for the same visit (a lost slip, "reprint with new code") ends the one before, and the
live pages opened with it are closed at once. Whatever is wrong with a code — unknown,
expired, revoked, malformed — the answer is the same NotFound.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.domain.errors import Conflict, NotFound
from app.domain.permissions import TICKET_HOLDER, Principal, authorize, view_level
from app.domain.phone_ticket import TicketView, code_expires, looks_like_code, new_code, ticket_view
from app.domain.privacy import visit_view
from app.domain.visit import Visit

from . import audit
from .ports import EventLog
from .services import Services

# The page's path, and the start of what the slip's QR and short URL hold after the host.
PATH_PREFIX = "/t/"
# The staff-only form printed on slips before phone tickets (station scanners still read it).
STAFF_PREFIX = "siteflow:"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    """A code, as its slip shows it: the only time the code itself exists outside a phone."""

    code: str
    expires_at: datetime

    @property
    def path(self) -> str:
        return PATH_PREFIX + self.code


@dataclass(frozen=True)
class Holder:
    """What a valid code opens: one visit of one site."""

    code_id: int
    site_id: str
    visit_id: str

    @property
    def principal(self) -> Principal:
        """The phone, as a caller: allowed nothing by the permission table."""
        return Principal(name=f"code:{self.code_id}", role=TICKET_HOLDER, sites=frozenset(), ticket_id=self.code_id)


def issue(services: Services, visit: Visit, *, actor: str) -> IssuedCode:
    """A new code for a visit with a ticket (check-in, or a reprint with a new code); the code it
    had before ends, with its open pages."""
    log: EventLog = services.store
    site = log.site(visit.site).site
    code, now = new_code(), services.clock.now()
    expires_at = code_expires(site, visit.day)
    _, ended = log.tickets.issue(code_hash=_hash(code), site_id=visit.site, visit_id=visit.id,
                                            day=visit.day, at=now, expires_at=expires_at, by=actor)
    if ended:
        services.credential_ended("ticket", ended)
    return IssuedCode(code, expires_at)


def reissue(services: Services, principal: Principal, *, site_id: str, visit_id: str) -> IssuedCode:
    """A lost slip: a new code for a person still on site, which ends the old one (audited)."""
    authorize(principal, "ticket.reissue", site=site_id)
    visit = services.store.visit(site_id, visit_id)
    if visit.ticket is None or not visit.active:
        raise Conflict(f"Ticket {visit.ticket or '-'} is closed: there is nothing to follow on a phone.",
                       code="visit_closed")
    issued = issue(services, visit, actor=principal.actor)
    audit.record(services, principal.actor, "ticket.reissued", site=site_id, subject=f"visit:{visit_id}",
                 detail={"ticket": visit.ticket})
    return issued


def holder(services: Services, code: str) -> Holder:
    """The visit a code opens; NotFound, always the same, when it opens none."""
    row = services.store.tickets.by_hash(_hash(code)) if looks_like_code(code) else None
    if row is None or row.revoked_at is not None or row.expires_at <= services.clock.now():
        raise NotFound("No such page.", code="not_found")
    return Holder(row.id, row.site_id, row.visit_id)


def for_slip(services: Services, *, site_id: str, visit_id: str, code: str | None) -> str | None:
    """The phone ticket's path to print on a visit's slip, if `code` is the one in force for that
    visit (the check-in tablet or the reprint passes on the code it was just given)."""
    if not code:
        return None
    try:
        found = holder(services, code)
    except NotFound:
        return None
    return PATH_PREFIX + code if (found.site_id, found.visit_id) == (site_id, visit_id) else None


def open_page(services: Services, code: str, *, scanned: bool) -> tuple[Holder, TicketView]:
    """The page of a code. `scanned`: opened from the slip (counted), not by its own refresh."""
    found = holder(services, code)
    if scanned:
        services.store.tickets.opened(found.code_id, at=services.clock.now())
    return found, views(services, found.site_id, [found.visit_id])[found.visit_id]


def views(services: Services, site_id: str, visit_ids: list[str], *, seq: int | None = None) -> dict[str, TicketView]:
    """The phones' views of these visits of a site, from the running figures (one pass per queue);
    a visit of an earlier day (a code in its grace period after midnight) from the store."""
    now = services.clock.now()
    with services.figures.today(site_id, seq=seq) as model:
        found = model.ticket_views(visit_ids, now)
        site = model.site
    for visit_id in visit_ids:
        if visit_id not in found:
            found[visit_id] = ticket_view(site, services.store.visit(site_id, visit_id), now=now)
    return found


def ended_among(services: Services, code_ids: list[int]) -> list[int]:
    """Those of these codes that no longer open their page (revoked or expired)."""
    return services.store.tickets.ended_among(code_ids, now=services.clock.now())


def code_in(scanned: str) -> str | None:
    """The code in what a scanner read from a slip's QR: `<any origin>/t/<code>` (or the bare code)."""
    text = scanned.strip()
    if PATH_PREFIX in text:
        text = text.rsplit(PATH_PREFIX, 1)[1].split("?", 1)[0].split("#", 1)[0]
    return text if looks_like_code(text) else None


def scanned_visit(services: Services, principal: Principal, *, site_id: str, scanned: str) -> dict[str, Any]:
    """The visit of a scanned slip, for staff: the phone ticket's URL (its code resolved here,
    never shown) or the older `siteflow:<site>:<visit id>` form of slips printed before."""
    authorize(principal, "visit.read", site=site_id)
    text = scanned.strip()
    visit_id: str | None = None
    if text.startswith(f"{STAFF_PREFIX}{site_id}:"):
        visit_id = text.split(":", 2)[2]
    elif (code := code_in(text)) is not None:
        try:
            found = holder(services, code)
        except NotFound:
            found = None
        if found is not None and found.site_id == site_id:
            visit_id = found.visit_id
    if not visit_id:
        raise NotFound("No person of this site has that slip.", code="unknown_slip",
                       fields={"scanned": "not a slip of this site (or a slip reprinted since)"})
    visit = services.store.visit(site_id, visit_id)
    return visit_view(visit, view_level(principal), now=services.clock.now())


def followed(services: Services, site_id: str, day: date) -> dict[str, Any]:
    """How many people of the day follow their turn on a phone: the dashboard's share."""
    tickets, opened, opens = services.store.tickets.followed(site_id, day)
    return {"tickets": tickets, "followed": opened, "opens": opens,
            "share": round(opened / tickets, 3) if tickets else None}
