"""The supervisor dashboard and the daily report: read models folded from the event log.

Today's model per site is kept in the process and caught up from the log on every read
(only the events recorded since the last read are fetched and applied), so any process
of a scaled-out deployment answers from the same log. Other days are folded once and kept.
"""
from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta
from typing import Any

from app.domain import reports
from app.domain.analytics import DayAnalytics
from app.domain.permissions import Principal, authorize, view_level

from . import audit
from .services import Services

_lock = threading.Lock()
PAST_DAYS_KEPT = 16


def _day_bounds(site, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=site.tz)
    return start, start + timedelta(days=1)


def day_events(services: Services, site, day: date) -> list:
    """The events recorded during a site's day (midnight to midnight, site time)."""
    start, end = _day_bounds(site, day)
    return services.store.events_between(site.id, start=start, end=end)


def day_model(services: Services, site_id: str, day: date | None = None) -> DayAnalytics:
    """The analytics of a site's day, up to date with the log."""
    site = services.store.site(site_id).site
    today = services.clock.now().astimezone(site.tz).date()
    day = day or today
    cache = services.read_models.setdefault("analytics", {})
    key = (site_id, day)
    with _lock:
        model = cache.get(key)
        if model is None or model.site != site:
            model = DayAnalytics(site, day)
            for event in day_events(services, site, day):
                model.apply(event)
            cache[key] = model
            for old in [k for k in cache if k[0] == site_id and k[1] < today - timedelta(days=PAST_DAYS_KEPT)]:
                del cache[old]
        elif day == today:
            _, end = _day_bounds(site, day)
            for event in services.store.site_events(site_id, after_seq=model.seq):
                if event.at >= end:
                    break
                model.apply(event)
        return model


def dashboard(services: Services, principal: Principal, *, site_id: str) -> dict[str, Any]:
    authorize(principal, "dashboard.read", site=site_id)
    return day_model(services, site_id).view(services.clock.now())


def _report_moment(services: Services, site, day: date) -> datetime:
    """A past day is reported as it ended; today as it stands."""
    now = services.clock.now()
    _, end = _day_bounds(site, day)
    return min(now, end - timedelta(microseconds=1))


def daily_report(services: Services, principal: Principal, *, site_id: str, day: date | None = None) -> dict[str, Any]:
    authorize(principal, "report.read", site=site_id)
    model = day_model(services, site_id, day)
    level = view_level(principal)
    report = reports.daily_report(model, now=_report_moment(services, model.site, model.day), level=level)
    if level == "full" and (report["aefi"] or report["closed_loop"]["not_closed"]):
        audit.record(services, principal.actor, "report.viewed", site=site_id, subject=f"report:{model.day.isoformat()}",
                     detail={"names": len(report["aefi"]) + len(report["closed_loop"]["not_closed"])})
    return report


def city_report(services: Services, principal: Principal, *, day: date | None = None) -> dict[str, Any]:
    """Every site the caller sees, ranked against its target (the evening 排名通报)."""
    rows, days = [], set()
    for site_id in services.store.site_ids():
        if not principal.covers(site_id):
            continue
        authorize(principal, "report.read", site=site_id)
        model = day_model(services, site_id, day)
        days.add(model.day)
        view = model.view(_report_moment(services, model.site, model.day))
        rows.append({
            "site": site_id, "name": model.site.name, "name_zh": model.site.name_zh,
            "doses": view["target"]["doses"], "daily_target": model.site.daily_target,
            "percent_of_target": view["target"]["percent"], "checked_in": view["checked_in"],
            "throughput_last_hour": view["throughput"]["last_hour"],
            "waiting": sum(entry["waiting"] for entry in view["stations"].values()),
            "longest_wait_minutes": max((entry["oldest_wait_minutes"] or 0 for entry in view["stations"].values()),
                                        default=0),
            "observation": view["observation"]["count"], "observation_capacity": view["observation"]["capacity"],
            "open_aefi": sum(1 for row in view["aefi"] if row["outcome"] is None),
            "time_in_system_median_minutes": view["time_in_system"]["median_minutes"],
        })
    shown = day or (min(days) if days else services.clock.now().date())
    return {"date": shown.isoformat(), "sites": reports.city_ranking(rows)}


def doses_per_day(services: Services, principal: Principal, *, site_id: str, days: int = 14) -> list[dict[str, Any]]:
    """The trend: doses on each of the last `days` days (folded days are kept in the process)."""
    authorize(principal, "dashboard.read", site=site_id)
    site = services.store.site(site_id).site
    today = services.clock.now().astimezone(site.tz).date()
    return [{"date": (today - timedelta(days=back)).isoformat(),
             "doses": sum(day_model(services, site_id, today - timedelta(days=back)).doses_by_hour.values())}
            for back in range(days - 1, -1, -1)]
