"""The supervisor's numbers for one site and day, folded from the event log one event at a time.

`DayAnalytics.apply(event)` costs the same whatever the number of events already applied:
counters keyed by what a visit *is* (so corrections and undos move a visit from one bucket
to another), fixed-size histograms, and samples kept only for the last half hour. `view(now)`
reads those; its cost depends on the window and the people on site, not on the day.

Definitions (the tests recompute each one by brute force from the raw events):

- A person **enters the queue** of a station when their visit becomes `waiting` there
  (check-in for consent, consent for injection, a requeue or a correction); undoing a call
  keeps the original entry time.
- **Wait**: from entering the queue to being called. A wait counts in the window when the
  call is in it.
- **Service**: from the call (or the arrival at the desk, `started`, when recorded) to the
  outcome at that station (consent: consented / deferred / refused; injection: injected).
  A service counts in the window when it ends in it.
- **Utilisation** over the window: time desks spent serving (services clipped to the window,
  ongoing ones up to now) / (desks open × window). A desk is open if it called, served or
  finished someone in the window or is busy now.
- **Time in system**: check-in to release, for people released today (1-minute histogram).
- An undone event (`reverted`) counts for nothing.

The same fold keeps the live side's figures: who is where now (`OnSite`, which also holds
people still on site from an earlier day, `carried`), and per queue station the rolling
sums of the window's services that the expected waits need. `snapshot(now)` is what the
screens show; it reads buckets and sums, never the day.
"""
from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, TypedDict

from .identity import age_on
from .onsite import OnSite
from .phone_ticket import TicketView, places_in_queue, ticket_view
from .projections import snapshot
from .site import Site
from .visit import AefiReport, Event, EventType, State, Visit
from .visit import apply as apply_event
from .vocabulary import QUEUE_STATIONS, Station
from .waits import ExpectedWait, expected_wait

WINDOW = timedelta(minutes=30)
# The members the fold compares on every event, as module globals: an attribute of an Enum class
# costs several times as much to look up (bench/analytics.py: a 5,000-dose day folded ~20% slower).
_CALLED = EventType.CALLED
_CHECKED_IN = EventType.CHECKED_IN
_INJECTED = EventType.INJECTED
_REVERTED = EventType.REVERTED
_STARTED = EventType.STARTED
_DEFERRED = State.DEFERRED
_LEFT = State.LEFT
_NO_SHOW = State.NO_SHOW
_REFUSED = State.REFUSED
_RELEASED = State.RELEASED
_TRANSFERRED = State.TRANSFERRED
_TURNED_AWAY = State.TURNED_AWAY
_WAITING = State.WAITING

# The events that end a service, by queue station.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "consent": (EventType.CONSENTED, EventType.DEFERRED, EventType.REFUSED), "injection": (EventType.INJECTED,),
}
HISTOGRAM_MINUTES = 24 * 60  # time in system, one bin per minute
WAIT_ALERT_MINUTES = 30
OBSERVATION_ALERT_RATIO = 0.9
LOST_AFTER = timedelta(hours=2)
LOT_WARNING_DAYS = 7
AGE_BANDS = ((0, 17), (18, 39), (40, 59), (60, 69), (70, 79), (80, 200))

# What a visit counts as in today's outcomes: ("vaccinated", dose number), ("deferred", reason)
# or (outcome,); () while it is still on its way.
OutcomeKey = tuple[str | int, ...]
# What a visit counts as among the consent decisions: (outcome, allergy history).
ConsentKey = tuple[str, bool]


@dataclass
class Sample:
    """A wait or a service. `valid` turns False when the event that made it is undone."""

    kind: Literal["wait", "service"]
    station: str
    desk: str | None
    start: datetime
    end: datetime
    actor: str | None = None
    valid: bool = True
    in_window: bool = True  # still in its station's window deque (and so in its rolling sums)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def outcome_key(visit: Visit) -> OutcomeKey:
    """What a visit counts as in today's outcomes; () while it is still on its way."""
    if visit.state == _RELEASED:
        return ("vaccinated", visit.dose_number)
    if visit.state == _TRANSFERRED:
        return (_TRANSFERRED,)
    if visit.state == _DEFERRED:
        return (_DEFERRED, visit.closed_reason or "other")
    if visit.state in (_REFUSED, _TURNED_AWAY, _NO_SHOW):
        return (visit.state,)
    if visit.state == _LEFT:
        return ("left_vaccinated",) if visit.vaccinated else (_LEFT,)
    return ()


