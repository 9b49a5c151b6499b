"""The start page after sign-in: who you are and where you can go."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.domain.permissions import allowed, role_may
from app.domain.vocabulary import STATIONS, Station
from app.flow.sites import visible_sites

from . import sessions
from .access import requires
from .context import principal, services
from .station_pages import station_labels

bp = Blueprint("home", __name__)


@bp.get("/")
@requires("account.self")
def index():
    caller = principal()
    account = sessions.current_account()
    sites = [row.site.id for row in visible_sites(services(), caller)]
    # The station pages this person may open: a station account's own stations, everything for overseers.
    mine = account.stations if account is not None and caller.role == "station" else STATIONS
    stations = {
        site_id: [name for name in STATIONS if name in mine and (
            caller.role == "station" or allowed(caller, "live.station", site=site_id, station=name))]
        for site_id in sites
    }
    # The stock page: supervisors, and a station account that has the injection desk (read-only).
    stock_reader = (sessions.current_principal(Station.INJECTION) or caller) if caller.role == "station" else caller
    return render_template(
        "home.html", caller=caller, account=account, sites=sites, stations=stations, labels=station_labels(),
        may=lambda action: role_may(caller.role, action),
        may_stock={site_id: allowed(stock_reader, "stock.read", site=site_id) for site_id in sites},
    )
