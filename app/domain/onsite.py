"""Who is on site now, by where they are: the index the live figures read.

Moving a person costs O(1) (`move(before, after)` with the visit before and after an
event), and every count a screen shows is the size of one bucket, so no read scans the
queues: a snapshot costs the desks and the observation seats, not the people waiting.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from .visit import Visit

Place = tuple[str | None, str]  # (station, state)


class OnSite:
    def __init__(self, visits: Iterable[Visit] = ()):
        self.visits: dict[str, Visit] = {}
        self._places: dict[Place, dict[str, Visit]] = {}
        for visit in visits:
            self.move(None, visit)

    def move(self, before: Visit | None, after: Visit) -> None:
        """Record that `before` (None: someone new) is now `after`."""
        if before is not None and before.active:
            self._places.get((before.station, before.state), {}).pop(before.id, None)
        if after.active:
            self.visits[after.id] = after
            self._places.setdefault((after.station, after.state), {})[after.id] = after
        else:
            self.visits.pop(after.id, None)

    def get(self, visit_id: str) -> Visit | None:
        return self.visits.get(visit_id)

    def at(self, station: str | None, state: str) -> Iterable[Visit]:
        """The people at a station in a state (observing people are at `observation`,
        people in the emergency area at `emergency`)."""
        return self._places.get((station, state), {}).values()

    def count(self, station: str | None, state: str) -> int:
        return len(self._places.get((station, state), ()))

    def __len__(self) -> int:
        return len(self.visits)

    def __iter__(self) -> Iterator[Visit]:
        return iter(self.visits.values())