def consent_key(visit: Visit) -> ConsentKey | tuple[()]:
    """What a visit counts as among the day's consent decisions; () before a decision."""
    if visit.consent is None:
        return ()
    return (visit.consent["outcome"], bool(visit.consent.get("allergy_history")))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def histogram_percentile(bins: list[int], q: float) -> int | None:
    """The bin (minute) holding the q-th percentile by nearest rank."""
    total = sum(bins)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for minute, count in enumerate(bins):
        seen += count
        if seen >= rank:
            return minute
    return len(bins) - 1


def erlang_c_wait(arrivals_per_min: float, service_min: float, servers: int) -> float | None:
    """Mean wait in queue (minutes) of an M/M/c queue; None when it is unstable (grows)."""
    if servers <= 0:
        return None
    load = arrivals_per_min * service_min  # offered load in Erlangs
    if load >= servers:
        return None
    if load == 0:
        return 0.0
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    term *= load / servers
    last = term * servers / (servers - load)
    probability_wait = last / (total + last)
    return probability_wait * service_min / (servers - load)


class StationFigures(TypedDict):
    """A queue station's figures on the dashboard (`view`)."""

    waiting: int
    being_served: int
    desks: int
    desks_open: int
    oldest_wait_minutes: float | None
    mean_wait_minutes: float | None
    p90_wait_minutes: float | None
    mean_service_minutes: float | None
    utilisation: float
    arrivals_per_hour: float


class Rates(TypedDict):
    """A queue station's unrounded rates over the window, for the bottleneck estimate."""

    arrivals_per_min: float
    service_min: float | None  # None: no service in the window


class Target(TypedDict):
    """Doses against the day's target. The projection to closing time is the what-if's
    simulation of the rest of the day (app/flow/simulation.py: `forecast`), not a figure of the fold."""

    doses: int
    daily_target: int
    percent: float | None  # None: no target
    closes_at: str  # ISO


# Desks are keyed as the events name them (an outcome or a call always names its desk).
Desk = str | None


@dataclass
class StationState:
    waits: deque[Sample] = field(default_factory=deque)  # Samples of calls in the window, in order
    services: deque[Sample] = field(default_factory=deque)  # Samples of services ended in the window
    entries: deque[datetime] = field(default_factory=deque)  # times people entered the queue (arrival rate)
    served: Counter[Desk] = field(default_factory=Counter)  # desk -> services today
    # desk -> seconds today: a Counter of floats, where typeshed has int values (hence the
    # ignores marked "float seconds" where seconds are added or taken back).
    service_seconds: Counter[Desk] = field(default_factory=Counter)
    day_waits: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_MINUTES)  # wait minutes, today
    day_wait_seconds: float = 0.0
    service_durations: Counter[int] = field(default_factory=Counter)  # whole seconds -> valid services today
    desk_first: dict[Desk, datetime] = field(default_factory=dict)  # desk -> its first call today
    desk_last: dict[Desk, datetime] = field(default_factory=dict)  # desk -> its last call or outcome today
    # Rolling sums over the valid samples in the window deques, kept as samples come and go.
    window_services: int = 0
    window_service_seconds: float = 0.0
    window_desks: Counter[str] = field(default_factory=Counter)  # desk -> valid samples in the window

    def add(self, sample: Sample) -> None:
        (self.waits if sample.kind == "wait" else self.services).append(sample)
        self._count(sample, 1)

    def drop(self, sample: Sample) -> None:
        """The sample leaves the window (trimmed) or stops counting (undone)."""
        if sample.in_window and sample.valid:
            self._count(sample, -1)

    def _count(self, sample: Sample, sign: int) -> None:
        if sample.desk is not None:
            self.window_desks[sample.desk] += sign
            if not self.window_desks[sample.desk]:
                del self.window_desks[sample.desk]
        if sample.kind == "service":
            self.window_services += sign
            self.window_service_seconds += sign * sample.seconds


