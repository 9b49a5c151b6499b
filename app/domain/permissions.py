"""Who may do what: one table of (action -> roles, stations), checked in one place.

Every channel (REST, pages, Socket.IO, CLI, simulator) goes through the flow commands,
and every flow command calls `authorize` with its action name.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .errors import Forbidden
from .vocabulary import QUEUE_STATIONS, STATIONS, Station


class Action(StrEnum):
    """What a station (or a supervisor) does to a visit: one command each (app/flow/commands.py)."""

    CHECK_IN = "visit.check_in"
    CALL_NEXT = "visit.call_next"
    START = "visit.start"
    RECALL = "visit.recall"
    NO_SHOW = "visit.no_show"
    CANCEL = "visit.cancel"
    CONSENT = "visit.consent"
    INJECTION = "visit.injection"
    RELEASE = "visit.release"
    AEFI = "visit.aefi"
    AEFI_OUTCOME = "visit.aefi_outcome"
    CORRECT = "visit.correct"
    UNDO = "visit.undo"

ROLES = ("admin", "city_supervisor", "site_supervisor", "station", "display")
# Those who run a site: everything at their sites, overrides and corrections included.
OVERSEERS = ("admin", "site_supervisor")
# Those who may read full records and reports (a city supervisor reads but does not act).
SUPERVISORS = ("admin", "city_supervisor", "site_supervisor")
STAFF = OVERSEERS + ("station",)
READERS = SUPERVISORS + ("station",)
PEOPLE = READERS  # roles a person signs in with (display is a device)
EVERYONE = ROLES
# A phone that opened a person's live ticket: no role of the table, so `authorize` refuses it
# everything; it follows its own visit only (app/live/handlers.py).
TICKET_HOLDER = "ticket_holder"
# Roles bound to a given set of sites; the others see every site.
SITE_BOUND = ("site_supervisor", "station", "display")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a bearer token, a paired display or a signed-in staff member."""

    name: str
    role: str
    sites: frozenset[str] | None = None  # None: every site (admin, city supervisor)
    station: str | None = None  # station role only: the station this tablet is at
    token_id: int | None = None
    user_id: int | None = None
    session_id: int | None = None  # the server-side staff session a signed-in person acts in
    # A phone showing a person's own live ticket (app/flow/phone_tickets.py): the code it holds.
    # Its role, TICKET_HOLDER, is in no rule: it may do nothing but follow that one visit.
    ticket_id: int | None = None
    # A paired display's screen settings (label, stations shown, language).
    settings: Mapping[str, object] | None = field(default=None, compare=False, hash=False)

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"

    def covers(self, site: str) -> bool:
        return self.sites is None or site in self.sites


# Whose visits a station's staff act on: the people at these stations. (Looked up by the
# station a principal was given, which is plain text.)
REACH: dict[str, tuple[Station, ...]] = {
    Station.CHECKIN: (Station.CONSENT,),  # someone who just checked in and leaves again
    Station.CONSENT: (Station.CONSENT,),
    Station.INJECTION: (Station.INJECTION, Station.OBSERVATION),  # an adverse event right after the injection
    Station.OBSERVATION: (Station.OBSERVATION, Station.EMERGENCY),
    Station.EXIT: (Station.OBSERVATION, Station.EMERGENCY),
}


@dataclass(frozen=True)
class Rule:
    roles: tuple[str, ...]
    # For the station role: the stations whose staff may do this.
    stations: tuple[Station, ...] = ()


