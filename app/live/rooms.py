"""Room names, and which views a principal may join (checked through the permission table)."""
from __future__ import annotations

VIEWS = ("display", "station", "supervisor", "dashboard", "city")
CITY_ROOM = "city:supervisor"


def display_room(site: str) -> str:
    return f"site:{site}:display"


def station_room(site: str, station: str) -> str:
    return f"site:{site}:station:{station}"


def supervisor_room(site: str) -> str:
    return f"site:{site}:supervisor"


def dashboard_room(site: str) -> str:
    """The supervisor's dashboard: the site's counts (like a display), never a person."""
    return f"site:{site}:dashboard"


def ticket_room(site: str, visit_id: str) -> str:
    """One person's phone (their live ticket): that visit's own view, nothing of anyone else.
    Joined only by connecting with the visit's ticket code, never by a `join`."""
    return f"site:{site}:ticket:{visit_id}"


def site_of(room: object) -> str | None:
    """The site a room belongs to (None for the city room and the clients' own rooms)."""
    return room.split(":")[1] if isinstance(room, str) and room.startswith("site:") else None
