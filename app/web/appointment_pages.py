"""Bookings on pages: a day's bookings (its summary against capacity, the list by status with the
no-shows to follow up, cancel and rebook), and a booking's confirmation (预约确认), printed at the
desk or sent to the person: the site, the slot and when to come, the group and dose, the name
masked, and the booking code as a QR code and in large text, which the check-in tablet's scanner
reads. The confirmation never shows the document number or the phone. It prints like the slips
(static/css/slip-*.css): an 80 mm roll or an A4 sheet."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import format_date

from app.domain.permissions import Principal, Station, allowed
from app.flow import appointments

from . import params, sessions
from .access import requires
from .context import principal, services
from .slip_pages import qr_svg

bp = Blueprint("appointments", __name__)

PAPERS = ("80", "a4")


def _desk() -> Principal:
    """The caller; a station account works on these pages as its check-in desk (they open from
    the check-in tablet in a new tab, which names no station)."""
    caller = principal()
    if caller.role == "station" and sessions.current_account() is not None:
        caller = sessions.current_principal(Station.CHECKIN) or caller
    return caller


@bp.get("/sites/<site>/appointments")
@requires("appointments.read")
def bookings(site: str):
    caller = _desk()
    query = params.parse(params.AppointmentListQuery)
    rows, after = appointments.list_day(services(), caller, site_id=site, day=query.date, after=query.after,
                                        limit=query.limit, status=query.status)
    summary = appointments.summary(services(), caller, site_id=site, day=query.date)
    more = url_for("appointments.bookings", site=site, date=summary["date"], status=query.status, after=after) \
        if after else None
    return render_template("appointments.html", site=site, rows=rows, summary=summary, status=query.status,
                           more=more, may_manage=allowed(caller, "appointments.manage", site=site))


def _back(site: str):
    return redirect(request.form.get("back") or url_for("appointments.bookings", site=site))


@bp.post("/sites/<site>/appointments/<code>/cancel")
@requires("appointments.manage")
def cancel(site: str, code: str):
    appointments.cancel(services(), _desk(), site_id=site, code=code)
    return _back(site)


@bp.post("/sites/<site>/appointments/<code>/rebook")
@requires("appointments.manage")
def rebook(site: str, code: str):
    appointments.rebook(services(), _desk(), site_id=site, code=code,
                        slot_start=request.form.get("slot_start", "").strip()[:16])
    return _back(site)


@bp.get("/sites/<site>/appointments/<code>/confirmation")
@requires("appointments.find")
def confirmation(site: str, code: str):
    caller = _desk()
    booking = appointments.confirmation(services(), caller, site_id=site, code=code)
    paper = params.parse(params.SlipQuery).paper
    return render_template(
        "appointment_confirmation.html", booking=booking, slip={"site": booking["site"]},
        day=format_date(booking["slot_start"].date(), "full"), paper=paper if paper in PAPERS else "80",
        papers=PAPERS, qr=qr_svg(booking["code"]),
    )