RULES: dict[str, Rule] = {
    # Sites and their live counts.
    "site.read": Rule(EVERYONE, stations=STATIONS),
    "snapshot.read": Rule(EVERYONE, stations=STATIONS),
    "visit.list": Rule(READERS, stations=STATIONS),
    "visit.read": Rule(READERS, stations=STATIONS),
    # Bookings: a file imported by those who run the site; the day's list and summary; found
    # (in full, to confirm) and changed at the check-in desk.
    "appointments.import": Rule(OVERSEERS),
    "appointments.read": Rule(READERS, stations=(Station.CHECKIN,)),
    "appointments.find": Rule(STAFF, stations=(Station.CHECKIN,)),
    "appointments.manage": Rule(STAFF, stations=(Station.CHECKIN,)),
    # Vaccine stock (app/flow/stock.py): read by supervisors and the injection desk, which opens
    # vials and records their waste; deliveries, moves, counts, explanations and the day's
    # closing by those who run the site.
    "stock.read": Rule(READERS, stations=(Station.INJECTION,)),
    "stock.open_vial": Rule(STAFF, stations=(Station.INJECTION,)),
    "stock.waste": Rule(STAFF, stations=(Station.INJECTION,)),
    "stock.receive": Rule(OVERSEERS),
    "stock.move": Rule(OVERSEERS),
    "stock.count": Rule(OVERSEERS),
    "stock.explain": Rule(OVERSEERS),
    "stock.close": Rule(OVERSEERS),
    # A lost slip: reprinted with a new phone-ticket code, which ends the old one.
    "ticket.reissue": Rule(STAFF, stations=(Station.CHECKIN,)),
    Action.CHECK_IN: Rule(STAFF, stations=(Station.CHECKIN,)),
    Action.CALL_NEXT: Rule(STAFF, stations=QUEUE_STATIONS),
    Action.START: Rule(STAFF, stations=QUEUE_STATIONS),
    Action.RECALL: Rule(STAFF, stations=QUEUE_STATIONS),
    Action.NO_SHOW: Rule(STAFF, stations=QUEUE_STATIONS),
    Action.CANCEL: Rule(STAFF, stations=(Station.CHECKIN, Station.CONSENT, Station.INJECTION)),
    Action.CONSENT: Rule(STAFF, stations=(Station.CONSENT,)),
    Action.INJECTION: Rule(STAFF, stations=(Station.INJECTION,)),
    Action.RELEASE: Rule(STAFF, stations=(Station.OBSERVATION, Station.EXIT)),
    "visit.release_early": Rule(OVERSEERS),
    Action.AEFI: Rule(STAFF, stations=(Station.INJECTION, Station.OBSERVATION, Station.EXIT)),
    Action.AEFI_OUTCOME: Rule(STAFF, stations=(Station.OBSERVATION, Station.EXIT)),
    Action.CORRECT: Rule(OVERSEERS),
    # A desk takes back its own last action within a few seconds (rules.UNDO_SECONDS).
    Action.UNDO: Rule(STAFF, stations=STATIONS),
    # Live views (Socket.IO rooms).
    "live.display": Rule(EVERYONE, stations=STATIONS),
    "live.station": Rule(STAFF, stations=STATIONS),
    "live.supervisor": Rule(SUPERVISORS),
    "live.dashboard": Rule(SUPERVISORS),  # aggregates only: the dashboard refreshes on them
    "live.city": Rule(("admin", "city_supervisor")),  # the city room shows every site
    # Accounts, devices and the audit trail.
    "account.self": Rule(EVERYONE, stations=STATIONS),
    "account.password": Rule(PEOPLE, stations=STATIONS),
    "audit.read": Rule(SUPERVISORS),
    # The supervisor dashboard, the daily reports and the city overview.
    "dashboard.read": Rule(SUPERVISORS),
    "report.read": Rule(SUPERVISORS),
    # The day's immunizations for the registry (FHIR, CSV): everyone in full, so supervisors only.
    "exports.immunizations": Rule(SUPERVISORS),
    "devices.manage": Rule(OVERSEERS),  # pair, list and revoke displays
    "users.manage": Rule(("admin",)),
    "tokens.read": Rule(("admin",)),  # every API token and paired display, of every site
}


def allowed(
    principal: Principal, action: str, *, site: str, station: str | None = None, visit_station: str | None = None
) -> bool:
    """`station`: the station acted at (call-next, joining a room) must be the token's own.
    `visit_station`: where the person acted on is must be within the token station's reach."""
    rule = RULES.get(action)
    if rule is None or principal.role not in rule.roles:
        return False
    if site != "*" and not principal.covers(site):
        return False
    if site == "*" and principal.sites is not None:
        return False
    if principal.role == "station":
        if principal.station not in rule.stations:
            return False
        if station is not None and principal.station != station:
            return False
        if visit_station is not None and visit_station not in REACH.get(principal.station or "", ()):
            return False
    return True


def authorize(
    principal: Principal, action: str, *, site: str, station: str | None = None, visit_station: str | None = None
) -> None:
    if not allowed(principal, action, site=site, station=station, visit_station=visit_station):
        where = station or visit_station
        scope = f" at {where}" if where else ""
        raise Forbidden(f"{principal.role} {principal.name!r} may not do {action} at site {site}{scope}.")


def role_may(role: str, action: str) -> bool:
    """Whether a role may do an action anywhere at all (the first, coarse check at every door)."""
    rule = RULES.get(action)
    return rule is not None and role in rule.roles


def view_level(principal: Principal) -> str:
    """How much personal data the caller sees: full (supervisors), masked (stations), none."""
    if principal.role in SUPERVISORS:
        return "full"
    if principal.role == "station":
        return "masked"
    return "none"
