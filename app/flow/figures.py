"""Each site's running figures in this process: today's fold of the event log
(`DayAnalytics`), built once from the log, then kept current event by event.

* `committed(site, changes)`: this process has just recorded these events. They are folded
  in at once when they follow on from the last one the fold has seen; after a gap (another
  writer's commit not yet published) the next read fills it from the log.
* `today(site, seq=None)`: the fold, caught up with the log. It reads only the events after
  the last one it has seen, and nothing at all when `seq` (a sequence number the caller
  knows to be recorded) is already folded. A new day, or a changed site configuration,
  starts a new fold, which carries the people still on site.
* `changes_since(site, seq)`: the (event, visit after it) pairs folded after `seq`, for the
  live hub to deliver; None when they are no longer kept (the hub then resyncs its clients).
* `past_day(site, day)`: another day's fold, made once and kept (reports); `fold_day`, one
  not kept (a finished day's rollup, app/flow/analytics.py).

Every process of a scaled-out deployment keeps its own folds; sequence numbers tell each
which events of the shared log it has not folded yet.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.clock import Clock
from app.domain.analytics import DayAnalytics
from app.domain.errors import NotFound
from app.domain.site import Site
from app.domain.stock import STOCK_STREAM
from app.domain.visit import Event, Visit
from app.offload import off_loop
from app.store.event_store import Store

RECENT = 5_000  # folded (event, visit) pairs kept per site for the live hub
PAST_DAYS_KEPT = 16  # other days' folds kept per site


def day_bounds(site: Site, day: date) -> tuple[datetime, datetime]:
    """A site's day, midnight to midnight in the site's time zone."""
    start = datetime.combine(day, time(0), tzinfo=site.tz)
    return start, start + timedelta(days=1)


def site_today(site: Site, now: datetime) -> date:
    return now.astimezone(site.tz).date()


@dataclass
class _SiteFigures:
    lock: threading.RLock = field(default_factory=threading.RLock)
    model: DayAnalytics | None = None
    revision: int = 0
    recent: deque[tuple[Event, Visit | None]] = field(default_factory=lambda: deque(maxlen=RECENT))


class Figures:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock
        self._sites: dict[str, _SiteFigures] = {}
        self._past: dict[tuple[str, date], DayAnalytics] = {}
        self._guard = threading.Lock()

    def _entry(self, site_id: str) -> _SiteFigures:
        entry = self._sites.get(site_id)
        if entry is None:
            with self._guard:
                entry = self._sites.setdefault(site_id, _SiteFigures())
        return entry

    def warm_up(self) -> None:
        """Fold every site's day so far before the process serves anyone: a busy day takes
        seconds to read, which would otherwise hold up the first client to ask."""
        for site_id in self.store.site_ids():
            with self.today(site_id):
                pass

    # --- writes of this process ------------------------------------------------------------------
    def committed(self, site_id: str, changes: list[tuple[Event, Visit | None]]) -> None:
        entry = self._sites.get(site_id)
        if entry is None or entry.model is None:
            return  # not built in this process yet: the first read builds it from the log
        with entry.lock:
            model = entry.model
            if model is None:
                return
            end = day_bounds(model.site, model.day)[1]
            for event, visit in changes:
                if event.seq <= model.seq:
                    continue
                if event.seq != model.seq + 1 or event.at >= end:
                    return  # a gap, or tomorrow: the next read catches up
                self._fold(entry, model, event, visit)

    # --- reads -----------------------------------------------------------------------------------
    @contextmanager
    def today(self, site_id: str, *, seq: int | None = None) -> Iterator[DayAnalytics]:
        """Today's fold, current with the log, held for reading (other writers of this
        process wait until the `with` block ends)."""
        entry = self._entry(site_id)
        with entry.lock:
            yield self._current(site_id, entry, seq)

    def changes_since(
        self, site_id: str, seq: int, *, known: int | None = None,
    ) -> list[tuple[Event, Visit | None]] | None:
        """The pairs folded after `seq` (caught up to at least `known` first); None when some
        of them are no longer kept."""
        entry = self._entry(site_id)
        with entry.lock:
            model = self._current(site_id, entry, known)
            if model.seq <= seq:
                return []
            recent = entry.recent
            if not recent or recent[0][0].seq > seq + 1:
                return None
            newer = []
            for pair in reversed(recent):  # from the newest: costs the pairs asked for, not all kept
                if pair[0].seq <= seq:
                    break
                newer.append(pair)
            newer.reverse()
            return newer

    def past_day(self, site_id: str, day: date) -> DayAnalytics:
        """A day other than today, folded once from the log and kept."""
        site = self.store.site(site_id).site
        key = (site_id, day)
        with self._guard:
            model = self._past.get(key)
        if model is not None and model.site == site:
            return model
        model = self.fold_day(site, day)
        today = site_today(site, self.clock.now())
        with self._guard:
            self._past[key] = model
            for old in [k for k in self._past if k[0] == site_id and abs((today - k[1]).days) > PAST_DAYS_KEPT]:
                del self._past[old]
        return model

    def fold_day(self, site: Site, day: date) -> DayAnalytics:
        """A day folded from the log, not kept (a finished day's rollup). The events are read
        here; the fold (about a second for 30,000 events) runs off the event loop."""
        start, end = day_bounds(site, day)
        events = list(self.store.events_between(site.id, start=start, end=end))
        return off_loop(_folded, DayAnalytics(site, day), events)

    # --- folding ---------------------------------------------------------------------------------
    def _current(self, site_id: str, entry: _SiteFigures, seq: int | None) -> DayAnalytics:
        model = entry.model
        now = self.clock.now()
        if model is not None and model.day == site_today(model.site, now):
            if seq is not None and model.seq >= seq:
                return model
            row = self.store.site(site_id)
            if row.revision == entry.revision:
                if row.seq > model.seq:
                    self._catch_up(site_id, entry, model)
                return model
        return self._build(site_id, entry, now)

    def _build(self, site_id: str, entry: _SiteFigures, now: datetime) -> DayAnalytics:
        site = self.store.site(site_id).site
        day = site_today(site, now)
        start, end = day_bounds(site, day)
        row, carried, events = self.store.day_so_far(site_id, day=day, start=start, end=end)
        model = DayAnalytics(row.site, day, carried=tuple(carried))
        entry.recent.clear()
        for event in events:
            self._fold(entry, model, event, None)
        model.seq = row.seq  # events of other days up to here are not today's
        entry.model, entry.revision = model, row.revision
        return model

    def _catch_up(self, site_id: str, entry: _SiteFigures, model: DayAnalytics) -> None:
        end = day_bounds(model.site, model.day)[1]
        for event in self.store.site_events(site_id, after_seq=model.seq):
            if event.at >= end:
                break  # tomorrow's: the next read starts a new fold
            self._fold(entry, model, event, None)

    def _fold(self, entry: _SiteFigures, model: DayAnalytics, event: Event, visit: Visit | None) -> None:
        after = model.apply(event)
        if event.visit_id == STOCK_STREAM:  # no visit: the screens hear of it all the same, in order
            entry.recent.append((event, None))
            return
        if after is None:  # a visit of an earlier day that was not on site
            after = visit or self._visit_now(event)
            if after is not None:
                model.carry(after)  # a correction may have reopened it
        if after is not None:
            entry.recent.append((event, after))

    def _visit_now(self, event: Event) -> Visit | None:
        try:
            return self.store.visit(event.site, event.visit_id)
        except NotFound:
            return None


def _folded(model: DayAnalytics, events: Iterable[Event]) -> DayAnalytics:
    for event in events:
        model.apply(event)
    return model
