"""The supervisor dashboard, the daily report and the city ranking: read from the running
figures (app/flow/figures.py). Today's are this process's fold, caught up with the log on
every read; other days are folded once and kept."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from app.domain import reports
from app.domain.analytics import DayAnalytics
from app.domain.permissions import Principal, authorize, view_level
from app.domain.site import Site
from app.store.event_store import SiteRow

from . import appointments, audit, phone_tickets, stock
from .figures import day_bounds, site_today
from .services import Services
from .sites import visible_sites


@contextmanager
def day_model(services: Services, site_id: str, day: date | None = None, *,
              seq: int | None = None) -> Iterator[DayAnalytics]:
    """The fold of a site's day (default today), up to date with the log (at least up to `seq`,
    when the caller has just read it), held for reading."""
    if day is not None:
        site = services.store.site(site_id).site
        if day != site_today(site, services.clock.now()):
            yield services.figures.past_day(site_id, day)
            return
    with services.figures.today(site_id, seq=seq) as model:
        yield model


def dashboard(services: Services, principal: Principal, *, site_id: str) -> dict[str, Any]:
    authorize(principal, "dashboard.read", site=site_id)
    now = services.clock.now()
    with day_model(services, site_id) as model:
        view = model.view(now)
        day, site = model.day, model.site
    stations = view["stations"]
    view["vials"] = stock.open_vials(
        services, site, now=now,
        at_injection=stations["injection"]["waiting"] + stations["injection"]["being_served"],
        at_consent=stations["consent"]["waiting"] + stations["consent"]["being_served"])
    view["phone"] = phone_tickets.followed(services, site_id, day)  # who follows their turn on a phone
    view["bookings"] = appointments.for_dashboard(services, site_id, day)
    return view


def _report_moment(services: Services, model: DayAnalytics) -> datetime:
    """A past day is reported as it ended; today as it stands."""
    _, end = day_bounds(model.site, model.day)
    return min(services.clock.now(), end - timedelta(microseconds=1))


def daily_report(services: Services, principal: Principal, *, site_id: str, day: date | None = None) -> dict[str, Any]:
    authorize(principal, "report.read", site=site_id)
    level = view_level(principal)
    with day_model(services, site_id, day) as model:
        report = reports.daily_report(model, now=_report_moment(services, model), level=level)
        zone = model.site.tz
    report["bookings"] = appointments.for_report(services, site_id, date.fromisoformat(report["date"]), level)
    report["stock"] = reports.stock_section(stock.day_sheet(services, site_id, date.fromisoformat(report["date"])), zone)
    names = len(report["aefi"]) + len(report["closed_loop"]["not_closed"]) + len(report["bookings"]["not_arrived"])
    if level == "full" and names:
        audit.record(services, principal.actor, "report.viewed", site=site_id, subject=f"report:{report['date']}",
                     detail={"names": names})
    return report


def city_report(services: Services, principal: Principal, *, day: date | None = None) -> dict[str, Any]:
    """Every site the caller sees, ranked against its target (the evening 排名通报). Today
    comes from each site's running figures; a finished day from its stored rollup."""
    rows: list[dict[str, Any]] = []
    days: set[date] = set()
    sites = _covered_sites(services, principal, "report.read")
    now = services.clock.now()
    past = [row for row in sites if day is not None and day < site_today(row.site, now)]
    stored = _finished_days(services, past, day, day) if past and day is not None else {}
    for row in sites:
        if day is not None and (row.site.id, day) in stored:
            days.add(day)
            rows.append(dict(stored[(row.site.id, day)]["figures"]["city_row"]))
            continue
        with day_model(services, row.site.id, day, seq=row.seq) as model:
            days.add(model.day)
            rows.append(model.city_row(_report_moment(services, model)))
    shown = day or (min(days) if days else now.date())
    booked, groups = appointments.city(services, sites, {row.site.id: day or site_today(row.site, now) for row in sites})
    for line in rows:
        line.update(booked.get(line["site"], {"booked": 0, "arrived": 0, "no_show": 0}))
    return {"date": shown.isoformat(), "sites": reports.city_ranking(rows), "groups": groups}


def doses_per_day(services: Services, principal: Principal, *, site_id: str, days: int = 14) -> list[dict[str, Any]]:
    """The trend: doses on each of the last `days` days (finished days from their rollups)."""
    authorize(principal, "dashboard.read", site=site_id)
    return _trend(services, [services.store.site(site_id)], days)[site_id]


def city_trend(services: Services, principal: Principal, *, days: int = 14) -> dict[str, Any]:
    """Every site's doses on each of the last `days` days, in one answer."""
    sites = _covered_sites(services, principal, "report.read")
    trends = _trend(services, sites, days)
    return {"sites": [{"site": row.site.id, "days": trends[row.site.id]} for row in sites]}


def _covered_sites(services: Services, principal: Principal, action: str) -> list[SiteRow]:
    """The sites the caller sees, read in one go (a city has hundreds)."""
    rows = visible_sites(services, principal)
    for row in rows:
        authorize(principal, action, site=row.site.id)
    return rows


def _trend(services: Services, sites: list[SiteRow], days: int) -> dict[str, list[dict[str, Any]]]:
    now = services.clock.now()
    todays = {row.site.id: site_today(row.site, now) for row in sites}
    if not todays:
        return {}
    first = min(todays.values()) - timedelta(days=days - 1)
    stored = _finished_days(services, sites, first, max(todays.values()) - timedelta(days=1), figures=False)
    trends = {}
    for row in sites:
        today = todays[row.site.id]
        trend = [{"date": (today - timedelta(days=back)).isoformat(),
                  "doses": stored[(row.site.id, today - timedelta(days=back))]["doses"]}
                 for back in range(days - 1, 0, -1)]
        with services.figures.today(row.site.id, seq=row.seq) as model:
            trend.append({"date": today.isoformat(), "doses": sum(model.doses_by_hour.values())})
        trends[row.site.id] = trend
    return trends


def _finished_days(services: Services, sites: list[SiteRow], first: date, last: date, *,
                   figures: bool = True) -> dict[tuple[str, date], dict[str, Any]]:
    """{(site, day): {"doses", "figures"}} for each site's finished days in [first, last] (before
    its today): read from the stored rollups, and any missing one folded once and stored."""
    stored = services.store.day_rollups(first=first, last=last, site_ids=[row.site.id for row in sites],
                                        figures=figures)
    now = services.clock.now()
    for row in sites:
        day, until = first, min(last, site_today(row.site, now) - timedelta(days=1))
        while day <= until:
            if (row.site.id, day) not in stored:
                stored[(row.site.id, day)] = _roll_up(services, row.site, day, now)
            day += timedelta(days=1)
    return stored


def _roll_up(services: Services, site: Site, day: date, now: datetime) -> dict[str, Any]:
    model = services.figures.fold_day(site, day)
    row = model.city_row(day_bounds(site, day)[1] - timedelta(microseconds=1))
    figures = {
        "city_row": row,
        "doses_by_hour": {str(hour): count for hour, count in sorted(model.doses_by_hour.items()) if count},
        "checked_in_by_hour": {str(hour): count for hour, count in sorted(model.checked_in_by_hour.items()) if count},
    }
    services.store.save_day_rollup(site.id, day, doses=row["doses"], figures=figures, at=now)
    return {"doses": row["doses"], "figures": figures}
