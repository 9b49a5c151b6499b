"""Displays: the TV's pairing page, the supervisor's pairing form and list, the display shell."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.domain.errors import DomainError
from app.domain.vocabulary import STATIONS
from app.flow import pairing
from app.flow.sites import visible_sites

from . import labels, params, ui_strings
from .access import public, requires
from .context import principal, services
from .limits import FAILED_PAIRINGS_PER_CALLER, PAIRING_REQUESTS_PER_ADDRESS, failed, limiter

bp = Blueprint("devices", __name__)


# --- on the TV (no keyboard, no account) --------------------------------------------------------

@bp.get("/pair")
@public
def pair():
    return render_template("pair.html")


@bp.post("/pair/start")
@public
@limiter.limit(PAIRING_REQUESTS_PER_ADDRESS)
def pair_start():
    return jsonify(pairing.start(services())), 201


@bp.post("/pair/collect")
@public
def pair_collect():
    body = request.get_json(silent=True) or {}
    secret = body.get("secret") if isinstance(body.get("secret"), str) else ""
    return jsonify(pairing.collect(services(), secret[:100]))


@bp.get("/display")
@public
def display():
    """The waiting-area screen: a shell whose script connects with the paired credential."""
    return render_template("display.html", site=None, settings=None, strings=ui_strings.display_both())


# --- for supervisors ----------------------------------------------------------------------------

@bp.get("/devices")
@requires("devices.manage")
def devices(errors: dict | None = None, status: int = 200):
    """The pairing form and one page of displays (the next from the "More displays" link). The
    page's script re-reads the list (static/js/devices.js): a TV appears once it has paired."""
    first = params.parse(params.AfterIdQuery).after
    displays, after = pairing.displays(services(), principal(), after=first, limit=params.PAGE)
    sites = [row.site for row in visible_sites(services(), principal())]
    return render_template(
        "devices.html", displays=displays, sites=[site.id for site in sites], stations=STATIONS,
        languages=("both", "zh", "en"), errors=errors or {}, form=request.form, zone=labels.zone_of(sites),
        this_page=url_for("devices.devices", after=first or None),
        next_page=url_for("devices.devices", after=after) if after is not None else None,
    ), status


def _caller_key() -> str:
    return f"pairing:{principal().actor}"


@bp.post("/devices/pair")
@requires("devices.manage")
@limiter.limit(FAILED_PAIRINGS_PER_CALLER, key_func=_caller_key, deduct_when=failed)
def pair_display():
    try:
        pairing.approve(
            services(), principal(), code=request.form.get("code", "")[:20], site_id=request.form.get("site", ""),
            label=request.form.get("label", ""), stations=request.form.getlist("stations"),
            language=request.form.get("language", "both"), remote_addr=request.remote_addr,
        )
    except DomainError as exc:
        return devices(errors=_explained(exc), status=exc.status)
    flash(_("Display paired. It shows the waiting area within a few seconds."))
    return redirect(url_for("devices.devices"))


def _explained(exc: DomainError) -> dict[str, str]:
    """The pairing form's problems in the page's language."""
    needs = {
        "code": _("No display is waiting with this code: check it, or reload the pairing page on the TV."),
        "label": _("Name of this screen: 1-60 characters, none of them invisible or control characters."),
        "stations": _("Stations shown: choose from the list."),
        "language": _("Language: choose from the list."),
    }
    return {field: needs.get(field, message) for field, message in exc.fields.items()} or {
        "code": needs["code"] if exc.code == "unknown_pairing_code" else exc.message}


@bp.post("/devices/<int:token_id>/revoke")
@requires("devices.manage")
def revoke_display(token_id: int):
    pairing.revoke_display(services(), principal(), token_id)
    flash(_("Display unpaired: it can no longer connect."))
    return redirect(url_for("devices.devices"))
