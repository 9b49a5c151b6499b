"""Every dashboard and report figure, checked against a brute-force recomputation from the raw
events, at checkpoints through a simulated day of hundreds of people with deferrals, refusals,
no-shows, adverse events, undos and a supervisor's corrections."""
from __future__ import annotations

import io
import math
import random
from collections import Counter
from datetime import timedelta

from openpyxl import load_workbook

from app.domain.analytics import LOST_AFTER, WINDOW, age_band
from app.domain.errors import DomainError
from app.domain.identity import age_on
from app.domain.permissions import Principal
from app.domain.visit import apply
from app.flow import analytics
from app.flow import visits as flow
from app.sim.day import DayPlan, FlowActions, run_day

QUEUES = ("consent", "injection")
OUTCOME_EVENTS = {"consent": ("consented", "deferred", "refused"), "injection": ("injected",)}
BOT = Principal(name="bot", role="admin")
BOSS = Principal(name="boss", role="site_supervisor", sites=frozenset({"demo"}))


# --- the brute force ---------------------------------------------------------------------------

def _effective(events):
    """The events that count: an undo and the event it takes back both drop out."""
    undone = {event.data["reverts_seq"] for event in events if event.type == "reverted"}
    return [event for event in events if event.type != "reverted" and event.seq not in undone]


def brute_force(events, site, now):
    """Recompute the figures from the raw events with plain loops, following the definitions
    in app/domain/analytics.py literally."""
    events = [event for event in events if event.at <= now]
    visits, timeline = {}, []
    for event in _effective(events):
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
    first = min(event.at for event in events)
    start = max(edge, first)
    span = (now - start).total_seconds()
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


def _compare(view, expected):
    for name in QUEUES:
        got = {key: view["stations"][name][key] for key in expected["stations"][name]}
        assert got == expected["stations"][name], name
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


# --- the day -----------------------------------------------------------------------------------

def _extras(services, rng, now, corrections):
    """What the bots do not do: a few supervisor's corrections, and undos of the last action."""
    rows = services.store.list_visits("demo", states=("deferred", "no_show", "refused"), station=None,
                                      day=now.astimezone(services.store.site("demo").site.tz).date(), limit=1000)
    if rows and corrections["left"] > 0 and rng.random() < 0.3:
        corrections["left"] -= 1
        visit = rng.choice(rows)
        last = services.store.visit_events("demo", visit.id)[-1]
        try:
            flow.correct(services, BOSS, site_id="demo", visit_id=visit.id, reason="re-screened",
                         state="waiting", station="consent", corrects_seq=last.seq)
        except DomainError:
            pass
    # Undo the very last event if the bots may (a call, a consent, a release ...).
    site_row = services.store.site("demo")
    recent = services.store.site_events("demo", after_seq=max(0, site_row.seq - 1))
    if recent and recent[-1].actor == BOT.actor and rng.random() < 0.6:
        try:
            flow.undo(services, BOT, site_id="demo", visit_id=recent[-1].visit_id, seq=recent[-1].seq)
        except DomainError:
            pass


def test_the_dashboard_equals_a_brute_force_recomputation_all_day(day_app, clock):
    services = day_app.extensions["siteflow"]
    site = services.store.site("demo").site
    rng = random.Random(11)
    checked = {"points": 0}
    step = {"n": 0}
    corrections = {"left": 4}

    def advance(delta):
        step["n"] += 1
        if step["n"] % 7 == 0:
            _extras(services, rng, clock.now(), corrections)
        clock.advance(seconds=delta.total_seconds())
        if step["n"] % 45 == 0:  # a checkpoint: the live figures against the raw log
            view = analytics.dashboard(services, BOSS, site_id="demo")
            now = clock.now()
            _compare(view, brute_force(services.store.site_events("demo"), site, now))
            checked["points"] += 1

    plan = DayPlan(people=320, hours=5, seed=5, p_defer=0.06, p_refuse=0.02, p_no_show=0.06, p_aefi=0.03)
    result = run_day(FlowActions(services, "demo"), plan, advance=advance)
    assert result.checked_in > 280 and checked["points"] >= 6
    # Late in the evening: a person who never left is "lost", and the closed-loop check lists them.
    clock.advance(hours=3)
    now = clock.now()
    view = analytics.dashboard(services, BOSS, site_id="demo")
    expected = brute_force(services.store.site_events("demo"), site, now)
    _compare(view, expected)
    kinds = {key[0] for key in expected["outcomes"]}
    assert {"vaccinated", "deferred", "refused", "turned_away"} <= kinds, kinds  # the day had them all
    types = {e.type for e in services.store.site_events("demo")}
    assert {"requeued", "aefi_reported", "aefi_resolved", "recalled"} & types >= {"requeued", "aefi_reported"}
    assert expected["aefi"], "no adverse event in the day"
    undone = [e for e in services.store.site_events("demo") if e.type == "reverted"]
    corrected = [e for e in services.store.site_events("demo") if e.type == "corrected"]
    assert undone and corrected

    report = analytics.daily_report(services, BOSS, site_id="demo")
    loop = report["closed_loop"]
    assert loop["checked_in"] == len(expected["visits"])
    assert loop["consistent"] and loop["accounted_for"] + len(loop["not_closed"]) == loop["checked_in"]
    assert sorted(row["ticket"] for row in loop["not_closed"]) == expected["open"]
    assert report["by_dose"] == {str(dose): n for dose, n in sorted(expected["doses_by_dose"].items())}
    assert report["by_age_band"] == {band: n for band, n in sorted(expected["doses_by_age"].items())}
    assert sum(row["doses"] for row in report["by_hour"]) == expected["doses"]
    assert all(row["name"] for row in report["aefi"])  # a supervisor's report names the person

    # The XLSX has the same figures.
    from app.flow.report_files import to_xlsx

    book = load_workbook(io.BytesIO(to_xlsx([report])))
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["doses"] == expected["doses"] and summary["checked_in"] == len(expected["visits"])
    lots = {(row[0], row[1]): row[2] for row in book["By product and lot"].iter_rows(min_row=2, values_only=True)}
    assert lots == dict(expected["doses_by_product"])
    hours = {row[0]: row[2] for row in book["By hour"].iter_rows(min_row=2, values_only=True)}
    assert {str(hour): n for hour, n in hours.items() if n} == expected["doses_by_hour"]
    assert book["AEFI"].max_row - 1 == len(expected["aefi"])
