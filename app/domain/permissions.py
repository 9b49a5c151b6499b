"""Who may do what: one table of (action -> roles, stations), checked in one place.

Every channel (REST, pages, Socket.IO, CLI, simulator) goes through the flow commands,
and every flow command calls `authorize` with its action name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Forbidden
from .vocabulary import QUEUE_STATIONS

ROLES = ("admin", "city_supervisor", "site_supervisor", "station", "display")
# Those who run a site: everything at their sites, overrides and corrections included.
OVERSEERS = ("admin", "site_supervisor")
# Those who may read full records and reports (a city supervisor reads but does not act).
SUPERVISORS = ("admin", "city_supervisor", "site_supervisor")
STAFF = OVERSEERS + ("station",)
READERS = SUPERVISORS + ("station",)
PEOPLE = READERS  # roles a person signs in with (display is a device)
EVERYONE = ROLES
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
    # A paired display's screen settings (label, stations shown, language).
    settings: dict | None = field(default=None, compare=False, hash=False)

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"

    def covers(self, site: str) -> bool:
        return self.sites is None or site in self.sites


# Whose visits a station's staff act on: the people at these stations.
REACH = {
    "checkin": ("consent",),  # someone who just checked in and leaves again
    "consent": ("consent",),
    "injection": ("injection", "observation"),  # an adverse event right after the injection
    "observation": ("observation", "emergency"),
    "exit": ("observation", "emergency"),
}


@dataclass(frozen=True)
class Rule:
    roles: tuple[str, ...]
    # For the station role: the stations whose staff may do this.
    stations: tuple[str, ...] = ()


RULES: dict[str, Rule] = {
    # Sites and their live counts.
    "site.read": Rule(EVERYONE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "snapshot.read": Rule(EVERYONE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "visit.list": Rule(READERS, stations=("checkin", "consent", "injection", "observation", "exit")),
    "visit.read": Rule(READERS, stations=("checkin", "consent", "injection", "observation", "exit")),
    "visit.check_in": Rule(STAFF, stations=("checkin",)),
    "visit.call_next": Rule(STAFF, stations=QUEUE_STATIONS),
    "visit.start": Rule(STAFF, stations=QUEUE_STATIONS),
    "visit.recall": Rule(STAFF, stations=QUEUE_STATIONS),
    "visit.no_show": Rule(STAFF, stations=QUEUE_STATIONS),
    "visit.cancel": Rule(STAFF, stations=("checkin", "consent", "injection")),
    "visit.consent": Rule(STAFF, stations=("consent",)),
    "visit.injection": Rule(STAFF, stations=("injection",)),
    "visit.release": Rule(STAFF, stations=("observation", "exit")),
    "visit.release_early": Rule(OVERSEERS),
    "visit.aefi": Rule(STAFF, stations=("injection", "observation", "exit")),
    "visit.aefi_outcome": Rule(STAFF, stations=("observation", "exit")),
    "visit.correct": Rule(OVERSEERS),
    # A desk takes back its own last action within a few seconds (rules.UNDO_SECONDS).
    "visit.undo": Rule(STAFF, stations=("checkin", "consent", "injection", "observation", "exit")),
    # Live views (Socket.IO rooms).
    "live.display": Rule(EVERYONE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "live.station": Rule(STAFF, stations=("checkin", "consent", "injection", "observation", "exit")),
    "live.supervisor": Rule(SUPERVISORS),
    "live.dashboard": Rule(SUPERVISORS),  # aggregates only: the dashboard refreshes on them
    "live.city": Rule(("admin", "city_supervisor")),  # the city room shows every site
    # Accounts, devices and the audit trail.
    "account.self": Rule(EVERYONE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "account.password": Rule(PEOPLE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "audit.read": Rule(SUPERVISORS),
    # The supervisor dashboard, the daily reports and the city overview.
    "dashboard.read": Rule(SUPERVISORS),
    "report.read": Rule(SUPERVISORS),
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
