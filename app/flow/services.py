"""What every flow command needs: the store, the clock, and who to tell about changes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from app.clock import Clock
from app.domain.visit import Event, Visit
from app.store.event_store import Store

# A listener receives the site id and the (event, visit after it) pairs just committed.
Listener = Callable[[str, list[tuple[Event, Visit]]], None]


@dataclass
class Services:
    store: Store
    clock: Clock
    listeners: list[Listener] = field(default_factory=list)
    # Per-process read models that catch up from the event log (app/flow/analytics.py).
    read_models: dict = field(default_factory=dict)

    def publish(self, site_id: str, changes: list[tuple[Event, Visit]]) -> None:
        for listener in self.listeners:
            listener(site_id, changes)
