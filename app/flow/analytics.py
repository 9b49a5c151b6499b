"""The supervisor dashboard, the daily report and the city ranking: read from the running
figures (app/flow/figures.py). Today's are this process's fold, caught up with the log on
every read; other days are folded once and kept."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, Iterator

from app.domain import reports
from app.domain.analytics import DayAnalytics
from app.domain.permissions import Principal, authorize, view_level
from app.domain.visit import Event

from . import audit
from .figures import day_bounds, site_today
from .services import Services


def day_events(services: Services, site, day: date) -> list[Event]:
    """The events recorded during a site's day (midnight to midnight, site time)."""
    start, end = day_bounds(site, day)
    return services.store.events_between(site.id, start=start, end=end)


@contextmanager
def day_model(services: Services, site_id: str, day: date | None = None) -> Iterator[DayAnalytics]:
    """The fold of a site's day (default today), up to date with the log, held for reading."""
    if day is not None:
        site = services.store.site(site_id).site
        if day != site_today(site, services.clock.now()):
            yield services.figures.past_day(site_id, day)
            return
    with services.figures.today(site_id) as model:
        yield model


def dashboard(services: Services, principal: Principal, *, site_id: str) -> dict[str, Any]:
    authorize(principal, "dashboard.read", site=site_id)
    with day_model(services, site_id) as model:
        return model.view(services.clock.now())


def _report_moment(services: Services, model: DayAnalytics) -> datetime:
    """A past day is reported as it ended; today as it stands."""
    _, end = day_bounds(model.site, model.day)
    return min(services.clock.now(), end - timedelta(microseconds=1))


def daily_report(services: Services, principal: Principal, *, site_id: str, day: date | None = None) -> dict[str, Any]:
    authorize(principal, "report.read", site=site_id)
    level = view_level(principal)
    with day_model(services, site_id, day) as model:
        report = reports.daily_report(model, now=_report_moment(services, model), level=level)
    if level == "full" and (report["aefi"] or report["closed_loop"]["not_closed"]):
        audit.record(services, principal.actor, "report.viewed", site=site_id, subject=f"report:{report['date']}",
                     detail={"names": len(report["aefi"]) + len(report["closed_loop"]["not_closed"])})
    return report


def city_report(services: Services, principal: Principal, *, day: date | None = None) -> dict[str, Any]:
    """Every site the caller sees, ranked against its target (the evening 排名通报)."""
    rows, days = [], set()
    for site_id in services.store.site_ids():
        if not principal.covers(site_id):
            continue
        authorize(principal, "report.read", site=site_id)
        with day_model(services, site_id, day) as model:
            days.add(model.day)
            rows.append(model.city_row(_report_moment(services, model)))
    shown = day or (min(days) if days else services.clock.now().date())
    return {"date": shown.isoformat(), "sites": reports.city_ranking(rows)}


def doses_per_day(services: Services, principal: Principal, *, site_id: str, days: int = 14) -> list[dict[str, Any]]:
    """The trend: doses on each of the last `days` days (folded days are kept in the process)."""
    authorize(principal, "dashboard.read", site=site_id)
    site = services.store.site(site_id).site
    today = site_today(site, services.clock.now())
    trend = []
    for back in range(days - 1, -1, -1):
        with day_model(services, site_id, today - timedelta(days=back)) as model:
            trend.append({"date": model.day.isoformat(), "doses": sum(model.doses_by_hour.values())})
    return trend
