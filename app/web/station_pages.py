"""The station tablet pages (check-in, consent, injection, observation, exit), the waiting-area
display opened by signed-in staff, and slip reprints.

The pages only render: every action goes through the REST API with the session cookie (and an
idempotency key), and the pages stay current over Socket.IO (static/js/station/).
"""
from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.domain.errors import NotFound
from app.domain.permissions import allowed, authorize
from app.domain.rules import UNDO_SECONDS
from app.domain.visit import ACTIVE_STATES
from app.domain.vocabulary import AEFI_SYMPTOMS, QUEUE_STATIONS, STATIONS
from app.flow import phone_tickets, queries
from app.flow.sites import site_config

from . import sessions, ui_strings
from .access import requires
from .context import principal, services

TICKET = re.compile(r"[A-Z0-9]{1,16}")
SLIPS_PAGE = 500

bp = Blueprint("stations", __name__)


def station_labels() -> dict[str, str]:
    return {
        "checkin": _("Check-in"), "consent": _("Consent and screening"), "injection": _("Injection"),
        "observation": _("Observation"), "exit": _("Exit"),
    }


@bp.get("/sites/<site>/stations/<station>")
@requires("live.station")
def station_page(site: str, station: str):
    if station not in STATIONS:
        raise NotFound("No such station.", code="not_found")
    caller = principal()
    account = sessions.current_account()
    if account is not None and caller.role == "station":
        if station not in account.stations:
            return _not_your_station(site, station, account.stations)
        # This page works at its own station (its requests say which); other tabs keep theirs.
        caller = sessions.current_principal(station) or caller
    authorize(caller, "live.station", site=site, station=station)
    info = queries.site_info(services(), caller, site_id=site)
    desk_word = _("Booth") if station == "injection" else _("Desk")
    return render_template(
        f"station_{station}.html",
        site=info,
        station=station,
        station_label=station_labels()[station],
        desks=info["stations"][station]["desks"] if station in QUEUE_STATIONS else (),
        desk_word=desk_word,
        strings=ui_strings.station(),
        undo_seconds=UNDO_SECONDS,
        may_release_early=allowed(caller, "visit.release_early", site=site),
        aefi_symptoms=[(code, labels) for code, labels in AEFI_SYMPTOMS.items()],
        waste_reasons=ui_strings.waste_reasons() if station == "injection" else (),
    )


def _not_your_station(site: str, station: str, own: tuple[str, ...]):
    """A station account opening another station's page: say so, and link to its own."""
    labels = station_labels()
    links = [(labels[name], url_for("stations.station_page", site=site, station=name)) for name in own]
    message = _("This account does not work at “%(station)s”. Its own stations:", station=labels[station])
    return render_template("error.html", status=403, code="not_your_station", message=message, links=links), 403


@bp.get("/sites/<site>/display")
@requires("live.display")
def display_preview(site: str):
    """The waiting-area screen for a signed-in member of staff (a TV pairs instead: /pair)."""
    caller = principal()
    authorize(caller, "live.display", site=site)
    config = site_config(services(), site)
    shown = [name for name in request.args.get("stations", "").split(",") if name in STATIONS] or list(STATIONS)
    language = request.args.get("language", "both")
    settings = {"label": config.name_zh, "stations": shown,
                "language": language if language in ("zh", "en", "both") else "both", "site_name": config.name}
    return render_template("display.html", site=site, settings=settings, strings=ui_strings.display_both())


@bp.get("/sites/<site>/slips")
@requires("visit.list")
def slips(site: str):
    """Reprint a slip: find today's ticket by its number, or pick it from today's tickets
    (numbers and states only), a page at a time."""
    caller = principal()
    typed = request.args.get("ticket", "").strip()
    wanted = typed.upper()
    if wanted:
        found = []
        if TICKET.fullmatch(wanted):
            found, _ = queries.list_visits(services(), caller, site_id=site, states=None, station=None, day=None,
                                           ticket=wanted, limit=1)
        elif typed.startswith("siteflow:") or phone_tickets.code_in(typed):  # a slip's QR, scanned
            try:
                found = [phone_tickets.scanned_visit(services(), caller, site_id=site, scanned=typed)]
            except NotFound:
                wanted = "?"
        if found:
            kind = "observation" if found[0]["observation"] else "ticket"
            return redirect(url_for(f"slips.{kind}_slip", site=site, visit_id=found[0]["id"]))
    rows, cursor = queries.list_visits(services(), caller, site_id=site, states=None, station=None, day=None,
                                       after=request.args.get("after") or None, limit=SLIPS_PAGE)
    tickets = [{"ticket": row["ticket"], "id": row["id"], "state": row["state"], "active": row["state"] in ACTIVE_STATES,
                "observation": row["observation"] is not None} for row in rows if row["ticket"]]
    return render_template("slips.html", site=site, tickets=tickets, wanted=wanted, not_found=bool(wanted),
                           may_reissue=allowed(caller, "ticket.reissue", site=site),
                           next_page=url_for("stations.slips", site=site, after=cursor) if cursor else None)
