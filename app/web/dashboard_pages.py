"""The supervisor's pages: the site dashboard, the printable daily report and the city overview.
The figures come from the API (app/flow/analytics.py); these views render the shells and the
printable report."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.domain.permissions import authorize, role_may
from app.flow import analytics, simulation
from app.flow.sites import site_config, visible_sites

from . import labels, params, ui_strings
from .access import requires
from .context import principal, services

bp = Blueprint("dashboards", __name__)


@bp.get("/sites/<site>/dashboard")
@requires("dashboard.read")
def dashboard(site: str):
    authorize(principal(), "dashboard.read", site=site)
    info = site_config(services(), site)
    return render_template("dashboard.html", site=info, strings=ui_strings.dashboard(), codes=labels.for_dashboard(info),
                           limits={"desks": simulation.MAX_DESKS, "seats": simulation.MAX_SEATS})


@bp.get("/sites/<site>/reports/daily")
@requires("report.read")
def daily_report(site: str):
    day = params.parse(params.DayQuery).date
    report = analytics.daily_report(services(), principal(), site_id=site, day=day)
    info = site_config(services(), site)
    return render_template("report_daily.html", report=report, site=info,
                           products={product.code: labels.product_name(info, product.code) for product in info.products})


@bp.get("/city")
@requires("report.read")
def city():
    # Each time zone of the sites shown gets a clock (a city usually has one); times are the first's.
    zones = list(dict.fromkeys(row.site.timezone for row in visible_sites(services(), principal())))
    return render_template("city.html", strings=ui_strings.dashboard(), zones=zones,
                           may_live=role_may(principal().role, "live.city"))
