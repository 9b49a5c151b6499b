"""Who may do what: one table of (action -> roles, stations), checked in one place.

Every channel (REST, pages, Socket.IO, CLI, simulator) goes through the flow commands,
and every flow command calls `authorize` with its action name.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Forbidden
from .vocabulary import QUEUE_STATIONS

ROLES = ("admin", "supervisor", "station", "display")
OVERSEERS = ("admin", "supervisor")
STAFF = OVERSEERS + ("station",)
EVERYONE = ROLES


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a token (and later a staff account)."""

    name: str
    role: str
    site: str | None = None  # None: every site (admin, city supervisor)
    station: str | None = None  # station role only
    token_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


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
    "site.read": Rule(EVERYONE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "snapshot.read": Rule(EVERYONE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "visit.list": Rule(STAFF, stations=("checkin", "consent", "injection", "observation", "exit")),
    "visit.read": Rule(STAFF, stations=("checkin", "consent", "injection", "observation", "exit")),
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
    # Live views (Socket.IO rooms).
    "live.display": Rule(EVERYONE, stations=("checkin", "consent", "injection", "observation", "exit")),
    "live.station": Rule(STAFF, stations=("checkin", "consent", "injection", "observation", "exit")),
    "live.supervisor": Rule(OVERSEERS),
    "live.city": Rule(OVERSEERS),  # a site-bound supervisor is refused: the city room shows every site
}


def allowed(
    principal: Principal, action: str, *, site: str, station: str | None = None, visit_station: str | None = None
) -> bool:
    """`station`: the station acted at (call-next, joining a room) must be the token's own.
    `visit_station`: where the person acted on is must be within the token station's reach."""
    rule = RULES.get(action)
    if rule is None or principal.role not in rule.roles:
        return False
    if principal.site is not None and principal.site != site:
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


def view_level(principal: Principal) -> str:
    """How much personal data the caller sees: full (supervisors), masked (stations), none."""
    if principal.role in OVERSEERS:
        return "full"
    if principal.role == "station":
        return "masked"
    return "none"
