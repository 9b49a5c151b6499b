"""A booking's confirmation (预约确认), printed at the desk or sent to the person: the site, the
slot and when to come, the group and dose, the name masked, and the booking code as a QR code and
in large text, which the check-in tablet's scanner reads. It never shows the document number or
the phone. Printed like the slips (static/css/slip-*.css): an 80 mm roll or an A4 sheet."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import format_date

from app.domain.permissions import Station
from app.flow import appointments

from . import params, sessions
from .access import requires
from .context import principal, services
from .slip_pages import qr_svg

bp = Blueprint("appointments", __name__)

PAPERS = ("80", "a4")


@bp.get("/sites/<site>/appointments/<code>/confirmation")
@requires("appointments.find")
def confirmation(site: str, code: str):
    caller = principal()
    if caller.role == "station" and sessions.current_account() is not None:
        # Opened from the check-in tablet in a new tab: a station account works here as its check-in desk.
        caller = sessions.current_principal(Station.CHECKIN) or caller
    booking = appointments.confirmation(services(), caller, site_id=site, code=code)
    paper = params.parse(params.SlipQuery).paper
    return render_template(
        "appointment_confirmation.html", booking=booking, slip={"site": booking["site"]},
        day=format_date(booking["slot_start"].date(), "full"), paper=paper if paper in PAPERS else "80",
        papers=PAPERS, qr=qr_svg(booking["code"]),
    )
