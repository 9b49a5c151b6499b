"""Scenarios fitted from a real day, read from its fold (app/domain/analytics.py): the arrival
pattern by hour, service times per station (empirical, as measured, to the second), and the
observed deferral and adverse-event rates; the site's desks, seats and observation times.
`what_if` simulates the rest of today from the people waiting now, with other desks or seats.

What the log cannot tell is assumed and said: check-in is not timed (people are counted from
the moment they join the consent queue), walking takes half a minute, and an adverse event
adds half an hour of observation.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from app.domain.analytics import DayAnalytics

from .scenario import Scenario, parse_scenario

QUEUE = ("consent", "injection")
MIN_SAMPLES = 5
DEFAULT_SERVICE = {"consent": 2.0, "injection": 1.5}  # minutes, when a day has too few services


def measured(model: DayAnalytics) -> dict[str, Any]:
    """What the day says, from its fold: arrivals per clock hour, service times, rates."""
    decided = sum(model.consents.values())
    eligible = sum(count for (outcome, _allergy), count in model.consents.items() if outcome == "eligible")
    doses = sum(model.doses_by_hour.values())
    return {
        "arrivals_by_hour": {hour: count for hour, count in sorted(model.checked_in_by_hour.items()) if count},
        "service_minutes": {station: [seconds / 60 for seconds in model.stations[station].service_durations.elements()]
                            for station in QUEUE},
        "deferral": (decided - eligible) / decided if decided else 0.0,
        "aefi": len(model.aefi) / doses if doses else 0.0,
        "extended": model.consents[("eligible", True)] / eligible if eligible else 0.0,
    }


def _service(samples: list[float], station: str) -> dict:
    usable = [round(value, 3) for value in samples if value > 0]
    if len(usable) >= MIN_SAMPLES:
        return {"kind": "empirical", "values": usable}
    return {"kind": "exponential", "mean": DEFAULT_SERVICE[station]}


def scenario_from_day(model: DayAnalytics, *, servers: dict[str, int] | None = None,
                      seats: int | None = None, name: str | None = None) -> Scenario:
    site = model.site
    facts = measured(model)
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


def what_if(model: DayAnalytics, *, now: datetime, waiting: dict[str, int], servers: dict[str, int],
            seats: int) -> Scenario:
    """The rest of today from now: the people at each queue station now (`waiting`: waiting or
    at a desk) first, then arrivals at the rate of the last hour's check-ins until closing time.
    After closing nobody new comes, and the people still there are served."""
    site = model.site
    base = scenario_from_day(model, servers=servers, seats=seats, name=f"{site.id} from now")
    local = now.astimezone(site.tz)
    opens = min(time(local.hour, local.minute), time(23, 58))  # a scenario lasts a minute at least
    one_minute_later = (datetime.combine(local.date(), opens) + timedelta(minutes=1)).time()
    still_open = opens < site.hours.closes
    closes = site.hours.closes if still_open else one_minute_later
    rate = model.check_ins_since(now - timedelta(hours=1)) if still_open else 0
    arrivals: list[dict[str, Any]] = [{"kind": "poisson", "rate_per_hour": float(rate)}]
    for station in QUEUE:
        if waiting.get(station):
            arrivals.append({"kind": "appointments", "start": opens, "end": one_minute_later,
                             "every_minutes": 1, "people": waiting[station], "enter_at": station})
    data = base.model_dump(by_alias=True, exclude_none=True)
    data.update({"opens": opens, "closes": closes, "arrivals": arrivals})
    return parse_scenario(data, source="what-if")