class DayAnalytics:
    """One site's day. Feed it the day's events in sequence order; ask for `view(now)` (the
    dashboard) or `snapshot(now)` (the screens). `carried`: people still on site from an
    earlier day, who show on the screens but count in that day's figures, not this one's."""

    def __init__(self, site: Site, day: date, *, carried: tuple[Visit, ...] = (), seq: int = 0):
        self.site = site
        self.day = day
        self.seq = seq
        self.visits: dict[str, Visit] = {}
        self.open: set[str] = set()  # today's visits still open
        self.on_site = OnSite(carried)
        self.queued_at: dict[str, datetime] = {}
        self.service_start: dict[str, datetime] = {}
        self.made: dict[str, list[Sample]] = {}  # visit -> samples made by its last event (for undo)
        self.entered: dict[str, datetime | None] = {}  # visit -> queue entry before its last event
        self.began: dict[str, datetime | None] = {}  # visit -> service start before its last event
        # Keyed by station code: events and visits name their station in plain text.
        self.stations: dict[str, StationState] = {name: StationState() for name in QUEUE_STATIONS}
        self.outcomes: Counter[OutcomeKey] = Counter()
        self.checked_in_by_hour: Counter[int] = Counter()
        self.doses_by_hour: Counter[int] = Counter()
        self.released_by_hour: Counter[int] = Counter()
        self.doses_by_product: Counter[tuple[str | None, str | None]] = Counter()  # (product, lot)
        self.doses_by_dose: Counter[int] = Counter()
        self.doses_by_age: Counter[str] = Counter()  # age band
        self.vaccinators: Counter[str] = Counter()  # actor -> injections today
        self.vaccinator_seconds: Counter[str] = Counter()  # actor -> seconds today (floats, as service_seconds)
        self.injections: deque[datetime] = deque()  # injection times in the window (rate)
        self.check_ins: deque[datetime] = deque()  # check-in times of the last hour (what-if arrivals)
        self.consents: Counter[ConsentKey] = Counter()  # (consent outcome, allergy history) -> visits, as they are
        self.in_system = [0] * HISTOGRAM_MINUTES
        self.released_minute: dict[str, int] = {}
        self.aefi: dict[str, Visit] = {}  # visits with an adverse event today
        self.first_at: datetime | None = None

    # --- folding ---------------------------------------------------------------------------------
    def apply(self, event: Event) -> Visit | None:
        """Fold one event; returns the visit after it, or None for a visit this day does not
        know (of an earlier day and not on site: see `carry`)."""
        before = self.visits.get(event.visit_id)
        if before is None and event.type not in (_CHECKED_IN, _TURNED_AWAY):
            self.seq = event.seq
            carried = self.on_site.get(event.visit_id)
            if carried is None:
                return None
            if event.seq <= carried.last_seq:
                return carried  # already in the visit as it was read
            after = apply_event(carried, event)  # on site since an earlier day: the screens only
            self.on_site.move(carried, after)
            return after
        after = apply_event(before, event)
        self.seq = event.seq
        if self.first_at is None:
            self.first_at = event.at
        self.visits[after.id] = after
        self._count(before, after)
        if event.type == _REVERTED:
            self._revert(event, after)
        else:
            self._samples(event, before, after)
        if after.active:
            self.open.add(after.id)
        else:
            self.open.discard(after.id)
        self.on_site.move(before, after)
        if after.aefi:
            self.aefi[after.id] = after
        self._trim(event.at)
        return after

    def carry(self, visit: Visit) -> None:
        """A visit of an earlier day is on site again (a correction reopened it): show it."""
        if visit.active and visit.id not in self.visits:
            self.on_site.move(self.on_site.get(visit.id), visit)

    def _count(self, before: Visit | None, after: Visit) -> None:
        """Counters keyed by what the visit is: a change of state moves it between buckets."""
        old, new = (outcome_key(before) if before else ()), outcome_key(after)
        if old != new:
            if old:
                self.outcomes[old] -= 1
            if new:
                self.outcomes[new] += 1
        old, new = (consent_key(before) if before else ()), consent_key(after)
        if old != new:
            if old:
                self.consents[old] -= 1
            if new:
                self.consents[new] += 1
        if before is not None and before.state == _RELEASED:
            if after.state != _RELEASED:
                assert before.released_at is not None  # a released visit has its release time
                self.in_system[self.released_minute.pop(after.id)] -= 1
                self.released_by_hour[self._hour(before.released_at)] -= 1
        elif after.state == _RELEASED:
            assert after.released_at is not None
            minute = _minute_bin((after.released_at - after.checked_in_at).total_seconds())
            self.released_minute[after.id] = minute
            self.in_system[minute] += 1
            self.released_by_hour[self._hour(after.released_at)] += 1

    def _samples(self, event: Event, before: Visit | None, after: Visit) -> None:
        visit = after.id
        self.entered[visit] = self.queued_at.get(visit)
        self.began[visit] = self.service_start.get(visit)
        made: list[Sample] = []
        if event.type == _CHECKED_IN:
            self.checked_in_by_hour[self._hour(event.at)] += 1
            self.check_ins.append(event.at)
        station = after.station
        in_queue_before = before is not None and before.state == _WAITING and before.station == station
        if after.state == _WAITING and station in self.stations and not in_queue_before:
            self.queued_at[visit] = event.at
            self.stations[station].entries.append(event.at)
        if event.type == _CALLED and event.station in self.stations:
            self.service_start[visit] = event.at
            entered = self.queued_at.get(visit)
            state = self.stations[event.station]
            state.desk_first.setdefault(event.desk, event.at)
            state.desk_last[event.desk] = event.at
            if entered is not None:
                made.append(Sample("wait", event.station, event.desk, entered, event.at))
                state.add(made[-1])
                state.day_waits[_minute_bin(made[-1].seconds)] += 1
                state.day_wait_seconds += made[-1].seconds
        elif event.type == _STARTED:
            self.service_start[visit] = event.at
        elif event.station in OUTCOMES and event.type in OUTCOMES[event.station]:
            start = self.service_start.pop(visit, None)
            if start is not None:
                sample = Sample("service", event.station, event.desk, start, event.at, actor=event.actor)
                made.append(sample)
                state = self.stations[event.station]
                state.add(sample)
                state.desk_last[event.desk] = event.at
                state.served[event.desk] += 1
                state.service_seconds[event.desk] += sample.seconds  # type: ignore[assignment]  # float seconds
                state.service_durations[round(sample.seconds)] += 1
                if event.type == _INJECTED:
                    self.vaccinators[event.actor] += 1
                    self.vaccinator_seconds[event.actor] += sample.seconds  # type: ignore[assignment]  # float seconds
        if event.type == _INJECTED:
            injection: Mapping[str, Any] = after.injection or {}
            self.doses_by_hour[self._hour(event.at)] += 1
            self.doses_by_product[(injection.get("product"), injection.get("lot"))] += 1
            self.doses_by_dose[after.dose_number] += 1
            self.doses_by_age[age_band(age_on(after.person.birth_date, after.day))] += 1
            self.injections.append(event.at)
        self.made[visit] = made

    def _revert(self, event: Event, after: Visit) -> None:
        """The visit's last event is taken back: so are its samples and its queue and service times."""
        visit = after.id
        for sample in self.made.pop(visit, []):
            self.stations[sample.station].drop(sample)
            sample.valid = False
            if sample.kind == "wait":
                state = self.stations[sample.station]
                state.day_waits[_minute_bin(sample.seconds)] -= 1
                state.day_wait_seconds -= sample.seconds
            if sample.kind == "service":  # (an injection is never undone: vaccinator counts stay)
                state = self.stations[sample.station]
                state.served[sample.desk] -= 1
                state.service_seconds[sample.desk] -= sample.seconds  # type: ignore[assignment]  # float seconds
                state.service_durations[round(sample.seconds)] -= 1
        for saved, current in ((self.entered, self.queued_at), (self.began, self.service_start)):
            earlier = saved.pop(visit, None)
            if earlier is None:
                current.pop(visit, None)
            else:
                current[visit] = earlier

    def _trim(self, now: datetime) -> None:
        edge = now - WINDOW
        for state in self.stations.values():
            for queue in (state.waits, state.services):
                while queue and queue[0].end < edge:
                    state.drop(queue[0])
                    queue.popleft().in_window = False
            while state.entries and state.entries[0] < edge:
                state.entries.popleft()
        while self.injections and self.injections[0] < edge - WINDOW:  # the rate looks back an hour
            self.injections.popleft()
        while self.check_ins and self.check_ins[0] < edge - WINDOW:
            self.check_ins.popleft()

    def _hour(self, moment: datetime) -> int:
        return moment.astimezone(self.site.tz).hour

    # --- reading ---------------------------------------------------------------------------------
    def view(self, now: datetime) -> dict[str, Any]:
        self._trim(now)
        start = max(now - WINDOW, self.first_at or now)
        span = max((now - start).total_seconds(), 1.0)
        measured = {name: self._station(name, now, start, span) for name in QUEUE_STATIONS}
        stations = {name: shown for name, (shown, _) in measured.items()}
        observing = list(self.on_site.at("observation", State.OBSERVING))
        emergency = self.on_site.count(Station.EMERGENCY, State.EMERGENCY)
        doses = sum(self.doses_by_hour.values())
        last_hour = sum(1 for moment in self.injections if moment > now - timedelta(hours=1))
        injection_rate = sum(1 for moment in self.injections if moment > now - WINDOW) / (WINDOW.total_seconds() / 60)
        minutes = self.site.observation.minutes
        return {
            "site": self.site.id,
            "day": self.day.isoformat(),
            "seq": self.seq,
            "at": now.isoformat(),
            "stations": stations,
            "checked_in": sum(self.checked_in_by_hour.values()),
            "bottleneck": self._bottleneck(measured),
            "throughput": {
                "doses_by_hour": {str(hour): count for hour, count in sorted(self.doses_by_hour.items())},
                "checked_in_by_hour": {str(hour): count for hour, count in sorted(self.checked_in_by_hour.items())},
                "last_hour": last_hour,
            },
            "target": self._target(doses, now),
            "time_in_system": {
                "released": sum(self.in_system),
                "median_minutes": histogram_percentile(self.in_system, 50),
                "p90_minutes": histogram_percentile(self.in_system, 90),
            },
            "observation": {
                "count": len(observing),
                "capacity": self.site.observation.seats,
                "ready": sum(1 for visit in observing if visit.may_leave(now)),
                "expected_peak": max(len(observing), math.ceil(injection_rate * minutes)),
                "emergency": emergency,
            },
            "aefi": [self._aefi_row(visit, report, now) for visit in self.aefi.values() for report in visit.aefi],
            "outcomes": self._outcomes(),
            "desks": {
                name: {desk: {"served": state.served[desk],
                              "mean_service_minutes": _minutes(state.service_seconds[desk] / state.served[desk])}
                       # (no None key: a service ends with an outcome, which names its desk)
                       for desk in sorted(state.served) if state.served[desk] > 0}  # type: ignore[type-var]
                for name, state in self.stations.items()
            },
            "vaccinators": {actor: {"served": count, "mean_service_minutes":
                                    _minutes(self.vaccinator_seconds[actor] / count)}
                            for actor, count in sorted(self.vaccinators.items()) if count > 0},
            "vaccine": {
                "doses": [{"product": product, "lot": lot, "doses": count}
                          for (product, lot), count in sorted(self.doses_by_product.items()) if count],
                "expiring": self._expiring(now),
            },
            "alerts": self._alerts(stations, len(observing), now),
        }

    def _station(self, name: str, now: datetime, start: datetime, span: float) -> tuple[StationFigures, Rates]:
        """The station's figures as shown, and the unrounded rates the bottleneck estimate uses."""
        state = self.stations[name]
        busy_now = self._busy(name)
        waits = [sample.seconds for sample in state.waits if sample.valid]
        services = [sample for sample in state.services if sample.valid]
        busy = sum(_overlap(sample.start, sample.end, start, now) for sample in services)
        busy += sum(_overlap(self.service_start.get(visit.id, now), now, start, now) for visit in busy_now)
        desks = self._open_desks(name)
        oldest = self._oldest_entry(name, now)
        mean_service = (state.window_service_seconds / state.window_services) if state.window_services else None
        entries = sum(1 for moment in state.entries if moment >= now - WINDOW)
        rates: Rates = {"arrivals_per_min": entries / (WINDOW.total_seconds() / 60),
                        "service_min": mean_service / 60 if mean_service is not None else None}
        p90_wait = percentile(waits, 90)  # None when there are no waits
        return {
            "waiting": self.on_site.count(name, State.WAITING),
            "being_served": len(busy_now),
            "desks": len(self.site.stations[name].desks),
            "desks_open": len(desks),
            "oldest_wait_minutes": _minutes((now - oldest).total_seconds()) if oldest else None,
            "mean_wait_minutes": _minutes(sum(waits) / len(waits)) if waits else None,
            "p90_wait_minutes": _minutes(p90_wait) if p90_wait is not None else None,
            "mean_service_minutes": _minutes(mean_service) if mean_service is not None else None,
            "utilisation": round(min(1.0, busy / (len(desks) * span)), 3) if desks else 0.0,
            "arrivals_per_hour": round(entries * 3600 / WINDOW.total_seconds(), 1),
        }, rates

    def _busy(self, station: str) -> list[Visit]:
        return [*self.on_site.at(station, State.CALLED), *self.on_site.at(station, State.SERVING)]

    def _open_desks(self, station: str) -> set[str]:
        """Desks that called, served or finished someone in the window, or are busy now."""
        return set(self.stations[station].window_desks) | {
            visit.desk for visit in self._busy(station) if visit.desk is not None
        }

    def _oldest_entry(self, station: str, now: datetime) -> datetime | None:
        return min((self.queued_at.get(visit.id, now) for visit in self.on_site.at(station, State.WAITING)), default=None)

    def expected_waits(self, now: datetime) -> dict[str, ExpectedWait]:
        """{station: {"minutes", "desks_open"}} for the queue stations, from the rolling sums."""
        self._trim(now)
        return {
            name: expected_wait(
                waiting=self.on_site.count(name, State.WAITING), services=state.window_services,
                service_seconds=state.window_service_seconds, desks_open=len(self._open_desks(name)),
                desks=len(self.site.stations[name].desks),
            )
            for name, state in self.stations.items()
        }

    def ticket_views(self, visit_ids: Iterable[str], now: datetime) -> dict[str, TicketView]:
        """The phones' views of these visits (app/domain/phone_ticket.py), for those this day
        knows: each queue is put in order, and its desks counted, once, however many of its
        people follow on a phone."""
        self._trim(now)
        places: dict[str, dict[str, int]] = {}
        open_desks: dict[str, int] = {}
        views: dict[str, TicketView] = {}
        for visit_id in visit_ids:
            visit = self.on_site.get(visit_id) or self.visits.get(visit_id)
            if visit is None:
                continue
            ahead = minutes = None
            if visit.state == State.WAITING and visit.station in self.stations:
                station = visit.station
                if station not in places:
                    places[station] = places_in_queue(self.on_site.at(station, State.WAITING))
                    open_desks[station] = len(self._open_desks(station))
                ahead = places[station].get(visit.id)
                state = self.stations[station]
                if ahead is not None:
                    minutes = expected_wait(
                        waiting=ahead, services=state.window_services, service_seconds=state.window_service_seconds,
                        desks_open=open_desks[station], desks=len(self.site.stations[station].desks),
                    )["minutes"]
            views[visit_id] = ticket_view(self.site, visit, now=now, ahead=ahead, minutes=minutes)
        return views

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """What every screen may see: counts, calls, expected waits (no personal data)."""
        return snapshot(self.site, self.on_site, seq=self.seq, now=now, waits=self.expected_waits(now))

    def check_ins_since(self, moment: datetime) -> int:
        """Check-ins after `moment` (at most an hour back)."""
        return sum(1 for at in self.check_ins if at > moment)

    def city_row(self, now: datetime) -> dict[str, Any]:
        """The site's line in the city ranking, from counters (a view costs a millisecond; 200 of them add up)."""
        self._trim(now)
        doses = sum(self.doses_by_hour.values())
        last_hour = sum(1 for moment in self.injections if moment > now - timedelta(hours=1))
        target = self._target(doses, now)
        oldest = [self._oldest_entry(name, now) for name in QUEUE_STATIONS]
        longest = max((_minutes((now - moment).total_seconds()) for moment in oldest if moment is not None), default=0)
        return {
            "site": self.site.id, "name": self.site.name, "name_zh": self.site.name_zh,
            "doses": doses, "daily_target": self.site.daily_target, "percent_of_target": target["percent"],
            "checked_in": sum(self.checked_in_by_hour.values()), "throughput_last_hour": last_hour,
            "waiting": sum(self.on_site.count(name, State.WAITING) for name in QUEUE_STATIONS),
            "longest_wait_minutes": longest,
            "observation": self.on_site.count("observation", State.OBSERVING),
            "observation_capacity": self.site.observation.seats,
            "open_aefi": sum(1 for visit in self.aefi.values() for report in visit.aefi if report.get("outcome") is None),
            "time_in_system_median_minutes": histogram_percentile(self.in_system, 50),
        }

    def _bottleneck(self, measured: Mapping[Station, tuple[StationFigures, Rates]]) -> dict[str, Any] | None:
        """The busiest queue station, and what one more desk would do (Erlang C, an estimate)."""
        name, (entry, rates) = max(measured.items(), key=lambda item: (item[1][0]["utilisation"], item[1][0]["waiting"]))
        if entry["utilisation"] == 0 and entry["waiting"] == 0:
            return None
        service = rates["service_min"]
        desks = max(entry["desks_open"], 1)
        now_wait = erlang_c_wait(rates["arrivals_per_min"], service, desks) if service is not None else None
        more_wait = erlang_c_wait(rates["arrivals_per_min"], service, desks + 1) if service is not None else None
        return {
            "station": name,
            "utilisation": entry["utilisation"],
            "desks_open": entry["desks_open"],
            "desks": entry["desks"],
            "can_open_more": entry["desks_open"] < entry["desks"],
            "estimated_wait_minutes": _minutes(now_wait * 60) if now_wait is not None else None,
            "estimated_wait_with_one_more_minutes": _minutes(more_wait * 60) if more_wait is not None else None,
            "queue_growing": service is not None and now_wait is None,
        }

    def _target(self, doses: int, now: datetime) -> Target:
        closes = datetime.combine(self.day, self.site.hours.closes, tzinfo=self.site.tz)
        target = self.site.daily_target
        return {
            "doses": doses,
            "daily_target": target,
            "percent": round(100 * doses / target, 1) if target else None,
            "closes_at": closes.isoformat(),
        }

    def _outcomes(self) -> dict[str, Any]:
        vaccinated = {str(key[1]): count for key, count in self.outcomes.items() if key[0] == "vaccinated" and count}
        deferred = {key[1]: count for key, count in self.outcomes.items() if key[0] == State.DEFERRED and count}
        single = {name: self.outcomes[(name,)] for name in
                  ("refused", "turned_away", "no_show", "left", "left_vaccinated", "transferred")}
        return {"vaccinated_by_dose": dict(sorted(vaccinated.items())), "deferred_by_reason": dict(sorted(deferred.items())),
                **single, "open": len(self.open)}

    def _aefi_row(self, visit: Visit, report: AefiReport, now: datetime) -> dict[str, Any]:
        due = datetime.fromisoformat(report["report_due_at"])
        return {
            "visit_id": visit.id, "ticket": visit.ticket, "severity": report["severity"],
            "symptoms": list(report["symptoms"]), "reported_at": report["reported_at"],
            "report_due_at": report["report_due_at"], "outcome": report.get("outcome"),
            "overdue": now > due and report.get("outcome") is None,
        }

    def _expiring(self, now: datetime) -> list[dict[str, Any]]:
        today = now.astimezone(self.site.tz).date()
        return [
            {"product": product.code, "lot": lot.lot, "expires_on": lot.expires_on.isoformat(),
             "days_left": (lot.expires_on - today).days}
            for product in self.site.products for lot in product.lots
            if 0 <= (lot.expires_on - today).days <= LOT_WARNING_DAYS
        ]

    def _alerts(self, stations: Mapping[Station, StationFigures], observing: int, now: datetime) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        for name, entry in stations.items():
            if entry["oldest_wait_minutes"] is not None and entry["oldest_wait_minutes"] > WAIT_ALERT_MINUTES:
                alerts.append({"code": "long_wait", "station": name, "minutes": entry["oldest_wait_minutes"]})
        seats = self.site.observation.seats
        if observing >= OBSERVATION_ALERT_RATIO * seats:
            alerts.append({"code": "observation_nearly_full", "count": observing, "capacity": seats})
        for visit in self.aefi.values():
            if visit.state == State.EMERGENCY:
                alerts.append({"code": "aefi_open", "ticket": visit.ticket})
        for lot in self._expiring(now):
            alerts.append({"code": "lot_expiring", **lot})
        for visit_id in sorted(self.open):
            visit = self.visits[visit_id]
            if now - visit.checked_in_at > LOST_AFTER:
                alerts.append({"code": "lost", "ticket": visit.ticket, "state": visit.state,
                               "minutes": _minutes((now - visit.checked_in_at).total_seconds())})
        return alerts


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    for low, high in AGE_BANDS:
        if low <= age <= high:
            return f"{low}-{high}" if high < 200 else f"{low}+"
    return "unknown"


def _minute_bin(seconds: float) -> int:
    return min(max(int(seconds // 60), 0), HISTOGRAM_MINUTES - 1)


def _overlap(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> float:
    return max(0.0, (min(end, window_end) - max(start, window_start)).total_seconds())


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)
