"""Analytics cost against the size of the day: one event applied, and the dashboard served,
when 0, 10,000 and 100,000 events of the day are already folded; and a 5,000-dose day's
daily report (fold + report + XLSX).

    python bench/analytics.py            # writes bench/results/analytics.json

The events are made by a small generator of people going through the site (check-in, call,
consent, call, injection, release, with some deferrals) arriving at a steady rate, so the
people on site are about the same at each size and only the events already folded differ. No database: this measures the fold
(app/domain/analytics.py), which is what a dashboard read costs once caught up.
"""
from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain.analytics import DayAnalytics
from app.domain.reports import daily_report
from app.domain.site import parse_site
from app.domain.visit import Event
from app.flow.report_files import to_xlsx

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 08:00 at the demo site
PROBE = 2_000  # events applied and timed at each size
VIEWS = 50  # dashboard views timed at each size


def load_site():
    import tomllib

    return parse_site(tomllib.loads((ROOT / "sites" / "demo.toml").read_text()), source="demo.toml")


PEOPLE_PER_HOUR = 250  # a steady site: the same number on site however long the day has run


def people_events(count: int, rng: random.Random, per_hour: float = PEOPLE_PER_HOUR):
    """About `count` events of people arriving at a steady rate, in time order."""
    people = count // 6 + 1
    span = timedelta(hours=people / per_hour)
    timeline = []
    for n in range(people):
        visit = uuid.uuid4().hex
        at = START + span * (n / people)
        person = {"name": "张三", "document_type": "resident_id", "document_number": f"11010519800101{n:04d}",
                  "phone": None, "birth_date": "1980-01-01"}
        steps = [("checked_in", "checkin", None, {"person": person, "day": "2026-12-03", "ticket": f"A{n:04d}",
                                                  "priority": False, "dose_number": 1 + n % 3,
                                                  "health_code": "green"})]
        at_times = [at]
        wait = timedelta(minutes=rng.expovariate(1 / 6))
        at_times.append(at_times[-1] + wait)
        steps.append(("called", "consent", "AB"[n % 2], {}))
        at_times.append(at_times[-1] + timedelta(minutes=rng.expovariate(1 / 2)))
        consent = {"outcome": "eligible", "answers": {}, "allergy_history": False, "deferral_reason": None,
                   "signature": "confirmed", "desk": "AB"[n % 2]}
        if rng.random() < 0.03:
            steps.append(("deferred", "consent", "AB"[n % 2], {"consent": dict(consent, outcome="deferred",
                                                                               deferral_reason="fever")}))
        else:
            steps.append(("consented", "consent", "AB"[n % 2], {"consent": consent}))
            at_times.append(at_times[-1] + timedelta(minutes=rng.expovariate(1 / 4)))
            desk = str(1 + n % 6)
            steps.append(("called", "injection", desk, {}))
            at_times.append(at_times[-1] + timedelta(minutes=rng.expovariate(1 / 1.5)))
            injected = at_times[-1]
            steps.append(("injected", "injection", desk, {
                "injection": {"product": "coronavac", "lot": "202610A127", "dose_number": 1 + n % 3,
                              "observation_minutes": 30, "vaccinator": f"nurse{desk}"},
                "leave_at": (injected + timedelta(minutes=30)).isoformat()}))
            at_times.append(injected + timedelta(minutes=30 + rng.random() * 5))
            steps.append(("released", "observation", None, {"leave_at": (injected + timedelta(minutes=30)).isoformat()}))
        for moment, (kind, station, desk, data) in zip(at_times, steps, strict=True):
            timeline.append((moment, visit, kind, station, desk, data))
    timeline.sort(key=lambda item: item[0])
    return [Event(seq=seq, site="demo", visit_id=visit, type=kind, at=moment, actor="station:bench",
                  station=station, desk=desk, data=data)
            for seq, (moment, visit, kind, station, desk, data) in enumerate(timeline, start=1)]


def measure(site, events, folded: int) -> dict:
    """Fold `folded` events, then time the next PROBE events one by one and VIEWS views."""
    model = DayAnalytics(site, START.date())
    for event in events[:folded]:
        model.apply(event)
    probe = events[folded:folded + PROBE]
    applies = []
    for event in probe:
        began = time.perf_counter()
        model.apply(event)
        applies.append(time.perf_counter() - began)
    now = probe[-1].at
    views = []
    for _ in range(VIEWS):
        began = time.perf_counter()
        model.view(now)
        views.append(time.perf_counter() - began)
    return {"folded": folded, "apply_us_median": statistics.median(applies) * 1e6,
            "apply_us_mean": statistics.fmean(applies) * 1e6, "view_ms_median": statistics.median(views) * 1e3,
            "open_visits": len(model.open)}


def main() -> None:
    site = load_site()
    rng = random.Random(1)
    sizes = (0, 10_000, 100_000)
    events = people_events(sizes[-1] + PROBE + 6_000, rng)  # the probes stay in the steady part
    rows = [measure(site, events, size) for size in sizes]
    day = people_events(5_000 * 6, random.Random(2), per_hour=500)  # 10 hours
    began = time.perf_counter()
    model = DayAnalytics(site, START.date())
    for event in day:
        model.apply(event)
    folded = time.perf_counter() - began
    report = daily_report(model, now=day[-1].at, level="full")
    reported = time.perf_counter() - began - folded
    xlsx = to_xlsx([report])
    written = time.perf_counter() - began - folded - reported
    result = {
        "sizes": rows,
        "apply_ratio_largest_to_smallest": rows[-1]["apply_us_median"] / rows[0]["apply_us_median"],
        "view_ratio_largest_to_smallest": rows[-1]["view_ms_median"] / rows[0]["view_ms_median"],
        "report_5000_doses": {"events": len(day), "doses": report["totals"]["doses"], "fold_s": folded,
                              "report_s": reported, "xlsx_s": written, "xlsx_bytes": len(xlsx)},
    }
    out = ROOT / "bench" / "results" / "analytics.json"
    out.write_text(json.dumps(result, indent=1))
    for row in rows:
        print(f"{row['folded']:>7} events folded: apply {row['apply_us_median']:.1f} us (median), "
              f"view {row['view_ms_median']:.2f} ms, {row['open_visits']} on site")
    print(f"ratio 100k/0: apply {result['apply_ratio_largest_to_smallest']:.2f}, "
          f"view {result['view_ratio_largest_to_smallest']:.2f}")
    r = result["report_5000_doses"]
    print(f"5,000-dose day ({r['events']} events): fold {r['fold_s']:.2f} s, report {r['report_s'] * 1000:.1f} ms, "
          f"xlsx {r['xlsx_s'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
