"""Scenarios fitted from a real day in the event log: the arrival pattern by hour, service
times per station (empirical, as measured), and the observed deferral and adverse-event
rates; the site's desks, seats and observation times. `what_if` simulates the rest of today
from the people waiting now, with other desks or seats.

What the log cannot tell is assumed and said: check-in is not timed (people are counted from
the moment they join the consent queue), walking takes half a minute, and an adverse event
adds half an hour of observation.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

from app.domain.site import Site
from app.domain.visit import Event

from .scenario import Scenario, parse_scenario

QUEUE = ("consent", "injection")
OUTCOMES = {"consent": ("consented", "deferred", "refused"), "injection": ("injected",)}
MIN_SAMPLES = 5
DEFAULT_SERVICE = {"consent": 2.0, "injection": 1.5}  # minutes, when a day has too few services


def service_times(events: list[Event]) -> dict[str, list[float]]:
    """Seconds from arrival at the desk (`started`, or the call) to the outcome, per queue
    station, for the services that both began and ended in `events` (in sequence order, with
    undone events already taken out by `_effective`)."""
    began: dict[str, datetime] = {}
    times: dict[str, list[float]] = {station: [] for station in QUEUE}
    for event in events:
        if event.type in ("called", "started"):
            began[event.visit_id] = event.at
        elif event.station in OUTCOMES and event.type in OUTCOMES[event.station]:
            start = began.pop(event.visit_id, None)
            if start is not None:
                times[event.station].append((event.at - start).total_seconds())
    return times


def _effective(events: list[Event]) -> list[Event]:
    undone = {event.data.get("reverts_seq") for event in events if event.type == "reverted"}
    return [event for event in events if event.type != "reverted" and event.seq not in undone]


def measured(site: Site, events: list[Event]) -> dict[str, Any]:
    """What the day says: arrivals per clock hour, service times, rates."""
    events = _effective(events)
    tz = site.tz
    arrivals = Counter(event.at.astimezone(tz).hour for event in events if event.type == "checked_in")
    times = service_times(events)
    consent_outcomes = Counter(event.type for event in events if event.type in ("consented", "deferred", "refused"))
    injected = sum(1 for event in events if event.type == "injected")
    aefi_people = len({event.visit_id for event in events if event.type == "aefi_reported"})
    allergy = sum(1 for event in events if event.type == "consented" and event.data.get("consent", {}).get("allergy_history"))
    decided = sum(consent_outcomes.values())
    return {
        "arrivals_by_hour": dict(sorted(arrivals.items())),
        "service_minutes": {station: [seconds / 60 for seconds in times[station]] for station in QUEUE},
        "deferral": (consent_outcomes["deferred"] + consent_outcomes["refused"]) / decided if decided else 0.0,
        "aefi": aefi_people / injected if injected else 0.0,
        "extended": allergy / consent_outcomes["consented"] if consent_outcomes["consented"] else 0.0,
    }


def _service(samples: list[float], station: str) -> dict:
    usable = [round(value, 3) for value in samples if value > 0]
    if len(usable) >= MIN_SAMPLES:
        return {"kind": "empirical", "values": usable}
    return {"kind": "exponential", "mean": DEFAULT_SERVICE[station]}


def scenario_from_day(site: Site, events: list[Event], *, servers: dict[str, int] | None = None,
                      seats: int | None = None, name: str | None = None) -> Scenario:
    facts = measured(site, events)
    servers = servers or {station: len(site.stations[station].desks) for station in QUEUE}
    observation = site.observation
    hours = facts["arrivals_by_hour"]
    # The site's hours, widened to every hour in which people arrived.
    opens = min([site.hours.opens, *(time(hour) for hour in hours)])
    closes = max([site.hours.closes, *(time(hour + 1) if hour < 23 else time(23, 59) for hour in hours)])
    data = {
        "name": name or f"{site.id} as measured",
        "opens": opens, "closes": closes,
        "walking": {"kind": "fixed", "value": 0.5},
        "stations": [
            {"name": "consent", "servers": servers["consent"], "service": _service(facts["service_minutes"]["consent"], "consent"),
             "deferral": round(facts["deferral"], 4)},
            {"name": "injection", "servers": servers["injection"],
             "service": _service(facts["service_minutes"]["injection"], "injection"), "needs_observation_seat": True},
        ],
        "observation": {
            "seats": seats or observation.seats,
            "duration": {"kind": "fixed", "value": observation.minutes},
            "extended_probability": round(facts["extended"], 4),
            "extended_duration": {"kind": "fixed", "value": observation.extended_minutes},
            "aefi_probability": round(facts["aefi"], 4),
            "aefi_extra": {"kind": "fixed", "value": 30},
        },
        "arrivals": [{"kind": "poisson", "rate_by_hour": {str(h): float(n) for h, n in facts["arrivals_by_hour"].items()}}],
    }
    return parse_scenario(data, source=f"site {site.id}")


def what_if(site: Site, events: list[Event], *, now: datetime, waiting: dict[str, int], servers: dict[str, int],
            seats: int) -> Scenario:
    """The rest of today from now: the people waiting now first, then arrivals at the rate of
    the last hour, until closing time."""
    base = scenario_from_day(site, events, servers=servers, seats=seats, name=f"{site.id} from now")
    local = now.astimezone(site.tz)
    opens = time(min(local.hour, 23), local.minute if local.hour < 23 else min(local.minute, 57))
    closes = site.hours.closes if site.hours.closes > opens else time(23, 59)
    last_hour = sum(1 for event in _effective(events)
                    if event.type == "checked_in" and event.at > now - timedelta(hours=1))
    arrivals: list[dict] = [{"kind": "poisson", "rate_per_hour": float(last_hour)}]
    for station in QUEUE:
        if waiting.get(station):
            one_minute_later = (datetime.combine(local.date(), opens) + timedelta(minutes=1)).time()
            arrivals.append({"kind": "appointments", "start": opens, "end": one_minute_later,
                             "every_minutes": 1, "people": waiting[station], "enter_at": station})
    data = base.model_dump(by_alias=True, exclude_none=True)
    data.update({"opens": opens, "closes": closes if closes > opens else time(23, 59), "arrivals": arrivals})
    return parse_scenario(data, source="what-if")
