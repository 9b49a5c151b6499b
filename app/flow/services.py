"""What every flow command needs: the store, the clock, the running figures, and who to tell
about changes."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.clock import Clock
from app.domain.visit import Event, Visit
from app.store.event_store import Store

from .figures import Figures

# A listener receives the site id and the (event, visit after it) pairs just committed.
Listener = Callable[[str, list[tuple[Event, Visit | None]]], None]
# A credential listener hears that credentials ended: ("session" | "token", their ids).
CredentialListener = Callable[[str, list[int]], None]


@dataclass
class Services:
    store: Store
    clock: Clock
    listeners: list[Listener] = field(default_factory=list)
    credential_listeners: list[CredentialListener] = field(default_factory=list)
    figures: Figures = field(init=False)
    # Today's forecast per site (app/flow/simulation.py): (day, computed at, its inputs, the answer).
    forecasts: dict[str, tuple[date, datetime, tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.figures = Figures(self.store, self.clock)

    def publish(self, site_id: str, changes: list[tuple[Event, Visit | None]]) -> None:
        """After a commit: fold the events into this process's figures, then tell the listeners."""
        self.figures.committed(site_id, changes)
        for listener in self.listeners:
            listener(site_id, changes)

    def credential_ended(self, kind: str, ids: list[int]) -> None:
        """Sessions or tokens have just ended: their live sockets must go."""
        for listener in self.credential_listeners:
            listener(kind, ids)


# Where a Flask app keeps its Services (create_app puts them there): read them with
# services_of(app), never by the key.
_EXTENSION = "siteflow"


def services_of(app: Any) -> Services:
    """The Services of a Flask app made by create_app."""
    services: Services = app.extensions[_EXTENSION]
    return services


def install(app: Any, services: Services) -> None:
    app.extensions[_EXTENSION] = services
