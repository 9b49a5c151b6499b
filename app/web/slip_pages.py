"""Printed slips (browser print on 58 mm / 80 mm thermal paper or A4): the ticket slip and the
observation slip (留观时间条). Server-rendered, QR codes as inline SVG from segno."""
from __future__ import annotations

import io

import segno
from flask import Blueprint, make_response, redirect, render_template, url_for
from markupsafe import Markup

from app.domain.errors import Conflict
from app.flow import phone_tickets, queries

from . import params
from .access import requires
from .context import principal, services
from .params import PAPERS
from .security import same_origin_frames
from .ticket_pages import public_url

bp = Blueprint("slips", __name__)


def qr_svg(payload: str) -> Markup:
    """An inline SVG QR code: error correction M at least, the standard quiet zone of 4 modules, and
    a viewBox without width or height, so that it scales to the size the paper's CSS gives it
    (static/css/slip-*.css). Never a Micro QR code, which segno picks for a short payload (a booking's
    8-character code) and which many scanners and phones cannot read. The payload is ours (site and
    visit ids, a booking's code), never what someone typed."""
    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(out, kind="svg", border=4, omitsize=True, xmldecl=False, svgns=True,
                                        nl=False, title="QR")
    return Markup(out.getvalue().decode())


def _render(template: str, slip: dict, *, phone_url: str | None = None):
    query = params.parse(params.SlipQuery)
    page = make_response(render_template(template, slip=slip, paper=query.paper, papers=PAPERS, code=query.code,
                                         phone_url=phone_url, qr=qr_svg(phone_url or slip["qr"])))
    return same_origin_frames(page)  # the injection page prints the slip from a frame


@bp.get("/sites/<site>/visits/<visit_id>/slips/ticket")
@requires("visit.read")
def ticket_slip(site: str, visit_id: str):
    """The ticket slip. With `?code=` (the phone ticket's code the check-in or the reprint was just
    given) its QR opens the person's live ticket, which the stations' scanners resolve too;
    without, it carries the staff-only `siteflow:` form."""
    slip = queries.slip(services(), principal(), site_id=site, visit_id=visit_id)
    path = phone_tickets.for_slip(services(), site_id=site, visit_id=visit_id, code=params.parse(params.SlipQuery).code)
    return _render("slip_ticket.html", slip, phone_url=public_url(path) if path else None)


@bp.get("/sites/<site>/visits/<visit_id>/slips/observation")
@requires("visit.read")
def observation_slip(site: str, visit_id: str):
    slip = queries.slip(services(), principal(), site_id=site, visit_id=visit_id)
    if slip["leave_at"] is None:
        raise Conflict("This person has not been vaccinated: there is no observation slip.", code="not_observing")
    return _render("slip_observation.html", slip)


@bp.post("/sites/<site>/visits/<visit_id>/slips/ticket/new-code")
@requires("ticket.reissue")
def ticket_slip_new_code(site: str, visit_id: str):
    """A lost slip: reprint it with a new phone code (the old slip's page and scans stop working)."""
    issued = phone_tickets.reissue(services(), principal(), site_id=site, visit_id=visit_id)
    return redirect(url_for("slips.ticket_slip", site=site, visit_id=visit_id, code=issued.code))
