"""Brute-force recomputations from the raw event log, following the definitions in
app/domain/analytics.py and app/domain/waits.py literally with plain loops: what the running
figures (a fold kept event by event) must always equal."""
from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

from app.domain.analytics import LOST_AFTER, WINDOW, age_band
from app.domain.identity import age_on
from app.domain.stock import STOCK_STREAM
from app.domain.visit import apply
from app.domain.vocabulary import STATIONS
from app.domain.waits import expected_wait

QUEUES = ("consent", "injection")
OUTCOME_EVENTS = {"consent": ("consented", "deferred", "refused"), "injection": ("injected",)}


def effective(events):
    """The visits' events that count: an undo and the event it takes back both drop out (and the
    site's stock events are no visit's)."""
    events = [event for event in events if event.visit_id != STOCK_STREAM]
    undone = {event.data["reverts_seq"] for event in events if event.type == "reverted"}
    return [event for event in events if event.type != "reverted" and event.seq not in undone]


def brute_force(events, site, now):
    """Recompute the figures from the raw events with plain loops, following the definitions
    in app/domain/analytics.py literally."""
    # The site's stock events (deliveries, vials, waste) share its log but belong to no visit.
    events = [event for event in events if event.at <= now and event.visit_id != STOCK_STREAM]
    visits, timeline = {}, []
    for event in effective(events):
        before = visits.get(event.visit_id)
        after = apply(before, event)
        visits[event.visit_id] = after
        timeline.append((event, before, after))
    entered, started = {}, {}
    waits = {name: [] for name in QUEUES}  # (call time, seconds, desk)
    services = {name: [] for name in QUEUES}  # (start, end, desk, actor)
    entries = {name: [] for name in QUEUES}
    for event, before, after in timeline:
        station = after.station
        if after.state == "waiting" and station in QUEUES and not (
                before is not None and before.state == "waiting" and before.station == station):
            entered[after.id] = event.at
            entries[station].append(event.at)
        if event.type == "called":
            started[after.id] = event.at
            waits[event.station].append((event.at, (event.at - entered[after.id]).total_seconds(), event.desk))
        elif event.type == "started":
            started[after.id] = event.at
        elif event.station in OUTCOME_EVENTS and event.type in OUTCOME_EVENTS[event.station]:
            services[event.station].append((started.pop(after.id), event.at, event.desk, event.actor))
    edge = now - WINDOW
    first = min(event.at for event in events if event.visit_id != STOCK_STREAM)  # the day starts with its people
    start = max(edge, first)
    span = max((now - start).total_seconds(), 1.0)  # as the dashboard: never divide by zero
    figures = {"stations": {}}
    for name in QUEUES:
        recent_waits = [seconds for at, seconds, _ in waits[name] if at >= edge]
        recent_services = [(s, e, d) for s, e, d, _ in services[name] if e >= edge]
        on_site = [v for v in visits.values() if v.active and v.station == name]
        busy_now = [v for v in on_site if v.state in ("called", "serving")]
        busy = sum(max(0.0, (min(e, now) - max(s, start)).total_seconds()) for s, e, _ in recent_services)
        busy += sum(max(0.0, (now - max(started[v.id], start)).total_seconds()) for v in busy_now)
        desks = {d for _, _, d in recent_services} | {d for at, _, d in waits[name] if at >= start}
        desks |= {v.desk for v in busy_now}
        waiting = [v for v in on_site if v.state == "waiting"]
        ordered = sorted(recent_waits)
        figures["stations"][name] = {
            "waiting": len(waiting),
            "being_served": len(busy_now),
            "desks_open": len(desks),
            "oldest_wait_minutes": round((now - min(entered[v.id] for v in waiting)).total_seconds() / 60, 1)
            if waiting else None,
            "mean_wait_minutes": round(sum(ordered) / len(ordered) / 60, 1) if ordered else None,
            "p90_wait_minutes": round(ordered[math.ceil(0.9 * len(ordered)) - 1] / 60, 1) if ordered else None,
            "mean_service_minutes": round(sum((e - s).total_seconds() for s, e, _ in recent_services)
                                          / len(recent_services) / 60, 1) if recent_services else None,
            "utilisation": round(min(1.0, busy / (len(desks) * span)), 3) if desks else 0.0,
            "arrivals_per_hour": round(sum(1 for at in entries[name] if at >= edge) * 3600 / WINDOW.total_seconds(), 1),
        }
        figures.setdefault("desks", {})[name] = {
            desk: (len(rows), round(sum((e - s).total_seconds() for s, e, _, _ in rows) / len(rows) / 60, 1))
            for desk in {d for _, _, d, _ in services[name]}
            for rows in [[row for row in services[name] if row[2] == desk]]
        }
    injected = [(event, after) for event, _, after in timeline if event.type == "injected"]
    hour = lambda moment: moment.astimezone(site.tz).hour  # noqa: E731
    figures["doses"] = len(injected)
    figures["doses_by_hour"] = dict(Counter(str(hour(event.at)) for event, _ in injected))
    figures["checked_in_by_hour"] = dict(Counter(str(hour(event.at)) for event, _, _ in timeline
                                                 if event.type == "checked_in"))
    figures["doses_by_product"] = Counter((a.injection["product"], a.injection["lot"]) for _, a in injected)
    figures["doses_by_dose"] = Counter(a.dose_number for _, a in injected)
    figures["doses_by_age"] = Counter(age_band(age_on(a.person.birth_date, a.day)) for _, a in injected)
    figures["last_hour"] = sum(1 for event, _ in injected if event.at > now - timedelta(hours=1))
    released = sorted(int((v.released_at - v.checked_in_at).total_seconds() // 60)
                      for v in visits.values() if v.state == "released")
    figures["released"] = len(released)
    figures["median"] = released[math.ceil(0.5 * len(released)) - 1] if released else None
    figures["p90"] = released[math.ceil(0.9 * len(released)) - 1] if released else None
    final = Counter()
    for v in visits.values():
        if v.state == "released":
            final[("vaccinated", v.dose_number)] += 1
        elif v.state == "deferred":
            final[("deferred", v.closed_reason)] += 1
        elif v.state == "left":
            final[("left_vaccinated",) if v.vaccinated else ("left",)] += 1
        elif not v.active:
            final[(v.state,)] += 1
    figures["outcomes"] = final
    figures["open"] = sorted(v.ticket or v.id for v in visits.values() if v.active)
    figures["observing"] = sum(1 for v in visits.values() if v.state == "observing")
    figures["emergency"] = sum(1 for v in visits.values() if v.state == "emergency")
    figures["aefi"] = sorted((v.ticket, r["severity"], r.get("outcome")) for v in visits.values() for r in v.aefi)
    figures["lost"] = sorted(v.ticket for v in visits.values() if v.active and now - v.checked_in_at > LOST_AFTER)
    figures["vaccinators"] = Counter(event.actor for event, _ in injected)
    figures["visits"] = visits
    return figures


def compare_dashboard(view, expected):
    for name in QUEUES:
        got = {key: view["stations"][name][key] for key in expected["stations"][name]}
        assert got == expected["stations"][name], (name, got, expected["stations"][name])
        desks = {desk: (row["served"], row["mean_service_minutes"]) for desk, row in view["desks"][name].items()}
        assert desks == expected["desks"][name], name
    assert view["target"]["doses"] == expected["doses"]
    assert view["throughput"]["doses_by_hour"] == expected["doses_by_hour"]
    assert view["throughput"]["checked_in_by_hour"] == expected["checked_in_by_hour"]
    assert view["throughput"]["last_hour"] == expected["last_hour"]
    assert {(row["product"], row["lot"]): row["doses"] for row in view["vaccine"]["doses"]} == dict(
        expected["doses_by_product"])
    assert view["time_in_system"] == {"released": expected["released"], "median_minutes": expected["median"],
                                      "p90_minutes": expected["p90"]}
    outcomes = view["outcomes"]
    got = Counter({("vaccinated", int(dose)): n for dose, n in outcomes["vaccinated_by_dose"].items()})
    got.update({("deferred", reason): n for reason, n in outcomes["deferred_by_reason"].items()})
    got.update({(key,): outcomes[key] for key in
                ("refused", "turned_away", "no_show", "left", "left_vaccinated", "transferred") if outcomes[key]})
    assert got == expected["outcomes"]
    assert outcomes["open"] == len(expected["open"])
    assert view["observation"]["count"] == expected["observing"]
    assert view["observation"]["emergency"] == expected["emergency"]
    assert sorted((row["ticket"], row["severity"], row["outcome"]) for row in view["aefi"]) == expected["aefi"]
    assert sorted(alert["ticket"] for alert in view["alerts"] if alert["code"] == "lost") == expected["lost"]
    assert {actor: row["served"] for actor, row in view["vaccinators"].items()} == dict(expected["vaccinators"])


def brute_snapshot(events, site, now):
    """The screens' snapshot from the raw events: counts, desks, calls, the observation board
    and the expected waits, each from its definition."""
    # The site's stock events (deliveries, vials, waste) share its log but belong to no visit.
    events = [event for event in events if event.at <= now and event.visit_id != STOCK_STREAM]
    visits, timeline = {}, []
    for event in effective(events):
        before = visits.get(event.visit_id)
        after = apply(before, event)
        visits[event.visit_id] = after
        timeline.append((event, before, after))
    active = [v for v in visits.values() if v.active]
    stations = {}
    for name in STATIONS:
        desks = {desk: {"state": "idle", "ticket": None} for desk in site.stations[name].desks}
        for v in active:
            if v.station == name and v.state in ("called", "serving") and v.desk in desks:
                desks[v.desk] = {"state": v.state, "ticket": v.ticket}
        stations[name] = {state: sum(1 for v in active if v.station == name and v.state == state)
                          for state in ("waiting", "called", "serving")}
        stations[name]["desks"] = desks
    # Like all of a day's figures, the expected waits count the people checked in that day:
    # the window starts again at the site's midnight.
    today = now.astimezone(site.tz).date()
    started, services, calls = {}, {name: [] for name in QUEUES}, {name: [] for name in QUEUES}
    for event, _before, after in timeline:
        if after.day != today:
            continue
        if event.type == "called":
            started[after.id] = event.at
            calls[event.station].append((event.at, event.desk))
        elif event.type == "started":
            started[after.id] = event.at
        elif event.station in OUTCOME_EVENTS and event.type in OUTCOME_EVENTS[event.station]:
            services[event.station].append((started.pop(after.id), event.at, event.desk))
    edge = now - WINDOW
    for name in QUEUES:
        recent = [(s, e, d) for s, e, d in services[name] if e >= edge]
        desks = {d for _, _, d in recent} | {d for at, d in calls[name] if at >= edge}
        desks |= {v.desk for v in active if v.station == name and v.state in ("called", "serving")}
        estimate = expected_wait(waiting=stations[name]["waiting"], services=len(recent),
                                 service_seconds=sum((e - s).total_seconds() for s, e, _ in recent),
                                 desks_open=len(desks), desks=len(site.stations[name].desks))
        stations[name]["expected_wait_minutes"] = estimate["minutes"]
        stations[name]["desks_open"] = estimate["desks_open"]
    observing = sorted((v.leave_at, v.ticket) for v in active if v.state == "observing")
    calling = sorted(((v.called_at, v.ticket, v.station, v.desk) for v in active if v.state == "called"), reverse=True)
    return {
        "site": site.id,
        "stations": stations,
        "calling": [{"ticket": t, "station": s, "desk": d, "at": at.isoformat()} for at, t, s, d in calling],
        "observation": {
            "count": len(observing),
            "capacity": site.observation.seats,
            "heading": sum(1 for v in active if v.station == "injection" and v.state in ("called", "serving")),
            "ready": [ticket for leave_at, ticket in observing if leave_at <= now],
            "board": [{"ticket": t, "leave_at": at.isoformat(), "ready": at <= now} for at, t in observing],
        },
        "emergency": {"count": sum(1 for v in active if v.state == "emergency")},
    }


def comparable_snapshot(snapshot):
    """A snapshot without its moment and sequence number, with calls made at the same
    instant in a fixed order."""
    body = {key: value for key, value in snapshot.items() if key not in ("at", "seq", "view")}
    body["calling"] = sorted(body["calling"], key=lambda call: (call["at"], call["ticket"]), reverse=True)
    return body
